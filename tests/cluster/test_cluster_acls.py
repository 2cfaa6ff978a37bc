"""ACLs created through one broker are enforced by every broker.

Three brokers talking over SASL_SSL (the INTERNAL listener, PLAIN user ``broker``), clients on
the CLIENT listener (SASL_SSL, SCRAM-SHA-512), each broker with Kafka's AclAuthorizer,
``allow.everyone.if.no.acl.found=false`` and ``super.users`` naming the brokers' own principal
(replication, controller requests) and ``User:ANONYMOUS`` (the harness's PLAINTEXT listener).
Each broker leads one partition of a topic with replication factor 3, so a client
bootstrapped at a broker writes to and reads from that broker.

confluent-kafka sends ACL requests to the controller, so the ACLs are created through the
controller (``origin``, as ``broker`` over SASL_SSL); the other two brokers are ``second`` and
``third``, and DeleteAcls/DescribeAcls sent to exactly one of them are raw requests over the
PLAINTEXT listener. Checked: within seconds alice may produce (acks=all) and consume with her
group through ``second`` and ``third`` while bob is refused; the followers stay in the ISR with
the authorizer on; the WRITE ACL deleted through ``second`` stops alice's writes at ``third``;
DescribeAcls through ``third`` lists what ``origin`` created."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any, NamedTuple

from confluent_kafka import Consumer, KafkaError, Producer
from confluent_kafka.admin import (  # type: ignore[attr-defined]  # the module has no __all__
    AclBinding,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
)
from kio.schema.delete_acls.v3 import request as delete_v3
from kio.schema.describe_acls.v3 import request as describe_v3
from kio.schema.errors import ErrorCode
from kio.static.primitive import i8

from tests.cluster.test_cluster_security import BROKER_PASSWORD, LISTENERS, overrides
from tests.support.cluster import QUIET_CLIENT, Cluster, wait_until
from tests.support.security import TlsFiles, add_scram_user, make_tls_files

PASSWORDS = {"alice": "alice-secret", "bob": "bob-secret"}
AUTHORIZER = {
    "authorizer.class.name": "kafka.security.authorizer.AclAuthorizer",
    "allow.everyone.if.no.acl.found": "false",
    "super.users": "User:broker;User:ANONYMOUS",
}
PROPAGATION_S = 15.0  # an ACL or SCRAM change reaching the other brokers (a loaded machine)
DENIED = KafkaError.TOPIC_AUTHORIZATION_FAILED
MATCH_ANY = i8(1)  # the ANY code of a filter's resource type, pattern, operation, permission


class Acl(NamedTuple):
    """One ACL binding in Kafka's wire codes."""

    resource_type: int
    resource_name: str
    pattern_type: int
    principal: str
    host: str
    operation: int
    permission_type: int

    def binding(self) -> AclBinding:
        return AclBinding(
            ResourceType(self.resource_type),
            self.resource_name,
            ResourcePatternType(self.pattern_type),
            self.principal,
            self.host,
            AclOperation(self.operation),
            AclPermissionType(self.permission_type),
        )


def alice_may(resource_type: ResourceType, name: str, operation: AclOperation) -> Acl:
    return Acl(
        resource_type.value,
        name,
        ResourcePatternType.LITERAL.value,
        "User:alice",
        "*",
        operation.value,
        AclPermissionType.ALLOW.value,
    )


def describe_acls_at(cluster: Cluster, broker_id: int) -> set[Acl]:
    """Every ACL, as DescribeAcls sent to that one broker lists them."""
    request = describe_v3.DescribeAclsRequest(
        resource_type_filter=MATCH_ANY,
        resource_name_filter=None,
        pattern_type_filter=MATCH_ANY,
        principal_filter=None,
        host_filter=None,
        operation=MATCH_ANY,
        permission_type=MATCH_ANY,
    )
    with cluster.raw(broker_id) as client:
        response = client.call(request)
    assert response.error_code == ErrorCode.none, response
    return {
        Acl(
            r.resource_type,
            r.resource_name,
            r.pattern_type,
            a.principal,
            a.host,
            a.operation,
            a.permission_type,
        )
        for r in response.resources
        for a in r.acls
    }


def delete_acl_at(cluster: Cluster, broker_id: int, acl: Acl) -> list[Acl]:
    """DeleteAcls of exactly ``acl``, sent to that one broker; the ACLs it deleted."""
    wanted = delete_v3.DeleteAclsFilter(
        resource_type_filter=i8(acl.resource_type),
        resource_name_filter=acl.resource_name,
        pattern_type_filter=i8(acl.pattern_type),
        principal_filter=acl.principal,
        host_filter=acl.host,
        operation=i8(acl.operation),
        permission_type=i8(acl.permission_type),
    )
    with cluster.raw(broker_id) as client:
        response = client.call(delete_v3.DeleteAclsRequest(filters=(wanted,)))
    (result,) = response.filter_results
    assert result.error_code == ErrorCode.none, result
    return [
        Acl(
            m.resource_type,
            m.resource_name,
            m.pattern_type,
            m.principal,
            m.host,
            m.operation,
            m.permission_type,
        )
        for m in result.matching_acls
    ]


def user_client(cluster: Cluster, broker_id: int, tls: TlsFiles, user: str) -> dict[str, Any]:
    """A SCRAM-SHA-512 client of that one broker's CLIENT listener."""
    return {
        "bootstrap.servers": cluster.address(broker_id, "CLIENT"),
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": user,
        "sasl.password": PASSWORDS[user],
        "ssl.ca.location": str(tls.ca),
        "socket.connection.setup.timeout.ms": 3000,
        **QUIET_CLIENT,
    }


