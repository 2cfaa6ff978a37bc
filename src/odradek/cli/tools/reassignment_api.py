"""AlterPartitionReassignments (api key 45) and ListPartitionReassignments (46), which
confluent-kafka does not expose: kio requests sent to the active controller (found with
describeCluster), retried while the controller moves (NOT_CONTROLLER).

``alter`` and ``list_ongoing`` are what ``reassign-partitions`` calls; the request builders
and response readers are separate so they can be tested without a broker.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from confluent_kafka import KafkaException

from odradek.cli.tools.common import Admin, ToolError, error_text, kafka_message
from odradek.protocol.client import (
    ConnectionClosedError,
    KioConnection,
    pick_version,
    request_module,
)

ALTER_PARTITION_REASSIGNMENTS = 45
LIST_PARTITION_REASSIGNMENTS = 46
ALTER_VERSIONS = (0, 1)
LIST_VERSIONS = (0, 0)

NONE = 0
NOT_CONTROLLER = 41
RETRY_BACKOFF = 0.2

TopicPartition = tuple[str, int]


@dataclass(frozen=True)
class PartitionError:
    code: int
    message: str | None

    def text(self) -> str:
        """The broker's message, or the error's default one."""
        return self.message or error_text(self.code)


@dataclass(frozen=True)
class OngoingReassignment:
    topic: str
    partition: int
    replicas: tuple[int, ...]
    adding: tuple[int, ...]
    removing: tuple[int, ...]


def partition_name(tp: TopicPartition) -> str:
    return f"{tp[0]}-{tp[1]}"


def _by_topic(partitions: Iterable[TopicPartition]) -> dict[str, list[int]]:
    grouped: dict[str, list[int]] = {}
    for topic, partition in sorted(partitions):
        grouped.setdefault(topic, []).append(partition)
    return grouped


# -- requests and responses --------------------------------------------------------------------


def alter_request(
    version: int, targets: Mapping[TopicPartition, Sequence[int] | None], timeout_ms: int
) -> Any:
    """AlterPartitionReassignments: new replicas per partition, None to cancel."""
    module = request_module(ALTER_PARTITION_REASSIGNMENTS, version)
    topics = tuple(
        module.ReassignableTopic(
            name=topic,
            partitions=tuple(
                module.ReassignablePartition(
                    partition_index=p,
                    replicas=None
                    if targets[(topic, p)] is None
                    else tuple(targets[(topic, p)] or ()),
                )
                for p in parts
            ),
        )
        for topic, parts in _by_topic(targets).items()
    )
    return module.AlterPartitionReassignmentsRequest(
        timeout=timedelta(milliseconds=timeout_ms), topics=topics
    )


def alter_errors(
    response: Any, requested: Iterable[TopicPartition]
) -> dict[TopicPartition, PartitionError]:
    """The partitions the controller refused. A top-level error applies to every partition
    requested, as Kafka's AdminClient reports it."""
    requested = list(requested)
    top = int(response.error_code)
    if top != NONE:
        error = PartitionError(top, response.error_message)
        return dict.fromkeys(requested, error)
    errors: dict[TopicPartition, PartitionError] = {}
    answered: set[TopicPartition] = set()
    for topic in response.responses:
        for partition in topic.partitions:
            tp = (str(topic.name), int(partition.partition_index))
            answered.add(tp)
            if int(partition.error_code) != NONE:
                errors[tp] = PartitionError(int(partition.error_code), partition.error_message)
    for tp in requested:
        if tp not in answered:
            errors[tp] = PartitionError(-1, "the controller did not answer for this partition")
    return errors


def list_request(version: int, partitions: Iterable[TopicPartition] | None, timeout_ms: int) -> Any:
    """ListPartitionReassignments of some partitions, or of all (None)."""
    module = request_module(LIST_PARTITION_REASSIGNMENTS, version)
    topics = (
        None
        if partitions is None
        else tuple(
            module.ListPartitionReassignmentsTopics(name=topic, partition_indexes=tuple(parts))
            for topic, parts in _by_topic(partitions).items()
        )
    )
    return module.ListPartitionReassignmentsRequest(
        timeout=timedelta(milliseconds=timeout_ms), topics=topics
    )


def list_results(response: Any) -> dict[TopicPartition, OngoingReassignment]:
    top = int(response.error_code)
    if top != NONE:
        raise ToolError(
            f"cannot list partition reassignments: {response.error_message or error_text(top)}"
        )
    return {
        (str(topic.name), int(p.partition_index)): OngoingReassignment(
            str(topic.name),
            int(p.partition_index),
            tuple(int(r) for r in p.replicas),
            tuple(int(r) for r in p.adding_replicas),
            tuple(int(r) for r in p.removing_replicas),
        )
        for topic in response.topics
        for p in topic.partitions
    }


# -- talking to the controller -----------------------------------------------------------------


class ControllerClient:
    """Sends requests to the active controller, re-discovering it (describeCluster) when the
    answer is NOT_CONTROLLER or it cannot be reached, until the admin timeout runs out."""

    def __init__(self, admin: Admin) -> None:
        self.admin = admin
        self.timeout_ms = max(int(admin.timeout * 1000), 1)

    def _controller(self) -> tuple[str, int] | None:
        try:
            cluster = self.admin.wait(
                self.admin.client.describe_cluster(request_timeout=self.admin.timeout)
            )
        except KafkaException as exc:
            raise ToolError(f"cannot describe the cluster: {kafka_message(exc)}") from exc
        node = cluster.controller
        if node is None or node.id < 0:
            return None
        return str(node.host), int(node.port)

    def call(
        self, api_key: int, name: str, supported: tuple[int, int], build: Callable[[int], Any]
    ) -> Any:
        """``build(version)`` makes the request; returns the response of the controller."""
        deadline = time.monotonic() + self.admin.timeout
        problem = "no controller is known"
        while True:
            address = self._controller()
            if address is not None:
                try:
                    with KioConnection(*address, timeout=self.admin.timeout) as conn:
                        version = pick_version(conn.versions(), api_key, name, supported)
                        response = conn.call(build(version))
                    if int(response.error_code) != NOT_CONTROLLER:
                        return response
                    problem = f"{address[0]}:{address[1]} is no longer the controller"
                except (OSError, ConnectionClosedError) as exc:
                    reason = exc.strerror if isinstance(exc, OSError) else None
                    problem = (
                        f"cannot reach the controller at {address[0]}:{address[1]}: {reason or exc}"
                    )
            if time.monotonic() + RETRY_BACKOFF > deadline:
                raise ToolError(f"{name} failed: {problem}")
            time.sleep(RETRY_BACKOFF)

    def alter(
        self, targets: Mapping[TopicPartition, Sequence[int] | None]
    ) -> dict[TopicPartition, PartitionError]:
        """Start (replicas) or cancel (None) reassignments; the errors per partition."""
        response = self.call(
            ALTER_PARTITION_REASSIGNMENTS,
            "AlterPartitionReassignments",
            ALTER_VERSIONS,
            lambda v: alter_request(v, targets, self.timeout_ms),
        )
        return alter_errors(response, targets)

    def list_ongoing(
        self, partitions: Iterable[TopicPartition] | None = None
    ) -> dict[TopicPartition, OngoingReassignment]:
        """The ongoing reassignments (of ``partitions``, or all)."""
        wanted = None if partitions is None else sorted(set(partitions))
        response = self.call(
            LIST_PARTITION_REASSIGNMENTS,
            "ListPartitionReassignments",
            LIST_VERSIONS,
            lambda v: list_request(v, wanted, self.timeout_ms),
        )
        return list_results(response)
