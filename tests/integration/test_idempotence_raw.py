"""Idempotent and transactional produce by hand over a raw socket: batches built byte for byte
with a producer id from InitProducerId, so the broker's sequence and epoch checks are tested
exactly as Kafka specifies them (ProducerStateManager / ProducerAppendInfo):

* a retried batch (same producer id, epoch, sequence) is acknowledged with the offset it got
  the first time and stored once — also after a restart or a crash;
* a gap in sequence numbers is OUT_OF_ORDER_SEQUENCE_NUMBER (45);
* an epoch older than the partition's is INVALID_PRODUCER_EPOCH (47).
"""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from typing import Any

import pytest

from odradek.protocol.records.batch import TRANSACTIONAL_FLAG
from odradek.protocol.records.codec import decode_batches, encode_batch
from tests.support.broker_process import BrokerProcess
from tests.support.raw_client import FETCH, RawClient, request_module

pytestmark = pytest.mark.integration

INIT_PRODUCER_ID, ADD_PARTITIONS_TO_TXN, END_TXN, FIND_COORDINATOR = 22, 24, 26, 10
NONE = 0
OUT_OF_ORDER_SEQUENCE_NUMBER = 45
INVALID_PRODUCER_EPOCH = 47
PRODUCER_FENCED = 90
READ_COMMITTED = 1


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def init_producer_id(
    client: RawClient, transactional_id: str | None = None, timeout_ms: int = 60_000
) -> tuple[int, int]:
    mod = request_module(INIT_PRODUCER_ID, 4)
    response = client.call(
        mod.InitProducerIdRequest(
            transactional_id=transactional_id,
            transaction_timeout=timedelta(milliseconds=timeout_ms),
            producer_id=-1,
            producer_epoch=-1,
        )
    )
    assert response.error_code == NONE, response
    return int(response.producer_id), int(response.producer_epoch)


def batch(
    pid: int, epoch: int, seq: int, values: list[bytes], transactional: bool = False
) -> bytes:
    return encode_batch(
        [(None, v) for v in values],
        timestamp=int(time.time() * 1000),
        producer_id=pid,
        producer_epoch=epoch,
        base_sequence=seq,
        attributes=TRANSACTIONAL_FLAG if transactional else 0,
    )


def produce(client: RawClient, topic: str, data: bytes) -> tuple[int, int]:
    """(error code, base offset)."""
    result = client.produce(topic, 0, data, acks=-1)
    return int(result.error_code), int(result.base_offset)


def stored_values(client: RawClient, topic: str, isolation: int = 0) -> list[bytes | None]:
    """The record values of partition 0 as a consumer with ``isolation`` sees them: for
    read_committed, batches of the aborted transactions the response lists are dropped, as
    clients do (up to the producer's next control batch)."""
    mod = request_module(FETCH, 12)
    response = client.call(
        mod.FetchRequest(
            replica_id=-1,
            max_wait=timedelta(0),
            min_bytes=1,
            max_bytes=1 << 20,
            isolation_level=isolation,
            session_id=0,
            session_epoch=-1,
            topics=(
                mod.FetchTopic(
                    topic=topic,
                    partitions=(
                        mod.FetchPartition(
                            partition=0, fetch_offset=0, partition_max_bytes=1 << 20
                        ),
                    ),
                ),
            ),
            forgotten_topics_data=(),
            rack_id="",
        )
    )
    part = response.responses[0].partitions[0]
    assert part.error_code == NONE
    aborted = sorted((t.first_offset, t.producer_id) for t in part.aborted_transactions or ())
    skipping: set[int] = set()
    values: list[bytes | None] = []
    for b in decode_batches(part.records):
        header = b.header
        while aborted and aborted[0][0] <= header.base_offset:
            skipping.add(aborted.pop(0)[1])
        if header.is_control:
            skipping.discard(header.producer_id)
        elif not (header.is_transactional and header.producer_id in skipping):
            values += [r.value for r in b.records]
    return values


@pytest.fixture
def client(broker: BrokerProcess) -> Any:
    with RawClient.to(broker.bootstrap) as c:
        yield c


