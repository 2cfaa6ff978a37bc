"""The pure part of ``odradek reassign-partitions``: the JSON files (reassignment plans and
topics to move) parsed and checked, the replica placement --generate proposes, and the
progress reports of --verify and --list. Nothing here talks to a cluster.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence, Sized
from dataclasses import dataclass
from typing import Any

from odradek.cli.tools.common import ToolError
from odradek.cli.tools.reassignment_api import OngoingReassignment, TopicPartition, partition_name
from odradek.cluster.assignment import assign_replicas
from odradek.cluster.assignment import rack_alternated as _alternate_racks
from odradek.common.errors import KafkaError

ANY_LOG_DIR = "any"


# -- JSON files --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """One entry of a reassignment JSON file."""

    topic: str
    partition: int
    replicas: tuple[int, ...]
    log_dirs: tuple[str, ...]

    @property
    def tp(self) -> TopicPartition:
        return (self.topic, self.partition)


def _load_json(text: str) -> dict[str, Any]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ToolError(f"The input string is not a valid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise ToolError("The input string is not a JSON object")
    version = document.get("version", 1)
    if version != 1:
        raise ToolError(f"Not supported version field value {json.dumps(version)}")
    return document


def _list_field(document: Mapping[str, Any], name: str) -> list[Any]:
    value = document.get(name, [])
    if not isinstance(value, list):
        raise ToolError(f'"{name}" must be a JSON array')
    return value


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _string(entry: Mapping[str, Any], name: str) -> str:
    value = entry.get(name)
    if not isinstance(value, str):
        raise ToolError(f'"{name}" must be a string in {json.dumps(entry)}')
    return value


def _int(entry: Mapping[str, Any], name: str) -> int:
    value = entry.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ToolError(f'"{name}" must be an integer in {json.dumps(entry)}')
    return value


def _entry(value: object) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise ToolError(f"expected a JSON object, got {json.dumps(value)}")
    return value


def duplicates(items: Iterable[Any]) -> list[Any]:
    seen: set[Any] = set()
    repeated: list[Any] = []
    for item in items:
        if item in seen and item not in repeated:
            repeated.append(item)
        seen.add(item)
    return repeated


def parse_topics_to_move(text: str) -> list[str]:
    """``{"topics": [{"topic": "foo"}], "version": 1}``: the topics, in file order."""
    document = _load_json(text)
    topics = [_string(_entry(e), "topic") for e in _list_field(document, "topics")]
    repeated = duplicates(topics)
    if repeated:
        raise ToolError(
            "List of topics to reassign contains duplicate entries: " + ",".join(repeated)
        )
    return topics


def parse_broker_list(text: str) -> list[int]:
    """``--broker-list 1,2,3``."""
    try:
        brokers = [int(b) for b in text.split(",")]
    except ValueError as exc:
        raise ToolError(f"--broker-list must be comma-separated broker ids, got {text!r}") from exc
    repeated = duplicates(brokers)
    if repeated:
        raise ToolError(
            "Broker list contains duplicate entries: " + ",".join(str(b) for b in repeated)
        )
    return brokers


def parse_reassignment(text: str) -> list[Target]:
    """A reassignment JSON file (``{"version": 1, "partitions": [{"topic": "t",
    "partition": 0, "replicas": [1, 2], "log_dirs": ["any", "any"]}]}``), in file order and
    with duplicates kept, so that --execute can refuse them."""
    document = _load_json(text)
    targets = []
    for raw in _list_field(document, "partitions"):
        entry = _entry(raw)
        topic, partition = _string(entry, "topic"), _int(entry, "partition")
        replicas = entry.get("replicas")
        if not isinstance(replicas, list) or not all(_is_int(r) for r in replicas):
            raise ToolError(f'"replicas" must be a list of broker ids in {json.dumps(entry)}')
        log_dirs = entry.get("log_dirs", [ANY_LOG_DIR] * len(replicas))
        if not isinstance(log_dirs, list) or not all(isinstance(d, str) for d in log_dirs):
            raise ToolError(f'"log_dirs" must be a list of strings in {json.dumps(entry)}')
        if len(log_dirs) != len(replicas):
            raise ToolError(
                f"Size of replicas list {_java_list(replicas)} is different from "
                f"size of log dirs list {_java_list(log_dirs)} for partition "
                f"{topic}-{partition}"
            )
        targets.append(Target(topic, partition, tuple(replicas), tuple(log_dirs)))
    return targets


def _java_list(items: Sequence[object]) -> str:
    return "[" + ", ".join(str(i) for i in items) + "]"


def validate_for_execute(targets: Sequence[Target]) -> dict[TopicPartition, tuple[int, ...]]:
    """The checks --execute makes before sending anything."""
    if not targets:
        raise ToolError("Partition reassignment list cannot be empty")
    if any(not t.replicas for t in targets):
        raise ToolError("Partition replica list cannot be empty")
    repeated = duplicates(t.tp for t in targets)
    if repeated:
        raise ToolError(
            "Partition reassignment contains duplicate topic partitions: "
            + ",".join(partition_name(tp) for tp in repeated)
        )
    with_duplicates = [(t, duplicates(t.replicas)) for t in targets]
    problems = [
        f"{partition_name(t.tp)} contains multiple entries for "
        + ",".join(str(r) for r in repeated_replicas)
        for t, repeated_replicas in with_duplicates
        if repeated_replicas
    ]
    if problems:
        raise ToolError(
            "Partition replica lists may not contain duplicate entries: " + ". ".join(problems)
        )
    return {t.tp: t.replicas for t in targets}


def refuse_log_dir_moves(targets: Iterable[Target]) -> None:
    moves = [
        f"{partition_name(t.tp)} ({', '.join(t.log_dirs)})"
        for t in targets
        if any(d != ANY_LOG_DIR for d in t.log_dirs)
    ]
    if moves:
        raise ToolError(
            'moving replicas between log directories (log_dirs other than "any") '
            "is not supported (confluent-kafka has no AlterReplicaLogDirs): " + "; ".join(moves)
        )


def format_reassignment_json(assignment: Mapping[TopicPartition, Sequence[int]]) -> str:
    """Kafka's reassignment JSON, compact, partitions sorted by topic then partition."""
    partitions = [
        {
            "topic": topic,
            "partition": partition,
            "replicas": list(replicas),
            "log_dirs": [ANY_LOG_DIR] * len(replicas),
        }
        for (topic, partition), replicas in sorted(assignment.items())
    ]
    return json.dumps({"version": 1, "partitions": partitions}, separators=(",", ":"))


