"""``odradek delete-records``: kafka-delete-records.sh (DeleteRecords)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaException, TopicPartition

from odradek.cli.tools.common import (
    Admin,
    ToolError,
    kafka_message,
    print_json,
    run_tool,
    wants_json,
)


def main(args: argparse.Namespace) -> int:
    return run_tool("delete-records", args, _run)


def parse_offset_json(text: str) -> list[TopicPartition]:
    """``{"partitions": [{"topic": "t", "partition": 0, "offset": 3}], "version": 1}``."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ToolError(f"the offset JSON file is not valid JSON: {exc}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("partitions"), list):
        raise ToolError('the offset JSON file must be an object with a "partitions" list')
    if document.get("version", 1) != 1:
        raise ToolError(
            f"unsupported version {document.get('version')!r} of the offset JSON file (only 1)"
        )
    partitions = [_partition(entry) for entry in document["partitions"]]
    seen: set[tuple[str, int]] = set()
    duplicates = []
    for tp in partitions:
        if (tp.topic, tp.partition) in seen:
            duplicates.append(f"{tp.topic}-{tp.partition}")
        seen.add((tp.topic, tp.partition))
    if duplicates:
        raise ToolError(
            "Offset json file contains duplicate topic partitions: " + ",".join(duplicates)
        )
    if not partitions:
        raise ToolError("the offset JSON file lists no partitions")
    return partitions


def _partition(entry: Any) -> TopicPartition:
    if not isinstance(entry, dict):
        raise ToolError(f"invalid partition entry {entry!r}")
    topic, partition, offset = entry.get("topic"), entry.get("partition"), entry.get("offset")
    if (
        not isinstance(topic, str)
        or not isinstance(partition, int)
        or not isinstance(offset, int)
        or isinstance(offset, bool)
    ):
        raise ToolError(
            f"invalid partition entry {json.dumps(entry)}: needs a string "
            '"topic" and integer "partition" and "offset"'
        )
    if offset < -1:
        raise ToolError(
            f"invalid offset {offset} for {topic}-{partition} (-1 means the high watermark)"
        )
    return TopicPartition(topic, partition, offset)


def _run(args: argparse.Namespace) -> int:
    try:
        text = Path(args.offset_json_file).read_text(encoding="utf-8")
    except OSError as exc:
        raise ToolError(f"cannot read {args.offset_json_file}: {exc.strerror}") from exc
    partitions = parse_offset_json(text)
    admin = Admin.from_args(args)
    if not wants_json(args):
        print("Executing records delete operation")
    missing = missing_partitions(admin, partitions)
    wanted = [tp for tp in partitions if (tp.topic, tp.partition) not in missing]
    futures = (
        admin.client.delete_records(
            wanted, request_timeout=admin.timeout, operation_timeout=admin.timeout
        )
        if wanted
        else {}
    )
    results = [
        _missing(tp, missing[(tp.topic, tp.partition)])
        if (tp.topic, tp.partition) in missing
        else _result(admin, tp, futures[tp])
        for tp in partitions
    ]
    if wants_json(args):
        print_json(results)
    else:
        print("Records delete operation completed:")
        for r in results:
            outcome = (
                f"error: {r['error']}"
                if r["error"] is not None
                else f"low_watermark: {r['low_watermark']}"
            )
            print(f"partition: {r['topic']}-{r['partition']}\t{outcome}")
    failed = [r for r in results if r["error"] is not None]
    if failed:
        print(
            f"Error: records of {len(failed)} partition(s) could not be deleted: "
            + "; ".join(f"{r['topic']}-{r['partition']}: {r['error']}" for r in failed),
            file=sys.stderr,
        )
        return 1
    return 0


def missing_partitions(
    admin: Admin, partitions: list[TopicPartition]
) -> dict[tuple[str, int], str]:
    """The partitions the cluster does not have, with the reason (librdkafka would only say
    "Failed to query partition leaders: No leaders found")."""
    topics = admin.metadata().topics
    missing: dict[tuple[str, int], str] = {}
    for tp in partitions:
        described = topics.get(tp.topic)
        if described is None or described.error is not None:
            missing[(tp.topic, tp.partition)] = f"Topic '{tp.topic}' does not exist"
        elif tp.partition not in described.partitions:
            missing[(tp.topic, tp.partition)] = (
                f"Partition {tp.partition} does not exist in topic '{tp.topic}' (it has "
                f"{len(described.partitions)} partitions)"
            )
    return missing


def _missing(tp: TopicPartition, reason: str) -> dict[str, Any]:
    return {"topic": tp.topic, "partition": tp.partition, "low_watermark": None, "error": reason}


def _result(admin: Admin, tp: TopicPartition, future: Any) -> dict[str, Any]:
    result: dict[str, Any] = {
        "topic": tp.topic,
        "partition": tp.partition,
        "low_watermark": None,
        "error": None,
    }
    try:
        result["low_watermark"] = admin.wait(future).low_watermark
    except KafkaException as exc:
        result["error"] = kafka_message(exc)
    return result
