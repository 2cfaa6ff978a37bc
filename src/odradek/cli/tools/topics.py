"""``odradek topics``: kafka-topics.sh over the AdminClient."""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import KafkaError, KafkaException, TopicCollection

from odradek.cli.tools.common import (
    INTERNAL_TOPICS,
    Admin,
    ToolError,
    UsageError,
    error_code,
    kafka_message,
    kafka_uuid,
    parse_key_values,
    print_json,
    run_tool,
    topic_matcher,
    wants_json,
)
from odradek.cli.tools.kafka import ConfigResource, NewPartitions, NewTopic, ResourceType

LEGAL_TOPIC = re.compile(r"[a-zA-Z0-9._-]+")
MAX_TOPIC_LENGTH = 249


@dataclass
class PartitionInfo:
    partition: int
    leader: int | None
    replicas: list[int]
    isr: list[int]

    def as_json(self) -> dict[str, Any]:
        return {
            "partition": self.partition,
            "leader": self.leader,
            "replicas": self.replicas,
            "isr": self.isr,
        }


@dataclass
class TopicInfo:
    name: str
    topic_id: str
    internal: bool
    partitions: list[PartitionInfo]
    configs: dict[str, str] | None = field(default=None)

    @property
    def replication_factor(self) -> int:
        return len(self.partitions[0].replicas) if self.partitions else 0


def main(args: argparse.Namespace) -> int:
    return run_tool("topics", args, _run)


def _run(args: argparse.Namespace) -> int:
    _validate(args)
    admin = Admin.from_args(args)
    action = {
        "create": create,
        "list": list_topics,
        "describe": describe,
        "delete": delete,
        "alter": alter,
    }[args.action]
    return action(admin, args)


def _validate(args: argparse.Namespace) -> None:
    action = args.action
    if action != "list" and action != "describe" and not args.topic:
        raise UsageError(f"--topic is required with --{action}")
    if args.if_not_exists and action != "create":
        raise UsageError("--if-not-exists is only valid with --create")
    if args.if_exists and action not in ("alter", "delete", "describe"):
        raise UsageError("--if-exists is only valid with --alter, --delete or --describe")
    if args.config and action != "create":
        hint = "; use odradek configs --alter" if action == "alter" else ""
        raise UsageError(f"--config is only valid with --create{hint}")
    if args.replication_factor is not None and action != "create":
        raise UsageError("--replication-factor is only valid with --create")
    if args.partitions is not None and action not in ("create", "alter"):
        raise UsageError("--partitions is only valid with --create or --alter")
    if args.replica_assignment and action not in ("create", "alter"):
        raise UsageError("--replica-assignment is only valid with --create or --alter")
    if action == "alter" and args.partitions is None:
        raise UsageError("--alter needs --partitions (topic configs: odradek configs --alter)")
    if (
        action == "create"
        and args.replica_assignment
        and (args.partitions is not None or args.replication_factor is not None)
    ):
        raise UsageError(
            "--replica-assignment cannot be used with --partitions or --replication-factor"
        )


def parse_replica_assignment(text: str) -> list[list[int]]:
    """``0:1,1:2``: partitions separated by commas, their replicas (broker ids) by colons."""
    assignment: list[list[int]] = []
    for index, part in enumerate(text.split(",")):
        try:
            replicas = [int(b.strip()) for b in part.split(":")]
        except ValueError as exc:
            raise UsageError(
                f"invalid --replica-assignment {text!r}: broker ids must be integers"
            ) from exc
        duplicates = sorted({b for b in replicas if replicas.count(b) > 1})
        if duplicates:
            raise UsageError(
                f"partition {index} has duplicate replicas: {', '.join(map(str, duplicates))}"
            )
        if assignment and len(replicas) != len(assignment[0]):
            raise UsageError(
                f"partition {index} has a different replication factor: "
                f"{len(replicas)} instead of {len(assignment[0])}"
            )
        assignment.append(replicas)
    return assignment


def validate_topic_name(name: str) -> None:
    if name in (".", ".."):
        raise ToolError(f'Topic name cannot be "{name}"')
    if len(name) > MAX_TOPIC_LENGTH:
        raise ToolError(
            f"Topic name is illegal, it can't be longer than {MAX_TOPIC_LENGTH} characters"
        )
    if not LEGAL_TOPIC.fullmatch(name):
        raise ToolError(
            f'Topic name "{name}" is illegal, it contains a character other than '
            "ASCII alphanumerics, '.', '_' and '-'"
        )


# -- create ------------------------------------------------------------------------------------


