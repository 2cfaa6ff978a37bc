"""Leader epoch fencing on Fetch and ListOffsets, and delete.topic.enable=false."""

from __future__ import annotations

import dataclasses

import pytest
from confluent_kafka.admin import (  # type: ignore[attr-defined]  # the module has no __all__
    AdminClient,
    NewTopic,
)

from tests.support.broker_process import BrokerProcess

pytestmark = pytest.mark.integration


def test_delete_topic_disabled(broker_factory) -> None:  # type: ignore[no-untyped-def]
    broker: BrokerProcess = broker_factory(overrides={"delete.topic.enable": "false"})
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic("keep-me", 1, 1)])["keep-me"].result(15)
    with pytest.raises(Exception) as failure:
        admin.delete_topics(["keep-me"])["keep-me"].result(15)
    assert "TOPIC_DELETION_DISABLED" in str(failure.value) or "disabled" in str(failure.value)
    assert "keep-me" in admin.list_topics(timeout=10).topics


@pytest.mark.parametrize(("epoch", "expected"), [(-1, 0), (0, 0), (1, 75)])
def test_fetch_checks_the_current_leader_epoch(
    broker: BrokerProcess, epoch: int, expected: int
) -> None:
    """-1 skips the check; the partition's epoch (0 on a single node) is served; a newer
    epoch than this broker knows is UNKNOWN_LEADER_EPOCH (75), as in Kafka."""
    from tests.support.raw_client import RawClient

    client = RawClient.to(broker.bootstrap)
    try:
        client.create_topic("epochs")
        request = client.fetch_request("epochs", 0, 0)
        topic = request.topics[0]
        partition = type(topic.partitions[0])(
            partition=0, current_leader_epoch=epoch, fetch_offset=0, partition_max_bytes=1_048_576
        )
        request = dataclasses.replace(
            request, topics=(type(topic)(topic="epochs", partitions=(partition,)),)
        )
        response = client.call(request)
        assert response.responses[0].partitions[0].error_code == expected
    finally:
        client.close()
