"""Admin behaviour librdkafka's 0081_admin checks against Kafka 3.8+: ListOffsets
MAX_TIMESTAMP names the record that has the largest timestamp (not its batch's last offset,
KAFKA-16310), and AlterConfigs on a broker accepts Kafka's dynamic settings."""

from __future__ import annotations

import time
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import (  # type: ignore[attr-defined]  # the module has no __all__
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ConfigSource,
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


def _broker_configs(admin: AdminClient) -> dict[str, Any]:
    resource = ConfigResource(ConfigResource.Type.BROKER, "0")
    [future] = admin.describe_configs([resource]).values()
    return dict(future.result(timeout=30))


def _alter(admin: AdminClient, *entries: ConfigEntry) -> None:
    resource = ConfigResource(ConfigResource.Type.BROKER, "0", incremental_configs=list(entries))
    [future] = admin.incremental_alter_configs([resource]).values()
    future.result(timeout=30)


def test_unknown_broker_config_names_are_stored_as_zookeeper_mode_kafka_does(
    broker: BrokerProcess,
) -> None:
    """ZooKeeper-mode Kafka validates the broker config names it knows and stores the others
    as given (DynamicBrokerConfig.validateConfigs): ``my.custom`` or a topic config name such
    as ``cleanup.policy`` set on a broker is kept, survives a restart and is described (as
    Kafka describes a config whose type it cannot tell: sensitive, so without its value,
    read-only). A known static config still cannot be changed dynamically, and appending to
    an unknown name is refused as Kafka refuses it."""
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    set_op = AlterConfigOpType.SET
    _alter(
        admin,
        ConfigEntry("my.custom", "42", incremental_operation=set_op),
        ConfigEntry("cleanup.policy", "compact", incremental_operation=set_op),
    )
    for name in ("my.custom", "cleanup.policy"):
        entry = _broker_configs(admin)[name]
        assert entry.source == ConfigSource.DYNAMIC_BROKER_CONFIG.value, entry
        assert (entry.value, entry.is_sensitive, entry.is_read_only) == (None, True, True)

    with pytest.raises(KafkaException) as refused:
        _alter(admin, ConfigEntry("log.dirs", "/elsewhere", incremental_operation=set_op))
    assert refused.value.args[0].code() == KafkaError.INVALID_REQUEST
    append = AlterConfigOpType.APPEND
    with pytest.raises(KafkaException) as refused:
        _alter(admin, ConfigEntry("my.custom", "43", incremental_operation=append))
    assert refused.value.args[0].code() == KafkaError.INVALID_CONFIG

    broker.restart()
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    assert {"my.custom", "cleanup.policy"} <= set(_broker_configs(admin))
    _alter(admin, ConfigEntry("my.custom", None, incremental_operation=AlterConfigOpType.DELETE))
    described = _broker_configs(admin)
    assert "my.custom" not in described
    assert "cleanup.policy" in described