def super_admin(cluster: Cluster, broker_id: int, tls: TlsFiles) -> AdminClient:
    """An AdminClient of that broker's INTERNAL listener, as the super user ``broker``."""
    return AdminClient(
        {
            "bootstrap.servers": cluster.address(broker_id, "INTERNAL"),
            "security.protocol": "SASL_SSL",
            "sasl.mechanism": "PLAIN",
            "sasl.username": "broker",
            "sasl.password": BROKER_PASSWORD,
            "ssl.ca.location": str(tls.ca),
            "socket.connection.setup.timeout.ms": 3000,
            **QUIET_CLIENT,
        }
    )


def produce_one(config: dict[str, Any], topic: str, partition: int, value: str) -> int:
    """One acks=all record; the delivery report's error code (0: acknowledged)."""
    codes: list[int] = []

    def delivered(error: KafkaError | None, _message: Any) -> None:
        codes.append(0 if error is None else error.code())

    producer = Producer({**config, "acks": "all", "message.timeout.ms": 8000})
    producer.produce(topic, value.encode(), partition=partition, on_delivery=delivered)
    producer.flush(20)
    return codes[0] if codes else KafkaError._MSG_TIMED_OUT


def wait_refused(
    config: dict[str, Any], topic: str, partition: int, message: str, *, ever_allowed: bool
) -> None:
    """Until a write gets TOPIC_AUTHORIZATION_FAILED. Unless ``ever_allowed``, an acknowledged
    write fails the test at once."""

    def refused() -> bool:
        code = produce_one(config, topic, partition, "refused")
        assert ever_allowed or code != 0, message
        return code == DENIED

    wait_until(refused, PROPAGATION_S, message, interval=0.3)


def wait_described(cluster: Cluster, broker_id: int, wanted: set[Acl]) -> None:
    """Until DescribeAcls sent to that broker lists exactly ``wanted``."""
    wait_until(
        lambda: describe_acls_at(cluster, broker_id) == wanted,
        PROPAGATION_S,
        lambda: f"broker {broker_id} describes {describe_acls_at(cluster, broker_id)}",
        interval=0.3,
        context=cluster.logs,
    )


def consume_until(config: dict[str, Any], topic: str, group: str, value: str) -> None:
    """Subscribe with ``group``, read until ``value`` arrives and commit the offsets."""
    consumer = Consumer(
        {
            **config,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "fetch.wait.max.ms": 100,
        }
    )
    consumer.subscribe([topic])
    seen: list[str] = []
    deadline = time.monotonic() + 40
    try:
        while value not in seen:
            assert time.monotonic() < deadline, f"group {group} did not read {value!r}: {seen}"
            message = consumer.poll(0.5)
            if message is not None and message.error() is None:
                seen.append(bytes(message.value() or b"").decode())
        consumer.commit(asynchronous=False)
    finally:
        consumer.close()


def test_acls_from_one_broker_hold_on_all(zk_connect: str, tmp_path: Path) -> None:
    tls = make_tls_files(tmp_path / "tls")
    settings = {**overrides(tls), **AUTHORIZER}
    cluster = Cluster(tmp_path / "cluster", zk_connect, 3, settings, listeners=LISTENERS)
    try:
        cluster.start()
        origin = cluster.controller_id()
        assert origin is not None
        second, third = (b for b in cluster.ids if b != origin)
        topic, group = f"acl-{uuid.uuid4().hex[:8]}", "alice-group"
        # Partition b - 1 is led by broker b (its preferred leader).
        leads = [[1, 2, 3], [2, 3, 1], [3, 1, 2]]
        cluster.create_topic(topic, config={"min.insync.replicas": "2"}, assignment=leads)
        assert [cluster.leader(topic, p) for p in range(3)] == [1, 2, 3]
        for user in ("bob", "alice"):
            add_scram_user(cluster.broker(origin).bootstrap, user, PASSWORDS[user])

        write = alice_may(ResourceType.TOPIC, topic, AclOperation.WRITE)
        created = {
            write,
            alice_may(ResourceType.TOPIC, topic, AclOperation.DESCRIBE),
            alice_may(ResourceType.TOPIC, topic, AclOperation.READ),
            alice_may(ResourceType.GROUP, group, AclOperation.READ),
        }
        admin = super_admin(cluster, origin, tls)
        for future in admin.create_acls([acl.binding() for acl in created]).values():
            future.result(30)

        for broker_id in (second, third):
            alice = user_client(cluster, broker_id, tls, "alice")
            value = f"alice-via-{broker_id}"
            wait_until(
                lambda: produce_one(alice, topic, broker_id - 1, value) == 0,  # noqa: B023
                PROPAGATION_S,
                f"alice cannot write at broker {broker_id}",
                interval=0.3,
                context=cluster.logs,
            )
            consume_until(alice, topic, group, value)
            bob = user_client(cluster, broker_id, tls, "bob")
            refusal = f"bob wrote at broker {broker_id}"
            wait_refused(bob, topic, broker_id - 1, refusal, ever_allowed=False)

        # The followers fetch under the authorizer: every replica is still in the ISR.
        cluster.wait_full_isr(topic, range(3), timeout=30)
        wait_described(cluster, third, created)

        assert delete_acl_at(cluster, second, write) == [write]
        alice = user_client(cluster, third, tls, "alice")
        refusal = f"broker {third} still lets alice write"
        wait_refused(alice, topic, third - 1, refusal, ever_allowed=True)
        wait_described(cluster, third, created - {write})
    finally:
        cluster.stop(grace=3.0, hurry_after=0.5)
