"""KIP-848's online migration as the broker's configuration and older clients see it:
``group.consumer.migration.policy`` decides whether a classic group may be converted while it
has members, and a classic member of a converted group may keep committing with the
OffsetCommit versions it knows (aiokafka's are v2 and v3; from v9 on the generation is a
member epoch)."""

from __future__ import annotations

import asyncio
import datetime
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from confluent_kafka.admin import (  # type: ignore[attr-defined]  # the module has no __all__
    AdminClient,
    NewTopic,
)
from kio.schema.errors import ErrorCode
from kio.static.primitive import i32, i32Timedelta

from tests.integration.test_consumer_group_migration import CONSUMER, GroupConsumer, classic
from tests.integration.test_consumer_group_protocol import (
    FAST,
    NO_DELAY,
    PARTITIONS,
    produce,
    uid,
    wait_until,
)
from tests.support.broker_process import BrokerProcess
from tests.support.raw_client import RawClient, request_module

pytestmark = pytest.mark.integration

DEADLINE = 120  # seconds: the machine is loaded
HEARTBEAT = 68


def join_with_consumer_protocol(broker: BrokerProcess, group: str, topic: str) -> Any:
    """A ConsumerGroupHeartbeat joining ``group`` (member epoch 0), as a new member would."""
    module = request_module(HEARTBEAT, 0)
    request = module.ConsumerGroupHeartbeatRequest(
        group_id=group,
        member_id=str(uuid.uuid4()),
        member_epoch=i32(0),
        instance_id=None,
        rack_id=None,
        rebalance_timeout=i32Timedelta.parse(datetime.timedelta(seconds=30)),
        subscribed_topic_names=(topic,),
        server_assignor=None,
        topic_partitions=(),
    )
    with RawClient.to(broker.bootstrap) as client:
        return client.call(request)


@pytest.mark.parametrize(
    ("policy", "converted"),
    [("disabled", False), ("downgrade", False), ("upgrade", True), ("BIDIRECTIONAL", True)],
)
def test_the_migration_policy_decides_whether_a_live_classic_group_is_upgraded(
    broker_factory: Any, policy: str, converted: bool
) -> None:
    broker: BrokerProcess = broker_factory(
        overrides={**FAST, **NO_DELAY, "group.consumer.migration.policy": policy}
    )
    topic, group = uid("policy"), uid("policy-group")
    create_topic(broker, topic)
    produce(broker.bootstrap, topic, range(24))
    member = GroupConsumer(broker.bootstrap, group, topic, classic("range"))
    try:
        wait_until(lambda: bool(member.assignment()), DEADLINE, "a classic member", member.describe)
        response = join_with_consumer_protocol(broker, group, topic)
    finally:
        member.close()
    if converted:
        assert response.error_code == ErrorCode.none, response
        assert response.member_epoch > 0
    else:
        # Kafka: "Cannot upgrade classic group ... because the online upgrade is disabled."
        assert response.error_code == ErrorCode.group_id_not_found, response


def test_an_aiokafka_classic_member_keeps_committing_in_an_upgraded_group(
    broker_factory: Any,
) -> None:
    broker: BrokerProcess = broker_factory(overrides={**FAST, **NO_DELAY})
    topic, group = uid("old-commit"), uid("old-commit-group")
    create_topic(broker, topic)
    produce(broker.bootstrap, topic, range(60))
    newcomers: list[GroupConsumer] = []

    async def run() -> dict[int, int]:
        old = AIOKafkaConsumer(
            topic,
            bootstrap_servers=broker.bootstrap,
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=10_000,
            heartbeat_interval_ms=500,
        )
        await old.start()
        try:
            await until(lambda: bool(old.assignment()), old, "aiokafka to own partitions")
            newcomers.append(GroupConsumer(broker.bootstrap, group, topic, CONSUMER))
            # The upgrade takes some of aiokafka's partitions; it rejoins and keeps the rest.
            await until(
                lambda: bool(old.assignment()) and bool(newcomers[0].assignment()),
                old,
                "both members to own partitions",
            )
            owned = sorted(old.assignment(), key=lambda tp: tp.partition)
            # OffsetCommit v2/v3 from a classic member of a consumer group.
            await old.commit(dict.fromkeys(owned, 1))
            return {tp.partition: await old.committed(tp) for tp in owned}
        finally:
            await old.stop()

    try:
        committed = asyncio.run(run())
    finally:
        for newcomer in newcomers:
            newcomer.close()
    assert committed and set(committed.values()) == {1}, committed


async def until(condition: Callable[[], bool], consumer: Any, what: str) -> None:
    """Poll ``consumer`` (which drives its group membership) until ``condition`` holds."""
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await consumer.getmany(timeout_ms=200)


def create_topic(broker: BrokerProcess, topic: str) -> None:
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic(topic, PARTITIONS, 1)])[topic].result(30)
