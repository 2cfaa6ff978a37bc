"""ConsumerGroupPartitionMetadata (``__consumer_offsets`` record type 4): the subscribed
topics' metadata a consumer group's epoch was last bumped for, as Kafka 4.0 stores it.

Kafka writes it with the epoch bump whenever the subscribed topics' metadata changes (a
member joins or leaves with new topics, a topic gains partitions), tombstones it with the
group, and replays it on load, so a coordinator that loads a group does not bump its epoch
on the first heartbeat."""

from __future__ import annotations

import uuid

from kio.schema.errors import ErrorCode as E

from odradek.coordinator.group.consumer import records as crec
from odradek.coordinator.group.consumer.manager import HeartbeatRequest
from odradek.coordinator.group.consumer.model import ConsumerGroup, ConsumerGroupMember
from tests.unit.coordinator.test_consumer_group_protocol import GROUP, TOPIC, TOPIC_ID, Harness

PAYMENTS = "payments"
PAYMENTS_ID = uuid.UUID(int=7)


def record_types(h: Harness, since: int = 0) -> list[int]:
    return [crec.key_type(a.key) for a in h.log.appended[since:]]


def partition_metadata_values(h: Harness) -> list[crec.SubscriptionMetadata | None]:
    return [
        None if a.value is None else crec.decode_partition_metadata(a.value)
        for a in h.log.appended
        if crec.key_type(a.key) == crec.PARTITION_METADATA
    ]


def test_the_record_has_kafkas_layout() -> None:
    key, value = crec.partition_metadata_record("g", {"foo": (uuid.UUID(int=1), 3)})
    assert key == b"\x00\x04" + b"\x00\x01g"  # type 4, the group id (int16-length string)
    assert value == (
        b"\x00\x00"  # value version 0
        + b"\x02"  # one topic (compact array)
        + uuid.UUID(int=1).bytes
        + b"\x04foo"  # compact string
        + b"\x00\x00\x00\x03"  # NumPartitions
        + b"\x01"  # PartitionMetadata: empty (unused since Kafka 4.0)
        + b"\x00"  # the topic's tagged fields
        + b"\x00"  # the value's tagged fields
    )
    assert crec.decode_key(key) == crec.RecordKey(crec.PARTITION_METADATA, "g")
    assert crec.decode_partition_metadata(value) == {"foo": (uuid.UUID(int=1), 3)}


def test_racks_written_by_older_kafka_are_read_past() -> None:
    """Kafka 3.x filled PartitionMetadata with each partition's racks."""
    racks = b"\x03" + (b"\x00\x00\x00\x00" + b"\x02\x03r1" + b"\x00") * 2
    value = b"\x00\x00\x02" + uuid.UUID(int=1).bytes + b"\x04foo\x00\x00\x00\x02" + racks
    value += b"\x00\x00"
    assert crec.decode_partition_metadata(value) == {"foo": (uuid.UUID(int=1), 2)}


def test_a_join_writes_it_before_the_epoch_bump() -> None:
    h = Harness()
    h.join("a")
    types = record_types(h)
    assert types[:3] == [crec.MEMBER_METADATA, crec.PARTITION_METADATA, crec.GROUP_METADATA]
    assert partition_metadata_values(h) == [{TOPIC: (TOPIC_ID, 12)}]
    h.join("b")  # same topics: a membership bump only
    assert partition_metadata_values(h) == [{TOPIC: (TOPIC_ID, 12)}]


def test_more_partitions_rewrite_it_and_bump_the_epoch() -> None:
    h = Harness()
    h.join("a")
    h.topics.topics[TOPIC] = (TOPIC_ID, 16)
    result = h.heartbeat("a", 1)
    assert result.member_epoch == 2
    assert partition_metadata_values(h)[-1] == {TOPIC: (TOPIC_ID, 16)}


def test_a_member_leaving_with_its_own_topic_rewrites_it() -> None:
    h = Harness()
    h.topics.topics[PAYMENTS] = (PAYMENTS_ID, 3)
    h.join("a")
    h.join("b", subscribed_topic_names=(TOPIC, PAYMENTS))
    assert partition_metadata_values(h)[-1] == {TOPIC: (TOPIC_ID, 12), PAYMENTS: (PAYMENTS_ID, 3)}
    before = len(h.log.appended)
    h.heartbeat("b", -1)
    assert record_types(h, before)[-2:] == [crec.PARTITION_METADATA, crec.GROUP_METADATA]
    assert partition_metadata_values(h)[-1] == {TOPIC: (TOPIC_ID, 12)}


def test_a_loaded_group_keeps_its_epoch_on_the_first_heartbeat() -> None:
    h = Harness()
    h.join("a")
    h.join("b")
    loaded = h.replayed()
    group = loaded.consumer_group(GROUP)
    assert group is not None and group.group_epoch == 2
    assert group.subscription_metadata == {TOPIC: (TOPIC_ID, 12)}
    epoch = group.members["b"].member_epoch
    result = loaded.consumer_group_heartbeat(
        HeartbeatRequest(group_id=GROUP, member_id="b", member_epoch=epoch, owned=None)
    )
    assert (result.error, result.member_epoch) == (E.none, epoch)
    assert group.group_epoch == 2  # before type 4 was stored, a load cost a rebalance


def test_the_group_tombstones_remove_it() -> None:
    group = ConsumerGroup(GROUP, members={"m": ConsumerGroupMember("m")})
    types = [crec.key_type(key) for key, value in crec.group_tombstones(group)]
    assert types[-2:] == [crec.PARTITION_METADATA, crec.GROUP_METADATA]
    h = Harness()
    for key, value in crec.group_tombstones(group):
        h.coordinator.replay(key, value)  # tombstones of a group never loaded: no-ops
    assert h.coordinator.consumer_group(GROUP) is None
