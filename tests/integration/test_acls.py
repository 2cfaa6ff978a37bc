"""Kafka's ACLs with real clients: a broker process with Kafka's AclAuthorizer, a PLAINTEXT
listener for setup (its ``User:ANONYMOUS`` is a super user) and a SASL_PLAINTEXT one where
alice and bob log in with PLAIN. confluent-kafka's AdminClient creates, describes and
deletes ACLs; producers, consumers and admin requests get Kafka's error codes."""

from __future__ import annotations

import importlib
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import (  # type: ignore[attr-defined]  # the module has no __all__
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewTopic,
)

from odradek.testing import Broker
from tests.integration.clients import unique_topic
from tests.support.broker_process import BrokerProcess, free_port
from tests.support.security import plain_jaas

pytestmark = pytest.mark.integration

# confluent-kafka's type stubs do not re-export its ACL classes from confluent_kafka.admin.
admin_module: Any = importlib.import_module("confluent_kafka.admin")
AclBinding = admin_module.AclBinding
AclBindingFilter = admin_module.AclBindingFilter
AclOperation = admin_module.AclOperation
AclPermissionType = admin_module.AclPermissionType
ResourcePatternType = admin_module.ResourcePatternType
ResourceType = admin_module.ResourceType

PASSWORDS = {"admin": "admin-secret", "alice": "alice-secret", "bob": "bob-secret"}
TIMEOUT = 20


class AclBroker:
    def __init__(self, process: BrokerProcess, sasl_port: int) -> None:
        self.process = process
        self.sasl_port = sasl_port
        # One admin client for setup (a discarded client fails its pending futures).
        self.admin = AdminClient({"bootstrap.servers": process.bootstrap})

    @property
    def plaintext(self) -> str:
        return self.process.bootstrap

    def user(self, name: str) -> dict[str, Any]:
        """librdkafka settings of a client logged in as ``name``."""
        return {
            "bootstrap.servers": f"127.0.0.1:{self.sasl_port}",
            "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanism": "PLAIN",
            "sasl.username": name,
            "sasl.password": PASSWORDS[name],
        }

    def topic(self, prefix: str = "acl") -> str:
        name = unique_topic(prefix)
        self.admin.create_topics([NewTopic(name, 1, 1)])[name].result(timeout=TIMEOUT)
        return name


def start_acl_broker(root: Path, **extra: str) -> AclBroker:
    """A broker with Kafka's AclAuthorizer, a PLAINTEXT listener whose ANONYMOUS is a super
    user and a SASL_PLAINTEXT one with PLAIN users; ``extra``: more broker configs."""
    port, sasl_port = free_port(), free_port()
    overrides = {
        "listeners": f"PLAINTEXT://127.0.0.1:{port},SASL_PLAINTEXT://127.0.0.1:{sasl_port}",
        "sasl.enabled.mechanisms": "PLAIN",
        "listener.name.sasl_plaintext.plain.sasl.jaas.config": plain_jaas(PASSWORDS),
        "authorizer.class.name": "kafka.security.authorizer.AclAuthorizer",
        "allow.everyone.if.no.acl.found": "false",
        "super.users": "User:admin;User:ANONYMOUS",
        **extra,
    }
    process = BrokerProcess(root / "data", port=port, overrides=overrides).start()
    return AclBroker(process, sasl_port)


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AclBroker]:
    started = start_acl_broker(tmp_path_factory.mktemp("acls"))
    yield started
    started.process.kill()


def allow(topic: str, *operations: Any, user: str = "alice", pattern: Any = None) -> list[Any]:
    pattern_type = pattern or ResourcePatternType.LITERAL
    return [
        AclBinding(
            ResourceType.TOPIC,
            topic,
            pattern_type,
            f"User:{user}",
            "*",
            op,
            AclPermissionType.ALLOW,
        )
        for op in operations
    ]


def create_acls(broker: AclBroker, bindings: list[Any]) -> None:
    for future in broker.admin.create_acls(bindings).values():
        future.result(timeout=TIMEOUT)


