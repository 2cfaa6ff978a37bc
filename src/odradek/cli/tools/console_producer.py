"""``odradek console-producer``: kafka-console-producer.sh. Each stdin line is one record;
``--property parse.key=true`` splits off a key, ``parse.headers=true`` headers."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from odradek.cli.tools.common import (
    ToolError,
    UsageError,
    check_reachable,
    client_config,
    kafka_message,
    load_properties,
    parse_key_values,
    print_json,
    require_bootstrap,
    run_tool,
    wants_json,
)
from odradek.common.client_logs import log_settings

DEFAULT_DELIVERY_TIMEOUT_MS = "120000"  # Kafka's delivery.timeout.ms, not librdkafka's 300 s
MAX_PRINTED_ERRORS = 10

Headers = list[tuple[str, bytes | None]]


@dataclass
class LineRecord:
    key: bytes | None
    value: bytes | None
    headers: Headers | None


@dataclass
class ReaderSettings:
    """LineMessageReader's properties."""

    parse_key: bool = False
    key_separator: bytes = b"\t"
    parse_headers: bool = False
    headers_delimiter: bytes = b"\t"
    headers_separator: bytes = b","
    headers_key_separator: bytes = b":"
    null_marker: bytes | None = None
    ignore_error: bool = False

    @classmethod
    def from_properties(cls, props: dict[str, str]) -> ReaderSettings:
        def flag(name: str) -> bool:
            return props.get(name, "false").strip().lower() == "true"

        def raw(name: str, default: bytes) -> bytes:
            return props[name].encode() if name in props else default

        settings = cls(
            flag("parse.key"),
            raw("key.separator", b"\t"),
            flag("parse.headers"),
            raw("headers.delimiter", b"\t"),
            raw("headers.separator", b","),
            raw("headers.key.separator", b":"),
            props["null.marker"].encode() if "null.marker" in props else None,
            flag("ignore.error"),
        )
        for name, value in (
            ("key.separator", settings.key_separator),
            ("headers.delimiter", settings.headers_delimiter),
            ("headers.separator", settings.headers_separator),
            ("headers.key.separator", settings.headers_key_separator),
        ):
            if not value:
                raise UsageError(f"property {name} must not be empty")
        return settings


class LineReader:
    """Kafka's LineMessageReader: stdin lines to (key, value, headers)."""

    def __init__(self, settings: ReaderSettings) -> None:
        self.settings = settings
        self.line_number = 0

    def records(self, stream: BinaryIO) -> Iterator[LineRecord]:
        for raw in stream:
            self.line_number += 1
            yield self.parse(raw.rstrip(b"\n").removesuffix(b"\r"))

    def parse(self, line: bytes) -> LineRecord:
        s = self.settings
        headers: Headers | None = None
        rest = line
        if s.parse_headers:
            head, sep, rest = line.partition(s.headers_delimiter)
            if not sep:
                self._fail("No headers delimiter found", line)
                rest = line
            elif head != s.null_marker:
                headers = self._headers(head)
        key: bytes | None = None
        if s.parse_key:
            key, sep, value = rest.partition(s.key_separator)
            if not sep:
                self._fail("No key separator found", line)
                key, value = None, rest
        else:
            value = rest
        return LineRecord(self._marker(key), self._marker(value), headers)

    def _headers(self, text: bytes) -> Headers:
        headers: Headers = []
        for item in text.split(self.settings.headers_separator):
            name, sep, value = item.partition(self.settings.headers_key_separator)
            if not sep:
                self._fail(f"No header key separator found in pair '{item.decode()}'")
            headers.append((name.decode(errors="replace"), self._marker(value) if sep else None))
        return headers

    def _marker(self, value: bytes | None) -> bytes | None:
        marker = self.settings.null_marker
        return None if marker is not None and value == marker else value

    def _fail(self, what: str, line: bytes | None = None) -> None:
        if self.settings.ignore_error:
            return
        quoted = "" if line is None else f": '{line.decode(errors='replace')}'"
        raise ToolError(f"{what} on line number {self.line_number}{quoted}")


