"""Metadata: brokers, cluster id, controller, topics with partitions; topic auto-creation."""

from __future__ import annotations

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

if TYPE_CHECKING:
    from odradek.server.broker import BrokerServer
    from odradek.server.request_context import RequestContext

AUTHORIZED_OPERATIONS_OMITTED = -2147483648


def handle_metadata(broker: BrokerServer, ctx: RequestContext, request: Any) -> Any:
    header = ctx.header
    module = response_module(METADATA_KEY, header.api_version)
    store = broker.metadata_store
    requested = request.topics
    if requested is None or (header.api_version == 0 and not requested):
        topics = [_topic(module, broker, t, ErrorCode.none) for t in store.topics.values()]
    else:
        allow_auto = bool(getattr(request, "allow_auto_topic_creation", True))
        topics = [_requested_topic(module, broker, item, allow_auto) for item in requested]
    node = broker.advertised_endpoint
    if broker.cluster is not None:
        brokers = tuple(
            build(
                module.MetadataResponseBroker,
                node_id=b.broker_id,
                host=b.host,
                port=b.port,
                rack=b.rack,
            )
            for b in sorted(store.brokers.values(), key=lambda b: b.broker_id)
        )
        controller_id = store.controller if store.controller is not None else -1
    else:
        brokers = (
            build(
                module.MetadataResponseBroker,
                node_id=broker.node_id,
                host=node[0],
                port=node[1],
                rack=broker.rack,
            ),
        )
        controller_id = broker.node_id
    return build(
        module.MetadataResponse,
        throttle_time=timedelta(0),
        brokers=brokers,
        cluster_id=broker.cluster_id,
        controller_id=controller_id,
        topics=tuple(topics),
        cluster_authorized_operations=AUTHORIZED_OPERATIONS_OMITTED,
    )


def _requested_topic(module: Any, broker: BrokerServer, item: Any, allow_auto: bool) -> Any:
    store = broker.metadata_store
    topic_id = getattr(item, "topic_id", None)
    name = item.name
    if not name and topic_id is not None and topic_id.int != 0:
        found = store.by_id.get(topic_id)
        if found is None:
            return _error_topic(module, None, topic_id, ErrorCode.unknown_topic_id)
        return _topic(module, broker, found, ErrorCode.none)
    topic = store.topics.get(name)
    if topic is not None:
        return _topic(module, broker, topic, ErrorCode.none)
    try:
        validate_topic_name(name)
        created = broker.admin_manager.maybe_auto_create(name) if allow_auto else None
    except KafkaError as exc:
        return _error_topic(module, name, None, exc.error_code)
    if created is None:
        return _error_topic(module, name, None, ErrorCode.unknown_topic_or_partition)
    return _topic(module, broker, created, ErrorCode.none)


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
