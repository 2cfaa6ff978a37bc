"""Requests pipelined on one connection see the effect of the metadata changes sent before
them, as in Kafka (one request per connection at a time), even though odradek writes the
metadata after an await; responses come back in request order."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from tests.support.broker_process import BrokerProcess
from tests.support.raw_client import RawClient, request_module

CREATE_TOPICS, DELETE_TOPICS, METADATA = 19, 20, 3


def _create(name: str, partitions: int = 2) -> Any:
    mod = request_module(CREATE_TOPICS, 7)
    return mod.CreateTopicsRequest(
        topics=(
            mod.CreatableTopic(
                name=name,
                num_partitions=partitions,
                replication_factor=1,
                assignments=(),
                configs=(),
            ),
        ),
        timeout=timedelta(seconds=10),
    )


def _delete(name: str) -> Any:
    mod = request_module(DELETE_TOPICS, 6)
    return mod.DeleteTopicsRequest(
        topics=(mod.DeleteTopicState(name=name, topic_id=None),), timeout=timedelta(seconds=10)
    )


def _metadata(name: str) -> Any:
    mod = request_module(METADATA, 12)
    return mod.MetadataRequest(
        topics=(mod.MetadataRequestTopic(topic_id=None, name=name),),
        allow_auto_topic_creation=False,
        include_topic_authorized_operations=False,
    )


def test_pipelined_requests_see_earlier_metadata_changes(broker: BrokerProcess) -> None:
    name = f"pipelined-{uuid.uuid4().hex[:8]}"
    with RawClient.to(broker.bootstrap) as raw:
        sent = [
            raw.send(_create(name)),
            raw.send(_metadata(name)),
            raw.send(_delete(name)),
            raw.send(_create(name, partitions=3)),
            raw.send(_metadata(name)),
        ]
        keys = [
            (CREATE_TOPICS, 7),
            (METADATA, 12),
            (DELETE_TOPICS, 6),
            (CREATE_TOPICS, 7),
            (METADATA, 12),
        ]
        answers = []
        for correlation_id, (key, version) in zip(sent, keys, strict=True):
            got, body = raw.receive(key, version)
            assert got == correlation_id
            answers.append(body)
    created, described, deleted, recreated, described_again = answers
    assert created.topics[0].error_code == 0
    assert described.topics[0].error_code == 0
    assert len(described.topics[0].partitions) == 2
    assert deleted.responses[0].error_code == 0
    assert recreated.topics[0].error_code == 0, recreated.topics[0].error_message
    assert len(described_again.topics[0].partitions) == 3
