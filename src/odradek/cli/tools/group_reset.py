"""``consumer-groups --reset-offsets``: Kafka's GroupOffsetsResetter. Plans new committed
offsets for inactive groups (Empty or Dead) and commits them with ``--execute``; a dry run
(the default) only prints them."""

from __future__ import annotations

import argparse
import re
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from confluent_kafka import ConsumerGroupTopicPartitions, KafkaException, TopicPartition

from odradek.cli.tools.common import (
    Admin,
    ToolError,
    UsageError,
    kafka_message,
    print_json,
    print_table,
    state_name,
    wants_json,
)
from odradek.cli.tools.groups import (
    committed_offsets,
    describe_groups,
    log_offsets,
    topic_partitions,
)
from odradek.cli.tools.kafka import OffsetSpec

Partition = tuple[str, int]
Plan = dict[Partition, int]

SCENARIOS = (
    "to_earliest",
    "to_latest",
    "to_current",
    "to_offset",
    "to_datetime",
    "by_duration",
    "shift_by",
    "from_file",
)
DURATION = re.compile(
    r"([-+]?)P(?:([-+]?\d+)D)?(?:T(?:([-+]?\d+)H)?(?:([-+]?\d+)M)?"
    r"(?:([-+]?\d+(?:[.,]\d{0,9})?)S)?)?",
    re.IGNORECASE,
)
NO_EXECUTE_WARNING = (
    "WARN: No action will be performed as the --execute option is missing. "
    "Add --dry-run to keep this behaviour explicitly, or --execute to "
    "commit the new offsets."
)


def scenario_flags(args: argparse.Namespace) -> list[str]:
    return [
        "--" + s.replace("_", "-")
        for s in SCENARIOS
        if getattr(args, s) is not None and getattr(args, s) is not False
    ]


def validate(args: argparse.Namespace) -> None:
    flags = scenario_flags(args)
    if len(flags) != 1:
        raise UsageError(
            "--reset-offsets needs exactly one reset scenario: "
            + ", ".join("--" + s.replace("_", "-") for s in SCENARIOS)
        )
    if args.dry_run and args.execute:
        raise UsageError("--reset-offsets only accepts one of --execute and --dry-run")
    if args.topic and args.all_topics:
        raise UsageError("--topic and --all-topics cannot be used together")
    if not args.from_file and not (args.topic or args.all_topics):
        raise UsageError("one of the reset scopes should be defined: --all-topics, --topic")
    if args.to_datetime is not None:
        parse_datetime(args.to_datetime)
    if args.by_duration is not None:
        parse_duration(args.by_duration)


def parse_datetime(text: str) -> int:
    """``YYYY-MM-DDTHH:mm:SS[.sss][zone]`` in epoch milliseconds; local time without a zone."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise UsageError(
            f"invalid --to-datetime {text!r}: expected YYYY-MM-DDTHH:mm:SS.sss "
            "with an optional zone (Z, +hh:mm)"
        ) from exc
    return int(moment.timestamp() * 1000)


def parse_duration(text: str) -> int:
    """An ISO-8601 duration (``PnDTnHnMn.nS``, as java.time.Duration) in milliseconds."""
    match = DURATION.fullmatch(text.strip())
    if match is None or not any(match.groups()[1:]) or text.strip().upper().endswith("T"):
        raise UsageError(f"invalid --by-duration {text!r}: expected PnDTnHnMnS, e.g. PT1H30M")
    sign, days, hours, minutes, seconds = match.groups()
    total = (
        int(days or 0) * 86400
        + int(hours or 0) * 3600
        + int(minutes or 0) * 60
        + float((seconds or "0").replace(",", "."))
    )
    return int(total * 1000) * (-1 if sign == "-" else 1)


# -- planning ----------------------------------------------------------------------------------


def _partitions(admin: Admin, args: argparse.Namespace, committed: Plan) -> list[Partition]:
    if args.all_topics:
        return sorted(committed)
    chosen = topic_partitions(admin, args.topic)
    return [(t, p) for t, ps in sorted(chosen.items()) for p in ps]


def _need(found: dict[Partition, int | None], partition: Partition, what: str) -> int:
    value = found.get(partition)
    if value is None or value < 0:
        raise ToolError(
            f"Error getting {what} offset of topic partition: {partition[0]}-{partition[1]}"
        )
    return value


def _clamped(admin: Admin, requested: Plan) -> Plan:
    """Kafka's checkOffsetsRange: keep each offset within [log start, log end]."""
    starts = log_offsets(admin, list(requested), OffsetSpec.earliest())
    ends = log_offsets(admin, list(requested))
    plan: Plan = {}
    for partition, offset in requested.items():
        end = _need(ends, partition, "ending")
        start = _need(starts, partition, "starting")
        name = f"{partition[0]}-{partition[1]}"
        if offset > end:
            print(
                f"WARN: New offset ({offset}) is higher than latest offset for topic "
                f"partition {name}. Value will be set to {end}.",
                file=sys.stderr,
            )
            offset = end
        elif offset < start:
            print(
                f"WARN: New offset ({offset}) is lower than earliest offset for topic "
                f"partition {name}. Value will be set to {start}.",
                file=sys.stderr,
            )
            offset = start
        plan[partition] = offset
    return plan


