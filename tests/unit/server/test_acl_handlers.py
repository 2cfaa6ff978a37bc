"""The ACL admin APIs and the authorization of the other handlers, on an in-process broker
with Kafka's ACL authorizer: handlers are called directly with a request context carrying
the principal, so each Kafka error code is checked without a SASL client."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from kio.schema.create_acls.v3 import request as create_req
from kio.schema.create_topics.v7 import request as create_topics_req
from kio.schema.delete_acls.v3 import request as delete_req
from kio.schema.describe_acls.v3 import request as describe_req
from kio.schema.describe_configs.v4 import request as describe_configs_req
from kio.schema.errors import ErrorCode
from kio.schema.fetch.v12 import request as fetch_req
from kio.schema.init_producer_id.v4 import request as init_pid_req
from kio.schema.list_config_resources.v0 import request as list_config_resources_req
from kio.schema.list_groups.v4 import request as list_groups_req
from kio.schema.metadata.v9 import request as metadata_req
from kio.schema.produce.v9 import request as produce_req
from kio.schema.types import BrokerId, TopicName, TransactionalId
from kio.static.primitive import Records, i8, i16, i32, i32Timedelta, i64

from odradek.cluster.admin_manager import TopicSpec
from odradek.common.principal import KafkaPrincipal
from odradek.protocol import api_versions as keys
from odradek.protocol.codec import RequestHeader
from odradek.protocol.records.batch import ATTRIBUTES_OFFSET, TRANSACTIONAL_FLAG
from odradek.protocol.records.codec import encode_batch
from odradek.security.acl import AclOperation, PatternType, ResourceType
from odradek.server.broker import BrokerServer
from odradek.server.handlers.acls import (
    handle_create_acls,
    handle_delete_acls,
    handle_describe_acls,
)
from odradek.server.handlers.admin_configs import handle_describe_configs
from odradek.server.handlers.client_telemetry import handle_list_client_metrics_resources
from odradek.server.handlers.fetch import handle_fetch
from odradek.server.handlers.group_admin import handle_list_groups
from odradek.server.handlers.metadata import handle_metadata
from odradek.server.handlers.produce import handle_produce
from odradek.server.handlers.producer_ids import handle_init_producer_id
from odradek.server.handlers.topics import handle_create_topics
from odradek.server.request_context import ConnectionInfo, RequestContext
from odradek.testing import Broker

ALLOW, DENY = 3, 2
LITERAL, PREFIXED = int(PatternType.LITERAL), int(PatternType.PREFIXED)
TOPIC, GROUP, CLUSTER = int(ResourceType.TOPIC), int(ResourceType.GROUP), int(ResourceType.CLUSTER)
ANY = 1


@pytest.fixture
async def broker(tmp_path: Path) -> AsyncIterator[BrokerServer]:
    overrides = {
        "authorizer.class.name": "kafka.security.authorizer.AclAuthorizer",
        "super.users": "User:admin",
        "allow.everyone.if.no.acl.found": "false",
    }
    async with Broker(data_dir=tmp_path / "data", overrides=overrides) as running:
        assert running.server is not None
        server = running.server
        for name in ("orders", "payments", "logs"):
            await server.admin_manager.create_topic_async(TopicSpec(name, 1, 1), False)
        yield server


def ctx(user: str, api_key: int, version: int) -> RequestContext:
    return RequestContext(
        RequestHeader(api_key, version, 1, "test"),
        ConnectionInfo(principal=KafkaPrincipal("User", user), peer_host="127.0.0.1"),
    )


def creation(
    name: str,
    operation: AclOperation,
    principal: str = "User:alice",
    permission: int = ALLOW,
    resource_type: int = TOPIC,
    pattern: int = LITERAL,
) -> create_req.AclCreation:
    return create_req.AclCreation(
        resource_type=i8(resource_type),
        resource_name=name,
        resource_pattern_type=i8(pattern),
        principal=principal,
        host="*",
        operation=i8(operation),
        permission_type=i8(permission),
    )


async def create(server: BrokerServer, *creations: create_req.AclCreation) -> list[Any]:
    request = create_req.CreateAclsRequest(creations=creations)
    response = await handle_create_acls(server, ctx("admin", keys.CREATE_ACLS_KEY, 3), request)
    return [(r.error_code, r.error_message) for r in response.results]


def describe_all(user: str = "admin") -> tuple[RequestContext, describe_req.DescribeAclsRequest]:
    request = describe_req.DescribeAclsRequest(
        resource_type_filter=i8(ANY),
        resource_name_filter=None,
        pattern_type_filter=i8(ANY),
        principal_filter=None,
        host_filter=None,
        operation=i8(ANY),
        permission_type=i8(ANY),
    )
    return ctx(user, keys.DESCRIBE_ACLS_KEY, 3), request


def metadata(server: BrokerServer, user: str, names: list[str] | None) -> Any:
    topics = (
        None
        if names is None
        else tuple(metadata_req.MetadataRequestTopic(name=TopicName(n)) for n in names)
    )
    request = metadata_req.MetadataRequest(
        topics=topics,
        allow_auto_topic_creation=False,
        include_cluster_authorized_operations=True,
        include_topic_authorized_operations=True,
    )
    return handle_metadata(server, ctx(user, keys.METADATA_KEY, 9), request)


def produce(server: BrokerServer, user: str, topic: str, records: bytes) -> Any:
    request = produce_req.ProduceRequest(
        transactional_id=None,
        acks=i16(1),
        timeout=i32Timedelta.parse(timedelta(seconds=5)),
        topic_data=(
            produce_req.TopicProduceData(
                name=TopicName(topic),
                partition_data=(
                    produce_req.PartitionProduceData(index=i32(0), records=Records(records)),
                ),
            ),
        ),
    )
    response = handle_produce(server, ctx(user, keys.PRODUCE_KEY, 9), request)
    return response.responses[0].partition_responses[0].error_code


def bits(*operations: AclOperation) -> int:
    return sum(1 << op for op in operations)


# -- the ACL APIs -------------------------------------------------------------------------------


async def test_acl_apis_without_an_authorizer_answer_security_disabled(tmp_path: Path) -> None:
    async with Broker(data_dir=tmp_path / "plain") as running:
        assert running.server is not None
        server = running.server
        results = await create(server, creation("orders", AclOperation.READ))
        assert results == [(ErrorCode.security_disabled, "No Authorizer is configured.")]
        described = handle_describe_acls(server, *describe_all())
        assert described.error_code == ErrorCode.security_disabled
        assert described.error_message == "No Authorizer is configured on the broker"
        delete = delete_req.DeleteAclsRequest(filters=(delete_filter("orders"),))
        deleted = await handle_delete_acls(server, ctx("x", keys.DELETE_ACLS_KEY, 3), delete)
        assert [r.error_code for r in deleted.filter_results] == [ErrorCode.security_disabled]


async def test_create_describe_delete(broker: BrokerServer) -> None:
    results = await create(
        broker,
        creation("orders", AclOperation.WRITE),
        creation("orders", AclOperation.DESCRIBE),
        creation("pay", AclOperation.READ, pattern=PREFIXED),
        creation("kafka-cluster", AclOperation.ALTER, resource_type=CLUSTER),
        creation("other-cluster", AclOperation.ALTER, resource_type=CLUSTER),
        creation("orders", AclOperation.ANY),
        creation("orders", AclOperation.READ, principal="alice"),
    )
    assert [code for code, _ in results] == [ErrorCode.none] * 4 + [ErrorCode.invalid_request] * 3
    assert results[4][1] == "The only valid name for the CLUSTER resource is kafka-cluster"
    # The store holds them and the authorizer follows it.
    alice = KafkaPrincipal("User", "alice")
    assert broker.authorizer is not None
    assert broker.authorizer.authorize(
        alice, "1.2.3.4", AclOperation.READ, ResourceType.TOPIC, "payments"
    )
    assert len(broker.metadata_store.acls) == 3

    described = handle_describe_acls(broker, *describe_all())
    assert described.error_code == ErrorCode.none
    by_pattern = {
        (r.resource_type, r.resource_name, r.pattern_type): sorted(a.operation for a in r.acls)
        for r in described.resources
    }
    assert by_pattern == {
        (TOPIC, "orders", LITERAL): [AclOperation.WRITE, AclOperation.DESCRIBE],
        (TOPIC, "pay", PREFIXED): [AclOperation.READ],
        (CLUSTER, "kafka-cluster", LITERAL): [AclOperation.ALTER],
    }
    refused = handle_describe_acls(broker, *describe_all("bob"))
    assert refused.error_code == ErrorCode.cluster_authorization_failed
    # alice has ALTER on the cluster now, which implies DESCRIBE.
    assert handle_describe_acls(broker, *describe_all("alice")).error_code == ErrorCode.none

    # Each deleted ACL is reported under the first filter matching it.
    request = delete_req.DeleteAclsRequest(
        filters=(delete_filter("orders"), delete_filter(None), delete_filter("nothing"))
    )
    deleted = await handle_delete_acls(broker, ctx("admin", keys.DELETE_ACLS_KEY, 3), request)
    matched = [
        sorted((m.resource_name, m.operation) for m in r.matching_acls)
        for r in deleted.filter_results
    ]
    assert matched == [
        [("orders", AclOperation.WRITE), ("orders", AclOperation.DESCRIBE)],
        [("pay", AclOperation.READ)],
        [],
    ]
    assert set(broker.metadata_store.acls) == {
        p for p in broker.metadata_store.acls if p.resource_type == ResourceType.CLUSTER
    }
    assert not broker.authorizer.authorize(
        alice, "h", AclOperation.READ, ResourceType.TOPIC, "payments"
    )


def delete_filter(name: str | None, resource_type: int = TOPIC) -> delete_req.DeleteAclsFilter:
    return delete_req.DeleteAclsFilter(
        resource_type_filter=i8(resource_type),
        resource_name_filter=name,
        pattern_type_filter=i8(ANY),
        principal_filter=None,
        host_filter=None,
        operation=i8(ANY),
        permission_type=i8(ANY),
    )


async def test_unknown_filter_is_an_invalid_request(broker: BrokerServer) -> None:
    request = delete_req.DeleteAclsRequest(filters=(delete_filter("orders", resource_type=0),))
    deleted = await handle_delete_acls(broker, ctx("admin", keys.DELETE_ACLS_KEY, 3), request)
    assert deleted.filter_results[0].error_code == ErrorCode.invalid_request


# -- the other handlers ---------------------------------------------------------------------------


async def test_metadata_hides_topics_and_reports_operations(broker: BrokerServer) -> None:
    await create(
        broker,
        creation("orders", AclOperation.READ),
        creation("pay", AclOperation.WRITE, pattern=PREFIXED),
    )
    listed = metadata(broker, "alice", None)
    assert sorted(t.name for t in listed.topics) == ["orders", "payments"]
    assert listed.cluster_authorized_operations == 0  # no DESCRIBE on the cluster
    ops = {t.name: t.topic_authorized_operations for t in listed.topics}
    assert ops["orders"] == bits(AclOperation.READ, AclOperation.DESCRIBE)
    named = {
        t.name: t.error_code for t in metadata(broker, "alice", ["orders", "logs", "nope"]).topics
    }
    assert named == {
        "orders": ErrorCode.none,
        "logs": ErrorCode.topic_authorization_failed,
        "nope": ErrorCode.topic_authorization_failed,
    }
    assert metadata(broker, "bob", None).topics == ()
    admin = metadata(broker, "admin", None)
    assert len(admin.topics) == 3 and admin.cluster_authorized_operations > 0


async def test_produce_needs_write_and_deny_wins(broker: BrokerServer) -> None:
    batch = encode_batch([(None, b"v")])
    assert produce(broker, "alice", "orders", batch) == ErrorCode.topic_authorization_failed
    await create(broker, creation("*", AclOperation.WRITE))
    assert produce(broker, "alice", "orders", batch) == ErrorCode.none
    await create(broker, creation("orders", AclOperation.ALL, permission=DENY))
    assert produce(broker, "alice", "orders", batch) == ErrorCode.topic_authorization_failed
    assert produce(broker, "alice", "payments", batch) == ErrorCode.none
    # Transactional batches need WRITE on the transactional id (none given here).
    flagged = bytearray(batch)
    flagged[ATTRIBUTES_OFFSET + 1] |= TRANSACTIONAL_FLAG
    assert produce(broker, "alice", "payments", bytes(flagged)) == (
        ErrorCode.transactional_id_authorization_failed
    )


async def test_fetch_needs_read(broker: BrokerServer) -> None:
    await create(broker, creation("orders", AclOperation.READ))
    request = fetch_req.FetchRequest(
        replica_id=BrokerId(-1),
        max_wait=i32Timedelta.parse(timedelta(0)),
        min_bytes=i32(1),
        max_bytes=i32(1024),
        topics=tuple(
            fetch_req.FetchTopic(
                topic=TopicName(name),
                partitions=(
                    fetch_req.FetchPartition(
                        partition=i32(0),
                        fetch_offset=i64(0),
                        partition_max_bytes=i32(1024),
                    ),
                ),
            )
            for name in ("orders", "logs")
        ),
        forgotten_topics_data=(),
    )
    response = handle_fetch(broker, ctx("alice", keys.FETCH_KEY, 12), request)
    errors = {t.topic: t.partitions[0].error_code for t in response.responses}
    assert errors == {"orders": ErrorCode.none, "logs": ErrorCode.topic_authorization_failed}


async def test_init_producer_id(broker: BrokerServer) -> None:
    async def init(transactional_id: str | None) -> ErrorCode:
        request = init_pid_req.InitProducerIdRequest(
            transactional_id=None
            if transactional_id is None
            else TransactionalId(transactional_id),
            transaction_timeout=i32Timedelta.parse(timedelta(seconds=60)),
        )
        response = handle_init_producer_id(
            broker, ctx("alice", keys.INIT_PRODUCER_ID_KEY, 4), request
        )
        if inspect.isawaitable(response):  # the first id waits for a producer id block
            response = await response
        return response.error_code  # type: ignore[no-any-return]

    assert await init(None) == ErrorCode.cluster_authorization_failed
    assert await init("tx") == ErrorCode.transactional_id_authorization_failed
    # KIP-679: WRITE on some topic is enough for an idempotent producer.
    await create(broker, creation("orders", AclOperation.WRITE))
    assert await init(None) == ErrorCode.none


async def test_create_topics_list_groups_and_broker_configs(broker: BrokerServer) -> None:
    def create_topic(user: str, name: str) -> Any:
        request = create_topics_req.CreateTopicsRequest(
            topics=(
                create_topics_req.CreatableTopic(
                    name=TopicName(name),
                    num_partitions=i32(1),
                    replication_factor=i16(1),
                    assignments=(),
                    configs=(),
                ),
            ),
            timeout=i32Timedelta.parse(timedelta(seconds=5)),
            validate_only=False,
        )
        return handle_create_topics(broker, ctx(user, keys.CREATE_TOPICS_KEY, 7), request)

    refused = (await create_topic("alice", "new-topic")).topics[0]
    assert refused.error_code == ErrorCode.topic_authorization_failed
    await create(broker, creation("new-", AclOperation.CREATE, pattern=PREFIXED))
    created = (await create_topic("alice", "new-topic")).topics[0]
    assert created.error_code == ErrorCode.none
    assert created.topic_config_error_code == ErrorCode.topic_authorization_failed

    groups = list_groups_req.ListGroupsRequest(states_filter=())
    assert handle_list_groups(broker, ctx("alice", keys.LIST_GROUPS_KEY, 4), groups).groups == ()

    configs = describe_configs_req.DescribeConfigsRequest(
        resources=(
            describe_configs_req.DescribeConfigsResource(
                resource_type=i8(4),
                resource_name="",
                configuration_keys=None,
            ),
        ),
        include_synonyms=False,
        include_documentation=False,
    )
    result = handle_describe_configs(broker, ctx("alice", keys.DESCRIBE_CONFIGS_KEY, 4), configs)
    assert result.results[0].error_code == ErrorCode.cluster_authorization_failed


async def test_list_client_metrics_resources_needs_describe_configs_on_the_cluster(
    broker: BrokerServer,
) -> None:
    """ListClientMetricsResources lists the client-metrics resources with configs, to a
    principal with DESCRIBE_CONFIGS on the cluster; others get CLUSTER_AUTHORIZATION_FAILED."""
    await broker.metadata_store.set_entity_configs_async(
        "client-metrics/java", {"metrics": "org.apache.kafka.producer."}
    )
    request = list_config_resources_req.ListConfigResourcesRequest()

    def listing(user: str) -> Any:
        context = ctx(user, keys.LIST_CONFIG_RESOURCES_KEY, 0)
        return handle_list_client_metrics_resources(broker, context, request)

    refused = listing("alice")
    assert refused.error_code == ErrorCode.cluster_authorization_failed
    assert refused.config_resources == ()
    await create(
        broker, creation("kafka-cluster", AclOperation.DESCRIBE_CONFIGS, resource_type=CLUSTER)
    )
    allowed = listing("alice")
    assert allowed.error_code == ErrorCode.none
    assert [r.resource_name for r in allowed.config_resources] == ["java"]
