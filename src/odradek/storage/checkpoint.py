"""Kafka's offset checkpoint files: a version line, a count line, then ``topic partition
offset`` lines. Written atomically (temp file, fsync, rename)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from odradek.common.ids import TopicPartition
from odradek.storage.files import atomic_write


def write_offset_checkpoint(path: Path, offsets: Mapping[TopicPartition, int]) -> None:
    lines = ["0", str(len(offsets))]
    lines += [f"{tp.topic} {tp.partition} {offset}" for tp, offset in sorted(offsets.items())]
    atomic_write(path, ("\n".join(lines) + "\n").encode())


def read_offset_checkpoint(path: Path) -> dict[TopicPartition, int]:
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return {}
    if len(lines) < 2 or lines[0].strip() != "0":
        raise ValueError(f"{path}: unsupported checkpoint version")
    result = {}
    for line in lines[2 : 2 + int(lines[1])]:
        topic, partition, offset = line.split()
        result[TopicPartition(topic, int(partition))] = int(offset)
    return result


def write_epoch_checkpoint(path: Path, entries: list[tuple[int, int]]) -> None:
    lines = ["0", str(len(entries))] + [f"{epoch} {offset}" for epoch, offset in entries]
    atomic_write(path, ("\n".join(lines) + "\n").encode())


def read_epoch_checkpoint(path: Path) -> list[tuple[int, int]]:
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return []
    return [(int(a), int(b)) for a, b in (line.split() for line in lines[2 : 2 + int(lines[1])])]
