"""OffsetDelete (``consumer-groups --delete-offsets``), the one admin request of that tool
confluent-kafka does not expose, sent over the kio client the tools share
(``odradek.protocol.client``). Plaintext connections only.

It speaks ApiVersions v0, FindCoordinator v0-v2 and OffsetDelete v0, all non-flexible
versions with request header v1 and response header v0.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from odradek.cli.tools.common import ToolError
from odradek.cli.tools.common import error_name as error_name  # re-exported
from odradek.cli.tools.common import error_text as error_text  # re-exported
from odradek.protocol.client import KioConnection, request_module
from odradek.protocol.client import pick_version as pick_version  # re-exported

FIND_COORDINATOR = 10
OFFSET_DELETE = 47
CLIENT_ID = "odradek-consumer-groups"
GROUP_KEY_TYPE = 0

NONE = 0
COORDINATOR_LOAD_IN_PROGRESS = 14
COORDINATOR_NOT_AVAILABLE = 15
NOT_COORDINATOR = 16
RETRIABLE = frozenset({COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR})


class Connection(KioConnection):
    """One blocking connection of ``consumer-groups``: ``call`` sends a kio request and
    returns the decoded body, ``versions`` the broker's ApiVersions."""

    def __init__(self, host: str, port: int, timeout: float) -> None:
        super().__init__(host, port, timeout, client_id=CLIENT_ID)


def split_address(address: str) -> tuple[str, int]:
    host, _, port = address.strip().rpartition(":")
    try:
        return host.strip("[]"), int(port)
    except ValueError as exc:
        raise ToolError(f"invalid bootstrap server {address!r}: expected HOST:PORT") from exc


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
    """(error code, the group's coordinator unless the code is an error)."""
    version = pick_version(conn.versions(), FIND_COORDINATOR, "FindCoordinator", (0, 2))
    module = request_module(FIND_COORDINATOR, version)
    fields: dict[str, Any] = {"key": group}
    if version >= 1:
        fields["key_type"] = GROUP_KEY_TYPE
    response = conn.call(module.FindCoordinatorRequest(**fields))
    code = int(response.error_code)
    return code, (Coordinator(str(response.host), int(response.port)) if code == NONE else None)


def offset_delete_request(group: str, partitions: Mapping[str, list[int]]) -> Any:
    """OffsetDelete v0 for ``partitions`` (topic -> partitions) of ``group``, sorted."""
    module = request_module(OFFSET_DELETE, 0)
    return module.OffsetDeleteRequest(
        group_id=group,
        topics=tuple(
            module.OffsetDeleteRequestTopic(
                name=topic,
                partitions=tuple(
                    module.OffsetDeleteRequestPartition(partition_index=p) for p in sorted(parts)
                ),
            )
            for topic, parts in sorted(partitions.items())
        ),
    )


def offset_delete_results(response: Any) -> tuple[int, dict[tuple[str, int], int]]:
    """The top-level error code of an OffsetDelete response and one per partition."""
    results = {
        (str(topic.name), int(partition.partition_index)): int(partition.error_code)
        for topic in response.topics
        for partition in topic.partitions
    }
    return int(response.error_code), results


def delete_offsets(
    bootstrap: str, group: str, partitions: Mapping[str, list[int]], timeout: float
) -> tuple[int, dict[tuple[str, int], int]]:
    """OffsetDelete at the group's coordinator: the top-level error code and one per
    partition. Retries while the coordinator moves or loads, up to ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        code, results = _try_delete(bootstrap, group, partitions, timeout)
        if code not in RETRIABLE or time.monotonic() > deadline:
            return code, results
        time.sleep(0.2)


def _try_delete(
    bootstrap: str, group: str, partitions: Mapping[str, list[int]], timeout: float
) -> tuple[int, dict[tuple[str, int], int]]:
    conn = connect_any(bootstrap, timeout)
    try:
        code, coordinator = find_coordinator(conn, group)
    finally:
        conn.close()
    if coordinator is None:
        return code, {}
    conn = Connection(coordinator.host, coordinator.port, timeout)
    try:
        pick_version(conn.versions(), OFFSET_DELETE, "OffsetDelete", (0, 0))
        return offset_delete_results(conn.call(offset_delete_request(group, partitions)))
    except OSError as exc:
        raise ToolError(f"OffsetDelete failed: {exc}") from exc
    finally:
        conn.close()
