"""``odradek console-consumer``: kafka-console-consumer.sh with its DefaultMessageFormatter.

Without ``--group`` it joins a generated group ``console-consumer-NNNNN`` with
``enable.auto.commit=false`` (as Kafka's tool does), or with ``--partition`` assigns the
partition directly and never touches a group.
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from confluent_kafka import (
    OFFSET_BEGINNING,
    OFFSET_END,
    TIMESTAMP_CREATE_TIME,
    TIMESTAMP_LOG_APPEND_TIME,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    TopicPartition,
)

from odradek.cli.tools.common import (
    ToolError,
    UsageError,
    check_reachable,
    client_config,
    kafka_message,
    load_properties,
    parse_key_values,
    require_bootstrap,
    run_tool,
    wants_json,
)
from odradek.common.client_logs import log_settings

DEFAULT_FORMATTERS = {
    "DefaultMessageFormatter",
    "kafka.tools.DefaultMessageFormatter",
    "org.apache.kafka.tools.consumer.DefaultMessageFormatter",
}
NOOP_FORMATTERS = {
    "NoOpMessageFormatter",
    "kafka.tools.NoOpMessageFormatter",
    "org.apache.kafka.tools.consumer.NoOpMessageFormatter",
}
BATCH = 500
JOIN_GRACE = 30.0
FATAL_CODES = frozenset(
    {
        KafkaError.UNKNOWN_TOPIC_OR_PART,
        KafkaError._UNKNOWN_TOPIC,
        KafkaError._UNKNOWN_PARTITION,
        KafkaError.TOPIC_AUTHORIZATION_FAILED,
        KafkaError.GROUP_AUTHORIZATION_FAILED,
        KafkaError.INVALID_GROUP_ID,
    }
)


@dataclass
class FormatterSettings:
    """DefaultMessageFormatter's properties."""

    print_timestamp: bool = False
    print_key: bool = False
    print_value: bool = True
    print_partition: bool = False
    print_offset: bool = False
    print_headers: bool = False
    key_separator: bytes = b"\t"
    line_separator: bytes = b"\n"
    headers_separator: bytes = b","
    null_literal: bytes = b"null"

    @classmethod
    def from_properties(cls, props: dict[str, str]) -> FormatterSettings:
        def flag(name: str, default: bool) -> bool:
            return props.get(name, str(default)).strip().lower() == "true"

        def raw(name: str, default: bytes) -> bytes:
            return props[name].encode() if name in props else default

        return cls(
            flag("print.timestamp", False),
            flag("print.key", False),
            flag("print.value", True),
            flag("print.partition", False),
            flag("print.offset", False),
            flag("print.headers", False),
            raw("key.separator", b"\t"),
            raw("line.separator", b"\n"),
            raw("headers.separator", b","),
            raw("null.literal", b"null"),
        )


class DefaultFormatter:
    """``CreateTime:1700000000000<sep>Partition:0<sep>Offset:3<sep>key<sep>value``."""

    def __init__(self, settings: FormatterSettings) -> None:
        self.s = settings

    def format(self, message: Message) -> bytes:
        s = self.s
        fields: list[bytes] = []
        if s.print_timestamp:
            fields.append(_timestamp(message))
        if s.print_partition:
            fields.append(f"Partition:{message.partition()}".encode())
        if s.print_offset:
            fields.append(f"Offset:{message.offset()}".encode())
        if s.print_headers:
            fields.append(self._headers(message.headers()))
        if s.print_key:
            fields.append(self._bytes(message.key()))
        if s.print_value:
            fields.append(self._bytes(message.value()))
        return s.key_separator.join(fields) + s.line_separator

    def _bytes(self, value: bytes | str | None) -> bytes:
        if value is None:
            return self.s.null_literal
        return value.encode() if isinstance(value, str) else value

    def _headers(self, headers: Any) -> bytes:
        if not headers:
            return b"NO_HEADERS"
        return self.s.headers_separator.join(
            name.encode() + b":" + self._bytes(value) for name, value in headers
        )


def _timestamp(message: Message) -> bytes:
    kind, value = message.timestamp()
    if kind == TIMESTAMP_CREATE_TIME:
        return b"CreateTime:%d" % value
    if kind == TIMESTAMP_LOG_APPEND_TIME:
        return b"LogAppendTime:%d" % value
    return b"NO_TIMESTAMP"


