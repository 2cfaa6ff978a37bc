"""``odradek leader-election``: kafka-leader-election.sh (ElectLeaders through the
AdminClient): a preferred or unclean leader election for one partition, the partitions of a
JSON file, or every partition of the cluster."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from confluent_kafka import ElectionType, KafkaError, KafkaException, TopicPartition

from odradek.cli.tools.common import (
    Admin,
    ToolError,
    UsageError,
    api_timeout,
    client_config,
    error_code,
    load_properties,
    run_tool,
)

DEFAULT_TIMEOUT_MS = 30_000  # the tool's default.api.timeout.ms, as Kafka's
SELECTORS = ("topic", "all_topic_partitions", "path_to_json_file")


def main(args: argparse.Namespace) -> int:
    return run_tool("leader-election", args, _run)


def _option(dest: str) -> str:
    return dest.replace("_", "-")


def validate_args(args: argparse.Namespace) -> None:
    """Kafka's checks, with its messages."""
    missing = [
        name
        for name, value in (
            ("bootstrap-server", args.bootstrap_server),
            ("election-type", args.election_type),
        )
        if not value
    ]
    if missing:
        raise UsageError("Missing required option(s): " + ", ".join(missing))
    given = [dest for dest in SELECTORS if getattr(args, dest) not in (None, False)]
    if len(given) != 1:
        raise UsageError(
            "One and only one of the following options is required: "
            + ", ".join(_option(dest) for dest in SELECTORS)
        )
    if args.topic is not None and args.partition is None:
        raise UsageError("Missing required option(s): partition")
    if args.topic is None and args.partition is not None:
        raise UsageError("Option partition is only allowed if topic is used")
    if args.partition is not None and args.partition < 0:
        raise UsageError(f"--partition must not be negative, got {args.partition}")


def parse_election_json(text: str) -> list[tuple[str, int]]:
    """``{"partitions": [{"topic": "foo", "partition": 1}]}``: the partitions, sorted."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ToolError(f"the election JSON file is not valid JSON: {exc}") from exc
    if document is None:
        raise ToolError("Replica election data is empty")
    if not isinstance(document, dict) or "partitions" not in document:
        raise ToolError('Replica election data is missing "partitions" field')
    entries = document["partitions"]
    if not isinstance(entries, list):
        raise ToolError('"partitions" must be a JSON array')
    partitions = [_partition(entry) for entry in entries]
    seen: set[tuple[str, int]] = set()
    repeated: set[tuple[str, int]] = set()
    for tp in partitions:
        (repeated if tp in seen else seen).add(tp)
    if repeated:
        raise ToolError(
            "Replica election data contains duplicate partitions: "
            + ",".join(f"{t}-{p}" for t, p in sorted(repeated))
        )
    return sorted(seen)


def _partition(entry: Any) -> tuple[str, int]:
    if not isinstance(entry, dict):
        raise ToolError(f"invalid partition entry {json.dumps(entry)}")
    topic, partition = entry.get("topic"), entry.get("partition")
    if (
        not isinstance(topic, str)
        or not isinstance(partition, int)
        or isinstance(partition, bool)
        or partition < 0
    ):
        raise ToolError(
            f"invalid partition entry {json.dumps(entry)}: needs a string "
            '"topic" and a non-negative integer "partition"'
        )
    return topic, partition


def selected_partitions(args: argparse.Namespace) -> list[tuple[str, int]] | None:
    """The partitions to elect leaders for; None means all of them."""
    if args.all_topic_partitions:
        return None
    if args.path_to_json_file is not None:
        try:
            text = Path(args.path_to_json_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise ToolError(f"cannot read {args.path_to_json_file}: {exc.strerror}") from exc
        return parse_election_json(text)
    return [(args.topic, args.partition)]


def outcome_lines(
    kind: str, results: Mapping[tuple[str, int], KafkaError | None]
) -> tuple[list[str], int]:
    """Kafka's report of an election, and how many partitions failed."""
    succeeded, noop, failed = [], [], []
    for tp in sorted(results):
        error = results[tp]
        if error is None:
            succeeded.append(tp)
        elif error.code() == KafkaError.ELECTION_NOT_NEEDED:
            noop.append(tp)
        else:
            failed.append(tp)
    lines = []
    if succeeded:
        lines.append(
            f"Successfully completed leader election ({kind}) for partitions " + _names(succeeded)
        )
    if noop:
        lines.append(f"Valid replica already elected for partitions {_names(noop)}")
    for tp in failed:
        error = results[tp]
        message = str(error.str()).removeprefix("Broker: ") if error is not None else ""
        lines.append(
            f"Error completing leader election ({kind}) for partition: {tp[0]}-{tp[1]}: {message}"
        )
    return lines, len(failed)


def _names(partitions: Sequence[tuple[str, int]]) -> str:
    return ", ".join(f"{t}-{p}" for t, p in partitions)


def _error(value: object) -> KafkaError | None:
    if value is None:
        return None
    if isinstance(value, KafkaException) and value.args and isinstance(value.args[0], KafkaError):
        return value.args[0]
    if isinstance(value, KafkaError):
        return value
    return KafkaError(KafkaError._FAIL, str(value))


def _run(args: argparse.Namespace) -> int:
    validate_args(args)
    partitions = selected_partitions(args)
    if partitions == []:
        return 0  # an empty file: nothing to elect
    props = load_properties(args.command_config)
    admin = Admin(
        client_config(args.bootstrap_server, props, {}), api_timeout(props, DEFAULT_TIMEOUT_MS)
    )
    kind = ElectionType[args.election_type]
    request = None if partitions is None else [TopicPartition(t, p) for t, p in partitions]
    # No request_timeout/operation_timeout: confluent-kafka 2.16's binding rejects any keyword
    # argument of elect_leaders (SystemError). admin.wait bounds the wait instead.
    future = admin.client.elect_leaders(kind, request)
    try:
        raw: dict[Any, Any] = admin.wait(future)
    except KafkaException as exc:
        if error_code(exc) == KafkaError._TIMED_OUT:
            raise ToolError("Timeout waiting for election results") from exc
        if error_code(exc) == KafkaError.CLUSTER_AUTHORIZATION_FAILED:
            raise ToolError("Not authorized to perform leader election") from exc
        raise
    results = {(str(tp.topic), int(tp.partition)): _error(value) for tp, value in raw.items()}
    lines, failures = outcome_lines(args.election_type, results)
    for line in lines:
        print(line)
    if failures:
        raise ToolError(f"{failures} replica(s) could not be elected")
    return 0
