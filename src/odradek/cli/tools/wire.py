"""A minimal Kafka wire client for the one admin request confluent-kafka does not expose:
OffsetDelete (``consumer-groups --delete-offsets``). Plaintext connections only.

It speaks ApiVersions v0, FindCoordinator v0-v2 and OffsetDelete v0, all non-flexible
versions with request header v1 and response header v0.
"""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from confluent_kafka import KafkaError

from odradek.cli.tools.common import ToolError

T = TypeVar("T")

API_VERSIONS = 18
FIND_COORDINATOR = 10
OFFSET_DELETE = 47
CLIENT_ID = b"odradek-consumer-groups"

NONE = 0
COORDINATOR_LOAD_IN_PROGRESS = 14
COORDINATOR_NOT_AVAILABLE = 15
NOT_COORDINATOR = 16
RETRIABLE = frozenset({COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE,
                       NOT_COORDINATOR})


def error_name(code: int) -> str:
    return str(KafkaError(code).name())


def error_text(code: int) -> str:
    return str(KafkaError(code).str()).removeprefix("Broker: ")


class Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def _take(self, fmt: str) -> int:
        (value,) = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += struct.calcsize(fmt)
        return int(value)

    def int8(self) -> int:
        return self._take(">b")

    def int16(self) -> int:
        return self._take(">h")

    def int32(self) -> int:
        return self._take(">i")

    def string(self) -> str | None:
        length = self.int16()
        if length < 0:
            return None
        text = self.data[self.pos:self.pos + length].decode()
        self.pos += length
        return text

    def array(self, item: Callable[[Reader], T]) -> list[T]:
        return [item(self) for _ in range(max(self.int32(), 0))]


def string(text: str) -> bytes:
    raw = text.encode()
    return struct.pack(">h", len(raw)) + raw


def array(items: list[bytes]) -> bytes:
    return struct.pack(">i", len(items)) + b"".join(items)


class Connection:
    """One blocking connection; ``request`` returns the response body."""

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.correlation = 0

    def close(self) -> None:
        self.sock.close()

    def request(self, api_key: int, version: int, body: bytes) -> Reader:
        self.correlation += 1
        header = struct.pack(">hhih", api_key, version, self.correlation, len(CLIENT_ID))
        frame = header + CLIENT_ID + body
        self.sock.sendall(struct.pack(">i", len(frame)) + frame)
        (size,) = struct.unpack(">i", self._read(4))
        reader = Reader(self._read(size))
        if reader.int32() != self.correlation:
            raise ToolError("unexpected correlation id in a response")
        return reader

    def _read(self, size: int) -> bytes:
        chunks = bytearray()
        while len(chunks) < size:
            chunk = self.sock.recv(size - len(chunks))
            if not chunk:
                raise ToolError("the broker closed the connection")
            chunks += chunk
        return bytes(chunks)

    def versions(self) -> dict[int, tuple[int, int]]:
        reader = self.request(API_VERSIONS, 0, b"")
        code = reader.int16()
        if code != NONE:
            raise ToolError(f"ApiVersions failed: {error_text(code)}")
        entries = reader.array(lambda r: (r.int16(), r.int16(), r.int16()))
        return {key: (low, high) for key, low, high in entries}


def split_address(address: str) -> tuple[str, int]:
    host, _, port = address.strip().rpartition(":")
    try:
        return host.strip("[]"), int(port)
    except ValueError as exc:
        raise ToolError(f"invalid bootstrap server {address!r}: expected HOST:PORT") from exc


def pick_version(versions: Mapping[int, tuple[int, int]], api_key: int, name: str,
                 supported: tuple[int, int]) -> int:
    if api_key not in versions:
        raise ToolError(f"the broker does not support {name}")
    low, high = versions[api_key]
    version = min(high, supported[1])
    if version < max(low, supported[0]):
        raise ToolError(f"no common version of {name}: broker {low}-{high}, "
                        f"odradek {supported[0]}-{supported[1]}")
    return version


@dataclass
class Coordinator:
    host: str
    port: int


def connect_any(bootstrap: str, timeout: float) -> Connection:
    errors = []
    for address in bootstrap.split(","):
        host, port = split_address(address)
        try:
            return Connection(host, port, timeout)
        except OSError as exc:
            errors.append(f"{address}: {exc.strerror or exc}")
    raise ToolError(f"cannot connect to any bootstrap server ({'; '.join(errors)})")


def find_coordinator(conn: Connection, group: str) -> tuple[int, Coordinator | None]:
    version = pick_version(conn.versions(), FIND_COORDINATOR, "FindCoordinator", (0, 2))
    body = string(group) + (b"\x00" if version >= 1 else b"")
    reader = conn.request(FIND_COORDINATOR, version, body)
    if version >= 1:
        reader.int32()  # throttle_time_ms
    code = reader.int16()
    if version >= 1:
        reader.string()  # error_message
    reader.int32()  # node_id
    host, port = reader.string() or "", reader.int32()
    return code, (Coordinator(host, port) if code == NONE else None)


def _offset_delete_body(group: str, partitions: Mapping[str, list[int]]) -> bytes:
    topics = [string(topic) + array([struct.pack(">i", p) for p in sorted(parts)])
              for topic, parts in sorted(partitions.items())]
    return string(group) + array(topics)


def _offset_delete_response(reader: Reader) -> tuple[int, dict[tuple[str, int], int]]:
    code = reader.int16()
    reader.int32()  # throttle_time_ms
    results: dict[tuple[str, int], int] = {}

    def topic(r: Reader) -> None:
        name = r.string() or ""
        for partition, error in r.array(lambda p: (p.int32(), p.int16())):
            results[(name, partition)] = error

    reader.array(topic)
    return code, results


def delete_offsets(bootstrap: str, group: str, partitions: Mapping[str, list[int]],
                   timeout: float) -> tuple[int, dict[tuple[str, int], int]]:
    """OffsetDelete at the group's coordinator: the top-level error code and one per
    partition. Retries while the coordinator moves or loads, up to ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        code, results = _try_delete(bootstrap, group, partitions, timeout)
        if code not in RETRIABLE or time.monotonic() > deadline:
            return code, results
        time.sleep(0.2)


def _try_delete(bootstrap: str, group: str, partitions: Mapping[str, list[int]],
                timeout: float) -> tuple[int, dict[tuple[str, int], int]]:
    conn = connect_any(bootstrap, timeout)
    try:
        code, coordinator = find_coordinator(conn, group)
    finally:
        conn.close()
    if coordinator is None:
        return code, {}
    conn = Connection(coordinator.host, coordinator.port, timeout)
    try:
        version = pick_version(conn.versions(), OFFSET_DELETE, "OffsetDelete", (0, 0))
        reader = conn.request(OFFSET_DELETE, version, _offset_delete_body(group, partitions))
        return _offset_delete_response(reader)
    except OSError as exc:
        raise ToolError(f"OffsetDelete failed: {exc}") from exc
    finally:
        conn.close()