def test_duplicate_batch_is_acknowledged_with_original_offset(client: RawClient) -> None:
    topic = unique("idem-dup")
    client.create_topic(topic)
    pid, epoch = init_producer_id(client)
    assert pid >= 0
    assert epoch == 0
    first = batch(pid, epoch, 0, [b"a", b"b", b"c"])
    assert produce(client, topic, first) == (NONE, 0)
    assert produce(client, topic, batch(pid, epoch, 3, [b"d"])) == (NONE, 3)
    # the retry of the first batch: the original offset, nothing appended
    assert produce(client, topic, first) == (NONE, 0)
    # and of the last one
    assert produce(client, topic, batch(pid, epoch, 3, [b"d"])) == (NONE, 3)
    assert client.latest_offset(topic) == 4
    assert stored_values(client, topic) == [b"a", b"b", b"c", b"d"]
    # the sequence continues after the retries
    assert produce(client, topic, batch(pid, epoch, 4, [b"e"])) == (NONE, 4)


def test_sequence_gap_is_out_of_order(client: RawClient) -> None:
    topic = unique("idem-gap")
    client.create_topic(topic)
    pid, epoch = init_producer_id(client)
    assert produce(client, topic, batch(pid, epoch, 0, [b"a", b"b"])) == (NONE, 0)
    error, _ = produce(client, topic, batch(pid, epoch, 5, [b"x"]))
    assert error == OUT_OF_ORDER_SEQUENCE_NUMBER
    error, _ = produce(client, topic, batch(pid, epoch, 1, [b"y"]))  # overlaps, not a retry
    assert error == OUT_OF_ORDER_SEQUENCE_NUMBER
    assert produce(client, topic, batch(pid, epoch, 2, [b"c"])) == (NONE, 2)
    assert stored_values(client, topic) == [b"a", b"b", b"c"]


def test_new_epoch_must_start_at_sequence_zero(client: RawClient) -> None:
    topic = unique("idem-epoch-seq")
    client.create_topic(topic)
    pid, epoch = init_producer_id(client)
    assert produce(client, topic, batch(pid, epoch, 0, [b"a"]))[0] == NONE
    error, _ = produce(client, topic, batch(pid, epoch + 1, 1, [b"b"]))
    assert error == OUT_OF_ORDER_SEQUENCE_NUMBER
    assert produce(client, topic, batch(pid, epoch + 1, 0, [b"b"])) == (NONE, 1)


def test_older_epoch_is_rejected(client: RawClient) -> None:
    topic = unique("idem-epoch")
    client.create_topic(topic)
    pid, _ = init_producer_id(client)
    assert produce(client, topic, batch(pid, 0, 0, [b"a"])) == (NONE, 0)
    # the producer bumped its epoch (KIP-360): sequences restart at 0
    assert produce(client, topic, batch(pid, 1, 0, [b"b"])) == (NONE, 1)
    error, _ = produce(client, topic, batch(pid, 0, 1, [b"stale"]))
    assert error == INVALID_PRODUCER_EPOCH
    # even the exact retry of the epoch-0 batch is refused now
    error, _ = produce(client, topic, batch(pid, 0, 0, [b"a"]))
    assert error == INVALID_PRODUCER_EPOCH
    assert stored_values(client, topic) == [b"a", b"b"]


def test_fenced_transactional_producer_gets_invalid_epoch(client: RawClient) -> None:
    """A second InitProducerId for the same transactional id aborts the first producer's
    transaction with a bumped epoch: its batches are then refused by the partition."""
    topic = unique("idem-fenced")
    client.create_topic(topic)
    tid = unique("tid")
    pid, epoch = init_producer_id(client, tid)
    add = request_module(ADD_PARTITIONS_TO_TXN, 3)
    response = client.call(
        add.AddPartitionsToTxnRequest(
            v3_and_below_transactional_id=tid,
            v3_and_below_producer_id=pid,
            v3_and_below_producer_epoch=epoch,
            v3_and_below_topics=(add.AddPartitionsToTxnTopic(name=topic, partitions=(0,)),),
        )
    )
    assert (
        response.results_by_topic_v3_and_below[0].results_by_partition[0].partition_error_code
        == NONE
    )
    assert produce(client, topic, batch(pid, epoch, 0, [b"t0"], transactional=True)) == (NONE, 0)
    pid2, epoch2 = init_producer_id(client, tid)
    assert pid2 == pid
    assert epoch2 > epoch
    error, _ = produce(client, topic, batch(pid, epoch, 1, [b"t1"], transactional=True))
    assert error == INVALID_PRODUCER_EPOCH
    end = request_module(END_TXN, 3)
    response = client.call(
        end.EndTxnRequest(
            transactional_id=tid, producer_id=pid, producer_epoch=epoch, committed=True
        )
    )
    assert response.error_code == PRODUCER_FENCED
    assert stored_values(client, topic, READ_COMMITTED) == []
    assert stored_values(client, topic) == [b"t0"]


