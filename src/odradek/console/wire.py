"""The console's kio client, for the two admin requests confluent-kafka does not expose:
DescribeLogDirs (topic sizes, log dirs) and DescribeClientQuotas (the quotas page).

One blocking socket per call to one broker, request header v1/v2 and response header v0/v1
by the request's flexibility; the newest version both sides support, learnt with ApiVersions
v0. PLAINTEXT only: against a TLS or SASL listener these pages say the figures are
unavailable rather than guessing.
"""

from __future__ import annotations

import io
import socket
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from types import ModuleType
from typing import Any, Literal

from kio.index import load_payload_module
from kio.schema.request_header.v1.header import RequestHeader as RequestHeaderV1
from kio.schema.request_header.v2.header import RequestHeader as RequestHeaderV2
from kio.schema.response_header.v0.header import ResponseHeader as ResponseHeaderV0
from kio.schema.response_header.v1.header import ResponseHeader as ResponseHeaderV1
from kio.serial import entity_reader, entity_writer
from kio.static.constants import EntityType
from kio.static.primitive import i16, i32

API_VERSIONS = 18
DESCRIBE_LOG_DIRS = 35
DESCRIBE_CLIENT_QUOTAS = 48
SUPPORTED = {DESCRIBE_LOG_DIRS: (1, 4), DESCRIBE_CLIENT_QUOTAS: (0, 1)}
_INT32 = struct.Struct(">i")
CLIENT_ID = "odradek-console"


class WireError(Exception):
    """A request that could not be made or was refused; ``str()`` says why."""


@dataclass(frozen=True)
class ReplicaSize:
    """One replica's log in a broker's log dir, as DescribeLogDirs reports it."""

    log_dir: str
    topic: str
    partition: int
    size: int
    offset_lag: int
    is_future: bool


@dataclass(frozen=True)
class LogDir:
    """A broker's log dir: its error code and, from v4, its disk's total and usable bytes."""

    path: str
    error_code: int
    total_bytes: int
    usable_bytes: int
    replicas: tuple[ReplicaSize, ...]


@dataclass(frozen=True)
class QuotaEntry:
    """A client-quota entity (``(type, name or None for the default)`` pairs) and its quotas."""

    entity: tuple[tuple[str, str | None], ...]
    values: tuple[tuple[str, float], ...]


Kind = Literal[EntityType.request, EntityType.response]


@cache
def _module(api_key: int, version: int, kind: Kind) -> ModuleType:
    return load_payload_module(api_key, version, kind)


def _top_level(api_key: int, version: int, kind: Kind) -> Any:
    module = _module(api_key, version, kind)
    return next(
        value
        for value in vars(module).values()
        if getattr(value, "__type__", None) is kind
        and getattr(value, "__module__", None) == module.__name__
    )


def _encode(entity: Any) -> bytes:
    buffer = io.BytesIO()
    entity_writer(type(entity))(buffer, entity)
    return buffer.getvalue()


