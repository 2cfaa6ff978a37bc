"""``odradek transactions``: Kafka's ``bin/kafka-transactions.sh`` (list, describe,
describe-producers, abort, find-hanging), with the same flags (``parsers.add_transactions``),
tables and error messages, plus ``--output json``. Run as Kafka's ``TransactionsCommand``:
the same requests, tables (``ToolsUtils.prettyPrintTable``: columns padded to their widest
value, each followed by a tab) and error messages (on stderr, exit status 1).

It speaks the Kafka protocol itself (``txn_client``, on kio) because confluent-kafka's
AdminClient has none of these requests; it works against any Kafka cluster reachable over
PLAINTEXT and imports nothing from the broker.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from kio.schema.errors import ErrorCode

from odradek.cli.tools.txn_client import (
    ClientError,
    Cluster,
    KafkaProtocolError,
    TransactionDescription,
    describe_error,
    timeout_of,
)
from odradek.config.properties import read_properties

NONE = "None"


class ToolError(Exception):
    """Reported as the message alone on stderr, exit status 1."""


def main(args: argparse.Namespace) -> int:
    try:
        config = load_properties(args.command_config)
        protocol = config.get("security.protocol", "PLAINTEXT").upper()
        if protocol != "PLAINTEXT":
            raise ToolError(f"security.protocol {protocol} is not supported (PLAINTEXT only)")
        timeout = timeout_of(config).total_seconds()
        client_id = config.get("client.id", "odradek-transactions")
        with Cluster(args.bootstrap_server, timeout, client_id) as cluster:
            result: int = COMMANDS[args.txn_command](cluster, args)
            return result
    except (ToolError, ClientError) as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 141


def load_properties(path: str | None) -> dict[str, str]:
    """The ``--command-config`` file (none for None), a Java properties file."""
    if path is None:
        return {}
    try:
        return read_properties(path)
    except OSError as exc:
        raise ToolError(f"Failed to load admin client properties: {exc}") from exc


# -- output -------------------------------------------------------------------------------------


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    text = [[NONE if v is None else str(v) for v in row] for row in rows]
    widths = [max([len(h), *(len(row[i]) for row in text)]) for i, h in enumerate(headers)]
    for row in [list(headers), *text]:
        print("".join(value.ljust(width) + "\t" for value, width in zip(row, widths, strict=True)))


def emit(
    args: argparse.Namespace,
    headers: Sequence[str],
    keys: Sequence[str],
    rows: Sequence[Sequence[object]],
    single: bool = False,
) -> None:
    if args.output == "json":
        records = [dict(zip(keys, row, strict=True)) for row in rows]
        print(json.dumps(records[0] if single else records, indent=2))
    else:
        print_table(headers, rows)


def failed(context: str, exc: Exception) -> ToolError:
    return ToolError(f"{context}: {exc}")


def optional(value: int) -> int | None:
    """Kafka's OptionalInt/OptionalLong: negative means absent."""
    return value if value >= 0 else None


# -- list ---------------------------------------------------------------------------------------


def list_transactions(cluster: Cluster, args: argparse.Namespace) -> int:
    duration = args.duration_filter if args.duration_filter is not None else -1
    rows = []
    try:
        for node_id in sorted(cluster.brokers):
            response = cluster.retrying(
                partial(cluster.list_transactions, node_id, duration_ms=duration)
            )
            rows += [
                (str(t.transactional_id), node_id, int(t.producer_id), str(t.transaction_state))
                for t in response.transaction_states
            ]
    except ClientError as exc:
        raise failed("Failed to list transactions", exc) from exc
    emit(
        args,
        ["TransactionalId", "Coordinator", "ProducerId", "TransactionState"],
        ["transactional_id", "coordinator", "producer_id", "transaction_state"],
        rows,
    )
    return 0


# -- describe -----------------------------------------------------------------------------------


def describe_transaction(cluster: Cluster, transactional_id: str) -> tuple[int, Any]:
    """(coordinator id, description); raises KafkaProtocolError with the described error."""
    node_id = cluster.transaction_coordinator(transactional_id)

    def attempt() -> TransactionDescription:
        (state,) = cluster.describe_transactions(node_id, [transactional_id])
        if state.error_code != ErrorCode.none:
            raise KafkaProtocolError(state.error_code)
        return state

    return node_id, cluster.retrying(attempt)


