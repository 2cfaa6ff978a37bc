"""KIP-848's dynamic group configs (ConfigResource type 32) with real clients over real
sockets: confluent-kafka's AdminClient describes and alters ``ConfigResource(GROUP, ...)``
(librdkafka sends its GROUP as type 32 in the config APIs), a ``group.protocol=consumer``
consumer heartbeats at the interval its group's config gives it, ACLs guard a group's
configs as Kafka's do, and ``odradek configs --entity-type groups`` is kafka-configs'."""

from __future__ import annotations

import time
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException
from confluent_kafka.admin import (  # type: ignore[attr-defined]  # the module has no __all__
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewTopic,
    ResourceType,
)
from kio.schema.describe_configs.v4.request import DescribeConfigsRequest, DescribeConfigsResource
from kio.static.primitive import i8

from tests.integration.test_acls import (
    AclOperation,
    admin_error,
    create_acls,
    group_acl,
    start_acl_broker,
)
from tests.integration.test_cli_common import fails, ok
from tests.integration.test_consumer_group_protocol import produce
from tests.support.broker_process import BrokerProcess, free_port
from tests.support.cluster import Cluster
from tests.support.zookeeper import ZooKeeperProcess, available
from tests.unit.observability.scrape import scrape

pytestmark = pytest.mark.integration

SESSION = "consumer.session.timeout.ms"
HEARTBEAT = "consumer.heartbeat.interval.ms"
TIMEOUT = 20
GROUP_CONFIG = 8  # DescribeConfigs' GROUP_CONFIG source (Admin: DYNAMIC_GROUP_CONFIG)
DEFAULT_CONFIG = 5


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def describe(admin: AdminClient, group: str) -> dict[str, tuple[str, int]]:
    """The group's configs: name -> (value, source number)."""
    resource = ConfigResource(ResourceType.GROUP, group)
    entries = admin.describe_configs([resource])[resource].result(timeout=TIMEOUT)
    return {name: (e.value, int(e.source)) for name, e in entries.items()}


def alter(
    admin: AdminClient,
    group: str,
    ops: list[tuple[str, Any, str]],
    validate_only: bool = False,
) -> Any:
    """IncrementalAlterConfigs on the group's resource; returns its future."""
    resource = ConfigResource(
        ResourceType.GROUP,
        group,
        incremental_configs=[ConfigEntry(k, v, incremental_operation=op) for k, op, v in ops],
    )
    return admin.incremental_alter_configs(
        [resource], request_timeout=TIMEOUT, validate_only=validate_only
    )[resource]


def refused(future: Any) -> KafkaError:
    with pytest.raises(KafkaException) as raised:
        future.result(timeout=TIMEOUT)
    error: KafkaError = raised.value.args[0]
    return error


SET, DELETE = AlterConfigOpType.SET, AlterConfigOpType.DELETE


def test_group_configs_are_described_altered_validated_and_survive_a_restart(
    broker: BrokerProcess,
) -> None:
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    group = uid("not-yet-a-group")
    # A group that does not exist has Kafka's defaults: the broker's group.consumer.* values.
    assert describe(admin, group) == {
        SESSION: ("45000", DEFAULT_CONFIG),
        HEARTBEAT: ("5000", DEFAULT_CONFIG),
    }
    # Its configs may come before it does.
    alter(admin, group, [(SESSION, SET, "50000")]).result(timeout=TIMEOUT)
    assert describe(admin, group) == {
        SESSION: ("50000", GROUP_CONFIG),
        HEARTBEAT: ("5000", DEFAULT_CONFIG),
    }
    # validate_only checks and stores nothing.
    alter(admin, group, [(HEARTBEAT, SET, "6000")], validate_only=True).result(timeout=TIMEOUT)
    assert describe(admin, group)[HEARTBEAT] == ("5000", DEFAULT_CONFIG)

    below = refused(alter(admin, group, [(HEARTBEAT, SET, "4000")]))
    assert below.code() == KafkaError.INVALID_CONFIG
    assert (
        "consumer.heartbeat.interval.ms must be greater than or equal to "
        "group.consumer.min.heartbeat.interval.ms" in below.str()
    )
    above = refused(alter(admin, group, [(SESSION, SET, "60001")], validate_only=True))
    assert above.code() == KafkaError.INVALID_CONFIG
    assert "must be less than or equal to group.consumer.max.session.timeout.ms" in above.str()
    unknown = refused(alter(admin, group, [("share.session.timeout.ms", SET, "45000")]))
    assert unknown.code() == KafkaError.INVALID_CONFIG
    assert "Unknown group config name: share.session.timeout.ms" in unknown.str()
    assert describe(admin, group)[SESSION] == ("50000", GROUP_CONFIG)  # nothing refused stored

    # Legacy AlterConfigs replaces the group's whole set, as Kafka's does for type 32.
    legacy = ConfigResource(ResourceType.GROUP, group, set_config={HEARTBEAT: "7000"})
    with warnings.catch_warnings():  # confluent-kafka deprecates AlterConfigs; Kafka serves it
        warnings.simplefilter("ignore", DeprecationWarning)
        admin.alter_configs([legacy], request_timeout=TIMEOUT)[legacy].result(timeout=TIMEOUT)
    assert describe(admin, group) == {
        SESSION: ("45000", DEFAULT_CONFIG),
        HEARTBEAT: ("7000", GROUP_CONFIG),
    }

    broker.restart()
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    assert describe(admin, group)[HEARTBEAT] == ("7000", GROUP_CONFIG)
    alter(admin, group, [(HEARTBEAT, DELETE, "")]).result(timeout=TIMEOUT)
    assert describe(admin, group)[HEARTBEAT] == ("5000", DEFAULT_CONFIG)