class WireConnection:
    """One blocking connection to a broker; ``call`` sends a request entity, returns the body."""

    def __init__(self, host: str, port: int, timeout: float) -> None:
        try:
            self.sock = socket.create_connection((host, port), timeout=timeout)
        except OSError as exc:
            raise WireError(f"cannot connect to {host}:{port}: {exc}") from exc
        self.correlation = 0
        self._versions: dict[int, tuple[int, int]] | None = None

    def __enter__(self) -> WireConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()

    def call(self, entity: Any) -> Any:
        self.correlation += 1
        header_class = RequestHeaderV2 if entity.__flexible__ else RequestHeaderV1
        header = header_class(
            request_api_key=i16(entity.__api_key__),
            request_api_version=i16(entity.__version__),
            correlation_id=i32(self.correlation),
            client_id=CLIENT_ID,
        )
        payload = _encode(header) + _encode(entity)
        try:
            self.sock.sendall(_INT32.pack(len(payload)) + payload)
            (size,) = _INT32.unpack(self._read(4))
            frame = self._read(size)
        except OSError as exc:
            raise WireError(f"request failed: {exc}") from exc
        api_key = int(entity.__api_key__)
        body_class = _top_level(api_key, int(entity.__version__), EntityType.response)
        flexible = body_class.__flexible__ and api_key != API_VERSIONS
        header_reader = entity_reader(ResponseHeaderV1 if flexible else ResponseHeaderV0)
        response_header: Any
        response_header, offset = header_reader(frame, 0)
        if int(response_header.correlation_id) != self.correlation:
            raise WireError("the broker answered out of turn")
        body, _ = entity_reader(body_class)(frame, offset)
        return body

    def _read(self, size: int) -> bytes:
        data = bytearray()
        while len(data) < size:
            chunk = self.sock.recv(size - len(data))
            if not chunk:
                raise WireError("the broker closed the connection")
            data += chunk
        return bytes(data)

    def version(self, api_key: int) -> int:
        """The newest version of ``api_key`` both the broker and the console support."""
        if self._versions is None:
            response = self.call(_top_level(API_VERSIONS, 0, EntityType.request)())
            self._versions = {
                int(k.api_key): (int(k.min_version), int(k.max_version)) for k in response.api_keys
            }
        low, high = self._versions.get(api_key, (0, -1))
        ours = SUPPORTED[api_key]
        version = min(high, ours[1])
        if version < max(low, ours[0]):
            raise WireError(f"the broker does not support api key {api_key}")
        return version

    def request(self, api_key: int, **fields: Any) -> Any:
        version = self.version(api_key)
        return self.call(_top_level(api_key, version, EntityType.request)(**fields))


def describe_log_dirs(
    host: str, port: int, timeout: float, topics: Mapping[str, Sequence[int]] | None = None
) -> list[LogDir]:
    """Every log dir of the broker at ``host:port`` with the sizes of its replicas: all of
    them, or those of the partitions in ``topics`` (topic -> partitions)."""
    with WireConnection(host, port, timeout) as connection:
        version = connection.version(DESCRIBE_LOG_DIRS)
        wanted = None
        if topics is not None:
            nested = _module(DESCRIBE_LOG_DIRS, version, EntityType.request)
            wanted = tuple(
                nested.DescribableLogDirTopic(topic=name, partitions=tuple(i32(p) for p in parts))
                for name, parts in topics.items()
            )
        response = connection.request(DESCRIBE_LOG_DIRS, topics=wanted)
    code = int(getattr(response, "error_code", 0))
    if code:
        raise WireError(f"DescribeLogDirs failed with error code {code}")
    return [
        LogDir(
            path=result.log_dir,
            error_code=int(result.error_code),
            total_bytes=int(getattr(result, "total_bytes", -1)),
            usable_bytes=int(getattr(result, "usable_bytes", -1)),
            replicas=tuple(
                ReplicaSize(
                    result.log_dir,
                    str(topic.name),
                    int(part.partition_index),
                    int(part.partition_size),
                    int(part.offset_lag),
                    bool(part.is_future_key),
                )
                for topic in result.topics
                for part in topic.partitions
            ),
        )
        for result in response.results
    ]


def describe_client_quotas(host: str, port: int, timeout: float) -> list[QuotaEntry]:
    """Every client quota the cluster has (DescribeClientQuotas with no filter components)."""
    with WireConnection(host, port, timeout) as connection:
        response = connection.request(DESCRIBE_CLIENT_QUOTAS, components=(), strict=False)
    code = int(response.error_code)
    if code:
        raise WireError(f"DescribeClientQuotas failed: {response.error_message or code}")
    return [
        QuotaEntry(
            entity=tuple((str(e.entity_type), e.entity_name) for e in entry.entity),
            values=tuple((str(v.key), float(v.value)) for v in entry.values),
        )
        for entry in response.entries or ()
    ]
