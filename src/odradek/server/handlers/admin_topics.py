"""CreatePartitions, DeleteRecords and DescribeTopicPartitions."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

from kio.schema.errors import ErrorCode

from odradek.cluster.metadata import TopicMetadata
from odradek.common.errors import KafkaError
from odradek.common.ids import TopicPartition
from odradek.protocol import api_versions as keys
from odradek.protocol.codec import build, response_module
from odradek.security.acl import AclOperation, ResourceType
from odradek.server.authorization import (
    AUTHORIZED_OPERATIONS_OMITTED,
    TopicAuthorizationError,
    authorized_operations,
    denied,
)
from odradek.server.collaborators import (
    Authorizing,
    HasAdminManager,
    HasLogManager,
    HasMetadataStore,
    HasNodeId,
    HasReplicaManager,
)

if TYPE_CHECKING:
    from odradek.server.request_context import RequestContext


class AdminTopicsCollaborators(
    Authorizing,
    HasAdminManager,
    HasLogManager,
    HasMetadataStore,
    HasNodeId,
    HasReplicaManager,
    Protocol,
):
    """What CreatePartitions, DeleteRecords and DescribeTopicPartitions read from the broker."""


ZERO = timedelta(0)
HIGH_WATERMARK = -1


async def handle_create_partitions(
    broker: AdminTopicsCollaborators, ctx: RequestContext, request: Any
) -> Any:
    header = ctx.header
    module = response_module(keys.CREATE_PARTITIONS_KEY, header.api_version)
    names = [t.name for t in request.topics]
    unauthorized = denied(ctx, broker, AclOperation.ALTER, ResourceType.TOPIC, names)
    results = []
    for topic in request.topics:
        if names.count(topic.name) > 1:
            error, message = ErrorCode.invalid_request, "Duplicate topic in request."
        elif topic.name in unauthorized:
            error, message = (
                ErrorCode.topic_authorization_failed,
                "The topic authorization is failed.",
            )
        else:
            assignments = (
                None
                if topic.assignments is None
                else [list(a.broker_ids) for a in topic.assignments]
            )
            try:
                await broker.admin_manager.create_partitions(
                    topic.name, topic.count, assignments, request.validate_only
                )
                error, message = ErrorCode.none, None
            except KafkaError as exc:
                error, message = exc.error_code, str(exc)
        results.append(
            build(
                module.CreatePartitionsTopicResult,
                name=topic.name,
                error_code=error,
                error_message=message,
            )
        )
    return build(module.CreatePartitionsResponse, throttle_time=ZERO, results=tuple(results))


def handle_delete_records(
    broker: AdminTopicsCollaborators, ctx: RequestContext, request: Any
) -> Any:
    header = ctx.header
    module = response_module(keys.DELETE_RECORDS_KEY, header.api_version)
    topics = []
    changed = False
    unauthorized = denied(
        ctx, broker, AclOperation.DELETE, ResourceType.TOPIC, (t.name for t in request.topics)
    )
    for topic in request.topics:
        partitions = []
        for item in topic.partitions:
            try:
                if topic.name in unauthorized:
                    raise TopicAuthorizationError(topic.name)
                log_obj = broker.replica_manager.get_log(topic.name, item.partition_index)
                offset = log_obj.high_watermark if item.offset == HIGH_WATERMARK else item.offset
                before = log_obj.log_start_offset
                low = log_obj.delete_records_before(offset)
                changed = changed or low != before
                error = ErrorCode.none
            except KafkaError as exc:
                low, error = -1, exc.error_code
            partitions.append(
                build(
                    module.DeleteRecordsPartitionResult,
                    partition_index=item.partition_index,
                    low_watermark=low,
                    error_code=error,
                )
            )
        topics.append(
            build(module.DeleteRecordsTopicResult, name=topic.name, partitions=tuple(partitions))
        )
    if changed:
        broker.log_manager.checkpoint()  # the new log start offsets must survive a crash
    return build(module.DeleteRecordsResponse, throttle_time=ZERO, topics=tuple(topics))


def handle_describe_topic_partitions(
    broker: AdminTopicsCollaborators, ctx: RequestContext, request: Any
) -> Any:
    header = ctx.header
    module = response_module(keys.DESCRIBE_TOPIC_PARTITIONS_KEY, header.api_version)
    store = broker.metadata_store
    requested = sorted({t.name for t in request.topics}) if request.topics else sorted(store.topics)
    # Topics the principal may not DESCRIBE: left out of a listing, refused when named.
    unauthorized = denied(ctx, broker, AclOperation.DESCRIBE, ResourceType.TOPIC, requested)
    cursor = request.cursor
    limit = max(1, min(request.response_partition_limit, 2000))
    topics = []
    next_cursor = None
    remaining = limit
    for name in requested:
        if (cursor is not None and name < cursor.topic_name) or name in unauthorized:
            continue
        if remaining == 0:
            next_cursor = build(module.Cursor, topic_name=name, partition_index=0)
            break
        topic = store.topics.get(name)
        operations = authorized_operations(ctx, broker, ResourceType.TOPIC, name)
        if topic is None:
            error = ErrorCode.unknown_topic_or_partition
            topics.append(_described(module, name, error, None, (), operations))
            continue
        first = cursor.partition_index if cursor is not None and name == cursor.topic_name else 0
        wanted = list(range(first, topic.partitions))
        if len(wanted) > remaining:
            next_cursor = build(module.Cursor, topic_name=name, partition_index=wanted[remaining])
            wanted = wanted[:remaining]
        remaining -= len(wanted)
        partitions = tuple(_partition(module, broker, TopicPartition(name, p)) for p in wanted)
        topics.append(_described(module, name, ErrorCode.none, topic, partitions, operations))
        if next_cursor is not None:
            break
    if request.topics:
        error, omitted = ErrorCode.topic_authorization_failed, AUTHORIZED_OPERATIONS_OMITTED
        topics.extend(
            _described(module, name, error, None, (), omitted)
            for name in requested
            if name in unauthorized
        )
    return build(
        module.DescribeTopicPartitionsResponse,
        throttle_time=ZERO,
        topics=tuple(topics),
        next_cursor=next_cursor,
    )


def _described(
    module: Any,
    name: str,
    error: ErrorCode,
    topic: TopicMetadata | None,
    partitions: Any,
    operations: int,
) -> Any:
    return build(
        module.DescribeTopicPartitionsResponseTopic,
        error_code=error,
        name=name,
        topic_id=None if topic is None else topic.topic_id,
        is_internal=topic is not None and topic.internal,
        partitions=partitions,
        topic_authorized_operations=operations,
    )


def _partition(module: Any, broker: AdminTopicsCollaborators, tp: TopicPartition) -> Any:
    node = broker.node_id
    log_obj = broker.log_manager.logs.get(tp)  # None: in an offline log dir (KIP-112)
    return build(
        module.DescribeTopicPartitionsResponsePartition,
        error_code=ErrorCode.none if log_obj is not None else ErrorCode.leader_not_available,
        partition_index=tp.partition,
        leader_id=node if log_obj is not None else -1,
        leader_epoch=log_obj.leader_epoch if log_obj is not None else -1,
        replica_nodes=(node,),
        isr_nodes=(node,),
        eligible_leader_replicas=(),
        last_known_elr=(),
        offline_replicas=() if log_obj is not None else (node,),
    )