def _text(value: bytes | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    try:
        return value.decode()
    except UnicodeDecodeError:
        return "base64:" + base64.b64encode(value).decode()


def json_record(message: Message) -> bytes:
    kind, timestamp = message.timestamp()
    headers: Any = message.headers() or []
    kinds = {TIMESTAMP_CREATE_TIME: "CreateTime", TIMESTAMP_LOG_APPEND_TIME: "LogAppendTime"}
    record = {
        "topic": message.topic(),
        "partition": message.partition(),
        "offset": message.offset(),
        "timestamp": timestamp,
        "timestamp_type": kinds.get(kind, "NoTimestampType"),
        "key": _text(message.key()),
        "value": _text(message.value()),
        "headers": [[k, _text(v)] for k, v in headers],
    }
    return json.dumps(record).encode() + b"\n"


def make_formatter(args: argparse.Namespace) -> Callable[[Message], bytes]:
    if wants_json(args):
        return json_record
    name = args.formatter or "DefaultMessageFormatter"
    if name in NOOP_FORMATTERS:
        return lambda _message: b""
    if name not in DEFAULT_FORMATTERS:
        raise UsageError(
            f"unsupported --formatter {name}: use DefaultMessageFormatter or NoOpMessageFormatter"
        )
    props = {
        **load_properties(args.formatter_config),
        **parse_key_values(args.property, "--property"),
    }
    return DefaultFormatter(FormatterSettings.from_properties(props)).format


# -- options -----------------------------------------------------------------------------------


def _validate(args: argparse.Namespace) -> None:
    if (args.topic is None) == (args.include is None):
        raise UsageError("exactly one of --topic or --include is required")
    if args.partition is not None and args.topic is None:
        raise UsageError("--partition requires --topic")
    if args.offset is not None and args.partition is None:
        raise UsageError("the partition is required when offset is specified")
    if args.offset is not None and args.from_beginning:
        raise UsageError("options --from-beginning and --offset cannot be specified together")
    if args.group is not None and args.partition is not None:
        raise UsageError("options --group and --partition cannot be specified together")
    if args.max_messages is not None and args.max_messages < 1:
        raise UsageError("--max-messages must be at least 1")
    if args.timeout_ms is not None and args.timeout_ms < 0:
        raise UsageError("--timeout-ms must not be negative")


def start_offset(args: argparse.Namespace) -> int:
    text = args.offset
    if text is None:
        return OFFSET_BEGINNING if args.from_beginning else OFFSET_END
    if text.lower() == "earliest":
        return OFFSET_BEGINNING
    if text.lower() == "latest":
        return OFFSET_END
    try:
        offset = int(text)
    except ValueError:
        offset = -1
    if offset < 0:
        raise UsageError(f"invalid --offset {text!r}: a non-negative number, earliest or latest")
    return offset


def consumer_config(args: argparse.Namespace) -> dict[str, str]:
    """Kafka's precedence: config file, then --consumer-property, then the flags."""
    file_props = load_properties(args.consumer_config)
    props = {**file_props, **parse_key_values(args.consumer_property, "--consumer-property")}
    groups = {g for g in (args.group, file_props.get("group.id"), props.get("group.id")) if g}
    if len(groups) > 1:
        raise UsageError(
            "the group ids given with --group, --consumer-property and "
            "--consumer.config do not match"
        )
    reset = "earliest" if args.from_beginning else "latest"
    if args.from_beginning and props.get("auto.offset.reset", "earliest") != "earliest":
        raise UsageError(
            f"can't specify --from-beginning with auto.offset.reset={props['auto.offset.reset']}"
        )
    props.setdefault("auto.offset.reset", reset)
    props.setdefault("isolation.level", args.isolation_level or "read_uncommitted")
    props.setdefault("enable.partition.eof", "false")
    props.setdefault("client.id", "console-consumer")
    if groups:
        props["group.id"] = groups.pop()
    else:
        props["group.id"] = f"console-consumer-{random.randrange(100000)}"
        props.setdefault("enable.auto.commit", "false")
    return client_config(require_bootstrap(args), {}, props)


# -- consuming ---------------------------------------------------------------------------------


class Clock:
    """``--timeout-ms``: the time left until exit, restarted by every record and by the
    group's assignment (joining may take longer than the timeout: until then it waits at
    least ``JOIN_GRACE`` seconds)."""

    def __init__(self, timeout_ms: int | None) -> None:
        self.timeout = None if timeout_ms is None else timeout_ms / 1000
        self.deadline: float | None = None
        self.restart()

    def restart(self, at_least: float = 0.0) -> None:
        if self.timeout is not None:
            self.deadline = time.monotonic() + max(self.timeout, at_least)
        else:
            self.deadline = None

    def wait(self) -> float | None:
        """Seconds to poll for, or None when the time is up."""
        if self.deadline is None:
            return 1.0
        left = self.deadline - time.monotonic()
        return None if left <= 0 else min(left, 1.0)


def main(args: argparse.Namespace) -> int:
    return run_tool("console-consumer", args, _run)


def _run(args: argparse.Namespace) -> int:
    _validate(args)
    formatter = make_formatter(args)
    config = consumer_config(args)
    check_reachable(config, 30.0)
    try:
        consumer = Consumer({**config, **log_settings(config)})
    except KafkaException as exc:
        raise ToolError(f"invalid consumer configuration: {kafka_message(exc)}") from exc
    # Kafka's tool stops the same way on SIGINT and SIGTERM (a shutdown hook): the count is
    # printed and the consumer closed, so it leaves its group at once instead of after
    # session.timeout.ms. The exit code is the JVM's after a signal: 128 + its number. The
    # handler only records the signal: the loop sees it within a poll (at most 1 s), so a
    # record is never printed without being counted, and close() is never interrupted.
    stopped: list[int] = []
    previous = {
        sig: signal.signal(sig, lambda signum, _frame: stopped.append(signum))
        for sig in (signal.SIGINT, signal.SIGTERM)
    }
    clock = Clock(args.timeout_ms)
    progress = [0]
    try:
        if not stopped:
            _start(consumer, args, clock)
        _consume(consumer, args, formatter, clock, progress, stopped)
    finally:
        print(f"Processed a total of {progress[0]} messages", file=sys.stderr)
        consumer.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 128 + stopped[0] if stopped else 0


def _start(consumer: Consumer, args: argparse.Namespace, clock: Clock) -> None:
    """Subscribe (--timeout-ms counts from the group's assignment) or assign."""

    def assigned(_consumer: Consumer, _partitions: list[TopicPartition]) -> None:
        clock.restart()

    if args.include is not None:
        clock.restart(at_least=JOIN_GRACE)
        consumer.subscribe([f"^({args.include})$"], on_assign=assigned)
        return
    topic: str = args.topic
    metadata = consumer.list_topics(topic, timeout=30)
    described = metadata.topics.get(topic)
    if described is None or described.error is not None:
        raise ToolError(f"Topic '{topic}' does not exist")
    if args.partition is None:
        clock.restart(at_least=JOIN_GRACE)
        consumer.subscribe([topic], on_assign=assigned)
        return
    if args.partition not in described.partitions:
        raise ToolError(
            f"Partition {args.partition} does not exist in topic '{topic}' (it has "
            f"{len(described.partitions)} partitions)"
        )
    consumer.assign([TopicPartition(topic, args.partition, start_offset(args))])
    clock.restart()


def _consume(
    consumer: Consumer,
    args: argparse.Namespace,
    formatter: Callable[[Message], bytes],
    clock: Clock,
    count: list[int],
    stopped: list[int],
) -> None:
    """Print records until --max-messages, --timeout-ms or a signal (``stopped``);
    ``count[0]`` is the number printed so far."""
    out = sys.stdout.buffer
    limit: int | None = args.max_messages
    while (limit is None or count[0] < limit) and not stopped:
        wait = clock.wait()
        if wait is None:
            break
        want = BATCH if limit is None else min(BATCH, limit - count[0])
        messages = consumer.consume(want, wait)
        records = [m for m in messages if not _failed(m, args)]
        for message in records:
            out.write(formatter(message))
            count[0] += 1
        if records:
            out.flush()
            clock.restart()


def _failed(message: Message, args: argparse.Namespace) -> bool:
    error = message.error()
    if error is None:
        return False
    transient = error.code() < 0  # librdkafka's local errors (connections...): it retries
    if (
        error.fatal()
        or error.code() in FATAL_CODES
        or not (transient or args.skip_message_on_error)
    ):
        raise KafkaException(error)
    print(f"[warning] {error.str()}", file=sys.stderr)
    return True
