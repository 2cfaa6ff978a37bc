"""Compaction against a model: random appends (keys, values, tombstones, codecs, timestamps),
segment rolls, cleanings with bounded offset maps, clock advances, reopenings and crashes in
the middle of a swap, on a real Log in a temp dir with a FakeClock.

After every step the log, read back from offset 0 and decoded, must satisfy what Kafka
guarantees for compacted topics:

* every surviving record is at its original offset with its original key, value, timestamp
  and headers; offsets strictly increase; the log end offset never changes;
* the latest record of every key is present, unless it is a tombstone whose delete horizon
  (delete.retention.ms after the first cleaning that covered it) has passed;
* a record is only ever missing if a later record of its key lies below the end of some
  cleaning, or it is such a tombstone — so nothing at or above the first uncleanable offset of
  the cleanings so far is removed.
"""

from __future__ import annotations

import os
import random
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from odradek.common.clock import FakeClock
from odradek.protocol.records.codec import Record, decode_batches, encode_batch
from odradek.storage.cleaner.job import clean
from odradek.storage.cleaner.manager import LogCleanerManager
from odradek.storage.files import filename_prefix
from odradek.storage.log import Log
from tests.unit.storage.helpers import T0, TP, append, log_config, open_log

RETENTION = 1_000  # delete.retention.ms
HOUR = 3_600_000
KEYS = [f"k{i}".encode() for i in range(6)]