def produce_error(config: dict[str, Any], topic: str) -> int | None:
    """The delivery error code of one record (None: delivered)."""
    outcome: list[Any] = []
    producer = Producer({**config, "message.timeout.ms": 15000})
    producer.produce(topic, b"v", on_delivery=lambda err, _msg: outcome.append(err))
    producer.flush(TIMEOUT)
    assert outcome, "no delivery report"
    return None if outcome[0] is None else int(outcome[0].code())


def consume_error(config: dict[str, Any], topic: str) -> int | None:
    """The first error of a consumer reading the topic's partition 0 from offset 0 (None: a
    record came). Its group is nobody's: the GROUP_AUTHORIZATION_FAILED of its coordinator
    lookup is passed over (the fetches do not need the group)."""
    consumer = Consumer({**config, "group.id": unique_topic("g"), "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, 0, 0)])
    try:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                continue
            error = message.error()
            if error is None:
                return None
            if error.code() != KafkaError.GROUP_AUTHORIZATION_FAILED:
                return int(error.code())
        raise AssertionError("neither a record nor an error")
    finally:
        consumer.close()


def subscribe_error(config: dict[str, Any], topic: str, group: str) -> int:
    """The error of a consumer in ``group`` subscribing to ``topic``."""
    consumer = Consumer({**config, "group.id": group, "enable.auto.commit": False})
    consumer.subscribe([topic])
    try:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None:
                error = message.error()
                assert error is not None, "a record came"
                return int(error.code())
        raise AssertionError("no error")
    finally:
        consumer.close()


def commit_error(config: dict[str, Any], topic: str, group: str) -> int:
    consumer = Consumer({**config, "group.id": group})
    try:
        with pytest.raises(KafkaException) as raised:
            consumer.commit(offsets=[TopicPartition(topic, 0, 1)], asynchronous=False)
    finally:
        consumer.close()
    return int(raised.value.args[0].code())


def group_acl(group: str, operation: Any, user: str) -> Any:
    return AclBinding(
        ResourceType.GROUP,
        group,
        ResourcePatternType.LITERAL,
        f"User:{user}",
        "*",
        operation,
        AclPermissionType.ALLOW,
    )


def admin_error(future: Any) -> int:
    with pytest.raises(KafkaException) as raised:
        future.result(timeout=TIMEOUT)
    return int(raised.value.args[0].code())


def test_a_principal_without_acls_can_do_nothing(broker: AclBroker) -> None:
    topic = broker.topic()
    bob = broker.user("bob")
    assert produce_error(bob, topic) == KafkaError.TOPIC_AUTHORIZATION_FAILED
    assert subscribe_error(bob, topic, "bobs-group") == KafkaError.GROUP_AUTHORIZATION_FAILED
    # With a group he may READ, the topic is what bob may not read (nor commit offsets of);
    # with one he may only DESCRIBE, committing is refused for the group.
    create_acls(
        broker,
        [
            group_acl("bobs-readers", AclOperation.READ, "bob"),
            group_acl("bobs-lookers", AclOperation.DESCRIBE, "bob"),
        ],
    )
    assert subscribe_error(bob, topic, "bobs-readers") == KafkaError.TOPIC_AUTHORIZATION_FAILED
    assert commit_error(bob, topic, "bobs-readers") == KafkaError.TOPIC_AUTHORIZATION_FAILED
    assert commit_error(bob, topic, "bobs-lookers") == KafkaError.GROUP_AUTHORIZATION_FAILED

    admin = AdminClient(bob)
    created = admin.create_topics([NewTopic("bobs-topic", 1, 1)])["bobs-topic"]
    assert admin_error(created) == KafkaError.TOPIC_AUTHORIZATION_FAILED
    assert admin_error(admin.delete_topics([topic])[topic]) == (
        KafkaError.TOPIC_AUTHORIZATION_FAILED
    )
    retention = ConfigEntry("retention.ms", "1000", incremental_operation=AlterConfigOpType.SET)
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic, incremental_configs=[retention])
    altered = admin.incremental_alter_configs([resource])[resource]
    assert admin_error(altered) == KafkaError.TOPIC_AUTHORIZATION_FAILED

    transactional = Producer({**bob, "transactional.id": "bobs-txn"})
    with pytest.raises(KafkaException) as raised:
        transactional.init_transactions(TIMEOUT)
    assert raised.value.args[0].code() == KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED


def test_producer_acls_allow_producing_not_consuming(broker: AclBroker) -> None:
    topic = broker.topic()
    alice = broker.user("alice")
    assert produce_error(alice, topic) == KafkaError.TOPIC_AUTHORIZATION_FAILED
    # Kafka's --producer set (WRITE, DESCRIBE and CREATE), through kafka-acls' twin.
    added = subprocess.run(
        [
            *(sys.executable, "-m", "odradek", "acls", "--bootstrap-server", broker.plaintext),
            *("--add", "--allow-principal", "User:alice", "--producer", "--topic", topic),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert added.returncode == 0, added.stderr
    described = broker.admin.describe_acls(
        AclBindingFilter(
            ResourceType.TOPIC,
            topic,
            ResourcePatternType.LITERAL,
            None,
            None,
            AclOperation.ANY,
            AclPermissionType.ANY,
        )
    )
    operations = {b.operation for b in described.result(timeout=TIMEOUT)}
    assert operations == {AclOperation.WRITE, AclOperation.DESCRIBE, AclOperation.CREATE}
    assert produce_error(alice, topic) is None
    assert consume_error(alice, topic) == KafkaError.TOPIC_AUTHORIZATION_FAILED
    assert produce_error(broker.user("bob"), topic) == KafkaError.TOPIC_AUTHORIZATION_FAILED


def test_deny_wins_prefixed_acls_and_deletion(broker: AclBroker) -> None:
    prefix = unique_topic("pre") + "-"
    ok, blocked = broker.topic(prefix + "ok"), broker.topic(prefix + "blocked")
    alice = broker.user("alice")
    everything = allow(prefix, AclOperation.ALL, pattern=ResourcePatternType.PREFIXED)
    deny = AclBinding(
        ResourceType.TOPIC,
        blocked,
        ResourcePatternType.LITERAL,
        "User:alice",
        "*",
        AclOperation.WRITE,
        AclPermissionType.DENY,
    )
    create_acls(broker, [*everything, deny])
    assert produce_error(alice, ok) is None
    assert consume_error(alice, ok) is None
    assert produce_error(alice, blocked) == KafkaError.TOPIC_AUTHORIZATION_FAILED

    wanted = AclBindingFilter(
        ResourceType.TOPIC,
        prefix,
        ResourcePatternType.PREFIXED,
        None,
        None,
        AclOperation.ANY,
        AclPermissionType.ANY,
    )
    deleted = broker.admin.delete_acls([wanted])[wanted].result(timeout=TIMEOUT)
    assert [(b.name, b.operation) for b in deleted] == [(prefix, AclOperation.ALL)]
    assert produce_error(alice, ok) == KafkaError.TOPIC_AUTHORIZATION_FAILED


def test_metadata_hides_unauthorized_topics(broker: AclBroker) -> None:
    seen, hidden = broker.topic(), broker.topic()
    create_acls(broker, allow(seen, AclOperation.DESCRIBE, user="bob"))
    listed = AdminClient(broker.user("bob")).list_topics(timeout=TIMEOUT).topics
    assert seen in listed and hidden not in listed
    everything = AdminClient(broker.user("admin")).list_topics(timeout=TIMEOUT).topics
    assert {seen, hidden} <= set(everything)


def test_acl_apis_without_an_authorizer(tmp_path: Path) -> None:
    # (librdkafka drops DescribeAcls' top-level error; the unit tests check that one.)
    with Broker(data_dir=tmp_path / "plain") as plain:
        admin = AdminClient({"bootstrap.servers": plain.bootstrap_servers})
        binding = allow("t", AclOperation.READ)[0]
        created = admin.create_acls([binding])[binding]
        assert admin_error(created) == KafkaError.SECURITY_DISABLED
        wanted = AclBindingFilter(
            ResourceType.ANY,
            None,
            ResourcePatternType.ANY,
            None,
            None,
            AclOperation.ANY,
            AclPermissionType.ANY,
        )
        assert admin_error(admin.delete_acls([wanted])[wanted]) == KafkaError.SECURITY_DISABLED
