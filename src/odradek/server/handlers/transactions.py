"""The transaction APIs: AddPartitionsToTxn, AddOffsetsToTxn, EndTxn, TxnOffsetCommit,
WriteTxnMarkers, DescribeTransactions, ListTransactions and DescribeProducers.
(InitProducerId and FindCoordinator live with their API families.)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from kio.schema.errors import ErrorCode

from odradek.common.errors import KafkaError
from odradek.common.ids import TopicPartition
from odradek.common.internal_topics import INTERNAL_TOPICS, OFFSETS_TOPIC
from odradek.coordinator.group.coordinator import OffsetCommit
from odradek.protocol import api_versions as keys
from odradek.protocol.codec import build, response_module
from odradek.security.acl import AclOperation, ResourceType
from odradek.server.authorization import (
    TOPIC_AUTHORIZATION_FAILED,
    TopicAuthorizationError,
    authorize,
    authorized,
    denied,
)
from odradek.server.collaborators import (
    GroupCoordination,
    HasClock,
    HasMetadataStore,
    HasReplicaManager,
    TxnCoordination,
)

if TYPE_CHECKING:
    from odradek.server.request_context import RequestContext


class TransactionCollaborators(
    TxnCoordination, GroupCoordination, HasClock, HasMetadataStore, HasReplicaManager, Protocol
):
    """What the transaction requests (AddPartitionsToTxn, AddOffsetsToTxn, EndTxn,
    TxnOffsetCommit, WriteTxnMarkers, DescribeTransactions, ListTransactions,
    DescribeProducers) read from the broker."""


ZERO = timedelta(0)
E = ErrorCode


def legacy_fenced(error: ErrorCode, version: int, first_version: int) -> ErrorCode:
    """PRODUCER_FENCED is answered as INVALID_PRODUCER_EPOCH to versions before it existed."""
    return (
        E.invalid_producer_epoch
        if error is E.producer_fenced and version < first_version
        else error
    )


def _txn_unavailable(
    broker: TransactionCollaborators, transactional_id: str | None = None
) -> ErrorCode | None:
    try:
        broker.txns.ensure_txn_topic()
        if transactional_id is not None:
            broker.txns.check_coordinator(transactional_id)
    except KafkaError as exc:
        return exc.error_code
    return None


def _txn_refused(
    broker: TransactionCollaborators, ctx: RequestContext, transactional_id: str
) -> ErrorCode | None:
    """TRANSACTIONAL_ID_AUTHORIZATION_FAILED unless the principal may WRITE the id."""
    if authorize(ctx, broker, AclOperation.WRITE, ResourceType.TRANSACTIONAL_ID, transactional_id):
        return None
    return E.transactional_id_authorization_failed


def _group_refused(
    broker: TransactionCollaborators, ctx: RequestContext, group_id: str
) -> ErrorCode | None:
    """GROUP_AUTHORIZATION_FAILED unless the principal may READ the group."""
    if authorize(ctx, broker, AclOperation.READ, ResourceType.GROUP, group_id):
        return None
    return E.group_authorization_failed


def handle_add_partitions_to_txn(
    broker: TransactionCollaborators, ctx: RequestContext, request: Any
) -> Any:
    header = ctx.header
    module = response_module(keys.ADD_PARTITIONS_TO_TXN_KEY, header.api_version)
    wanted = [TopicPartition(t.name, p) for t in request.v3_and_below_topics for p in t.partitions]
    transactional_id = request.v3_and_below_transactional_id
    unavailable = _txn_refused(broker, ctx, transactional_id) or _txn_unavailable(
        broker, transactional_id
    )
    unwritable = _unwritable(broker, ctx, wanted)
    if unavailable is not None:
        results = dict.fromkeys(wanted, unavailable)
    elif unwritable:
        results = {
            tp: E.topic_authorization_failed
            if tp.topic in unwritable
            else E.operation_not_attempted
            if _partition_exists(broker, tp)
            else E.unknown_topic_or_partition
            for tp in wanted
        }
    else:
        results = broker.txns.coordinator.add_partitions(
            request.v3_and_below_transactional_id,
            request.v3_and_below_producer_id,
            request.v3_and_below_producer_epoch,
            wanted,
            lambda tp: _partition_exists(broker, tp),
            ctx.writes,
        )
    by_topic: dict[str, list[Any]] = {}
    for tp, error in results.items():
        by_topic.setdefault(tp.topic, []).append(
            build(
                module.AddPartitionsToTxnPartitionResult,
                partition_index=tp.partition,
                partition_error_code=legacy_fenced(error, header.api_version, 2),
            )
        )
    topics = tuple(
        build(module.AddPartitionsToTxnTopicResult, name=name, results_by_partition=tuple(parts))
        for name, parts in by_topic.items()
    )
    return build(
        module.AddPartitionsToTxnResponse, throttle_time=ZERO, results_by_topic_v3_and_below=topics
    )


def _unwritable(
    broker: TransactionCollaborators, ctx: RequestContext, wanted: list[TopicPartition]
) -> frozenset[str]:
    """The topics the principal may not add to a transaction: those it may not WRITE, and
    the internal topics (as Kafka, which never authorizes them here)."""
    if broker.authorizer is None:
        return frozenset()
    topics = {tp.topic for tp in wanted}
    refused = denied(ctx, broker, AclOperation.WRITE, ResourceType.TOPIC, topics - INTERNAL_TOPICS)
    return refused | (topics & INTERNAL_TOPICS)


def handle_add_offsets_to_txn(
    broker: TransactionCollaborators, ctx: RequestContext, request: Any
) -> Any:
    header = ctx.header
    module = response_module(keys.ADD_OFFSETS_TO_TXN_KEY, header.api_version)
    error = (
        _txn_refused(broker, ctx, request.transactional_id)
        or _group_refused(broker, ctx, request.group_id)
        or _txn_unavailable(broker, request.transactional_id)
    )
    if error is None:
        try:
            broker.groups.ensure_offsets_topic()
            partition = broker.groups.coordinator.partition_for(request.group_id)
            results = broker.txns.coordinator.add_partitions(
                request.transactional_id,
                request.producer_id,
                request.producer_epoch,
                [TopicPartition(OFFSETS_TOPIC, partition)],
                lambda tp: True,
                ctx.writes,
            )
            error = next(iter(results.values()))
        except KafkaError as exc:
            error = exc.error_code
    return build(
        module.AddOffsetsToTxnResponse,
        throttle_time=ZERO,
        error_code=legacy_fenced(error, header.api_version, 2),
    )


def handle_end_txn(broker: TransactionCollaborators, ctx: RequestContext, request: Any) -> Any:
    header = ctx.header
    module = response_module(keys.END_TXN_KEY, header.api_version)
    error = (
        _txn_refused(broker, ctx, request.transactional_id)
        or _txn_unavailable(broker, request.transactional_id)
        or broker.txns.coordinator.end_txn(
            request.transactional_id,
            request.producer_id,
            request.producer_epoch,
            request.committed,
            ctx.writes,
        )
    )
    return build(
        module.EndTxnResponse,
        throttle_time=ZERO,
        error_code=legacy_fenced(error, header.api_version, 2),
    )


def handle_txn_offset_commit(
    broker: TransactionCollaborators, ctx: RequestContext, request: Any
) -> Any:
    header = ctx.header
    module = response_module(keys.TXN_OFFSET_COMMIT_KEY, header.api_version)
    offsets = {
        (t.name, p.partition_index): OffsetCommit(
            p.committed_offset, getattr(p, "committed_leader_epoch", -1), p.committed_metadata
        )
        for t in request.topics
        for p in t.partitions
    }
    refused = _txn_refused(broker, ctx, request.transactional_id) or _group_refused(
        broker, ctx, request.group_id
    )
    if refused is not None:
        results = dict.fromkeys(offsets, refused)
    else:
        results = _txn_commit(broker, ctx, request, offsets)
    topics = tuple(
        build(
            module.TxnOffsetCommitResponseTopic,
            name=t.name,
            partitions=tuple(
                build(
                    module.TxnOffsetCommitResponsePartition,
                    partition_index=p.partition_index,
                    error_code=results[(t.name, p.partition_index)],
                )
                for p in t.partitions
            ),
        )
        for t in request.topics
    )
    return build(module.TxnOffsetCommitResponse, throttle_time=ZERO, topics=topics)


def _txn_commit(
    broker: TransactionCollaborators,
    ctx: RequestContext,
    request: Any,
    offsets: dict[tuple[str, int], OffsetCommit],
) -> dict[tuple[str, int], ErrorCode]:
    """Commit the offsets of the topics the principal may READ; the others fail with
    TOPIC_AUTHORIZATION_FAILED."""
    unreadable = denied(
        ctx, broker, AclOperation.READ, ResourceType.TOPIC, (t.name for t in request.topics)
    )
    failed: dict[tuple[str, int], ErrorCode] = {}
    if unreadable:
        failed = {k: E.topic_authorization_failed for k in offsets if k[0] in unreadable}
    try:
        broker.groups.ensure_offsets_topic()
        broker.groups.check_coordinator(request.group_id)
        results = broker.groups.coordinator.txn_commit_offsets(
            request.group_id,
            request.producer_id,
            request.producer_epoch,
            getattr(request, "member_id", ""),
            getattr(request, "group_instance_id", None),
            getattr(request, "generation_id", -1),
            {k: v for k, v in offsets.items() if k not in failed} if failed else offsets,
            ctx.writes,
        )
    except KafkaError as exc:
        return dict.fromkeys(offsets, exc.error_code)
    results.update(failed)
    return results


def handle_write_txn_markers(
    broker: TransactionCollaborators, ctx: RequestContext, request: Any
) -> Any:
    header = ctx.header
    module = response_module(keys.WRITE_TXN_MARKERS_KEY, header.api_version)
    allowed = authorize(ctx, broker, AclOperation.CLUSTER_ACTION, ResourceType.CLUSTER)
    markers = []
    for marker in request.markers:
        wanted = [TopicPartition(t.name, p) for t in marker.topics for p in t.partition_indexes]
        if not allowed:
            results = dict.fromkeys(wanted, E.cluster_authorization_failed)
        else:
            results = broker.txns.write_markers(
                marker.producer_id,
                marker.producer_epoch,
                marker.transaction_result,
                wanted,
                ctx.writes,
            )
        by_topic: dict[str, list[Any]] = {}
        for tp in wanted:
            by_topic.setdefault(tp.topic, []).append(
                build(
                    module.WritableTxnMarkerPartitionResult,
                    partition_index=tp.partition,
                    error_code=results.get(tp, E.unknown_server_error),
                )
            )
        markers.append(
            build(
                module.WritableTxnMarkerResult,
                producer_id=marker.producer_id,
                topics=tuple(
                    build(module.WritableTxnMarkerTopicResult, name=n, partitions=tuple(ps))
                    for n, ps in by_topic.items()
                ),
            )
        )
    return build(module.WriteTxnMarkersResponse, markers=tuple(markers))


def handle_describe_transactions(
    broker: TransactionCollaborators, ctx: RequestContext, request: Any
) -> Any:
    header = ctx.header
    module = response_module(keys.DESCRIBE_TRANSACTIONS_KEY, header.api_version)
    states = []
    for transactional_id in request.transactional_ids:
        txn = broker.txns.coordinator.txns.get(transactional_id)
        error = E.transactional_id_not_found
        if not authorize(
            ctx, broker, AclOperation.DESCRIBE, ResourceType.TRANSACTIONAL_ID, transactional_id
        ):
            txn, error = None, E.transactional_id_authorization_failed
        if txn is None:
            states.append(
                build(
                    module.TransactionState,
                    error_code=error,
                    transactional_id=transactional_id,
                    transaction_state="",
                    transaction_timeout=ZERO,
                    transaction_start_time=datetime.fromtimestamp(0, UTC),
                    producer_id=-1,
                    producer_epoch=-1,
                    topics=(),
                )
            )
            continue
        by_topic: dict[str, list[int]] = {}
        for tp in sorted(txn.partitions):
            by_topic.setdefault(tp.topic, []).append(tp.partition)
        # Only the topics the principal may DESCRIBE are shown.
        hidden = denied(ctx, broker, AclOperation.DESCRIBE, ResourceType.TOPIC, by_topic)
        for topic in hidden:
            del by_topic[topic]
        start = datetime.fromtimestamp(txn.start_ms / 1000, UTC)  # -1 ms when idle
        states.append(
            build(
                module.TransactionState,
                error_code=E.none,
                transactional_id=transactional_id,
                transaction_state=txn.state.label,
                transaction_timeout=timedelta(milliseconds=txn.timeout_ms),
                transaction_start_time=start,
                producer_id=txn.producer_id,
                producer_epoch=txn.producer_epoch,
                topics=tuple(
                    build(module.TopicData, topic=t, partitions=tuple(ps))
                    for t, ps in by_topic.items()
                ),
            )
        )
    return build(
        module.DescribeTransactionsResponse, throttle_time=ZERO, transaction_states=tuple(states)
    )


def handle_list_transactions(
    broker: TransactionCollaborators, ctx: RequestContext, request: Any
) -> Any:
    header = ctx.header
    module = response_module(keys.LIST_TRANSACTIONS_KEY, header.api_version)
    known = {
        "empty",
        "ongoing",
        "preparecommit",
        "prepareabort",
        "completecommit",
        "completeabort",
        "dead",
        "prepareepochfence",
    }
    filters = list(request.state_filters)
    unknown = tuple(f for f in filters if f.lower() not in known)
    found = broker.txns.coordinator.list_transactions(filters, request.producer_id_filters)
    if broker.authorizer is not None:  # only the transactional ids the principal may DESCRIBE
        ids = [t.transactional_id for t in found]
        shown = set(
            authorized(ctx, broker, AclOperation.DESCRIBE, ResourceType.TRANSACTIONAL_ID, ids)
        )
        found = [t for t in found if t.transactional_id in shown]
    duration = getattr(request, "duration_filter", -1)
    now = broker.clock.milliseconds()
    if duration >= 0:
        found = [t for t in found if t.start_ms >= 0 and now - t.start_ms > duration]
    return build(
        module.ListTransactionsResponse,
        throttle_time=ZERO,
        error_code=E.none,
        unknown_state_filters=unknown,
        transaction_states=tuple(
            build(
                module.TransactionState,
                transactional_id=t.transactional_id,
                producer_id=t.producer_id,
                transaction_state=t.state.label,
            )
            for t in found
        ),
    )


def handle_describe_producers(
    broker: TransactionCollaborators, ctx: RequestContext, request: Any
) -> Any:
    header = ctx.header
    module = response_module(keys.DESCRIBE_PRODUCERS_KEY, header.api_version)
    unreadable = denied(
        ctx, broker, AclOperation.READ, ResourceType.TOPIC, (t.name for t in request.topics)
    )
    topics = []
    for topic in request.topics:
        partitions = []
        for index in topic.partition_indexes:
            try:
                if topic.name in unreadable:
                    raise TopicAuthorizationError(TOPIC_AUTHORIZATION_FAILED)
                log_obj = broker.replica_manager.get_log(topic.name, index)
            except KafkaError as exc:
                partitions.append(
                    build(
                        module.PartitionResponse,
                        partition_index=index,
                        error_code=exc.error_code,
                        error_message=str(exc),
                        active_producers=(),
                    )
                )
                continue
            producers = tuple(
                build(
                    module.ProducerState,
                    producer_id=e.producer_id,
                    producer_epoch=e.epoch,
                    last_sequence=e.last_seq,
                    last_timestamp=e.last_timestamp,
                    coordinator_epoch=e.coordinator_epoch,
                    current_txn_start_offset=e.current_txn_first_offset,
                )
                for e in log_obj.producer_state.entries.values()
            )
            partitions.append(
                build(
                    module.PartitionResponse,
                    partition_index=index,
                    error_code=E.none,
                    error_message=None,
                    active_producers=producers,
                )
            )
        topics.append(build(module.TopicResponse, name=topic.name, partitions=tuple(partitions)))
    return build(module.DescribeProducersResponse, throttle_time=ZERO, topics=tuple(topics))


def _partition_exists(broker: TransactionCollaborators, tp: TopicPartition) -> bool:
    topic = broker.metadata_store.topics.get(tp.topic)
    return topic is not None and 0 <= tp.partition < topic.partitions
