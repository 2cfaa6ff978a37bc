"""The records of the single-node metadata log: one change each, framed with its length and a
CRC so that a torn or corrupt tail (a crash mid-append) is found and cut on recovery.

A record sets one key of one namespace (``topics``, ``acls``, ...) to a JSON value, or removes
it (the value ``null``). On disk: a 4-byte big-endian payload length, the CRC-32 of the
payload (4 bytes, big-endian), then the payload, the UTF-8 JSON array ``[namespace, key,
value]``. A length of 0 is never written: it is the unwritten (zeroed) space after the last
record."""

from __future__ import annotations

import json
import struct
import zlib
from dataclasses import dataclass
from typing import Any

FRAME = struct.Struct(">II")  # payload length, CRC-32 of the payload
MAX_PAYLOAD = 64 * 1024 * 1024  # larger lengths are garbage, not records


def json_text(value: Any) -> str:
    """The canonical JSON text of a value, as the log and its snapshots keep it."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class MetadataRecord:
    """One change: ``key`` of ``namespace`` now has ``value`` (JSON text), or none (None)."""

    namespace: str
    key: str
    value: str | None

    @classmethod
    def of(cls, namespace: str, key: str, value: Any) -> MetadataRecord:
        """The record setting ``key`` to ``value`` (a JSON-able object; None removes it)."""
        return cls(namespace, key, None if value is None else json_text(value))

    def payload(self) -> bytes:
        value = "null" if self.value is None else self.value
        return f"[{json_text(self.namespace)},{json_text(self.key)},{value}]".encode()

    def frame(self) -> bytes:
        """The record as it is appended: length, CRC, payload."""
        payload = self.payload()
        return FRAME.pack(len(payload), zlib.crc32(payload)) + payload


def decode_payload(payload: bytes) -> MetadataRecord:
    """Raises ValueError unless ``payload`` is a record's ``[namespace, key, value]``."""
    item = json.loads(payload)
    if not (
        isinstance(item, list)
        and len(item) == 3
        and isinstance(item[0], str)
        and isinstance(item[1], str)
    ):
        raise ValueError(f"not a metadata record: {payload[:100]!r}")
    return MetadataRecord.of(item[0], item[1], item[2])


@dataclass(frozen=True, slots=True)
class ScanResult:
    """The valid records at the start of a log's data region and where they end; ``bad`` says
    why the scan stopped at a record (None: at a zero length or the end of the data)."""

    records: list[MetadataRecord]
    end: int
    bad: str | None


def scan(data: bytes | memoryview, start: int) -> ScanResult:
    """Read records from ``start`` until a zero length (the unwritten space after the last
    one), the end of ``data``, or the first record that is torn (cut short) or corrupt (bad
    CRC, not a record): no valid record can follow that one, since each append is durable
    before the next is made."""
    records: list[MetadataRecord] = []
    position = start
    size = len(data)
    while position + FRAME.size <= size:
        length, crc = FRAME.unpack_from(data, position)
        if length == 0:
            break
        body = position + FRAME.size
        if length > MAX_PAYLOAD or body + length > size:
            return ScanResult(records, position, f"a torn record ({length} bytes announced)")
        payload = bytes(data[body : body + length])
        if zlib.crc32(payload) != crc:
            return ScanResult(records, position, "a record with a bad CRC")
        try:
            records.append(decode_payload(payload))
        except ValueError as exc:
            return ScanResult(records, position, f"a record that does not decode ({exc})")
        position = body + length
    return ScanResult(records, position, None)
