"""``odradek consumer-groups``: kafka-consumer-groups.sh. --list, --describe (offsets and lag,
--members, --state), --delete, --reset-offsets (see group_reset) and --delete-offsets."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaException

from odradek.cli.tools import group_reset, wire
from odradek.cli.tools.common import (
    MISSING,
    Admin,
    ToolError,
    UsageError,
    kafka_message,
    load_properties,
    print_json,
    print_table,
    run_tool,
    state_name,
    wants_json,
)
from odradek.cli.tools.groups import (
    committed_offsets,
    describe_groups,
    listings,
    log_offsets,
    topic_partitions,
)

REBALANCING = ("PreparingRebalance", "CompletingRebalance", "Assigning", "Reconciling")


def main(args: argparse.Namespace) -> int:
    return run_tool("consumer-groups", args, _run)


def _run(args: argparse.Namespace) -> int:
    _validate(args)
    admin = Admin.from_args(args, timeout=max(args.timeout, 1) / 1000)
    if args.action == "list":
        return list_groups(admin, args)
    groups = _group_ids(admin, args)
    actions = {
        "describe": describe,
        "delete": delete,
        "reset-offsets": group_reset.reset,
        "delete-offsets": delete_offsets,
    }
    result: int = actions[args.action](admin, args, groups)
    return result


def _validate(args: argparse.Namespace) -> None:
    action = args.action
    if action != "list" and not (args.group or args.all_groups):
        raise UsageError(f"--{action} needs --group or --all-groups")
    if args.group and args.all_groups:
        raise UsageError("--group and --all-groups cannot be used together")
    describe_only = [
        f
        for f, on in (
            ("--members", args.members),
            ("--offsets", args.offsets),
            ("--verbose", args.verbose),
        )
        if on
    ]
    if describe_only and action != "describe":
        raise UsageError(f"{describe_only[0]} is only valid with --describe")
    if args.state is not None and action not in ("describe", "list"):
        raise UsageError("--state is only valid with --describe or --list")
    if args.type is not None and action != "list":
        raise UsageError("--type is only valid with --list")
    if (
        sum(bool(x) for x in (args.members, args.offsets, args.state is not None)) > 1
        and action == "describe"
    ):
        raise UsageError("--members, --offsets and --state are mutually exclusive")
    if action == "delete-offsets":
        if args.all_groups or len(args.group or []) != 1 or not args.topic:
            raise UsageError("--delete-offsets needs exactly one --group and --topic")
    elif action != "reset-offsets" and (args.topic or args.all_topics):
        raise UsageError(
            "--topic and --all-topics are only valid with --reset-offsets or --delete-offsets"
        )
    if action == "reset-offsets":
        group_reset.validate(args)
    elif group_reset.scenario_flags(args) or args.dry_run or args.execute or args.export:
        raise UsageError(
            "reset scenarios, --dry-run, --execute and --export are only valid with --reset-offsets"
        )


def _group_ids(admin: Admin, args: argparse.Namespace) -> list[str]:
    if args.all_groups:
        return sorted(g.group_id for g in listings(admin))
    return list(dict.fromkeys(args.group))


# -- list --------------------------------------------------------------------------------------


def list_groups(admin: Admin, args: argparse.Namespace) -> int:
    """Kafka 4.0's --list: group ids; with --state their states, with --type (KIP-1043)
    their types (Classic, Consumer); either filters by the comma-separated values given."""
    found = sorted(listings(admin), key=lambda g: g.group_id)
    rows = [(g.group_id, type_name(g), state_name(g.state)) for g in found]
    for column, flag in ((2, args.state), (1, args.type)):
        wanted = {s.strip().lower() for s in (flag or "").split(",") if s.strip()}
        if wanted:
            rows = [r for r in rows if r[column].lower() in wanted]
    if wants_json(args):
        typed = args.type is not None
        print_json([{"group": g, **({"type": t} if typed else {}), "state": s} for g, t, s in rows])
    elif args.state is not None or args.type is not None:
        columns = [(0, "GROUP"), (1, "TYPE"), (2, "STATE")]
        shown = [
            (i, h)
            for i, h in columns
            if i == 0 or (i == 1 and args.type is not None) or (i == 2 and args.state is not None)
        ]
        print_table([h for _, h in shown], [[r[i] for i, _ in shown] for r in rows], min_width=15)
    else:
        for group, _, _ in rows:
            print(group)
    return 0


def type_name(listing: Any) -> str:
    """A group's type as Kafka's tools print it: Classic or Consumer (Unknown when the
    broker does not say, before ListGroups v5)."""
    kind = getattr(listing, "type", None)
    name = str(getattr(kind, "name", kind or "UNKNOWN"))
    return name.capitalize()


# -- describe ----------------------------------------------------------------------------------


@dataclass
class OffsetRow:
    group: str
    topic: str | None
    partition: int | None
    current_offset: int | None
    log_end_offset: int | None
    consumer_id: str | None
    host: str | None
    client_id: str | None

    @property
    def lag(self) -> int | None:
        if self.current_offset is None or self.log_end_offset is None:
            return None
        return self.log_end_offset - self.current_offset

    def cells(self) -> tuple[object, ...]:
        return (
            self.group,
            self.topic,
            self.partition,
            self.current_offset,
            self.log_end_offset,
            self.lag,
            self.consumer_id,
            self.host,
            self.client_id,
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "topic": self.topic,
            "partition": self.partition,
            "current_offset": self.current_offset,
            "log_end_offset": self.log_end_offset,
            "lag": self.lag,
            "consumer_id": self.consumer_id,
            "host": self.host,
            "client_id": self.client_id,
        }


OFFSET_HEADERS = [
    "GROUP",
    "TOPIC",
    "PARTITION",
    "CURRENT-OFFSET",
    "LOG-END-OFFSET",
    "LAG",
    "CONSUMER-ID",
    "HOST",
    "CLIENT-ID",
]


def offset_rows(admin: Admin, group: str, description: Any) -> list[OffsetRow]:
    committed = committed_offsets(admin, group)
    members = sorted(
        (m for m in description.members if m.assignment.topic_partitions),
        key=lambda m: -len(m.assignment.topic_partitions),
    )
    owners: dict[tuple[str, int], Any] = {}
    for member in members:
        for tp in member.assignment.topic_partitions:
            owners[(tp.topic, tp.partition)] = member
    partitions = sorted(set(owners) | set(committed))
    ends = log_offsets(admin, partitions)
    rows = []
    for topic, partition in partitions:
        member = owners.get((topic, partition))
        rows.append(
            OffsetRow(
                group,
                topic,
                partition,
                committed.get((topic, partition)),
                ends.get((topic, partition)),
                member.member_id if member else None,
                member.host if member else None,
                member.client_id if member else None,
            )
        )
    owned = [r for r in rows if r.consumer_id is not None]
    return owned + [r for r in rows if r.consumer_id is None]


def _note_state(group: str, description: Any) -> bool:
    """Kafka's notes about a group's state on stderr; False when it does not exist."""
    if description is None:
        print(f"Error: Consumer group '{group}' does not exist.", file=sys.stderr)
        return False
    state = state_name(description.state)
    if state == "Empty":
        print(f"Consumer group '{group}' has no active members.", file=sys.stderr)
    elif state in REBALANCING:
        print(f"Warning: Consumer group '{group}' is rebalancing.", file=sys.stderr)
    return True


def describe(admin: Admin, args: argparse.Namespace, groups: list[str]) -> int:
    described = describe_groups(admin, groups)
    view = "members" if args.members else "state" if args.state is not None else "offsets"
    reports = []
    missing = False
    for group in groups:
        description = described[group]
        if not wants_json(args) and not _note_state(group, description):
            missing = True
            continue
        if description is None:
            missing = True
            reports.append({"group": group, "state": "Dead", "exists": False})
            continue
        reports.append(_report(admin, group, description, view))
    if wants_json(args):
        print_json(reports)
    else:
        for report in reports:
            _print_report(report, view, args.verbose)
    return 1 if missing else 0


def _report(admin: Admin, group: str, description: Any, view: str) -> dict[str, Any]:
    report: dict[str, Any] = {
        "group": group,
        "state": state_name(description.state),
        "exists": True,
    }
    if view == "offsets":
        report["offsets"] = [r.as_json() for r in offset_rows(admin, group, description)]
    elif view == "members":
        report["members"] = [_member_json(m) for m in description.members]
    else:
        node = description.coordinator
        report.update(
            {
                "coordinator": {"id": node.id, "host": node.host, "port": node.port},
                "assignment_strategy": description.partition_assignor or None,
                "members": len(description.members),
            }
        )
    return report


def _member_json(member: Any) -> dict[str, Any]:
    assignment = sorted((tp.topic, tp.partition) for tp in member.assignment.topic_partitions)
    return {
        "consumer_id": member.member_id,
        "group_instance_id": member.group_instance_id,
        "host": member.host,
        "client_id": member.client_id,
        "partitions": len(assignment),
        "assignment": [{"topic": t, "partition": p} for t, p in assignment],
    }


def assignment_text(assignment: list[dict[str, Any]]) -> str:
    by_topic: dict[str, list[int]] = {}
    for item in assignment:
        by_topic.setdefault(item["topic"], []).append(item["partition"])
    text = ";".join(f"{t}:{','.join(map(str, sorted(ps)))}" for t, ps in sorted(by_topic.items()))
    return text or MISSING


def _print_report(report: dict[str, Any], view: str, verbose: bool) -> None:
    group = report["group"]
    if view == "offsets":
        rows = report["offsets"]
        if rows:
            print()
            print_table(OFFSET_HEADERS, [_offset_cells(r) for r in rows], min_width=9)
    elif view == "members":
        headers = ["GROUP", "CONSUMER-ID", "HOST", "CLIENT-ID", "#PARTITIONS"]
        rows = [
            [group, m["consumer_id"], m["host"], m["client_id"], m["partitions"]]
            + ([assignment_text(m["assignment"])] if verbose else [])
            for m in report["members"]
        ]
        if rows:
            print()
            print_table(headers + (["ASSIGNMENT"] if verbose else []), rows, min_width=9)
    else:
        node = report["coordinator"]
        coordinator = f"{node['host']}:{node['port']}  ({node['id']})"
        print()
        print_table(
            ["GROUP", "COORDINATOR (ID)", "ASSIGNMENT-STRATEGY", "STATE", "#MEMBERS"],
            [
                [
                    group,
                    coordinator,
                    report["assignment_strategy"],
                    report["state"],
                    report["members"],
                ]
            ],
            min_width=9,
        )


def _offset_cells(row: dict[str, Any]) -> list[object]:
    keys = [
        "group",
        "topic",
        "partition",
        "current_offset",
        "log_end_offset",
        "lag",
        "consumer_id",
        "host",
        "client_id",
    ]
    return [row[k] for k in keys]


# -- delete ------------------------------------------------------------------------------------


def delete(admin: Admin, args: argparse.Namespace, groups: list[str]) -> int:
    futures = admin.client.delete_consumer_groups(groups, request_timeout=admin.timeout)
    failed: dict[str, str] = {}
    for group in groups:
        try:
            admin.wait(futures[group])
        except KafkaException as exc:
            failed[group] = kafka_message(exc)
    deleted = [g for g in groups if g not in failed]
    if wants_json(args):
        print_json({"deleted": deleted, "failed": failed})
    elif not failed:
        print(f"Deletion of requested consumer groups ({_quoted(deleted)}) was successful.")
    else:
        print("Error: Deletion of some consumer groups failed:", file=sys.stderr)
        for group, error in failed.items():
            print(f"* Group '{group}' could not be deleted due to: {error}", file=sys.stderr)
        if deleted:
            print(f"These consumer groups were deleted successfully: {_quoted(deleted)}")
    return 1 if failed else 0


def _quoted(groups: list[str]) -> str:
    return ", ".join(f"'{g}'" for g in groups)


# -- delete offsets ----------------------------------------------------------------------------


def delete_offsets(admin: Admin, args: argparse.Namespace, groups: list[str]) -> int:
    group = groups[0]
    partitions = topic_partitions(admin, args.topic)
    props = load_properties(args.command_config)
    protocol = props.get("security.protocol", "PLAINTEXT").upper()
    if protocol != "PLAINTEXT":
        raise ToolError(
            "--delete-offsets talks to the group coordinator over PLAINTEXT only "
            f"(security.protocol is {protocol})"
        )
    code, results = wire.delete_offsets(args.bootstrap_server, group, partitions, admin.timeout)
    rows = [(t, p, results.get((t, p), code)) for t, ps in partitions.items() for p in ps]
    if wants_json(args):
        print_json(
            {
                "group": group,
                "error": None if code == 0 else wire.error_name(code),
                "partitions": [
                    {"topic": t, "partition": p, "error": None if e == 0 else wire.error_name(e)}
                    for t, p, e in rows
                ],
            }
        )
    else:
        _print_delete_offsets(group, code, rows)
    return 0 if code == 0 and all(e == 0 for _, _, e in rows) else 1


def _print_delete_offsets(group: str, code: int, rows: list[tuple[str, int, int]]) -> None:
    if code == 0:
        print(f"Request succeeded for deleting offsets from group {group}.")
    else:
        print(f"Error: {wire.error_text(code)}", file=sys.stderr)
    print()
    print_table(
        ["TOPIC", "PARTITION", "STATUS"],
        [(t, p, "Successful" if e == 0 else f"Error: {wire.error_text(e)}") for t, p, e in rows],
        min_width=9,
    )
