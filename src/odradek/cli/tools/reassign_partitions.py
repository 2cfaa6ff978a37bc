"""``odradek reassign-partitions``: kafka-reassign-partitions.sh.

--generate proposes an assignment (round-robin over the broker list, rack-aware when every
broker has a rack), --execute starts reassignments, --verify reports their progress (and
clears throttles once nothing moves), --list shows the ongoing ones and --cancel stops them.
AlterPartitionReassignments and ListPartitionReassignments go through ``reassignment_api``
(confluent-kafka has no API for them); everything else through the AdminClient.

Moving replicas between log directories of a broker (``log_dirs`` other than ``"any"``)
needs AlterReplicaLogDirs, which confluent-kafka lacks too: such files are refused.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable, Mapping, Sequence, Sized
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaException

from odradek.cli.tools.common import (
    Admin,
    ToolError,
    UsageError,
    kafka_message,
    require_bootstrap,
    run_tool,
)
from odradek.cli.tools.kafka import AlterConfigOpType, ConfigEntry, ConfigResource, ResourceType
from odradek.cli.tools.reassignment_api import (
    ControllerClient,
    OngoingReassignment,
    PartitionError,
    TopicPartition,
    partition_name,
)
from odradek.cluster.assignment import assign_replicas
from odradek.cluster.assignment import rack_alternated as _alternate_racks
from odradek.common.errors import KafkaError

ANY_LOG_DIR = "any"
ACTIONS = ("generate", "execute", "verify", "cancel", "list")

BROKER_THROTTLES = (
    "leader.replication.throttled.rate",
    "follower.replication.throttled.rate",
    "replica.alter.log.dirs.io.max.bytes.per.second",
)
LEADER_THROTTLED_REPLICAS = "leader.replication.throttled.replicas"
FOLLOWER_THROTTLED_REPLICAS = "follower.replication.throttled.replicas"

CANNOT_EXECUTE_WITH_EXISTING = (
    "Cannot execute because there is an existing partition assignment.  Use --additional to "
    "override this and create a new partition assignment in addition to the existing one. The "
    "--additional flag can also be used to change the throttle by resubmitting the current "
    "reassignment."
)
RUN_VERIFY_WARNING = (
    "Warning: You must run --verify periodically, until the reassignment "
    "completes, to ensure the throttle is removed."
)

# The options each action accepts besides --bootstrap-server and --command-config, as
# Kafka's tool checks them (argparse dests).
REQUIRED: dict[str, tuple[str, ...]] = {
    "generate": ("topics_to_move_json_file", "broker_list"),
    "execute": ("reassignment_json_file",),
    "verify": ("reassignment_json_file",),
    "cancel": ("reassignment_json_file",),
    "list": (),
}
PERMITTED: dict[str, tuple[str, ...]] = {
    "generate": ("disable_rack_aware",),
    "execute": ("additional", "throttle", "replica_alter_log_dirs_throttle", "timeout"),
    "verify": ("preserve_throttles",),
    "cancel": ("preserve_throttles", "timeout"),
    "list": (),
}
OPTIONS = (
    "reassignment_json_file",
    "topics_to_move_json_file",
    "broker_list",
    "disable_rack_aware",
    "additional",
    "throttle",
    "replica_alter_log_dirs_throttle",
    "timeout",
    "preserve_throttles",
)


def flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def main(args: argparse.Namespace) -> int:
    return run_tool("reassign-partitions", args, _run)


def validate_args(args: argparse.Namespace) -> str:
    """The action, after Kafka's checks: exactly one action, its required options, and no
    option another action owns."""
    chosen = [a for a in ACTIONS if getattr(args, a, False)]
    if len(chosen) != 1:
        raise UsageError(
            "Command must include exactly one action: " + ", ".join(flag(a) for a in ACTIONS)
        )
    action = chosen[0]
    require_bootstrap(args)
    for dest in REQUIRED[action]:
        if getattr(args, dest, None) is None:
            raise UsageError(f'Missing required argument "{flag(dest)}"')
    allowed = set(REQUIRED[action]) | set(PERMITTED[action])
    for dest in OPTIONS:
        value = getattr(args, dest, None)
        if value is not None and value is not False and dest not in allowed:
            raise UsageError(f'Option "{flag(dest)}" can\'t be used with action "{flag(action)}"')
    return action


def _run(args: argparse.Namespace) -> int:
    action = validate_args(args)
    if action == "generate":
        topics = parse_topics_to_move(read_file(args.topics_to_move_json_file))
        brokers = parse_broker_list(args.broker_list)
        return generate(Admin.from_args(args), topics, brokers, not args.disable_rack_aware)
    if action == "list":
        admin = Admin.from_args(args)
        for line in ongoing_lines(ControllerClient(admin).list_ongoing()):
            print(line)
        return 0
    targets = parse_reassignment(read_file(args.reassignment_json_file))
    refuse_log_dir_moves(targets)
    admin = Admin.from_args(args)
    if action == "execute":
        throttle = -1 if args.throttle is None else args.throttle
        log_dir_throttle = (
            -1
            if args.replica_alter_log_dirs_throttle is None
            else args.replica_alter_log_dirs_throttle
        )
        return execute(
            admin, validate_for_execute(targets), args.additional, throttle, log_dir_throttle
        )
    if action == "verify":
        return verify(admin, targets, args.preserve_throttles)
    return cancel(admin, targets, args.preserve_throttles)


def read_file(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ToolError(f"cannot read {path}: {exc.strerror}") from exc


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
        return assign_replicas({b.id: b.rack for b in brokers}, partitions, replication_factor,
                               start_index=start_index, shift=start_index)
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


# -- reading the cluster -----------------------------------------------------------------------


def replica_assignment(admin: Admin) -> dict[str, dict[int, list[int]]]:
    """topic -> partition -> replicas, from the metadata of every topic."""
    metadata = admin.metadata()
    return {
        name: {int(p.id): [int(r) for r in p.replicas] for p in t.partitions.values()}
        for name, t in metadata.topics.items()
        if t.error is None
    }


def describe_brokers(admin: Admin) -> list[Broker]:
    cluster = admin.wait(admin.client.describe_cluster(request_timeout=admin.timeout))
    return [Broker(int(n.id), n.rack or None) for n in cluster.nodes]


def assignment_of_topics(admin: Admin, topics: Sequence[str]) -> dict[TopicPartition, list[int]]:
    known = replica_assignment(admin)
    for topic in topics:
        if topic not in known:
            raise ToolError(f"Topic {topic} not found.")
    return {(t, p): replicas for t in topics for p, replicas in known[t].items()}


def assignment_of_partitions(
    admin: Admin, partitions: Iterable[TopicPartition]
) -> dict[TopicPartition, list[int]]:
    known = replica_assignment(admin)
    wanted = sorted(set(partitions))
    missing = [tp for tp in wanted if tp[1] not in known.get(tp[0], {})]
    if missing:
        raise ToolError(
            "Unable to find partition: " + ", ".join(partition_name(tp) for tp in missing)
        )
    return {tp: known[tp[0]][tp[1]] for tp in wanted}


# -- actions -----------------------------------------------------------------------------------


def generate(
    admin: Admin, topics: Sequence[str], broker_ids: Sequence[int], rack_aware: bool
) -> int:
    current = assignment_of_topics(admin, topics)
    wanted = set(broker_ids)
    brokers = [b if rack_aware else Broker(b.id) for b in describe_brokers(admin) if b.id in wanted]
    racked = sum(1 for b in brokers if b.rack is not None)
    if rack_aware and racked not in (0, len(brokers)):
        raise ToolError(
            "Not all brokers have rack information. Add --disable-rack-aware in "
            "command line to make replica assignment without rack information."
        )
    proposal = propose(current, brokers)
    print("Current partition replica assignment")
    print(format_reassignment_json(current))
    print()
    print("Proposed partition reassignment configuration")
    print(format_reassignment_json(proposal))
    return 0


def execute(
    admin: Admin,
    proposed: Mapping[TopicPartition, Sequence[int]],
    additional: bool,
    throttle: int,
    log_dir_throttle: int,
) -> int:
    controller = ControllerClient(admin)
    ongoing = controller.list_ongoing()
    if ongoing and not additional:
        raise ToolError(CANNOT_EXECUTE_WITH_EXISTING)
    known = {b.id for b in describe_brokers(admin)}
    unknown = sorted({r for replicas in proposed.values() for r in replicas} - known)
    if unknown:
        raise ToolError(f"Unknown broker id {unknown[0]}")
    current = assignment_of_partitions(admin, proposed)
    print("Current partition replica assignment")
    print()
    print(format_reassignment_json(current))
    print()
    print("Save this to use as the --reassignment-json-file option during rollback")
    if throttle >= 0 or log_dir_throttle >= 0:
        print(RUN_VERIFY_WARNING)
        if throttle >= 0:
            moves = proposed_moves(ongoing, proposed, current)
            set_topic_throttles(admin, moves)
            set_broker_throttles(admin, reassigning_brokers(moves), throttle)
            print(f"The inter-broker throttle limit was set to {throttle} B/s")
        if log_dir_throttle >= 0:
            # No log directory moves (refused above): no broker to throttle.
            print(f"The replica-alter-dir throttle limit was set to {log_dir_throttle} B/s")
    errors = controller.alter(dict(proposed))
    if errors:
        raise ToolError("Error reassigning partition(s):\n" + error_lines(errors))
    print(
        f"Successfully started partition reassignment{_plural(proposed)} for "
        + ",".join(partition_name(tp) for tp in sorted(proposed))
    )
    return 0


def error_lines(errors: Mapping[TopicPartition, PartitionError]) -> str:
    return "\n".join(f"{partition_name(tp)}: {errors[tp].text()}" for tp in sorted(errors))


def _plural(items: Sized) -> str:
    return "" if len(items) == 1 else "s"


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
                f"set is {_ids(state.current)} rather than {_ids(state.target)}."
            )
    return lines


def _ids(ids: Iterable[int]) -> str:
    return ",".join(str(i) for i in ids)


def verify(admin: Admin, targets: Sequence[Target], preserve_throttles: bool) -> int:
    ongoing = ControllerClient(admin).list_ongoing()
    states = reassignment_states(targets, ongoing, replica_assignment(admin))
    for line in status_lines(states):
        print(line)
    if not ongoing and not preserve_throttles:
        clear_throttles(admin, targets)
    return 0


def ongoing_lines(ongoing: Mapping[TopicPartition, OngoingReassignment]) -> list[str]:
    """--list: one line per ongoing reassignment."""
    if not ongoing:
        return ["No partition reassignments found."]
    lines = ["Current partition reassignments:"]
    for tp in sorted(ongoing):
        r = ongoing[tp]
        line = f"{partition_name(tp)}: replicas: {_ids(r.replicas)}."
        if r.adding:
            line += f" adding: {_ids(r.adding)}."
        if r.removing:
            line += f" removing: {_ids(r.removing)}."
        lines.append(line)
    return lines


def cancel(admin: Admin, targets: Sequence[Target], preserve_throttles: bool) -> int:
    controller = ControllerClient(admin)
    active = sorted(controller.list_ongoing(t.tp for t in targets))
    if active:
        errors = controller.alter(dict.fromkeys(active))
        if errors:
            raise ToolError(
                f"Error cancelling partition reassignment{_plural(errors)} for:\n"
                + error_lines(errors)
            )
        print(
            f"Successfully cancelled partition reassignment{_plural(active)} for: "
            + ",".join(partition_name(tp) for tp in active)
        )
    else:
        print("None of the specified partition reassignments are active.")
    print("None of the specified partition moves are active.")
    if not preserve_throttles:
        clear_throttles(admin, targets)
    return 0


# -- throttles ---------------------------------------------------------------------------------


@dataclass
class Move:
    sources: set[int]
    destinations: set[int]


def proposed_moves(
    ongoing: Mapping[TopicPartition, OngoingReassignment],
    proposed: Mapping[TopicPartition, Sequence[int]],
    current: Mapping[TopicPartition, Sequence[int]],
) -> dict[str, dict[int, Move]]:
    """topic -> partition -> the brokers replicas move from and to: the ongoing moves, then
    the proposed ones (whose sources are those of an ongoing move of the partition, if any,
    else its current replicas)."""
    moves: dict[str, dict[int, Move]] = {}
    for (topic, partition), r in ongoing.items():
        moves.setdefault(topic, {})[partition] = Move(
            set(r.replicas) - set(r.adding), set(r.adding)
        )
    for (topic, partition), replicas in proposed.items():
        by_partition = moves.setdefault(topic, {})
        if partition in by_partition:
            sources = set(by_partition[partition].sources)
        else:
            sources = set(current[(topic, partition)])
        by_partition[partition] = Move(sources, set(replicas) - sources)
    return moves


def leader_throttles(moves: Mapping[str, Mapping[int, Move]]) -> dict[str, str]:
    """``leader.replication.throttled.replicas`` per topic: partition:source pairs."""
    return {
        topic: ",".join(sorted({f"{p}:{b}" for p, m in parts.items() for b in m.sources}))
        for topic, parts in moves.items()
    }


def follower_throttles(moves: Mapping[str, Mapping[int, Move]]) -> dict[str, str]:
    """``follower.replication.throttled.replicas`` per topic: partition:destination pairs."""
    return {
        topic: ",".join(
            sorted({f"{p}:{b}" for p, m in parts.items() for b in m.destinations - m.sources})
        )
        for topic, parts in moves.items()
    }


def reassigning_brokers(moves: Mapping[str, Mapping[int, Move]]) -> list[int]:
    return sorted(
        {b for parts in moves.values() for m in parts.values() for b in m.sources | m.destinations}
    )


def alter_configs(admin: Admin, changes: Mapping[tuple[Any, str], Sequence[Any]]) -> None:
    resources = [
        ConfigResource(kind, name, incremental_configs=list(ops))
        for (kind, name), ops in changes.items()
        if ops
    ]
    if not resources:
        return
    # librdkafka takes at most one BROKER resource per call (each goes to its own broker).
    brokers = [r for r in resources if r.restype == ResourceType.BROKER]
    batches = [[r for r in resources if r.restype != ResourceType.BROKER]] + [[b] for b in brokers]
    futures: dict[Any, Any] = {}
    for batch in batches:
        if batch:
            futures.update(admin.client.incremental_alter_configs(
                batch, request_timeout=admin.timeout))
    for resource in resources:
        try:
            admin.wait(futures[resource])
        except KafkaException as exc:
            raise ToolError(
                f"cannot change the configs of {resource.name}: {kafka_message(exc)}"
            ) from exc


def _set(name: str, value: str) -> Any:
    return ConfigEntry(name, value, incremental_operation=AlterConfigOpType.SET)


def _delete(name: str) -> Any:
    return ConfigEntry(name, "", incremental_operation=AlterConfigOpType.DELETE)


def set_topic_throttles(admin: Admin, moves: Mapping[str, Mapping[int, Move]]) -> None:
    leaders, followers = leader_throttles(moves), follower_throttles(moves)
    alter_configs(
        admin,
        {
            (ResourceType.TOPIC, topic): [
                _set(LEADER_THROTTLED_REPLICAS, leaders[topic]),
                _set(FOLLOWER_THROTTLED_REPLICAS, followers[topic]),
            ]
            for topic in sorted(moves)
        },
    )


def set_broker_throttles(admin: Admin, brokers: Iterable[int], rate: int) -> None:
    alter_configs(
        admin,
        {
            (ResourceType.BROKER, str(b)): [_set(name, str(rate)) for name in BROKER_THROTTLES[:2]]
            for b in brokers
        },
    )


def clear_throttles(admin: Admin, targets: Sequence[Target]) -> None:
    """Remove every reassignment throttle of the brokers (all of the cluster's and those in
    the file) and of the topics in the file, as Kafka does once nothing moves."""
    brokers = sorted(
        {b.id for b in describe_brokers(admin)} | {r for t in targets for r in t.replicas}
    )
    print(f"Clearing broker-level throttles on broker{_plural(brokers)} {_ids(brokers)}")
    alter_configs(
        admin,
        {(ResourceType.BROKER, str(b)): [_delete(n) for n in BROKER_THROTTLES] for b in brokers},
    )
    topics = sorted({t.topic for t in targets})
    print(f"Clearing topic-level throttles on topic{_plural(topics)} {','.join(topics)}")
    alter_configs(
        admin,
        {
            (ResourceType.TOPIC, topic): [
                _delete(LEADER_THROTTLED_REPLICAS),
                _delete(FOLLOWER_THROTTLED_REPLICAS),
            ]
            for topic in topics
        },
    )
