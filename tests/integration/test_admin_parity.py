"""Admin behaviour librdkafka's 0081_admin checks against Kafka 3.8+: ListOffsets
MAX_TIMESTAMP names the record that has the largest timestamp (not its batch's last offset,
KAFKA-16310), and AlterConfigs on a broker accepts Kafka's dynamic settings."""

from __future__ import annotations

import time

import pytest
from confluent_kafka.admin import (  # type: ignore[attr-defined]  # the module has no __all__
    AdminClient,
    ConfigResource,
)

from odradek.protocol.records.codec import encode_batch
from tests.integration.clients import unique_topic
from tests.support.broker_process import BrokerProcess
from tests.support.raw_client import RawClient

pytestmark = pytest.mark.integration

MAX_TIMESTAMP = -3


def test_max_timestamp_offset_is_the_records(shared_broker: BrokerProcess) -> None:
    topic = unique_topic("maxts")
    now = int(time.time() * 1000)
    with RawClient.to(shared_broker.bootstrap) as client:
        client.create_topic(topic, 1)
        batch = encode_batch(
            [(None, b"a"), (None, b"b"), (None, b"c")],
            timestamps=[now + 100, now + 400, now + 250],
        )
        assert client.produce(topic, 0, batch).error_code == 0
        partition = client.list_offsets(topic, 0, MAX_TIMESTAMP)
    assert (partition.offset, partition.timestamp) == (1, now + 400)


def test_broker_dynamic_configs_kafka_accepts(shared_broker: BrokerProcess) -> None:
    admin = AdminClient({"bootstrap.servers": shared_broker.bootstrap})
    resource = ConfigResource(
        ConfigResource.Type.BROKER,
        "0",
        set_config={"sasl.kerberos.min.time.before.relogin": "58000", "background.threads": "8"},
    )
    for future in admin.alter_configs([resource]).values():
        future.result(timeout=30)