def describe(cluster: Cluster, args: argparse.Namespace) -> int:
    tid = args.transactional_id
    try:
        node_id, state = describe_transaction(cluster, tid)
    except ClientError as exc:
        raise failed(
            f"Failed to describe transaction state of transactional-id `{tid}`", exc
        ) from exc
    start = optional(state.start_time_ms)
    duration = None if start is None else int(time.time() * 1000) - start
    partitions = ",".join(f"{t}-{p}" for t, p in state.partitions)
    row = (
        node_id,
        tid,
        state.producer_id,
        state.producer_epoch,
        state.state,
        state.timeout_ms,
        start,
        duration,
        partitions if args.output != "json" else [f"{t}-{p}" for t, p in state.partitions],
    )
    emit(
        args,
        [
            "CoordinatorId",
            "TransactionalId",
            "ProducerId",
            "ProducerEpoch",
            "TransactionState",
            "TransactionTimeoutMs",
            "CurrentTransactionStartTimeMs",
            "TransactionDurationMs",
            "TopicPartitions",
        ],
        [
            "coordinator_id",
            "transactional_id",
            "producer_id",
            "producer_epoch",
            "transaction_state",
            "transaction_timeout_ms",
            "current_transaction_start_time_ms",
            "transaction_duration_ms",
            "topic_partitions",
        ],
        [row],
        single=True,
    )
    return 0


# -- describe-producers -------------------------------------------------------------------------


def active_producers(
    cluster: Cluster, node_id: int, topic: str, partitions: Sequence[int]
) -> dict[int, list[Any]]:
    """Partition -> its active producers, from ``node_id``; raises on a partition error."""
    response = cluster.describe_producers(node_id, topic, partitions)
    found: dict[int, list[Any]] = {}
    for result_topic in response.topics:
        for result in result_topic.partitions:
            if result.error_code != ErrorCode.none:
                raise KafkaProtocolError(result.error_code, result.error_message)
            found[int(result.partition_index)] = list(result.active_producers)
    return found


def describe_producers(cluster: Cluster, args: argparse.Namespace) -> int:
    topic, partition = args.topic, args.partition
    where = "leader" if args.broker_id is None else f"broker {args.broker_id}"
    try:
        node_id = cluster.leader(topic, partition) if args.broker_id is None else args.broker_id
        producers = active_producers(cluster, node_id, topic, [partition]).get(partition, [])
    except ClientError as exc:
        raise failed(
            f"Failed to describe producers for partition {topic}-{partition} on {where}", exc
        ) from exc
    rows = [
        (
            int(p.producer_id),
            int(p.producer_epoch),
            int(p.coordinator_epoch),
            int(p.last_sequence),
            int(p.last_timestamp),
            optional(int(p.current_txn_start_offset)),
        )
        for p in producers
    ]
    emit(
        args,
        [
            "ProducerId",
            "ProducerEpoch",
            "LatestCoordinatorEpoch",
            "LastSequence",
            "LastTimestamp",
            "CurrentTransactionStartOffset",
        ],
        [
            "producer_id",
            "producer_epoch",
            "latest_coordinator_epoch",
            "last_sequence",
            "last_timestamp",
            "current_transaction_start_offset",
        ],
        rows,
    )
    return 0


# -- abort --------------------------------------------------------------------------------------


def abort(cluster: Cluster, args: argparse.Namespace) -> int:
    topic, partition = args.topic, args.partition
    tp = f"{topic}-{partition}"
    if args.start_offset is None and args.producer_id is None:
        raise ToolError(
            "The transaction to abort must be identified either with "
            "--start-offset (for brokers on 3.0 or above) or with --producer-id, "
            "--producer-epoch, and --coordinator-epoch (for older brokers)"
        )
    try:
        leader = cluster.leader(topic, partition)
    except ClientError as exc:
        raise failed(f"Failed to validate producer state for partition {tp}", exc) from exc
    if args.start_offset is None:
        if args.producer_epoch is None:
            raise ToolError("Missing required argument --producer-epoch")
        if args.coordinator_epoch is None:
            raise ToolError("Missing required argument --coordinator-epoch")
        spec = (args.producer_id, args.producer_epoch, max(args.coordinator_epoch, 0))
    else:
        try:
            producers = active_producers(cluster, leader, topic, [partition]).get(partition, [])
        except ClientError as exc:
            raise failed(f"Failed to validate producer state for partition {tp}", exc) from exc
        found = [p for p in producers if int(p.current_txn_start_offset) == args.start_offset]
        if not found:
            raise ToolError(
                f"Could not find any open transactions starting at offset "
                f"{args.start_offset} on partition {tp}"
            )
        spec = (
            int(found[0].producer_id),
            int(found[0].producer_epoch),
            max(int(found[0].coordinator_epoch), 0),
        )
    producer_id, producer_epoch, coordinator_epoch = spec
    described = (
        f"AbortTransactionSpec(topicPartition={tp}, producerId={producer_id}, "
        f"producerEpoch={producer_epoch}, coordinatorEpoch={coordinator_epoch})"
    )
    try:
        error = cluster.write_abort_marker(
            leader, topic, partition, producer_id, producer_epoch, coordinator_epoch
        )
    except ClientError as exc:
        raise failed(f"Failed to abort transaction {described}", exc) from exc
    if error != ErrorCode.none:
        raise ToolError(f"Failed to abort transaction {described}: {describe_error(error)}")
    if args.output == "json":
        print(
            json.dumps(
                {
                    "topic": topic,
                    "partition": partition,
                    "producer_id": producer_id,
                    "producer_epoch": producer_epoch,
                    "coordinator_epoch": coordinator_epoch,
                    "aborted": True,
                },
                indent=2,
            )
        )
    return 0