def create(admin: Admin, args: argparse.Namespace) -> int:
    name: str = args.topic
    validate_topic_name(name)
    if "." in name or "_" in name:
        print(
            "WARNING: Due to limitations in metric names, topics with a period ('.') or "
            "underscore ('_') could collide. To avoid issues it is best to use either, "
            "but not both.",
            file=sys.stderr,
        )
    new_topic = _new_topic(args)
    future = admin.client.create_topics([new_topic], request_timeout=admin.timeout)[name]
    try:
        admin.wait(future)
    except KafkaException as exc:
        if args.if_not_exists and error_code(exc) == KafkaError.TOPIC_ALREADY_EXISTS:
            return _report(args, {"topic": name, "created": False})
        raise ToolError(f"{kafka_message(exc)}") from exc
    return _report(args, {"topic": name, "created": True}, f"Created topic {name}.")


def _new_topic(args: argparse.Namespace) -> NewTopic:
    configs = parse_key_values(args.config, "--config")
    if args.replica_assignment:
        assignment = parse_replica_assignment(args.replica_assignment)
        return NewTopic(
            args.topic,
            num_partitions=len(assignment),
            replication_factor=-1,
            replica_assignment=assignment,
            config=configs,
        )
    partitions = -1 if args.partitions is None else args.partitions
    replication = -1 if args.replication_factor is None else args.replication_factor
    if args.partitions is not None and partitions < 1:
        raise UsageError(f"--partitions must be at least 1, got {partitions}")
    if args.replication_factor is not None and not 1 <= replication <= 32767:
        raise UsageError(f"--replication-factor must be in [1, 32767], got {replication}")
    return NewTopic(
        args.topic, num_partitions=partitions, replication_factor=replication, config=configs
    )


def _report(args: argparse.Namespace, data: dict[str, Any], text: str | None = None) -> int:
    if wants_json(args):
        print_json(data)
    elif text is not None:
        print(text)
    return 0


# -- list / describe ---------------------------------------------------------------------------


def matching_topics(admin: Admin, args: argparse.Namespace) -> list[str]:
    names = sorted(admin.metadata().topics)
    matches = topic_matcher(args.topic)
    chosen = [n for n in names if matches(n)]
    if args.exclude_internal:
        chosen = [n for n in chosen if n not in INTERNAL_TOPICS]
    return chosen


def _ensure_found(args: argparse.Namespace, names: list[str]) -> bool:
    """False when nothing matched and --if-exists allows that; raises otherwise."""
    if names or args.topic is None:
        return True
    if args.if_exists:
        return False
    raise ToolError(f"Topic '{args.topic}' does not exist as expected")


def list_topics(admin: Admin, args: argparse.Namespace) -> int:
    names = matching_topics(admin, args)
    if wants_json(args):
        print_json(names)
    else:
        for name in names:
            print(name)
    return 0


def describe(admin: Admin, args: argparse.Namespace) -> int:
    names = matching_topics(admin, args)
    if not _ensure_found(args, names):
        return 0
    topics = describe_topics(admin, names)
    attach_configs(admin, topics)
    if args.topics_with_overrides:
        topics = [t for t in topics if t.configs]
    if wants_json(args):
        print_json([_topic_json(t, args) for t in topics])
        return 0
    for topic in topics:
        _print_topic(topic, args)
    return 0


def describe_topics(admin: Admin, names: list[str]) -> list[TopicInfo]:
    if not names:
        return []
    futures = admin.client.describe_topics(TopicCollection(names), request_timeout=admin.timeout)
    topics = []
    for name in names:
        try:
            description = admin.wait(futures[name])
        except KafkaException as exc:
            raise ToolError(f"cannot describe topic '{name}': {kafka_message(exc)}") from exc
        topics.append(_topic_info(description))
    return topics


def _node_id(node: Any) -> int | None:
    return None if node is None or node.id < 0 else int(node.id)


def _topic_info(description: Any) -> TopicInfo:
    partitions = [
        PartitionInfo(
            p.id, _node_id(p.leader), [int(n.id) for n in p.replicas], [int(n.id) for n in p.isr]
        )
        for p in sorted(description.partitions, key=lambda p: p.id)
    ]
    return TopicInfo(
        description.name,
        kafka_uuid(description.topic_id),
        bool(description.is_internal),
        partitions,
    )


