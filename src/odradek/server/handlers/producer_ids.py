"""InitProducerId for idempotent producers (transactional ids come with the transaction
coordinator).

Answered at once while the broker holds an unused id of its producer id block; when the block
is used up, once the next block is reserved (in a cluster a ZooKeeper write, awaited off the
event loop)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

from kio.schema.errors import ErrorCode

from odradek.common.errors import KafkaError
from odradek.protocol.api_versions import INIT_PRODUCER_ID_KEY
from odradek.protocol.codec import build, response_module
from odradek.security.acl import AclOperation, ResourceType
from odradek.server.authorization import authorize, authorize_any
from odradek.server.collaborators import TxnCoordination

if TYPE_CHECKING:
    from odradek.coordinator.producer_ids import ProducerIdManager
    from odradek.server.request_context import RequestContext


class ProducerIdCollaborators(TxnCoordination, Protocol):
    """What InitProducerId reads from the broker: the producer id blocks and the transaction
    coordinator."""

    @property
    def producer_ids(self) -> ProducerIdManager: ...


def handle_init_producer_id(
    broker: ProducerIdCollaborators, ctx: RequestContext, request: Any
) -> Any:
    refused = _refusal(broker, ctx, request.transactional_id)
    if refused is not None:
        return build(
            response_module(INIT_PRODUCER_ID_KEY, ctx.header.api_version).InitProducerIdResponse,
            throttle_time=timedelta(0),
            error_code=refused,
            producer_id=-1,
            producer_epoch=-1,
        )
    if broker.producer_ids.has_reserved():
        return _init_producer_id(broker, ctx, request)
    return _after_reserving(broker, ctx, request)


def _refusal(
    broker: ProducerIdCollaborators, ctx: RequestContext, transactional_id: str | None
) -> ErrorCode | None:
    """A transactional producer needs WRITE on its transactional id; an idempotent one
    IDEMPOTENT_WRITE on the cluster or, since KIP-679, WRITE on some topic."""
    if broker.authorizer is None:
        return None
    if transactional_id is not None:
        if authorize(
            ctx, broker, AclOperation.WRITE, ResourceType.TRANSACTIONAL_ID, transactional_id
        ):
            return None
        return ErrorCode.transactional_id_authorization_failed
    if authorize(ctx, broker, AclOperation.IDEMPOTENT_WRITE, ResourceType.CLUSTER) or authorize_any(
        ctx, broker, AclOperation.WRITE, ResourceType.TOPIC
    ):
        return None
    return ErrorCode.cluster_authorization_failed


async def _after_reserving(
    broker: ProducerIdCollaborators, ctx: RequestContext, request: Any
) -> Any:
    await broker.producer_ids.reserve()
    # No await from here on: the reserved id is this request's, should it need one.
    return _init_producer_id(broker, ctx, request)


def _init_producer_id(broker: ProducerIdCollaborators, ctx: RequestContext, request: Any) -> Any:
    header = ctx.header
    module = response_module(INIT_PRODUCER_ID_KEY, header.api_version)
    if request.transactional_id is not None:
        try:
            broker.txns.ensure_txn_topic()
            broker.txns.check_coordinator(request.transactional_id)
            error, producer_id, epoch = broker.txns.coordinator.init_producer_id(
                request.transactional_id,
                int(request.transaction_timeout.total_seconds() * 1000),
                getattr(request, "producer_id", -1),
                getattr(request, "producer_epoch", -1),
                ctx.writes,
            )
        except KafkaError as exc:
            error, producer_id, epoch = exc.error_code, -1, -1
        if error is ErrorCode.producer_fenced and header.api_version < 4:
            error = ErrorCode.invalid_producer_epoch
        return build(
            module.InitProducerIdResponse,
            throttle_time=timedelta(0),
            error_code=error,
            producer_id=producer_id,
            producer_epoch=epoch,
        )
    # A producer without a transactional id always gets a fresh id at epoch 0, as in Kafka.
    producer_id = broker.producer_ids.generate_producer_id()
    return build(
        module.InitProducerIdResponse,
        throttle_time=timedelta(0),
        error_code=ErrorCode.none,
        producer_id=producer_id,
        producer_epoch=0,
    )
