"""``odradek reassign-partitions``: kafka-reassign-partitions.sh.

--generate proposes an assignment (round-robin over the broker list, rack-aware when every
broker has a rack), --execute starts reassignments, --verify reports their progress (and
clears throttles once nothing moves), --list shows the ongoing ones and --cancel stops them.
AlterPartitionReassignments and ListPartitionReassignments go through ``reassignment_api``
(confluent-kafka has no API for them); everything else through the AdminClient.

Moving replicas between log directories of a broker (``log_dirs`` other than ``"any"``)
needs AlterReplicaLogDirs, which confluent-kafka lacks too: such files are refused.

This module is the command (its flag checks) and its actions, which look ``Admin`` and
``ControllerClient`` up here (tests stand in for them here). The JSON files, the placement
and the progress reports are in ``reassignment_plan`` (pure), the cluster reads and the
throttle configs in ``reassignment_cluster``; their names are re-exported here.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from pathlib import Path

from odradek.cli.tools.common import Admin, ToolError, UsageError, require_bootstrap, run_tool
from odradek.cli.tools.reassignment_api import (
    ControllerClient,
    OngoingReassignment,
    PartitionError,
    TopicPartition,
    partition_name,
)
from odradek.cli.tools.reassignment_cluster import (
    BROKER_THROTTLES,
    FOLLOWER_THROTTLED_REPLICAS,
    LEADER_THROTTLED_REPLICAS,
    Move,
    alter_configs,
    assignment_of_partitions,
    assignment_of_topics,
    clear_throttles,
    describe_brokers,
    follower_throttles,
    leader_throttles,
    proposed_moves,
    reassigning_brokers,
    replica_assignment,
    set_broker_throttles,
    set_topic_throttles,
)
from odradek.cli.tools.reassignment_plan import (
    ANY_LOG_DIR,
    Broker,
    PartitionState,
    Target,
    assign_replicas_to_brokers,
    duplicates,
    format_reassignment_json,
    ongoing_lines,
    parse_broker_list,
    parse_reassignment,
    parse_topics_to_move,
    plural,
    propose,
    rack_alternated,
    reassignment_states,
    refuse_log_dir_moves,
    status_lines,
    validate_for_execute,
)

__all__ = [
    "ACTIONS",
    "ANY_LOG_DIR",
    "BROKER_THROTTLES",
    "CANNOT_EXECUTE_WITH_EXISTING",
    "FOLLOWER_THROTTLED_REPLICAS",
    "LEADER_THROTTLED_REPLICAS",
    "OPTIONS",
    "PERMITTED",
    "REQUIRED",
    "RUN_VERIFY_WARNING",
    "Admin",
    "Broker",
    "ControllerClient",
    "Move",
    "OngoingReassignment",
    "PartitionError",
    "PartitionState",
    "Target",
    "TopicPartition",
    "alter_configs",
    "assign_replicas_to_brokers",
    "assignment_of_partitions",
    "assignment_of_topics",
    "cancel",
    "clear_throttles",
    "describe_brokers",
    "duplicates",
    "error_lines",
    "execute",
    "flag",
    "follower_throttles",
    "format_reassignment_json",
    "generate",
    "leader_throttles",
    "main",
    "ongoing_lines",
    "parse_broker_list",
    "parse_reassignment",
    "parse_topics_to_move",
    "partition_name",
    "propose",
    "proposed_moves",
    "rack_alternated",
    "read_file",
    "reassigning_brokers",
    "reassignment_states",
    "refuse_log_dir_moves",
    "replica_assignment",
    "set_broker_throttles",
    "set_topic_throttles",
    "status_lines",
    "validate_args",
    "validate_for_execute",
    "verify",
]

ACTIONS = ("generate", "execute", "verify", "cancel", "list")

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
        f"Successfully started partition reassignment{plural(proposed)} for "
        + ",".join(partition_name(tp) for tp in sorted(proposed))
    )
    return 0


def error_lines(errors: Mapping[TopicPartition, PartitionError]) -> str:
    return "\n".join(f"{partition_name(tp)}: {errors[tp].text()}" for tp in sorted(errors))


def verify(admin: Admin, targets: Sequence[Target], preserve_throttles: bool) -> int:
    ongoing = ControllerClient(admin).list_ongoing()
    states = reassignment_states(targets, ongoing, replica_assignment(admin))
    for line in status_lines(states):
        print(line)
    if not ongoing and not preserve_throttles:
        clear_throttles(admin, targets)
    return 0


def cancel(admin: Admin, targets: Sequence[Target], preserve_throttles: bool) -> int:
    controller = ControllerClient(admin)
    active = sorted(controller.list_ongoing(t.tp for t in targets))
    if active:
        errors = controller.alter(dict.fromkeys(active))
        if errors:
            raise ToolError(
                f"Error cancelling partition reassignment{plural(errors)} for:\n"
                + error_lines(errors)
            )
        print(
            f"Successfully cancelled partition reassignment{plural(active)} for: "
            + ",".join(partition_name(tp) for tp in active)
        )
    else:
        print("None of the specified partition reassignments are active.")
    print("None of the specified partition moves are active.")
    if not preserve_throttles:
        clear_throttles(admin, targets)
    return 0