# -- find-hanging -------------------------------------------------------------------------------


def find_hanging(cluster: Cluster, args: argparse.Namespace) -> int:
    if args.topic is None and args.broker_id is None:
        raise ToolError(
            "The `find-hanging` command requires either --topic or --broker-id to "
            "limit the scope of the search"
        )
    if args.partition is not None and args.topic is None:
        raise ToolError("The --partition argument requires --topic to be provided")
    max_timeout_ms = args.max_transaction_timeout * 60_000
    try:
        candidates = _open_transactions(cluster, args, max_timeout_ms)
        hanging = _hanging(cluster, candidates) if candidates else []
    except ClientError as exc:
        raise failed("Failed to find hanging transactions", exc) from exc
    now = int(time.time() * 1000)
    rows = [
        (
            topic,
            partition,
            int(p.producer_id),
            int(p.producer_epoch),
            int(p.coordinator_epoch),
            int(p.current_txn_start_offset),
            int(p.last_timestamp),
            (now - int(p.last_timestamp)) // 60_000,
        )
        for topic, partition, p in hanging
    ]
    emit(
        args,
        [
            "Topic",
            "Partition",
            "ProducerId",
            "ProducerEpoch",
            "CoordinatorEpoch",
            "StartOffset",
            "LastTimestamp",
            "Duration(min)",
        ],
        [
            "topic",
            "partition",
            "producer_id",
            "producer_epoch",
            "coordinator_epoch",
            "start_offset",
            "last_timestamp",
            "duration_min",
        ],
        rows,
    )
    return 0


OpenTxn = tuple[str, int, Any]


def _open_transactions(
    cluster: Cluster, args: argparse.Namespace, max_timeout_ms: int
) -> list[OpenTxn]:
    """Producers with a transaction open for longer than the maximum timeout."""
    infos = cluster.partitions(None if args.topic is None else [args.topic])
    if args.partition is not None:
        infos = [i for i in infos if i.partition == args.partition]
        if not infos:
            raise KafkaProtocolError(ErrorCode.unknown_topic_or_partition)
    if args.broker_id is not None:
        infos = [i for i in infos if args.broker_id in i.replicas]
    by_node: dict[tuple[int, str], list[int]] = {}
    for info in infos:
        node = info.leader if args.broker_id is None else args.broker_id
        by_node.setdefault((node, info.topic), []).append(info.partition)
    now = int(time.time() * 1000)
    found: list[OpenTxn] = []
    for (node, topic), partitions in sorted(by_node.items()):
        for partition, producers in sorted(
            active_producers(cluster, node, topic, partitions).items()
        ):
            found += [
                (topic, partition, p)
                for p in producers
                if int(p.current_txn_start_offset) >= 0
                and now - int(p.last_timestamp) > max_timeout_ms
            ]
    return found


def _hanging(cluster: Cluster, candidates: list[OpenTxn]) -> list[OpenTxn]:
    producer_ids = {int(p.producer_id) for _, _, p in candidates}
    transactional_ids: dict[int, str] = {}
    for node_id in sorted(cluster.brokers):
        response = cluster.list_transactions(node_id, producer_ids=sorted(producer_ids))
        transactional_ids.update(
            {
                int(t.producer_id): str(t.transactional_id)
                for t in response.transaction_states
                if int(t.producer_id) in producer_ids
            }
        )
    descriptions: dict[str, set[tuple[str, int]] | None] = {}
    for tid in set(transactional_ids.values()):
        try:
            descriptions[tid] = set(describe_transaction(cluster, tid)[1].partitions)
        except KafkaProtocolError as exc:
            if exc.code is not ErrorCode.transactional_id_not_found:
                raise
            descriptions[tid] = None
    hanging = []
    for topic, partition, producer in candidates:
        owner = transactional_ids.get(int(producer.producer_id))
        written = descriptions.get(owner) if owner is not None else None
        if written is None or (topic, partition) not in written:
            hanging.append((topic, partition, producer))
    return hanging


COMMANDS: dict[str, Callable[[Cluster, argparse.Namespace], int]] = {
    "list": list_transactions,
    "describe": describe,
    "describe-producers": describe_producers,
    "abort": abort,
    "find-hanging": find_hanging,
}
