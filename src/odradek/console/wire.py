"""The console's two admin requests confluent-kafka does not expose, over the kio client the
tools share (``odradek.protocol.client``): DescribeLogDirs (topic sizes, log dirs) and
DescribeClientQuotas (the quotas page).

One connection per call to one broker, at the newest version both sides support. PLAINTEXT
only: against a TLS or SASL listener these pages say the figures are unavailable rather than
guessing. Every failure, a socket's included, is a ``WireError``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from kio.static.primitive import i32

from odradek.protocol.client import (
    KioConnection,
    WireError,
    pick_version,
    request_class,
    request_module,
)

DESCRIBE_LOG_DIRS = 35
DESCRIBE_CLIENT_QUOTAS = 48
SUPPORTED = {DESCRIBE_LOG_DIRS: (1, 4), DESCRIBE_CLIENT_QUOTAS: (0, 1)}
NAMES = {DESCRIBE_LOG_DIRS: "DescribeLogDirs", DESCRIBE_CLIENT_QUOTAS: "DescribeClientQuotas"}
CLIENT_ID = "odradek-console"


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


@contextmanager
def _connection(host: str, port: int, timeout: float) -> Iterator[KioConnection]:
    """A connection to the broker at ``host:port``; socket failures as ``WireError``."""
    try:
        with KioConnection(host, port, timeout, CLIENT_ID) as connection:
            yield connection
    except OSError as exc:
        raise WireError(f"cannot reach {host}:{port}: {exc.strerror or exc}") from exc


def _version(connection: KioConnection, api_key: int) -> int:
    return pick_version(connection.versions(), api_key, NAMES[api_key], SUPPORTED[api_key])


def describe_log_dirs(
    host: str, port: int, timeout: float, topics: Mapping[str, Sequence[int]] | None = None
) -> list[LogDir]:
    """Every log dir of the broker at ``host:port`` with the sizes of its replicas: all of
    them, or those of the partitions in ``topics`` (topic -> partitions)."""
    with _connection(host, port, timeout) as connection:
        version = _version(connection, DESCRIBE_LOG_DIRS)
        wanted = None
        if topics is not None:
            nested = request_module(DESCRIBE_LOG_DIRS, version)
            wanted = tuple(
                nested.DescribableLogDirTopic(topic=name, partitions=tuple(i32(p) for p in parts))
                for name, parts in topics.items()
            )
        response = connection.call(request_class(DESCRIBE_LOG_DIRS, version)(topics=wanted))
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
    with _connection(host, port, timeout) as connection:
        version = _version(connection, DESCRIBE_CLIENT_QUOTAS)
        request = request_class(DESCRIBE_CLIENT_QUOTAS, version)(components=(), strict=False)
        response: Any = connection.call(request)
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