def heartbeats(metrics_port: int) -> float:
    """The ConsumerGroupHeartbeat requests the broker has answered (every version)."""
    return scrape(metrics_port).total(
        "kafka_network_requestmetrics_requests_total", request="ConsumerGroupHeartbeat"
    )


def count_heartbeats(metrics_port: int, seconds: float, poll: Callable[[], None]) -> float:
    before = heartbeats(metrics_port)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        poll()
    return heartbeats(metrics_port) - before


def test_a_consumer_heartbeats_at_its_groups_interval_from_the_next_heartbeat_on(
    broker_factory: Callable[..., BrokerProcess],
) -> None:
    metrics_port = free_port()
    # The broker's interval stays Kafka's 5 s; a group may go down to 500 ms.
    broker = broker_factory(
        overrides={
            "metrics.port": str(metrics_port),
            "group.consumer.min.heartbeat.interval.ms": "500",
            "group.initial.rebalance.delay.ms": "0",
        }
    )
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    topic, group = uid("hb"), uid("hb-group")
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(timeout=TIMEOUT)
    produce(broker.bootstrap, topic, range(10), partitions=1)
    consumer = Consumer(
        {
            "bootstrap.servers": broker.bootstrap,
            "group.id": group,
            "group.protocol": "consumer",
            "auto.offset.reset": "earliest",
        }
    )
    try:
        consumer.subscribe([topic])

        def poll() -> None:
            consumer.poll(0.1)

        deadline = time.monotonic() + 30
        while not consumer.assignment():
            assert time.monotonic() < deadline, "the consumer was never assigned its partition"
            poll()
        # At the broker's 5 s interval: at most two heartbeats in 4 s.
        assert count_heartbeats(metrics_port, 4.0, poll) <= 2
        alter(admin, group, [(HEARTBEAT, SET, "500")]).result(timeout=TIMEOUT)
        # The next heartbeat's response (within 5 s) carries 500 ms; then ~8 in 4 s.
        count_heartbeats(metrics_port, 5.5, poll)
        fast = count_heartbeats(metrics_port, 4.0, poll)
        assert fast >= 5, f"{fast} heartbeats in 4 s at a 500 ms interval"
        # Back to the broker's interval once the group's config is deleted.
        alter(admin, group, [(HEARTBEAT, DELETE, "")]).result(timeout=TIMEOUT)
        count_heartbeats(metrics_port, 1.5, poll)
        assert count_heartbeats(metrics_port, 4.0, poll) <= 2
    finally:
        consumer.close()


def test_acls_guard_a_groups_configs(tmp_path: Path) -> None:
    acl_broker = start_acl_broker(tmp_path)
    try:
        group = uid("guarded")
        alice = AdminClient(acl_broker.user("alice"))
        resource = ConfigResource(ResourceType.GROUP, group)
        described = alice.describe_configs([resource], request_timeout=TIMEOUT)[resource]
        assert admin_error(described) == KafkaError.GROUP_AUTHORIZATION_FAILED
        assert admin_error(alter(alice, group, [(SESSION, SET, "50000")])) == (
            KafkaError.GROUP_AUTHORIZATION_FAILED
        )
        # DESCRIBE_CONFIGS on the group lets her read, not alter.
        create_acls(acl_broker, [group_acl(group, AclOperation.DESCRIBE_CONFIGS, "alice")])
        assert describe(alice, group)[SESSION] == ("45000", DEFAULT_CONFIG)
        assert admin_error(alter(alice, group, [(SESSION, SET, "50000")])) == (
            KafkaError.GROUP_AUTHORIZATION_FAILED
        )
        create_acls(acl_broker, [group_acl(group, AclOperation.ALTER_CONFIGS, "alice")])
        alter(alice, group, [(SESSION, SET, "50000")]).result(timeout=TIMEOUT)
        assert describe(alice, group)[SESSION] == ("50000", GROUP_CONFIG)
        # Another group's are still refused.
        other = ConfigResource(ResourceType.GROUP, uid("other"))
        refused_other = alice.describe_configs([other], request_timeout=TIMEOUT)[other]
        assert admin_error(refused_other) == KafkaError.GROUP_AUTHORIZATION_FAILED
    finally:
        acl_broker.process.kill()


