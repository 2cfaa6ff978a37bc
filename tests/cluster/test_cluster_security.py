"""Brokers talking to each other over SASL_SSL.

Three brokers, each with an INTERNAL listener (SASL_SSL, PLAIN for the brokers' own user
``broker``: the inter-broker listener), a CLIENT listener (SASL_SSL, SCRAM-SHA-512) and the
harness's PLAINTEXT one. Checked: every listener is registered in ZooKeeper with its protocol;
a SCRAM user created through broker 1 authenticates at brokers 2 and 3; Metadata through the
CLIENT listener names every broker's CLIENT address; a topic with replication factor 3 and
``min.insync.replicas=2`` takes acks=all writes from a SCRAM client, replicated over SASL_SSL
to every replica; after its leader is killed, a new leader takes over and clients go on.
The registration's JSON is also checked on its own, without brokers."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaError, Producer
from confluent_kafka.admin import AdminClient
from kio.schema.alter_user_scram_credentials.v0 import request as scram_v0
from kio.schema.errors import ErrorCode
from kio.static.primitive import i8, i32

from odradek.cluster.zk_store import BrokerRegistration, ZkMetadataStore
from tests.support.cluster import QUIET_CLIENT, Cluster, wait_until
from tests.support.security import TlsFiles, make_tls_files

BROKER_PASSWORD = "broker-secret"
ALICE_PASSWORD = "alice-secret"
LISTENERS = {"INTERNAL": "SASL_SSL", "CLIENT": "SASL_SSL"}
RECORDS = 20


def overrides(tls: TlsFiles) -> dict[str, str]:
    return {
        "inter.broker.listener.name": "INTERNAL",
        "sasl.mechanism.inter.broker.protocol": "PLAIN",
        "listener.name.internal.sasl.enabled.mechanisms": "PLAIN",
        "listener.name.internal.plain.sasl.jaas.config": (
            "org.apache.kafka.common.security.plain.PlainLoginModule required "
            f'username="broker" password="{BROKER_PASSWORD}" user_broker="{BROKER_PASSWORD}";'
        ),
        "listener.name.client.sasl.enabled.mechanisms": "SCRAM-SHA-512",
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(tls.server),
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(tls.ca),
        "zookeeper.session.timeout.ms": "4000",
    }


def scram_client(bootstrap: str, tls: TlsFiles) -> dict[str, Any]:
    return {
        "bootstrap.servers": bootstrap,
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "alice",
        "sasl.password": ALICE_PASSWORD,
        "ssl.ca.location": str(tls.ca),
        "socket.connection.setup.timeout.ms": 3000,
        **QUIET_CLIENT,
    }


def create_alice(cluster: Cluster, broker_id: int) -> None:
    """AlterUserScramCredentials sent to that one broker."""
    salt = os.urandom(32)
    iterations = 4096
    upsertion = scram_v0.ScramCredentialUpsertion(
        name="alice",
        mechanism=i8(2),  # SCRAM-SHA-512
        iterations=i32(iterations),
        salt=salt,
        salted_password=hashlib.pbkdf2_hmac("sha512", ALICE_PASSWORD.encode(), salt, iterations),
    )
    request = scram_v0.AlterUserScramCredentialsRequest(deletions=(), upsertions=(upsertion,))
    with cluster.raw(broker_id) as client:
        response = client.call(request)
    assert [ErrorCode(r.error_code) for r in response.results] == [ErrorCode.none]


def authenticates(cluster: Cluster, broker_id: int, tls: TlsFiles) -> bool:
    """Whether alice gets Metadata from that broker's CLIENT listener."""
    admin = AdminClient(scram_client(cluster.address(broker_id, "CLIENT"), tls))
    return bool(admin.list_topics(timeout=3).brokers)


def produce(bootstrap: str, tls: TlsFiles, topic: str, values: list[str]) -> None:
    """acks=all through a SCRAM client; every record must be acknowledged."""
    errors: list[KafkaError] = []

    def delivered(error: KafkaError | None, _message: Any) -> None:
        if error is not None:
            errors.append(error)

    producer = Producer(
        {**scram_client(bootstrap, tls), "acks": "all", "message.timeout.ms": 60000}
    )
    for value in values:
        producer.produce(topic, value.encode(), partition=0, on_delivery=delivered)
    assert producer.flush(90) == 0
    assert errors == []


