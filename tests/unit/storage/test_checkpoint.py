"""Kafka's offset and leader-epoch checkpoint files."""

from __future__ import annotations

from pathlib import Path

import pytest

from odradek.common.ids import TopicPartition
from odradek.storage.checkpoint import (
    read_epoch_checkpoint,
    read_offset_checkpoint,
    write_epoch_checkpoint,
    write_offset_checkpoint,
)


def test_offset_checkpoint_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "recovery-point-offset-checkpoint"
    offsets = {
        TopicPartition("b.topic_x-y", 2): 17,
        TopicPartition("a", 0): 0,
        TopicPartition("a", 10): 2**40,
    }
    write_offset_checkpoint(path, offsets)
    assert read_offset_checkpoint(path) == offsets
    assert path.read_text() == "0\n3\na 0 0\na 10 1099511627776\nb.topic_x-y 2 17\n"
    assert not list(tmp_path.glob("*.tmp"))


def test_offset_checkpoint_empty_and_missing(tmp_path: Path) -> None:
    path = tmp_path / "cp"
    assert read_offset_checkpoint(path) == {}
    write_offset_checkpoint(path, {})
    assert path.read_text() == "0\n0\n"
    assert read_offset_checkpoint(path) == {}


def test_offset_checkpoint_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "cp"
    write_offset_checkpoint(path, {TopicPartition("t", 0): 1})
    write_offset_checkpoint(path, {TopicPartition("t", 1): 2})
    assert read_offset_checkpoint(path) == {TopicPartition("t", 1): 2}


def test_offset_checkpoint_written_by_kafka(tmp_path: Path) -> None:
    path = tmp_path / "cp"
    path.write_text("0\n2\n__consumer_offsets 7 1234\norders 0 99\n")
    assert read_offset_checkpoint(path) == {
        TopicPartition("__consumer_offsets", 7): 1234,
        TopicPartition("orders", 0): 99,
    }


def test_offset_checkpoint_unknown_version(tmp_path: Path) -> None:
    path = tmp_path / "cp"
    path.write_text("1\n0\n")
    with pytest.raises(ValueError):
        read_offset_checkpoint(path)


def test_epoch_checkpoint_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "leader-epoch-checkpoint"
    assert read_epoch_checkpoint(path) == []
    write_epoch_checkpoint(path, [(0, 0), (3, 120), (4, 500)])
    assert path.read_text() == "0\n3\n0 0\n3 120\n4 500\n"
    assert read_epoch_checkpoint(path) == [(0, 0), (3, 120), (4, 500)]