def test_configs_tool_describes_and_alters_a_groups_configs(broker: BrokerProcess) -> None:
    group = uid("tool-group")
    base = ("configs", "--bootstrap-server", broker.bootstrap, "--entity-type", "groups")
    named = (*base, "--entity-name", group)
    assert ok(*named, "--describe") == f"Dynamic configs for group {group} are:\n"
    out = ok(*named, "--alter", "--add-config", f"{SESSION}=50000,{HEARTBEAT}=6000")
    assert out == f"Completed updating config for group {group}.\n"
    assert ok(*named, "--describe") == (
        f"Dynamic configs for group {group} are:\n"
        f"  {HEARTBEAT}=6000 sensitive=false synonyms={{DYNAMIC_GROUP_CONFIG:{HEARTBEAT}=6000}}\n"
        f"  {SESSION}=50000 sensitive=false synonyms={{DYNAMIC_GROUP_CONFIG:{SESSION}=50000}}\n"
    )
    described_all = ok(*named, "--describe", "--all")
    assert f"  {SESSION}=50000 sensitive=false" in described_all
    assert ok(*named, "--alter", "--delete-config", SESSION).endswith(f"group {group}.\n")
    assert ok(*named, "--describe", "--all") == (
        f"All configs for group {group} are:\n"
        f"  {HEARTBEAT}=6000 sensitive=false synonyms={{DYNAMIC_GROUP_CONFIG:{HEARTBEAT}=6000}}\n"
        f"  {SESSION}=45000 sensitive=false synonyms={{DEFAULT_CONFIG:{SESSION}=45000}}\n"
    )
    error = fails(*named, "--alter", "--add-config", f"{HEARTBEAT}=1")
    assert "must be greater than or equal to group.consumer.min.heartbeat.interval.ms" in error
    assert "Invalid config(s): " in fails(*named, "--alter", "--delete-config", SESSION)


def described_by(cluster: Cluster, broker_id: int, group: str) -> dict[str, tuple[str, int]]:
    """The group's configs as one broker of the cluster describes them."""
    request = DescribeConfigsRequest(
        resources=(
            DescribeConfigsResource(
                resource_type=i8(32), resource_name=group, configuration_keys=None
            ),
        ),
        include_synonyms=False,
        include_documentation=False,
    )
    with cluster.raw(broker_id) as client:
        [result] = client.call(request).results
    assert int(result.error_code) == 0, result.error_message
    return {str(c.name): (str(c.value), int(c.config_source)) for c in result.configs}


@pytest.mark.zk
def test_in_a_cluster_every_broker_sees_a_groups_configs(tmp_path: Path) -> None:
    """Stored in ZooKeeper (``/config/groups/<id>``, announced under ``/config/changes``):
    whichever broker coordinates the group, now or after it moves, reads the same values;
    and a broker started afterwards loads them."""
    if not available():
        pytest.skip("ZooKeeper (Debian package zookeeper) is not installed")
    zookeeper = ZooKeeperProcess(tmp_path / "zookeeper").start()
    cluster = Cluster(tmp_path / "cluster", f"{zookeeper.connect}/group-configs", 2)
    try:
        cluster.start()
        group = uid("a/group with spaces")  # sanitized into its znode name
        admin = AdminClient({"bootstrap.servers": cluster.brokers[1].bootstrap})
        alter(admin, group, [(HEARTBEAT, SET, "6000")]).result(timeout=TIMEOUT)
        wanted = {SESSION: ("45000", DEFAULT_CONFIG), HEARTBEAT: ("6000", GROUP_CONFIG)}

        def until_described(broker: int) -> None:
            # The admin client may send the alteration to either broker; the other one
            # learns it from ZooKeeper's change notification, asynchronously.
            deadline = time.monotonic() + 15
            while (described := described_by(cluster, broker, group)) != wanted:
                assert time.monotonic() < deadline, (broker, described)
                time.sleep(0.1)

        until_described(1)
        until_described(2)
        cluster.restart(2)
        until_described(2)
    finally:
        cluster.stop(grace=3.0, hurry_after=0.5)
        zookeeper.stop()
