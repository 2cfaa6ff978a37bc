"""One member of the ingest group: a read_committed Kafka consumer whose positions come from
the target, never from Kafka's committed offsets.

On every assignment (start and rebalance) it reads the stored offsets of its new partitions
from the target and starts there; it writes each block with its offsets in one transaction,
then commits the same offsets to Kafka, only so that lag shows in consumer-group tools."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, Consumer, KafkaException
from confluent_kafka import TopicPartition as KafkaPartition

from odradek.common.client_logs import log_settings
from odradek.ingest.batch import Batch, Positions, WriteJob
from odradek.ingest.cluster_state import ClusterState
from odradek.ingest.errors import IngestError, OffsetConflict, TargetUnavailable
from odradek.ingest.rows import RowBuilder
from odradek.ingest.settings import IngestSettings
from odradek.ingest.status import ConsumerStatus
from odradek.ingest.targets.base import Destination, Session

log = logging.getLogger(__name__)

RETRY_BACKOFF_S = (0.5, 1.0, 2.0, 5.0, 10.0)
WATERMARK_INTERVAL_S = 1.0


def kafka_config(settings: IngestSettings, index: int) -> dict[str, Any]:
    """librdkafka settings of consumer ``index``: exactly-once needs read_committed and no
    automatic commit; ``--consumer-property`` adds or overrides the rest. librdkafka's own log
    only with ``--verbose`` (``odradek.common.client_logs``)."""
    config: dict[str, Any] = {
        "bootstrap.servers": settings.bootstrap_server,
        "group.id": settings.group,
        "client.id": settings.client_id or f"odradek-ingest-{settings.table}",
        "isolation.level": "read_committed",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": settings.auto_offset_reset,
        "enable.partition.eof": False,
    }
    config.update(settings.consumer_properties)
    instance = config.get("group.instance.id")
    if instance and settings.consumers > 1:
        config["group.instance.id"] = f"{instance}-{index}"
    for forced in ("isolation.level", "enable.auto.commit"):
        if str(config[forced]).lower() not in ("read_committed", "false"):
            raise IngestError(f"{forced} cannot be changed: exactly-once depends on it")
    config.update(log_settings(config))
    return config


class IngestConsumer:
    """Polls records into blocks and writes them; runs until ``stop`` is set."""

    def __init__(
        self,
        settings: IngestSettings,
        index: int,
        destination: Destination,
        session_factory: Callable[[], Session],
        builder: RowBuilder,
        status: ConsumerStatus,
        stop: threading.Event,
        paused: threading.Event,
    ) -> None:
        self.settings = settings
        self.destination = destination
        self.session_factory = session_factory
        self.session = session_factory()
        self.status = status
        self.stop = stop
        self.paused = paused
        self.positions = Positions()
        self.batch = Batch(
            builder,
            self.positions,
            skip_broken=settings.skip_broken_messages,
            stream_errors=settings.handle_error_mode == "stream",
        )
        config = kafka_config(settings, index)
        self.cluster = ClusterState(settings.bootstrap_server, config, status.exception)
        self.consumer = Consumer({**config, "error_cb": self.cluster.error})
        self._is_paused = False
        self._watermarks_at = 0.0

    # -- rebalance callbacks (run inside poll, on this thread) ----------------------------

    def _on_assign(self, consumer: Consumer, partitions: list[KafkaPartition]) -> None:
        tps = [(p.topic, p.partition) for p in partitions]
        stored = self.session.stored_offsets(self.destination, tps)
        self.positions.assign(stored, self.session.pending_blocks(self.destination, tps))
        self.status.assigned(stored)
        for p in partitions:
            offset = stored[(p.topic, p.partition)]
            p.offset = self._reset_offset() if offset is None else offset
        consumer.assign(partitions)
        if self._is_paused:
            consumer.pause(partitions)
        log.info("assigned %s", ", ".join(f"{t}[{p}]@{stored[(t, p)]}" for t, p in sorted(tps)))

    def _on_revoke(self, consumer: Consumer, partitions: list[KafkaPartition]) -> None:
        tps = [(p.topic, p.partition) for p in partitions]
        try:
            self._flush()
        except (OffsetConflict, TargetUnavailable) as exc:  # read again by the next owner
            self.status.exception(f"{type(exc).__name__}: {exc}")
        self.batch.drop()
        self.positions.revoke(tps)
        self.status.revoked(tps)
        consumer.unassign()

    def _on_lost(self, consumer: Consumer, partitions: list[KafkaPartition]) -> None:
        # Lost, not revoked: another member may own them already; the pending block is
        # dropped (its records are read again by whoever owns them from the stored offsets).
        tps = [(p.topic, p.partition) for p in partitions]
        self.batch.drop()
        self.positions.revoke(tps)
        self.status.revoked(tps)
        consumer.unassign()

    # -- the loop ---------------------------------------------------------------------------

    def run(self) -> None:
        self.consumer.subscribe(
            list(self.settings.topics),
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_lost,
        )
        failures = 0
        try:
            while not self.stop.is_set():
                try:
                    self._turn()
                    failures = 0
                except (IngestError, KafkaException) as exc:
                    if not self._recoverable(exc):
                        raise
                    failures += 1
                    self._recover(exc, failures)
            self._flush()
        except BaseException:
            self.batch.drop()  # a failed block is not written, not even by the revocation
            raise
        finally:
            self._close()

    def _turn(self) -> None:
        self._follow_pause()
        timeout = self.settings.poll_timeout_ms / 1000
        messages = self.consumer.consume(self.settings.batch_size, timeout)
        now = time.monotonic()
        taken = 0
        for message in messages:
            error = message.error()
            if error is not None:
                self.cluster.error(error)
                continue
            taken += self.batch.add(message, now)
            if self.batch.replay_complete:  # before any record past its end is added
                self._flush()
        if self.cluster.fatal is not None:
            raise KafkaException(self.cluster.fatal)
        self.cluster.follow()
        self.status.polled(taken)
        every_batch = self.settings.commit_every_batch and taken
        interval = self.settings.flush_interval_ms / 1000
        if every_batch or self.batch.due(now, self.settings.max_block_size, interval):
            self._flush()
        self._update_watermarks(now)

    def _flush(self) -> None:
        """Write the pending block with its offsets, then tell Kafka (for lag only)."""
        if not self.batch.job.records:
            return
        job = self.batch.take()
        if not job.partitions:  # only a replay short of its end: not yet
            return
        self.session.write(self.destination, job)
        self.positions.written(job)
        self.status.committed(job)
        self._commit_to_kafka(job)

    def _commit_to_kafka(self, job: WriteJob) -> None:
        partitions = [KafkaPartition(t, p, b.next) for (t, p), b in job.partitions.items()]
        try:
            self.consumer.commit(offsets=partitions, asynchronous=True)
        except KafkaException as exc:  # lag reporting only: the target has the offsets
            log.debug("offset commit to Kafka failed: %s", exc)

    def _follow_pause(self) -> None:
        want = self.paused.is_set()
        if want == self._is_paused:
            return
        assignment = self.consumer.assignment()
        if want:
            self._flush()
            self.consumer.pause(assignment)
        else:
            self.consumer.resume(assignment)
        self._is_paused = want
        self.status.is_paused = want

    def _update_watermarks(self, now: float) -> None:
        if now - self._watermarks_at < WATERMARK_INTERVAL_S:
            return
        self._watermarks_at = now
        highs = {}
        for tp in list(self.positions.stored):
            try:
                _, high = self.consumer.get_watermark_offsets(KafkaPartition(*tp), cached=True)
            except KafkaException:
                continue
            if high >= 0:
                highs[tp] = high
        self.status.watermarks(highs)

    # -- failures ---------------------------------------------------------------------------

    @staticmethod
    def _recoverable(exc: Exception) -> bool:
        if isinstance(exc, OffsetConflict):
            return True
        if isinstance(exc, KafkaException):
            return not exc.args[0].fatal()
        return isinstance(exc, TargetUnavailable)

    def _recover(self, exc: Exception, failures: int) -> None:
        """Drop the pending block and start again from the offsets the target holds (a new
        target connection first, unless the offsets moved under us)."""
        text = f"{type(exc).__name__}: {exc}"
        self.status.exception(text)
        log.warning("%s; continuing from the offsets stored in the target", text)
        self.batch.drop()
        if not isinstance(exc, OffsetConflict):
            self.stop.wait(RETRY_BACKOFF_S[min(failures, len(RETRY_BACKOFF_S)) - 1])
            self.session.close()
            self.session = self.session_factory()
        self._seek_to_stored()

    def _seek_to_stored(self) -> None:
        assignment = self.consumer.assignment()
        tps = [(p.topic, p.partition) for p in assignment]
        stored = self.session.stored_offsets(self.destination, tps)
        self.positions.assign(stored, self.session.pending_blocks(self.destination, tps))
        for partition in assignment:
            offset = stored[(partition.topic, partition.partition)]
            partition.offset = self._reset_offset() if offset is None else offset
            self.consumer.seek(partition)

    def _reset_offset(self) -> int:
        return OFFSET_BEGINNING if self.settings.auto_offset_reset == "earliest" else OFFSET_END

    def _close(self) -> None:
        try:
            self.consumer.close()
        finally:
            self.session.close()