class Progress:
    """Records sent so far and the rate, on stderr every ``interval`` seconds."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.started = self.last_report = time.monotonic()
        self.last_count = 0

    def tick(self, count: int) -> None:
        if self.interval <= 0 or count & 1023:
            return
        now = time.monotonic()
        if now - self.last_report >= self.interval:
            rate = (count - self.last_count) / (now - self.last_report)
            print(
                f"odradek console-producer: {count} records read, {rate:,.0f} records/s",
                file=sys.stderr,
                flush=True,
            )
            self.last_report, self.last_count = now, count

    def finish(self, count: int, failed: int) -> None:
        elapsed = time.monotonic() - self.started
        if self.interval > 0 and elapsed >= self.interval:
            print(
                f"odradek console-producer: {count} records sent ({failed} failed) in "
                f"{elapsed:.1f}s, {count / elapsed:,.0f} records/s",
                file=sys.stderr,
            )


class Deliveries:
    """Delivery reports: failures are printed like Kafka's ErrorLoggingCallback."""

    def __init__(self, topic: str) -> None:
        self.topic = topic
        self.failed = 0

    def __call__(self, error: KafkaError | None, message: Message) -> None:
        if error is None:
            return
        self.failed += 1
        if self.failed <= MAX_PRINTED_ERRORS:
            key = message.key()
            value = message.value()
            key_size = "null" if key is None else f"{len(key)} bytes"
            value_size = "null" if value is None else f"{len(value)} bytes"
            print(
                f"Error when sending message to topic {self.topic} with key: {key_size}, "
                f"value: {value_size} with error: {error.str()}",
                file=sys.stderr,
            )
        elif self.failed == MAX_PRINTED_ERRORS + 1:
            print("(further delivery errors are counted, not printed)", file=sys.stderr)


def main(args: argparse.Namespace) -> int:
    return run_tool("console-producer", args, _run)


def producer_config(args: argparse.Namespace) -> dict[str, str]:
    props = parse_key_values(args.producer_property, "--producer-property")
    flags = {
        "compression.type": args.compression_codec,
        "acks": args.request_required_acks,
        "batch.size": args.batch_size,
        "request.timeout.ms": args.request_timeout_ms,
        "retries": args.message_send_max_retries,
        "retry.backoff.ms": args.retry_backoff_ms,
    }
    defaults = {
        "client.id": "console-producer",
        "linger.ms": str(args.timeout),
        "message.timeout.ms": DEFAULT_DELIVERY_TIMEOUT_MS,
    }
    file_props = load_properties(args.producer_config)
    if "delivery.timeout.ms" in {**file_props, **props}:  # librdkafka's alias
        defaults.pop("message.timeout.ms")
    merged = {**defaults, **file_props}
    merged.update({k: str(v) for k, v in flags.items() if v is not None})
    return client_config(require_bootstrap(args), merged, props)


def _run(args: argparse.Namespace) -> int:
    reader_props = {
        **load_properties(args.reader_config),
        **parse_key_values(args.property, "--property"),
    }
    reader = LineReader(ReaderSettings.from_properties(reader_props))
    config = producer_config(args)
    check_reachable(config, 30.0)
    try:
        producer = Producer({**config, **log_settings(config)})
    except KafkaException as exc:
        raise ToolError(f"invalid producer configuration: {kafka_message(exc)}") from exc
    deliveries = Deliveries(args.topic)
    progress = Progress(args.progress_interval)
    count = 0
    try:
        for record in reader.records(sys.stdin.buffer):
            _send(producer, args.topic, record, deliveries)
            count += 1
            progress.tick(count)
            if args.sync:
                producer.flush()
    finally:
        _drain(producer)
    progress.finish(count, deliveries.failed)
    return _summary(args, count, deliveries.failed, time.monotonic() - progress.started)


def _send(producer: Producer, topic: str, record: LineRecord, deliveries: Deliveries) -> None:
    kwargs: dict[str, Any] = {"value": record.value, "key": record.key, "on_delivery": deliveries}
    if record.headers is not None:
        kwargs["headers"] = record.headers
    while True:
        try:
            producer.produce(topic, **kwargs)
            break
        except BufferError:  # the local queue is full: let deliveries drain it
            producer.poll(0.1)
    producer.poll(0)


def _drain(producer: Producer) -> None:
    while producer.flush(1.0) > 0:
        pass


def _summary(args: argparse.Namespace, count: int, failed: int, seconds: float) -> int:
    if wants_json(args):
        print_json({"records": count, "failed": failed, "seconds": round(seconds, 3)})
    if failed:
        print(f"Error: {failed} of {count} records could not be sent", file=sys.stderr)
        return 1
    return 0
