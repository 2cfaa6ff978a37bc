"""CreatePartitions, DeleteRecords and DescribeTopicPartitions."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from kio.schema.errors import ErrorCode

from odradek.common.errors import KafkaError
from odradek.common.ids import TopicPartition
from odradek.protocol import api_versions as keys
from odradek.protocol.codec import build, response_module

if TYPE_CHECKING:
    from odradek.server.broker import BrokerServer
    from odradek.server.request_context import RequestContext

ZERO = timedelta(0)
AUTHORIZED_OPERATIONS_OMITTED = -2147483648
HIGH_WATERMARK = -1


async def handle_create_partitions(broker: BrokerServer, ctx: RequestContext, request: Any) -> Any:
    header = ctx.header
    module = response_module(keys.CREATE_PARTITIONS_KEY, header.api_version)
    names = [t.name for t in request.topics]
    results = []
    for topic in request.topics:
        if names.count(topic.name) > 1:
            error, message = ErrorCode.invalid_request, "Duplicate topic in request."
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


def handle_delete_records(broker: BrokerServer, ctx: RequestContext, request: Any) -> Any:
    header = ctx.header
    module = response_module(keys.DELETE_RECORDS_KEY, header.api_version)
    topics = []
    changed = False
    for topic in request.topics:
        partitions = []
        for item in topic.partitions:
            try:
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
    broker: BrokerServer, ctx: RequestContext, request: Any
) -> Any:
    header = ctx.header
    module = response_module(keys.DESCRIBE_TOPIC_PARTITIONS_KEY, header.api_version)
    store = broker.metadata_store
    requested = sorted({t.name for t in request.topics}) if request.topics else sorted(store.topics)
    cursor = request.cursor
    limit = max(1, min(request.response_partition_limit, 2000))
    topics = []
    next_cursor = None
    remaining = limit
    for name in requested:
        if cursor is not None and name < cursor.topic_name:
            continue
        if remaining == 0:
            next_cursor = build(module.Cursor, topic_name=name, partition_index=0)
            break
        topic = store.topics.get(name)
        if topic is None:
            topics.append(
                build(
                    module.DescribeTopicPartitionsResponseTopic,
                    error_code=ErrorCode.unknown_topic_or_partition,
                    name=name,
                    topic_id=None,
                    is_internal=False,
                    partitions=(),
                    topic_authorized_operations=AUTHORIZED_OPERATIONS_OMITTED,
                )
            )
            continue
        first = cursor.partition_index if cursor is not None and name == cursor.topic_name else 0
        wanted = list(range(first, topic.partitions))
        if len(wanted) > remaining:
            next_cursor = build(module.Cursor, topic_name=name, partition_index=wanted[remaining])
            wanted = wanted[:remaining]
        remaining -= len(wanted)
        node = broker.node_id
        partitions = tuple(
            build(
                module.DescribeTopicPartitionsResponsePartition,
                error_code=ErrorCode.none,
                partition_index=p,
                leader_id=node,
                leader_epoch=broker.log_manager.logs[TopicPartition(name, p)].leader_epoch,
                replica_nodes=(node,),
                isr_nodes=(node,),
                eligible_leader_replicas=(),
                last_known_elr=(),
                offline_replicas=(),
            )
            for p in wanted
        )
        topics.append(
            build(
                module.DescribeTopicPartitionsResponseTopic,
                error_code=ErrorCode.none,
                name=name,
                topic_id=topic.topic_id,
                is_internal=topic.internal,
                partitions=partitions,
                topic_authorized_operations=AUTHORIZED_OPERATIONS_OMITTED,
            )
        )
        if next_cursor is not None:
            break
    return build(
        module.DescribeTopicPartitionsResponse,
        throttle_time=ZERO,
        topics=tuple(topics),
        next_cursor=next_cursor,
    )
