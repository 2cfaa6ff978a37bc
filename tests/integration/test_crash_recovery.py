"""SIGKILL during sustained acks=1 production, ten times over on the same data dir.

Every round: a confluent-kafka producer (acks=1) writes keyed, sequenced records to a
1-partition topic with small segments, remembering each acknowledged (offset, key, value) from
its delivery callbacks; after a random 0.2-1 s the broker is SIGKILLed, the producer stopped,
and the broker restarted on the same data dir and port. Then the whole partition is read from
offset 0 and checked: every record acknowledged in any round is at its acknowledged offset with
its key and value, offsets are consecutive from 0, every batch's CRC holds, and
``odradek dump-log`` finds every segment consistent.

The OS keeps a killed process's writes, so even unflushed acks=1 data must survive.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import crc32c
import pytest
from confluent_kafka import KafkaError, Message, Producer

from odradek.protocol.records.batch import ATTRIBUTES_OFFSET, HEADER_SIZE
from odradek.protocol.records.codec import decode_batches
from tests.support.broker_process import BrokerProcess
from tests.support.raw_client import RawClient

pytestmark = pytest.mark.integration

ROUNDS = 10
TOPIC = "crash-loop"
SEGMENT_BYTES = 65_536
VALUE_PADDING = b"." * 120
MESSAGES_PER_MS = 10  # producer pacing: at most ~10k records/s
FETCH_MAX_BYTES = 1_048_576


def key_for(seq: int) -> bytes:
    return f"key-{seq % 17:02d}".encode()


def value_for(round_no: int, seq: int) -> bytes:
    return f"r{round_no:02d}-{seq:07d}|".encode() + VALUE_PADDING


class SequencedProducer(threading.Thread):
    """Produces (key_for(seq), value_for(round, seq)) for seq = 0, 1, ... until stopped;
    ``acked`` maps each acknowledged offset to its (key, value)."""

    def __init__(self, bootstrap: str, round_no: int) -> None:
        super().__init__(name=f"producer-{round_no}", daemon=True)
        self.round_no = round_no
        self.acked: dict[int, tuple[bytes | None, bytes | None]] = {}
        self.failed = 0
        self.sent = 0
        self.first_ack = threading.Event()
        self.leftover = 0  # messages still held by the producer after the final purge
        self._stop_event = threading.Event()
        self._lock = threading.Lock()
        self.producer = Producer(
            {
                "bootstrap.servers": bootstrap,
                "acks": 1,
                "enable.idempotence": False,
                "retries": 0,
                "linger.ms": 2,
                "message.timeout.ms": 10_000,
                "queue.buffering.max.messages": 20_000,
                "reconnect.backoff.ms": 50,
                "reconnect.backoff.max.ms": 200,
            }
        )

    def _on_delivery(self, err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            self.failed += 1
            return
        offset = msg.offset()
        assert offset is not None and offset >= 0, f"acked without an offset: {offset}"
        with self._lock:
            previous = self.acked.setdefault(offset, (msg.key(), msg.value()))
        assert previous == (msg.key(), msg.value()), f"offset {offset} acknowledged twice"
        self.first_ack.set()

    def run(self) -> None:
        seq = 0
        started = time.monotonic()
        while not self._stop_event.is_set():
            # Pace the producer: enough to fill several small segments per round, not so much
            # that reading everything back ten times becomes the slow part.
            allowed = int((time.monotonic() - started) * 1000 * MESSAGES_PER_MS)
            if seq >= allowed:
                self.producer.poll(0.001)
                continue
            try:
                self.producer.produce(
                    TOPIC,
                    value_for(self.round_no, seq),
                    key_for(seq),
                    partition=0,
                    on_delivery=self._on_delivery,
                )
            except BufferError:
                self.producer.poll(0.005)
                continue
            seq += 1
            self.sent = seq
            self.producer.poll(0)
        # The broker is dead: drop whatever was not acknowledged and serve the callbacks. The
        # producer must hold nothing afterwards and be closed: a message left in one of its
        # queues would otherwise be sent to the restarted broker (same port) while the log is
        # being read back, moving the high watermark under the check.
        deadline = time.monotonic() + 15
        while True:
            self.producer.purge(in_queue=True, in_flight=True, blocking=True)
            self.leftover = self.producer.flush(1)
            if self.leftover == 0 or time.monotonic() > deadline:
                break
        if self.leftover == 0:
            self.producer.close()

    def stop(self) -> dict[int, tuple[bytes | None, bytes | None]]:
        self._stop_event.set()
        self.join(30)
        assert not self.is_alive(), "producer thread did not stop"
        assert self.leftover == 0, f"{self.leftover} messages survived purge and flush"
        with self._lock:
            return dict(self.acked)


def read_partition(bootstrap: str) -> tuple[list[tuple[int, bytes | None, bytes | None]], int]:
    """Every record of TOPIC-0 from offset 0 as (offset, key, value), and the high watermark.
    Checks the CRC of every batch and that offsets are consecutive from 0."""
    records: list[tuple[int, bytes | None, bytes | None]] = []
    with RawClient.to(bootstrap, timeout=15) as client:
        high_watermark = client.latest_offset(TOPIC)
        assert client.list_offsets(TOPIC, 0, -2).offset == 0, "log start moved"
        expected = 0
        while expected < high_watermark:
            data = client.fetch(TOPIC, 0, expected, max_bytes=FETCH_MAX_BYTES)
            assert data.error_code == 0, f"fetch at {expected}: error {data.error_code}"
            assert data.high_watermark == high_watermark
            raw = bytes(data.records or b"")
            assert raw, f"empty fetch at {expected} below the high watermark {high_watermark}"
            progressed = False
            for batch in decode_batches(raw):
                header = batch.header
                if header.last_offset < expected:
                    continue
                assert header.base_offset <= expected, (
                    f"gap: expected offset {expected}, next batch starts at {header.base_offset}"
                )
                for record in batch.records:
                    if record.offset < expected:
                        continue  # the fetch returned the batch holding ``expected``
                    assert record.offset == expected, (
                        f"offsets not consecutive: {record.offset} after {expected - 1}"
                    )
                    records.append((record.offset, record.key, record.value))
                    expected += 1
                    progressed = True
            assert progressed, f"fetch at {expected} returned no whole batch"
            check_crcs(raw)
    return records, high_watermark


def check_crcs(raw: bytes) -> None:
    position = 0
    while len(raw) - position >= HEADER_SIZE:
        length = int.from_bytes(raw[position + 8 : position + 12], "big", signed=True)
        end = position + 12 + length
        if end > len(raw):
            return  # a partial batch at the end of a fetch response is allowed
        stored = int.from_bytes(raw[position + 17 : position + 21], "big")
        computed = crc32c.crc32c(raw[position + ATTRIBUTES_OFFSET : end])
        offset = int.from_bytes(raw[position : position + 8], "big", signed=True)
        assert stored == computed, f"CRC mismatch in batch at offset {offset}"
        position = end


def dump_log(partition_dir: Path) -> None:
    logs = sorted(partition_dir.glob("*.log"))
    assert logs, f"no segments in {partition_dir}"
    result = subprocess.run(
        [sys.executable, "-m", "odradek", "dump-log", *map(str, logs)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, (
        f"dump-log exited {result.returncode}:\n{result.stdout[-4000:]}\n{result.stderr[-2000:]}"
    )
    assert "INCONSISTENT" not in result.stdout


def test_sigkill_during_acks1_production_loses_no_acknowledged_record(
    tmp_path: Path, record_property: Any
) -> None:
    seed = int(os.environ.get("CRASH_LOOP_SEED", time.time_ns() % 2**32))
    rng = random.Random(seed)
    record_property("seed", seed)
    broker = BrokerProcess(
        tmp_path / "data",
        overrides={
            "log.segment.bytes": str(SEGMENT_BYTES),
            "log.flush.offset.checkpoint.interval.ms": "1000",
        },
    )
    broker.start()
    try:
        with RawClient.to(broker.bootstrap) as client:
            client.create_topic(TOPIC, 1)
        partition_dir = broker.data_dir / f"{TOPIC}-0"
        acked: dict[int, tuple[bytes | None, bytes | None]] = {}
        for round_no in range(ROUNDS):
            context = f"seed {seed}, round {round_no}"
            producer = SequencedProducer(broker.bootstrap, round_no)
            producer.start()
            assert producer.first_ack.wait(15), f"{context}: nothing acknowledged"
            time.sleep(rng.uniform(0.2, 1.0))
            broker.kill()
            round_acked = producer.stop()
            del producer
            overlap = acked.keys() & round_acked.keys()
            assert not overlap, (
                f"{context}: offsets acknowledged in two rounds: {sorted(overlap)[:5]}"
            )
            acked.update(round_acked)

            broker.start()
            records, high_watermark = read_partition(broker.bootstrap)
            assert len(records) == high_watermark
            by_offset = {offset: (key, value) for offset, key, value in records}
            missing = [o for o in sorted(acked) if o not in by_offset]
            assert not missing, (
                f"{context}: acknowledged offsets lost: {missing[:10]} "
                f"({len(missing)} in all; log end now {high_watermark})\n{broker.log()}"
            )
            wrong = [(o, acked[o], by_offset[o]) for o in sorted(acked) if by_offset[o] != acked[o]]
            assert not wrong, f"{context}: acknowledged records changed: {wrong[:5]}"
            dump_log(partition_dir)
        assert len(list(partition_dir.glob("*.log"))) >= 3, "expected several segments"
        assert len(acked) >= ROUNDS * 100
    finally:
        broker.kill()