def attach_configs(admin: Admin, topics: list[TopicInfo]) -> None:
    """Non-default configs per topic; left None when the cluster cannot describe configs."""
    if not topics:
        return
    resources = [ConfigResource(ResourceType.TOPIC, t.name) for t in topics]
    futures = admin.client.describe_configs(resources, request_timeout=admin.timeout)
    for topic, resource in zip(topics, resources, strict=True):
        try:
            entries = admin.wait(futures[resource])
        except KafkaException as exc:
            if error_code(exc) == KafkaError._UNSUPPORTED_FEATURE:
                return
            raise ToolError(
                f"cannot describe configs of topic '{topic.name}': {kafka_message(exc)}"
            ) from exc
        topic.configs = {
            name: ("null" if e.is_sensitive else str(e.value))
            for name, e in sorted(entries.items())
            if not e.is_default
        }


def _partition_filter(args: argparse.Namespace) -> Any:
    if args.under_replicated_partitions:
        return lambda p: len(p.isr) < len(p.replicas)
    if args.unavailable_partitions:
        return lambda p: p.leader is None
    return None


def _print_topic(topic: TopicInfo, args: argparse.Namespace) -> None:
    chosen = _partition_filter(args)
    if chosen is None:
        configs = ",".join(f"{k}={v}" for k, v in (topic.configs or {}).items())
        print(
            f"Topic: {topic.name}\tTopicId: {topic.topic_id}\t"
            f"PartitionCount: {len(topic.partitions)}\t"
            f"ReplicationFactor: {topic.replication_factor}\tConfigs: {configs}"
        )
        if args.topics_with_overrides:
            return
    for p in topic.partitions:
        if chosen is not None and not chosen(p):
            continue
        leader = "none" if p.leader is None else str(p.leader)
        line = (
            f"\tTopic: {topic.name}\tPartition: {p.partition}\tLeader: {leader}\t"
            f"Replicas: {_ids(p.replicas)}\tIsr: {_ids(p.isr)}"
        )
        offline = [r for r in p.replicas if p.leader is None and r not in p.isr]
        if offline:
            line += f"\tOffline: {_ids(offline)}"
        print(line)


def _ids(ids: list[int]) -> str:
    return ",".join(map(str, ids))


def _topic_json(topic: TopicInfo, args: argparse.Namespace) -> dict[str, Any]:
    chosen = _partition_filter(args)
    partitions = [p for p in topic.partitions if chosen is None or chosen(p)]
    return {
        "topic": topic.name,
        "topic_id": topic.topic_id,
        "internal": topic.internal,
        "partition_count": len(topic.partitions),
        "replication_factor": topic.replication_factor,
        "configs": topic.configs,
        "partitions": [p.as_json() for p in partitions],
    }


# -- delete / alter ----------------------------------------------------------------------------


def delete(admin: Admin, args: argparse.Namespace) -> int:
    names = matching_topics(admin, args)
    if not _ensure_found(args, names):
        return _report(args, {"deleted": []})
    internal = [n for n in names if n in INTERNAL_TOPICS]
    if internal:
        raise ToolError(
            f"Topic {internal[0]} is a kafka internal topic and is not allowed to "
            "be marked for deletion."
        )
    futures = admin.client.delete_topics(names, request_timeout=admin.timeout)
    failed = []
    for name in names:
        try:
            admin.wait(futures[name])
        except KafkaException as exc:
            print(f"Error while deleting topic {name}: {kafka_message(exc)}", file=sys.stderr)
            failed.append(name)
    deleted = [n for n in names if n not in failed]
    _report(args, {"deleted": deleted, "failed": failed})
    return 1 if failed else 0


def alter(admin: Admin, args: argparse.Namespace) -> int:
    names = matching_topics(admin, args)
    if not _ensure_found(args, names):
        return 0
    count: int = args.partitions
    requests = []
    for topic in describe_topics(admin, names):
        assignment = _new_assignment(args, topic, count)
        requests.append(
            NewPartitions(topic.name, count)
            if assignment is None
            else NewPartitions(topic.name, count, replica_assignment=assignment)
        )
    futures = admin.client.create_partitions(requests, request_timeout=admin.timeout)
    for request in requests:
        try:
            admin.wait(futures[request.topic])
        except KafkaException as exc:
            raise ToolError(f"{kafka_message(exc)}") from exc
    return _report(args, {"altered": names, "partitions": count})


def _new_assignment(
    args: argparse.Namespace, topic: TopicInfo, count: int
) -> list[list[int]] | None:
    """Kafka's --alter takes the assignment of all partitions and applies the new ones."""
    if not args.replica_assignment:
        return None
    assignment = parse_replica_assignment(args.replica_assignment)
    existing = len(topic.partitions)
    if len(assignment) != count:
        raise UsageError(
            f"--replica-assignment lists {len(assignment)} partitions, --partitions is {count}"
        )
    return assignment[existing:] or None