values = st.one_of(
    st.none(), st.binary(max_size=24), st.binary(max_size=24), st.binary(max_size=24)
)
records = st.tuples(st.sampled_from(KEYS), values, st.integers(-HOUR, HOUR))
append_op = st.tuples(
    st.just("append"), st.lists(records, min_size=1, max_size=4), st.sampled_from([0, 0, 1, 4])
)  # none, gzip, zstd
capacities = st.sampled_from([1, 3, 1_000, 1_000])  # offset map entries
operations = st.lists(
    st.one_of(
        append_op,
        append_op,
        append_op,
        append_op,
        st.tuples(st.just("roll")),
        st.tuples(st.just("clean"), capacities),
        st.tuples(st.just("roll+clean"), capacities),
        st.tuples(st.just("roll+clean"), capacities),
        st.tuples(
            st.just("advance"),
            st.sampled_from(
                [1, RETENTION // 2, RETENTION - 1, RETENTION, RETENTION + 1, 3 * RETENTION]
            ),
        ),
        st.tuples(st.just("reopen"), st.booleans()),
        st.tuples(st.just("crash"), st.sampled_from(["cleaned", "index-swap", "committed"])),
    ),
    min_size=12,
    max_size=50,
)


@dataclass
class Model:
    written: dict[int, Record] = field(default_factory=dict)
    cleanings: list[tuple[int, int]] = field(default_factory=list)  # (time, end offset)
    first_cover: dict[int, int] = field(default_factory=dict)  # tombstone offset -> time

    def cleaned(self, now: int, end_offset: int) -> None:
        self.cleanings.append((now, end_offset))
        for offset, record in self.written.items():
            if record.value is None and offset < end_offset:
                self.first_cover.setdefault(offset, now)

    @property
    def cleaned_up_to(self) -> int:
        return max((end for _, end in self.cleanings), default=0)

    def tombstone_expired(self, offset: int) -> bool:
        """A cleaning at or after the delete horizon covered this tombstone."""
        covered = self.first_cover.get(offset)
        return covered is not None and any(
            time >= covered + RETENTION and offset < end for time, end in self.cleanings
        )

    def superseded(self, record: Record) -> bool:
        """A later record of the key lies below the end of some cleaning."""
        return any(
            other.key == record.key and record.offset < other.offset < self.cleaned_up_to
            for other in self.written.values()
        )

    def check(self, log: Log) -> None:
        survivors = read_log(log)
        offsets = [r.offset for r in survivors]
        assert offsets == sorted(set(offsets)), "offsets must strictly increase"
        assert log.log_end_offset == len(self.written)
        assert log.log_start_offset == 0
        for record in survivors:
            assert record == self.written.get(record.offset), "a record changed"
        present = set(offsets)
        latest: dict[bytes | None, Record] = {}
        for record in self.written.values():
            latest[record.key] = record
        for offset, record in self.written.items():
            if offset in present:
                continue
            assert offset < self.cleaned_up_to, f"{offset} removed above every cleaning"
            if latest[record.key] is record:
                assert record.value is None and self.tombstone_expired(offset), (
                    f"the latest record of {record.key!r} at {offset} is gone"
                )
            else:
                assert self.superseded(record) or (
                    record.value is None and self.tombstone_expired(offset)
                ), f"{offset} removed though nothing superseded it"


def read_log(log: Log) -> list[Record]:
    result: list[Record] = []
    offset = log.log_start_offset
    while offset < log.log_end_offset:
        data = log.read(offset, 2**31 - 1).records
        if not data:
            break
        batch_records = [r for b in decode_batches(data) for r in b.records]
        result += [r for r in batch_records if r.offset >= offset]
        offset = max(offset + 1, batch_records[-1].offset + 1) if batch_records else offset + 1
    return result


class Harness:
    def __init__(self, directory: Path, segment_bytes: int) -> None:
        self.directory = directory
        self.clock = FakeClock(T0)
        self.config = log_config(
            cleanup_policy=["compact"],
            min_cleanable_dirty_ratio=0.01,
            delete_retention_ms=RETENTION,
            segment_bytes=segment_bytes,
        )
        self.log = open_log(directory, self.clock, self.config)
        self.manager = LogCleanerManager([directory])
        self.model = Model()

    def append(self, batch: list[tuple[bytes, bytes | None, int]], codec: int) -> None:
        now = self.clock.now_ms
        stamps = [now + delta for _, _, delta in batch]
        data = encode_batch(
            [(k, v) for k, v, _ in batch],
            timestamps=stamps,
            compression=codec,
            headers=[("n", str(len(self.model.written)).encode())],
        )
        first = append(self.log, data).first_offset
        assert first == len(self.model.written)
        headers = (("n", str(first).encode()),)
        for i, (key, value, _) in enumerate(batch):
            self.model.written[first + i] = Record(first + i, stamps[i], key, value, headers)

    def clean(self, capacity: int) -> None:
        now = self.clock.now_ms
        candidate = self.manager.candidate(TP, self.log, now)
        if candidate is None:
            return
        result = clean(self.manager.job_for(candidate, capacity, now))
        assert candidate.first_dirty <= result.end_offset <= candidate.first_uncleanable
        self.log.replace_segments(result.groups)
        self.manager.checkpoints[TP] = result.end_offset
        self.model.cleaned(now, result.end_offset)

    def reopen(self, clean_shutdown: bool) -> None:
        if clean_shutdown:
            self.log.flush()
        self.log.close()
        self.log = open_log(
            self.directory, self.clock, self.config, clean_shutdown=clean_shutdown, recovery_point=0
        )

    def crash(self, stage: str) -> None:
        """A cleaning cut short by a crash: its .cleaned files written, then renamed to .swap
        up to ``stage``; the next load must finish or discard it."""
        now = self.clock.now_ms
        candidate = self.manager.candidate(TP, self.log, now)
        if candidate is None:
            return
        result = clean(self.manager.job_for(candidate, 1_000, now))
        self.log.close()
        for base, _ in result.groups:
            prefix = self.log.dir / filename_prefix(base)
            renamed = {
                "cleaned": (),
                "index-swap": (".index", ".timeindex"),
                "committed": (".index", ".timeindex", ".log"),
            }[stage]
            for suffix in renamed:
                os.replace(f"{prefix}{suffix}.cleaned", f"{prefix}{suffix}.swap")
        self.log = open_log(
            self.directory, self.clock, self.config, clean_shutdown=False, recovery_point=0
        )
        if stage == "committed" and result.groups:
            self.model.cleaned(now, result.end_offset)

    def run(self, operation: tuple[Any, ...]) -> None:
        kind = operation[0]
        if kind == "append":
            self.append(operation[1], operation[2])
        elif kind == "roll":
            self.log.roll()
        elif kind == "clean":
            self.clean(operation[1])
        elif kind == "roll+clean":
            self.log.roll()
            self.clean(operation[1])
        elif kind == "advance":
            self.clock.advance(operation[1])
        elif kind == "reopen":
            self.reopen(operation[1])
        elif kind == "crash":
            self.crash(operation[1])


@settings(
    max_examples=120,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(ops=operations, segment_bytes=st.sampled_from([150, 400, 100_000]))
def test_compaction_matches_the_model(ops: list[tuple[Any, ...]], segment_bytes: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        harness = Harness(Path(tmp), segment_bytes)
        try:
            for operation in ops:
                harness.run(operation)
                harness.model.check(harness.log)
            # Finally everything is cleanable: roll, let the horizon pass, clean twice.
            harness.log.roll()
            harness.clean(1_000)
            harness.clock.advance(RETENTION + 1)
            harness.clean(1_000)
            harness.model.check(harness.log)
        finally:
            harness.log.close()


@settings(
    max_examples=40,
    derandomize=True,
    deadline=None,
    database=None,
    phases=[Phase.generate],
    suppress_health_check=[HealthCheck.too_slow],
)
@given(rng=st.randoms(use_true_random=False), segment_bytes=st.sampled_from([150, 400]))
def test_cleaning_with_a_roomy_map_leaves_one_record_per_key(
    rng: random.Random, segment_bytes: int
) -> None:
    """With an offset map that holds every key, each cleaning leaves at most one record of a
    key below its end offset, as Kafka's does (what an earlier cleaning kept and a later record
    superseded goes at the next one). Few keys and long runs: segments get emptied."""
    with tempfile.TemporaryDirectory() as tmp:
        harness = Harness(Path(tmp), segment_bytes)
        try:
            for _ in range(40):
                draw = rng.random()
                if draw < 0.6:
                    harness.run(("append", [(rng.choice(KEYS[:3]), b"v", 0)], 0))
                elif draw < 0.75:
                    harness.run(("roll",))
                else:
                    harness.run(("roll+clean", 1_000))
                    harness.model.check(harness.log)
                    end = harness.model.cleaned_up_to
                    keys = [r.key for r in read_log(harness.log) if r.offset < end]
                    assert len(keys) == len(set(keys)), f"duplicate keys below {end}"
        finally:
            harness.log.close()