# -- replica placement (--generate) ------------------------------------------------------------


@dataclass(frozen=True)
class Broker:
    id: int
    rack: str | None = None


def assign_replicas_to_brokers(
    brokers: Sequence[Broker],
    partitions: int,
    replication_factor: int,
    start_index: int | None = None,
) -> dict[int, list[int]]:
    """Partition -> replicas, as Kafka's AdminUtils.assignReplicasToBrokers places them (the
    broker's own placement, odradek.cluster.assignment); ``start_index`` fixes the start and
    the first shift, None draws both at random, as Kafka does."""
    if partitions <= 0:
        raise ToolError("Number of partitions must be larger than 0.")
    if replication_factor <= 0:
        raise ToolError("Replication factor must be larger than 0.")
    racked = [b for b in brokers if b.rack is not None]
    if racked and len(racked) != len(brokers):
        raise ToolError("Not all brokers have rack information for replica rack aware assignment.")
    try:
        return assign_replicas(
            {b.id: b.rack for b in brokers},
            partitions,
            replication_factor,
            start_index=start_index,
            shift=start_index,
        )
    except KafkaError as exc:
        raise ToolError(str(exc)) from exc


def rack_alternated(brokers: Sequence[Broker]) -> list[int]:
    """Broker ids taking one broker of each rack in turn (racks and ids sorted)."""
    return _alternate_racks({b.id: b.rack for b in brokers})


def propose(
    current: Mapping[TopicPartition, Sequence[int]],
    brokers: Sequence[Broker],
    start_index: int | None = None,
) -> dict[TopicPartition, list[int]]:
    """A new assignment of every partition of the topics in ``current``: per topic, its
    partition count and replication factor placed on ``brokers``."""
    by_topic: dict[str, dict[int, Sequence[int]]] = {}
    for (topic, partition), replicas in current.items():
        by_topic.setdefault(topic, {})[partition] = replicas
    proposal: dict[TopicPartition, list[int]] = {}
    for topic, parts in sorted(by_topic.items()):
        factor = len(parts[min(parts)])
        placed = assign_replicas_to_brokers(brokers, len(parts), factor, start_index)
        proposal.update({(topic, p): replicas for p, replicas in placed.items()})
    return proposal


# -- progress reports (--verify, --list) -------------------------------------------------------


def plural(items: Sized) -> str:
    """The ``s`` of a plural noun, as Kafka's messages add it."""
    return "" if len(items) == 1 else "s"


def id_list(ids: Iterable[int]) -> str:
    """Broker ids, comma-separated."""
    return ",".join(str(i) for i in ids)


@dataclass(frozen=True)
class PartitionState:
    current: tuple[int, ...]
    target: tuple[int, ...]
    done: bool


def reassignment_states(
    targets: Sequence[Target],
    ongoing: Mapping[TopicPartition, OngoingReassignment],
    assignment: Mapping[str, Mapping[int, Sequence[int]]],
) -> dict[TopicPartition, PartitionState]:
    """Per target partition: still moving (listed as ongoing), or done with its current
    replicas (none when the partition does not exist)."""
    states = {}
    for t in targets:
        if t.tp in ongoing:
            states[t.tp] = PartitionState(ongoing[t.tp].replicas, t.replicas, False)
        else:
            current = assignment.get(t.topic, {}).get(t.partition, ())
            states[t.tp] = PartitionState(tuple(current), t.replicas, True)
    return states


def status_lines(states: Mapping[TopicPartition, PartitionState]) -> list[str]:
    lines = ["Status of partition reassignment:"]
    for tp in sorted(states):
        state, name = states[tp], partition_name(tp)
        if not state.done:
            lines.append(f"Reassignment of partition {name} is still in progress.")
        elif state.current == state.target:
            lines.append(f"Reassignment of partition {name} is completed.")
        else:
            lines.append(
                f"There is no active reassignment of partition {name}, but replica "
                f"set is {id_list(state.current)} rather than {id_list(state.target)}."
            )
    return lines


def ongoing_lines(ongoing: Mapping[TopicPartition, OngoingReassignment]) -> list[str]:
    """--list: one line per ongoing reassignment."""
    if not ongoing:
        return ["No partition reassignments found."]
    lines = ["Current partition reassignments:"]
    for tp in sorted(ongoing):
        r = ongoing[tp]
        line = f"{partition_name(tp)}: replicas: {id_list(r.replicas)}."
        if r.adding:
            line += f" adding: {id_list(r.adding)}."
        if r.removing:
            line += f" removing: {id_list(r.removing)}."
        lines.append(line)
    return lines
