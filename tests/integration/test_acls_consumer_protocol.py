"""Kafka 4.0's topic checks on the consumer group protocol (KAFKA-18813), with real clients:
a KIP-848 member may subscribe only to topics it may DESCRIBE (ConsumerGroupHeartbeat answers
TOPIC_AUTHORIZATION_FAILED otherwise), a regex subscription resolves only to the topics the
member may DESCRIBE, and ConsumerGroupDescribe shows nothing of a group whose members hold
topics the caller may not DESCRIBE."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]  # no __all__

from tests.integration.clients import unique_topic
from tests.integration.test_acls import (
    TIMEOUT,
    AclBroker,
    AclOperation,
    allow,
    create_acls,
    group_acl,
    start_acl_broker,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AclBroker]:
    started = start_acl_broker(
        tmp_path_factory.mktemp("acls-848"),
        **{
            "group.consumer.heartbeat.interval.ms": "500",
            "group.consumer.min.heartbeat.interval.ms": "500",
        },
    )
    yield started
    started.process.kill()


def first_error(consumer: Consumer) -> KafkaError | None:
    """The first error the consumer reports within TIMEOUT, or None when it gets an
    assignment first."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        message = consumer.poll(0.2)
        if message is not None and message.error() is not None:
            return message.error()
        if consumer.assignment():
            return None
    raise AssertionError("neither an error nor an assignment")


def test_subscribing_to_a_topic_it_may_not_describe_is_refused(broker: AclBroker) -> None:
    allowed, hidden = broker.topic("acl848-ok"), broker.topic("acl848-hidden")
    group = f"{allowed}-group"
    create_acls(
        broker, [*allow(allowed, AclOperation.READ), group_acl(group, AclOperation.READ, "alice")]
    )
    settings = {**broker.user("alice"), "group.id": group, "group.protocol": "consumer"}

    refused = Consumer(settings)
    try:
        refused.subscribe([allowed, hidden])
        error = first_error(refused)
        assert error is not None and error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    finally:
        refused.close()

    accepted = Consumer(settings)
    try:
        accepted.subscribe([allowed])
        assert first_error(accepted) is None
    finally:
        accepted.close()


def test_a_group_holding_a_topic_the_caller_may_not_describe_is_not_described(
    broker: AclBroker,
) -> None:
    topic = broker.topic("acl848-held")
    group = f"{topic}-group"
    create_acls(broker, [group_acl(group, AclOperation.DESCRIBE, "alice")])
    member = Consumer(
        {"bootstrap.servers": broker.plaintext, "group.id": group, "group.protocol": "consumer"}
    )
    alice = AdminClient(broker.user("alice"))
    try:
        member.subscribe([topic])
        assert first_error(member) is None  # the (super) member holds the topic's partition
        [as_super] = broker.admin.describe_consumer_groups([group]).values()
        assert len(as_super.result(timeout=TIMEOUT).members) == 1
        [as_alice] = alice.describe_consumer_groups([group]).values()
        with pytest.raises(KafkaException) as raised:
            as_alice.result(timeout=TIMEOUT)
        assert raised.value.args[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    finally:
        member.close()


def test_a_regex_subscription_gets_only_the_topics_the_member_may_describe(
    broker: AclBroker,
) -> None:
    """Kafka 4.0 (KAFKA-18813): the coordinator drops a regex's matches the member may not
    DESCRIBE, so alice's ``^<base>-.*`` gets the partitions of the two topics she may read
    and nothing of the third, though it matches too."""
    base = unique_topic("rx848")
    readable, hidden = [f"{base}-ok1", f"{base}-ok2"], f"{base}-hidden"
    for name in (*readable, hidden):
        broker.admin.create_topics([NewTopic(name, 2, 1)])[name].result(timeout=TIMEOUT)
    group = f"{base}-group"
    create_acls(
        broker,
        [
            *(acl for name in readable for acl in allow(name, AclOperation.READ)),
            group_acl(group, AclOperation.READ, "alice"),
        ],
    )
    wanted = {(name, p) for name in readable for p in range(2)}
    member = Consumer({**broker.user("alice"), "group.id": group, "group.protocol": "consumer"})
    try:
        member.subscribe([f"^{base}-.*"])
        deadline = time.monotonic() + TIMEOUT
        held: set[tuple[str, int]] = set()
        while time.monotonic() < deadline and held != wanted:
            member.poll(0.2)
            held = {(tp.topic, tp.partition) for tp in member.assignment()}
        assert held == wanted
        # What the coordinator assigned, as a super user sees it (librdkafka leaves out of
        # assignment() a topic id it cannot resolve, so the member alone does not tell):
        # the hidden topic's partitions are not in the member's assignment.
        [described] = broker.admin.describe_consumer_groups([group]).values()
        [alice] = described.result(timeout=TIMEOUT).members
        assigned = {(tp.topic, tp.partition) for tp in alice.assignment.topic_partitions}
        assert assigned == wanted
    finally:
        member.close()