@pytest.mark.parametrize("crash", [False, True], ids=["clean-restart", "sigkill"])
def test_duplicate_detected_after_restart(broker: BrokerProcess, crash: bool) -> None:
    topic = unique("idem-restart")
    with RawClient.to(broker.bootstrap) as client:
        client.create_topic(topic)
        pid, epoch = init_producer_id(client)
        batches = [
            batch(pid, epoch, 2 * i, [b"%d" % (2 * i), b"%d" % (2 * i + 1)]) for i in range(3)
        ]
        for i, data in enumerate(batches):
            assert produce(client, topic, data) == (NONE, 2 * i)
    if crash:
        broker.kill()
        broker.start()
    else:
        broker.restart()
    with RawClient.to(broker.bootstrap) as client:
        assert produce(client, topic, batches[-1]) == (NONE, 4)
        error, _ = produce(client, topic, batch(pid, epoch, 7, [b"gap"]))
        assert error == OUT_OF_ORDER_SEQUENCE_NUMBER
        assert produce(client, topic, batch(pid, epoch, 6, [b"6"])) == (NONE, 6)
        assert stored_values(client, topic) == [b"%d" % i for i in range(7)]


def test_retry_older_than_the_cached_batches_is_out_of_order(client: RawClient) -> None:
    """The broker remembers a producer's last five batches (Kafka's
    NUM_BATCHES_TO_RETAIN); an older retry cannot be matched and is out of order."""
    topic = unique("idem-old")
    client.create_topic(topic)
    pid, epoch = init_producer_id(client)
    batches = [batch(pid, epoch, i, [b"%d" % i]) for i in range(7)]
    for i, data in enumerate(batches):
        assert produce(client, topic, data) == (NONE, i)
    for i in range(2, 7):
        assert produce(client, topic, batches[i]) == (NONE, i)  # within the last five
    error, _ = produce(client, topic, batches[1])
    assert error == OUT_OF_ORDER_SEQUENCE_NUMBER
    assert len(stored_values(client, topic)) == 7


def test_sequence_wraps_after_int32_max(client: RawClient) -> None:
    topic = unique("idem-wrap")
    client.create_topic(topic)
    pid, epoch = init_producer_id(client)
    top = 2**31 - 1
    # a producer the partition does not know yet may start at any sequence
    wrapping = batch(pid, epoch, top - 1, [b"a", b"b", b"c"])  # sequences MAX-1, MAX, 0
    assert produce(client, topic, wrapping) == (NONE, 0)
    assert produce(client, topic, batch(pid, epoch, 1, [b"d"])) == (NONE, 3)
    assert produce(client, topic, wrapping) == (NONE, 0)  # its retry
    error, _ = produce(client, topic, batch(pid, epoch, 0, [b"x"]))
    assert error == OUT_OF_ORDER_SEQUENCE_NUMBER
    assert stored_values(client, topic) == [b"a", b"b", b"c", b"d"]


def test_producer_ids_are_not_reused_after_a_crash(broker: BrokerProcess) -> None:
    with RawClient.to(broker.bootstrap) as client:
        before = [init_producer_id(client)[0] for _ in range(3)]
        before.append(init_producer_id(client, unique("tid"))[0])
    broker.kill()
    broker.start()
    with RawClient.to(broker.bootstrap) as client:
        after = [init_producer_id(client)[0] for _ in range(3)]
    assert len(set(before)) == len(before)
    assert min(after) > max(before)