def _by_timestamp(admin: Admin, partitions: list[Partition], timestamp: int) -> Plan:
    found = log_offsets(admin, partitions, OffsetSpec.for_timestamp(timestamp))
    empty = [p for p in partitions if found.get(p) is None or (found[p] or 0) < 0]
    for topic, partition in empty:
        print(
            f"Warn: Partition {partition} from topic {topic} has no record at or after the "
            "timestamp. Falling back to latest known offset.",
            file=sys.stderr,
        )
    ends = log_offsets(admin, empty)
    return {p: _need(ends if p in empty else found, p, "timestamp") for p in partitions}


def _shifted(committed: Plan, partitions: list[Partition], shift: int) -> Plan:
    requested: Plan = {}
    for partition in partitions:
        if partition not in committed:
            raise ToolError(
                f"Cannot shift offset for partition {partition[0]}-{partition[1]} "
                "since there is no current committed offset"
            )
        requested[partition] = committed[partition] + shift
    return requested


def plan_group(admin: Admin, args: argparse.Namespace, group: str) -> Plan:
    committed = committed_offsets(admin, group)
    partitions = _partitions(admin, args, committed)
    if args.to_earliest or args.to_latest:
        spec = OffsetSpec.earliest() if args.to_earliest else OffsetSpec.latest()
        found = log_offsets(admin, partitions, spec)
        what = "starting" if args.to_earliest else "ending"
        return {p: _need(found, p, what) for p in partitions}
    if args.to_current:
        missing = [p for p in partitions if p not in committed]
        ends = log_offsets(admin, missing)
        return {p: committed[p] if p in committed else _need(ends, p, "ending") for p in partitions}
    if args.to_offset is not None:
        return _clamped(admin, dict.fromkeys(partitions, args.to_offset))
    if args.shift_by is not None:
        return _clamped(admin, _shifted(committed, partitions, args.shift_by))
    if args.to_datetime is not None:
        return _by_timestamp(admin, partitions, parse_datetime(args.to_datetime))
    now = int(time.time() * 1000)
    return _by_timestamp(admin, partitions, now - parse_duration(args.by_duration))


def read_plan_file(path: str, groups: list[str]) -> dict[str, Plan]:
    """Kafka's CSV: ``topic,partition,offset`` for one group, else
    ``group,topic,partition,offset``."""
    try:
        lines = [ln.strip() for ln in Path(path).read_text(encoding="utf-8").splitlines()]
    except OSError as exc:
        raise ToolError(f"cannot read {path}: {exc.strerror}") from exc
    plans: dict[str, Plan] = {}
    for number, line in enumerate((ln for ln in lines if ln), start=1):
        fields = [f.strip() for f in line.split(",")]
        if len(fields) == 3 and len(groups) == 1:
            fields = [groups[0], *fields]
        try:
            group, topic, partition, offset = fields
            plans.setdefault(group, {})[(topic, int(partition))] = int(offset)
        except ValueError as exc:
            raise ToolError(
                f"{path} line {number}: expected topic,partition,offset or "
                f"group,topic,partition,offset, got {line!r}"
            ) from exc
    return plans


# -- running -----------------------------------------------------------------------------------


def _commit(admin: Admin, group: str, plan: Plan) -> None:
    offsets = [TopicPartition(t, p, o) for (t, p), o in sorted(plan.items())]
    if not offsets:
        return
    request = [ConsumerGroupTopicPartitions(group, offsets)]
    future = admin.client.alter_consumer_group_offsets(request, request_timeout=admin.timeout)[
        group
    ]
    try:
        result = admin.wait(future)
    except KafkaException as exc:
        raise ToolError(
            f"cannot commit the offsets of group '{group}': {kafka_message(exc)}"
        ) from exc
    errors = [
        f"{tp.topic}-{tp.partition}: {tp.error.str()}"
        for tp in result.topic_partitions or []
        if tp.error is not None
    ]
    if errors:
        raise ToolError(f"cannot commit offsets of group '{group}': {'; '.join(errors)}")


def reset(admin: Admin, args: argparse.Namespace, groups: list[str]) -> int:
    if not args.dry_run and not args.execute:
        print(NO_EXECUTE_WARNING, file=sys.stderr)
    file_plans = read_plan_file(args.from_file, groups) if args.from_file else None
    described = describe_groups(admin, groups)
    plans: dict[str, Plan] = {}
    refused = False
    for group in groups:
        state = "Dead" if described[group] is None else state_name(described[group].state)
        if state not in ("Empty", "Dead"):
            print(
                f"Error: Assignments can only be reset if the group '{group}' is inactive, "
                f"but the current state is {state}.",
                file=sys.stderr,
            )
            refused = True
            continue
        if file_plans is not None and group not in file_plans:
            raise ToolError(f"No reset plan for group {group} found")
        plan = file_plans[group] if file_plans is not None else plan_group(admin, args, group)
        if args.execute:
            _commit(admin, group, plan)
        plans[group] = plan
    _print(args, plans)
    return 1 if refused else 0


def _rows(plans: dict[str, Plan]) -> list[tuple[str, str, int, int]]:
    return [(g, t, p, o) for g, plan in sorted(plans.items()) for (t, p), o in sorted(plan.items())]


def _print(args: argparse.Namespace, plans: dict[str, Plan]) -> None:
    rows = _rows(plans)
    if wants_json(args):
        data: Any = {
            "executed": bool(args.execute),
            "offsets": [
                {"group": g, "topic": t, "partition": p, "new_offset": o} for g, t, p, o in rows
            ],
        }
        print_json(data)
    elif args.export:
        for group, topic, partition, offset in rows:
            prefix = f"{group}," if len(plans) > 1 else ""
            print(f"{prefix}{topic},{partition},{offset}")
    elif rows:
        print()
        print_table(["GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"], rows, min_width=9)
