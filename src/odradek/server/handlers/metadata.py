"""Metadata: brokers, cluster id, controller, topics with partitions; topic auto-creation.
With an authorizer, a listing leaves out the topics the principal may not DESCRIBE, and a
named one it may not DESCRIBE (or auto-create) is TOPIC_AUTHORIZATION_FAILED."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from kio.schema.errors import ErrorCode

from odradek.cluster.metadata import TopicMetadata
from odradek.cluster.topic_names import validate_topic_name
from odradek.common.errors import KafkaError
from odradek.common.ids import TopicPartition
from odradek.protocol.api_versions import METADATA_KEY
from odradek.protocol.codec import build, response_module
from odradek.security.acl import AclOperation, ResourceType
from odradek.server.authorization import (
    AUTHORIZED_OPERATIONS_OMITTED,
    authorize,
    authorized,
    authorized_operations,
    cluster_authorized_operations,
)

if TYPE_CHECKING:
    from odradek.server.broker import BrokerServer
    from odradek.server.request_context import RequestContext


def handle_metadata(broker: BrokerServer, ctx: RequestContext, request: Any) -> Any:
    header = ctx.header
    module = response_module(METADATA_KEY, header.api_version)
    store = broker.metadata_store
    requested = request.topics
    if requested is None or (header.api_version == 0 and not requested):
        names = authorized(ctx, broker, AclOperation.DESCRIBE, ResourceType.TOPIC, store.topics)
        topics = [_topic(module, broker, store.topics[name], ErrorCode.none) for name in names]
    else:
        allow_auto = bool(getattr(request, "allow_auto_topic_creation", True))
        topics = [_requested_topic(module, broker, ctx, item, allow_auto) for item in requested]
    if getattr(request, "include_topic_authorized_operations", False):
        topics = [_with_operations(broker, ctx, topic) for topic in topics]
    cluster_operations = AUTHORIZED_OPERATIONS_OMITTED
    if getattr(request, "include_cluster_authorized_operations", False):  # v8-10
        cluster_operations = cluster_authorized_operations(ctx, broker)
    brokers = tuple(
        build(
            module.MetadataResponseBroker,
            node_id=b.broker_id,
            host=b.host,
            port=b.port,
            rack=b.rack,
        )
        for b in broker.broker_endpoints(ctx.listener_name)
    )
    if broker.cluster is not None:
        store = broker.metadata_store
        controller_id = store.controller if store.controller is not None else -1
    else:
        controller_id = broker.node_id
    return build(
        module.MetadataResponse,
        throttle_time=timedelta(0),
        brokers=brokers,
        cluster_id=broker.cluster_id,
        controller_id=controller_id,
        topics=tuple(topics),
        cluster_authorized_operations=cluster_operations,
    )


def _with_operations(broker: BrokerServer, ctx: RequestContext, topic: Any) -> Any:
    """A topic the principal may describe, with its ``topic_authorized_operations``."""
    if topic.name is None or topic.error_code == ErrorCode.topic_authorization_failed:
        return topic
    operations = authorized_operations(ctx, broker, ResourceType.TOPIC, topic.name)
    return dataclasses.replace(topic, topic_authorized_operations=operations)


def _requested_topic(
    module: Any, broker: BrokerServer, ctx: RequestContext, item: Any, allow_auto: bool
) -> Any:
    store = broker.metadata_store
    topic_id = getattr(item, "topic_id", None)
    name = item.name
    if not name and topic_id is not None and topic_id.int != 0:
        found = store.by_id.get(topic_id)
        if found is None:
            return _error_topic(module, None, topic_id, ErrorCode.unknown_topic_id)
        if not authorize(ctx, broker, AclOperation.DESCRIBE, ResourceType.TOPIC, found.name):
            return _error_topic(module, None, topic_id, ErrorCode.topic_authorization_failed)
        return _topic(module, broker, found, ErrorCode.none)
    if not authorize(ctx, broker, AclOperation.DESCRIBE, ResourceType.TOPIC, name):
        return _error_topic(module, name, None, ErrorCode.topic_authorization_failed)
    topic = store.topics.get(name)
    if topic is not None:
        return _topic(module, broker, topic, ErrorCode.none)
    if allow_auto and not _may_auto_create(broker, ctx, name):
        return _error_topic(module, name, None, ErrorCode.topic_authorization_failed)
    try:
        validate_topic_name(name)
        created = broker.admin_manager.maybe_auto_create(name) if allow_auto else None
    except KafkaError as exc:
        return _error_topic(module, name, None, exc.error_code)
    if created is None:
        return _error_topic(module, name, None, ErrorCode.unknown_topic_or_partition)
    return _topic(module, broker, created, ErrorCode.none)


def _may_auto_create(broker: BrokerServer, ctx: RequestContext, name: str) -> bool:
    """Whether the principal may have ``name`` auto-created, when auto-creation is on: CREATE
    on the cluster or on the topic."""
    return (
        not broker.config.get("auto.create.topics.enable")
        or authorize(ctx, broker, AclOperation.CREATE, ResourceType.CLUSTER)
        or authorize(ctx, broker, AclOperation.CREATE, ResourceType.TOPIC, name)
    )


def _error_topic(
    module: Any, name: str | None, topic_id: uuid.UUID | None, error: ErrorCode
) -> Any:
    return build(
        module.MetadataResponseTopic,
        error_code=error,
        name=name,
        topic_id=topic_id or uuid.UUID(int=0),
        is_internal=False,
        partitions=(),
        topic_authorized_operations=AUTHORIZED_OPERATIONS_OMITTED,
    )


def _topic(module: Any, broker: BrokerServer, topic: TopicMetadata, error: ErrorCode) -> Any:
    if broker.cluster is not None:
        return _cluster_topic(module, broker, topic, error)
    node = broker.node_id
    partitions = tuple(
        build(
            module.MetadataResponsePartition,
            error_code=ErrorCode.none,
            partition_index=p,
            leader_id=node,
            leader_epoch=0,
            replica_nodes=(node,),
            isr_nodes=(node,),
            offline_replicas=(),
        )
        for p in range(topic.partitions)
    )
    return build(
        module.MetadataResponseTopic,
        error_code=error,
        name=topic.name,
        topic_id=topic.topic_id,
        is_internal=topic.internal,
        partitions=partitions,
        topic_authorized_operations=AUTHORIZED_OPERATIONS_OMITTED,
    )


def _cluster_topic(
    module: Any, broker: BrokerServer, topic: TopicMetadata, error: ErrorCode
) -> Any:
    """Leader, epoch, replicas, ISR and offline replicas from the partition states."""
    store = broker.metadata_store
    live = store.brokers
    partitions = []
    for p in sorted(topic.assignment):
        replicas = tuple(topic.assignment[p])
        state = store.states.get(TopicPartition(topic.name, p))
        leader = state.leader if state is not None else -1
        code = ErrorCode.none if leader >= 0 and leader in live else ErrorCode.leader_not_available
        partitions.append(
            build(
                module.MetadataResponsePartition,
                error_code=code,
                partition_index=p,
                leader_id=leader if code is ErrorCode.none else -1,
                leader_epoch=state.leader_epoch if state is not None else -1,
                replica_nodes=replicas,
                isr_nodes=state.isr if state is not None else (),
                offline_replicas=tuple(r for r in replicas if r not in live),
            )
        )
    return build(
        module.MetadataResponseTopic,
        error_code=error,
        name=topic.name,
        topic_id=topic.topic_id,
        is_internal=topic.internal,
        partitions=tuple(partitions),
        topic_authorized_operations=AUTHORIZED_OPERATIONS_OMITTED,
    )