def test_registration_keeps_every_listener(zk_connect: str) -> None:
    """Kafka's ``endpoints`` (an IPv6 host in brackets) and protocol map, read back."""
    endpoints = {"INTERNAL": ("127.0.0.1", 9093), "CLIENT": ("::1", 9094)}
    registration = BrokerRegistration(7, "127.0.0.1", 9093, "rack-a", endpoints)
    store = ZkMetadataStore(zk_connect, session_timeout_ms=4000)
    store.start()
    try:
        store.register_broker(registration, LISTENERS)
        assert store.live_brokers() == {7: registration}
        body = json.loads(store.raw().get("/brokers/ids/7")[0])
    finally:
        store.close()
    assert body["endpoints"] == ["INTERNAL://127.0.0.1:9093", "CLIENT://[::1]:9094"]
    assert body["listener_security_protocol_map"] == LISTENERS
    assert (body["host"], body["port"], body["rack"]) == ("127.0.0.1", 9093, "rack-a")


def test_brokers_replicate_over_sasl_ssl(zk_connect: str, tmp_path: Path) -> None:
    tls = make_tls_files(tmp_path / "tls")
    cluster = Cluster(tmp_path / "cluster", zk_connect, 3, overrides(tls), listeners=LISTENERS)
    try:
        cluster.start()
        ports = cluster.listener_ports

        # Every advertised listener is registered, with its protocol; host and port are the
        # inter-broker listener's.
        store = ZkMetadataStore(zk_connect, session_timeout_ms=4000)
        store.start()
        try:
            registered = store.live_brokers()[1]
            body = json.loads(store.raw().get("/brokers/ids/1")[0])
        finally:
            store.close()
        endpoints = {
            "PLAINTEXT": ("127.0.0.1", cluster.broker(1).port),
            "INTERNAL": ("127.0.0.1", ports[1]["INTERNAL"]),
            "CLIENT": ("127.0.0.1", ports[1]["CLIENT"]),
        }
        assert registered == BrokerRegistration(1, *endpoints["INTERNAL"], None, endpoints)
        assert body["listener_security_protocol_map"] == {"PLAINTEXT": "PLAINTEXT", **LISTENERS}

        # A SCRAM user made through broker 1 is known to the others within seconds.
        create_alice(cluster, 1)
        for broker_id in (2, 3):
            wait_until(
                lambda b=broker_id: authenticates(cluster, b, tls),  # type: ignore[misc]
                15,
                f"alice cannot authenticate at broker {broker_id}",
                interval=0.5,
                context=cluster.logs,
            )

        # Metadata through CLIENT gives every broker's CLIENT address.
        brokers = (
            AdminClient(scram_client(cluster.bootstrap_of("CLIENT"), tls))
            .list_topics(timeout=10)
            .brokers
        )
        assert {b.id: (str(b.host), b.port) for b in brokers.values()} == {
            broker_id: ("127.0.0.1", ports[broker_id]["CLIENT"]) for broker_id in cluster.ids
        }

        # acks=all with min.insync.replicas=2: the followers fetch over SASL_SSL.
        topic = f"secure-{uuid.uuid4().hex[:8]}"
        cluster.create_topic(topic, 1, 3, config={"min.insync.replicas": "2"})
        first = [f"before-{i}" for i in range(RECORDS)]
        produce(cluster.bootstrap_of("CLIENT"), tls, topic, first)
        replica = cluster.wait_replicas_identical(topic, 0, cluster.ids)
        assert replica.values() == first
        cluster.wait_full_isr(topic, [0], size=3)

        # The leader dies: another takes over and the SCRAM client goes on.
        old_leader = cluster.leader(topic, 0)
        cluster.kill(old_leader)
        new_leader = cluster.leader(topic, 0, timeout=40)
        assert new_leader != old_leader
        then = [f"after-{i}" for i in range(RECORDS)]
        produce(cluster.bootstrap_of("CLIENT"), tls, topic, then)
        replica = cluster.wait_replicas_identical(topic, 0, cluster.live_ids())
        assert replica.values() == first + then
    finally:
        cluster.stop(grace=3.0, hurry_after=0.5)
