"""``group.coordinator.append.linger.ms``: Kafka's group coordinator answers a request that
wrote group records once the linger window's batch is flushed; a request that wrote nothing
is answered at once. A long linger makes the hold visible without measuring anything fine:
only lower bounds on the writing requests, and a bound far above a round trip on the other."""

from __future__ import annotations

import datetime
import time
import uuid
from typing import Any

import pytest
from kio.schema.errors import ErrorCode
from kio.static.primitive import i32, i32Timedelta

from tests.integration.test_consumer_group_migration_policy import HEARTBEAT, create_topic
from tests.integration.test_consumer_group_protocol import FAST, uid
from tests.support.broker_process import BrokerProcess
from tests.support.raw_client import RawClient, request_module

pytestmark = pytest.mark.integration

LINGER_S = 2.0


def heartbeat(client: RawClient, group: str, member_id: str, epoch: int, topic: str) -> Any:
    module = request_module(HEARTBEAT, 0)
    joining = epoch == 0
    return client.call(
        module.ConsumerGroupHeartbeatRequest(
            group_id=group,
            member_id=member_id,
            member_epoch=i32(epoch),
            instance_id=None,
            rack_id=None,
            rebalance_timeout=i32Timedelta.parse(
                datetime.timedelta(seconds=30 if joining else -0.001)
            ),
            subscribed_topic_names=(topic,) if joining else None,
            server_assignor=None,
            topic_partitions=() if joining else None,
        )
    )


def timed(call: Any) -> tuple[Any, float]:
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


def test_a_writing_heartbeat_is_answered_when_the_linger_window_closes(
    broker_factory: Any,
) -> None:
    broker: BrokerProcess = broker_factory(
        overrides={**FAST, "group.coordinator.append.linger.ms": str(int(LINGER_S * 1000))}
    )
    topic, group = uid("linger"), uid("linger-group")
    create_topic(broker, topic)
    member_id = str(uuid.uuid4())
    with RawClient.to(broker.bootstrap, timeout=30) as client:
        joined, join_s = timed(lambda: heartbeat(client, group, member_id, 0, topic))
        assert joined.error_code == ErrorCode.none
        assert join_s >= LINGER_S * 0.99  # the join wrote the member's records
        epoch = int(joined.member_epoch)
        steady, steady_s = timed(lambda: heartbeat(client, group, member_id, epoch, topic))
        assert steady.error_code == ErrorCode.none and int(steady.member_epoch) == epoch
        assert steady_s < LINGER_S  # nothing changed, nothing written: not held
        left, leave_s = timed(lambda: heartbeat(client, group, member_id, -1, topic))
        assert int(left.member_epoch) == -1
        assert leave_s >= LINGER_S * 0.99  # the leave wrote tombstones
