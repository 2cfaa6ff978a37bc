"""api_key -> handler table, and the one catch-all: a handler bug is logged and that
connection closed; a malformed request closes that connection; nothing else is touched."""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from time import perf_counter
from typing import TYPE_CHECKING, Any

from odradek.observability import metrics
from odradek.protocol import api_versions as keys
from odradek.protocol.codec import (
    RequestHeader,
    encode_response,
    parse_request,
    peek_header,
)
from odradek.server.errors import CloseConnectionError
from odradek.server.handlers.acls import (
    handle_create_acls,
    handle_delete_acls,
    handle_describe_acls,
)
from odradek.server.handlers.admin_cluster import (
    handle_describe_cluster,
    handle_describe_log_dirs,
)
from odradek.server.handlers.admin_configs import (
    handle_alter_configs,
    handle_describe_configs,
    handle_incremental_alter_configs,
)
from odradek.server.handlers.admin_replication import (
    handle_alter_partition_reassignments,
    handle_elect_leaders,
    handle_list_partition_reassignments,
)
from odradek.server.handlers.admin_topics import (
    handle_create_partitions,
    handle_delete_records,
    handle_describe_topic_partitions,
)
from odradek.server.handlers.api_versions import (
    encoded_api_versions,
    handle_api_versions,
    unsupported_version_response,
)
from odradek.server.handlers.client_quotas import (
    handle_alter_client_quotas,
    handle_describe_client_quotas,
)
from odradek.server.handlers.client_telemetry import (
    handle_get_telemetry_subscriptions,
    handle_list_client_metrics_resources,
    handle_push_telemetry,
)
from odradek.server.handlers.consumer_group import (
    handle_consumer_group_describe,
    handle_consumer_group_heartbeat,
)
from odradek.server.handlers.fetch import handle_fetch
from odradek.server.handlers.group_admin import (
    handle_delete_groups,
    handle_describe_groups,
    handle_list_groups,
)
from odradek.server.handlers.group_membership import (
    handle_find_coordinator,
    handle_heartbeat,
    handle_join_group,
    handle_leave_group,
    handle_sync_group,
)
from odradek.server.handlers.group_offsets import (
    handle_offset_commit,
    handle_offset_delete,
    handle_offset_fetch,
)
from odradek.server.handlers.leader_epoch import handle_offset_for_leader_epoch
from odradek.server.handlers.list_offsets import handle_list_offsets
from odradek.server.handlers.metadata import handle_metadata
from odradek.server.handlers.produce import handle_produce
from odradek.server.handlers.producer_ids import handle_init_producer_id
from odradek.server.handlers.sasl import handle_sasl_authenticate, handle_sasl_handshake
from odradek.server.handlers.scram_credentials import (
    handle_alter_user_scram_credentials,
    handle_describe_user_scram_credentials,
)
from odradek.server.handlers.topics import handle_create_topics, handle_delete_topics
from odradek.server.handlers.transactions import (
    handle_add_offsets_to_txn,
    handle_add_partitions_to_txn,
    handle_describe_producers,
    handle_describe_transactions,
    handle_end_txn,
    handle_list_transactions,
    handle_txn_offset_commit,
    handle_write_txn_markers,
)
from odradek.server.quotas import with_throttle_time
from odradek.server.request_context import ConnectionInfo, RequestContext

if TYPE_CHECKING:
    from odradek.server.broker import BrokerServer

log = logging.getLogger(__name__)

Chunks = list[bytes | bytearray | memoryview]
Handler = Callable[["BrokerServer", RequestContext, Any], Any]

HANDLERS: dict[int, Handler] = {
    keys.PRODUCE_KEY: handle_produce,
    keys.FETCH_KEY: handle_fetch,
    keys.LIST_OFFSETS_KEY: handle_list_offsets,
    keys.METADATA_KEY: handle_metadata,
    keys.API_VERSIONS_KEY: handle_api_versions,
    keys.SASL_HANDSHAKE_KEY: handle_sasl_handshake,
    keys.SASL_AUTHENTICATE_KEY: handle_sasl_authenticate,
    keys.DESCRIBE_CLIENT_QUOTAS_KEY: handle_describe_client_quotas,
    keys.ALTER_CLIENT_QUOTAS_KEY: handle_alter_client_quotas,
    keys.DESCRIBE_USER_SCRAM_CREDENTIALS_KEY: handle_describe_user_scram_credentials,
    keys.ALTER_USER_SCRAM_CREDENTIALS_KEY: handle_alter_user_scram_credentials,
    keys.CREATE_TOPICS_KEY: handle_create_topics,
    keys.DELETE_TOPICS_KEY: handle_delete_topics,
    keys.INIT_PRODUCER_ID_KEY: handle_init_producer_id,
    keys.OFFSET_FOR_LEADER_EPOCH_KEY: handle_offset_for_leader_epoch,
    keys.OFFSET_COMMIT_KEY: handle_offset_commit,
    keys.OFFSET_FETCH_KEY: handle_offset_fetch,
    keys.FIND_COORDINATOR_KEY: handle_find_coordinator,
    keys.JOIN_GROUP_KEY: handle_join_group,
    keys.HEARTBEAT_KEY: handle_heartbeat,
    keys.LEAVE_GROUP_KEY: handle_leave_group,
    keys.SYNC_GROUP_KEY: handle_sync_group,
    keys.DESCRIBE_GROUPS_KEY: handle_describe_groups,
    keys.LIST_GROUPS_KEY: handle_list_groups,
    keys.DELETE_GROUPS_KEY: handle_delete_groups,
    keys.CONSUMER_GROUP_HEARTBEAT_KEY: handle_consumer_group_heartbeat,
    keys.CONSUMER_GROUP_DESCRIBE_KEY: handle_consumer_group_describe,
    keys.OFFSET_DELETE_KEY: handle_offset_delete,
    keys.DELETE_RECORDS_KEY: handle_delete_records,
    keys.DESCRIBE_CONFIGS_KEY: handle_describe_configs,
    keys.ALTER_CONFIGS_KEY: handle_alter_configs,
    keys.DESCRIBE_LOG_DIRS_KEY: handle_describe_log_dirs,
    keys.CREATE_PARTITIONS_KEY: handle_create_partitions,
    keys.INCREMENTAL_ALTER_CONFIGS_KEY: handle_incremental_alter_configs,
    keys.DESCRIBE_CLUSTER_KEY: handle_describe_cluster,
    keys.DESCRIBE_TOPIC_PARTITIONS_KEY: handle_describe_topic_partitions,
    keys.ADD_PARTITIONS_TO_TXN_KEY: handle_add_partitions_to_txn,
    keys.ADD_OFFSETS_TO_TXN_KEY: handle_add_offsets_to_txn,
    keys.END_TXN_KEY: handle_end_txn,
    keys.WRITE_TXN_MARKERS_KEY: handle_write_txn_markers,
    keys.TXN_OFFSET_COMMIT_KEY: handle_txn_offset_commit,
    keys.DESCRIBE_ACLS_KEY: handle_describe_acls,
    keys.CREATE_ACLS_KEY: handle_create_acls,
    keys.DELETE_ACLS_KEY: handle_delete_acls,
    keys.DESCRIBE_PRODUCERS_KEY: handle_describe_producers,
    keys.DESCRIBE_TRANSACTIONS_KEY: handle_describe_transactions,
    keys.LIST_TRANSACTIONS_KEY: handle_list_transactions,
    keys.ELECT_LEADERS_KEY: handle_elect_leaders,
    keys.ALTER_PARTITION_REASSIGNMENTS_KEY: handle_alter_partition_reassignments,
    keys.LIST_PARTITION_REASSIGNMENTS_KEY: handle_list_partition_reassignments,
    keys.GET_TELEMETRY_SUBSCRIPTIONS_KEY: handle_get_telemetry_subscriptions,
    keys.PUSH_TELEMETRY_KEY: handle_push_telemetry,
    keys.LIST_CONFIG_RESOURCES_KEY: handle_list_client_metrics_resources,
}
assert set(HANDLERS) == set(keys.SUPPORTED_APIS), "advertised APIs and handlers differ"

# Requests that change metadata after an await (a write to the metadata store or through the
# controller): the requests a client pipelines behind one of them on the same connection are
# handled only once it is done, so they see its effect — as in Kafka, which handles one
# request per connection at a time. Other requests (fetch long polls, group joins, acks=all
# produces) keep being pipelined.
METADATA_CHANGING_APIS = frozenset(
    {
        keys.CREATE_TOPICS_KEY,
        keys.DELETE_TOPICS_KEY,
        keys.CREATE_PARTITIONS_KEY,
        keys.ALTER_CONFIGS_KEY,
        keys.INCREMENTAL_ALTER_CONFIGS_KEY,
        keys.INIT_PRODUCER_ID_KEY,
        keys.DELETE_RECORDS_KEY,
        keys.ELECT_LEADERS_KEY,
        keys.ALTER_PARTITION_REASSIGNMENTS_KEY,
        keys.ALTER_USER_SCRAM_CREDENTIALS_KEY,
        keys.CREATE_ACLS_KEY,
        keys.DELETE_ACLS_KEY,
    }
)


# Never throttled by request quotas (Kafka exempts the exchange that authenticates a client).
_QUOTA_EXEMPT = frozenset(
    {keys.API_VERSIONS_KEY, keys.SASL_HANDSHAKE_KEY, keys.SASL_AUTHENTICATE_KEY}
)
Throttled = Callable[[int], None]


def dispatch(
    broker: BrokerServer,
    frame: bytes | memoryview,
    connection: ConnectionInfo,
    throttled: Throttled | None = None,
) -> Chunks | Awaitable[Chunks | None] | None:
    """Handle one request frame: encoded response chunks, an awaitable of them, or None.

    Each request gets its own :class:`RequestContext`. A request whose handling wrote
    coordinator state (offsets, group or transaction state, markers) is answered only once
    the in-sync replicas have it, whether its handler is synchronous or a coroutine. A
    request a client quota throttles has the throttle time in its response, and
    ``throttled`` is told it (the connection then mutes itself once the response is sent).

    Raises RequestParseError (close the connection) for malformed or unsupported requests."""
    api_key, version, correlation_id = peek_header(frame)
    if api_key == keys.API_VERSIONS_KEY and version > keys.SUPPORTED_APIS[api_key][1]:
        header = RequestHeader(api_key, 0, correlation_id, None)
        return encode_response(header, unsupported_version_response())
    parsed = parse_request(frame)
    ctx = RequestContext(parsed.header, connection)
    started = perf_counter()
    result = HANDLERS[api_key](broker, ctx, parsed.body)
    handling_s = perf_counter() - started  # the handler's own time, not what it awaits
    if result is None:  # acks=0: no response, but a throttled client is still muted
        if ctx.throttle_ms and throttled is not None:
            throttled(ctx.throttle_ms)
        return None
    if ctx.writes or inspect.isawaitable(result):
        return _finish(broker, ctx, result, handling_s, throttled)
    if api_key == keys.API_VERSIONS_KEY:
        cached = encoded_api_versions(parsed.header, result)
        if cached is not None:
            return cached
    if api_key > keys.FETCH_KEY and metrics.ENABLED:
        metrics.response_errors(api_key, result)
    return encode_response(parsed.header, _throttle(broker, ctx, result, handling_s, throttled))


def _throttle(
    broker: BrokerServer,
    ctx: RequestContext,
    body: Any,
    handling_s: float,
    throttled: Throttled | None,
) -> Any:
    """The request's handling time against its request quota; the response with the
    throttle time of any quota it exceeded."""
    if ctx.header.api_key not in _QUOTA_EXEMPT:
        broker.quotas.record_request_time(ctx, handling_s)
    if not ctx.throttle_ms:
        return body
    if throttled is not None:
        throttled(ctx.throttle_ms)
    return with_throttle_time(body, ctx.throttle_ms)


INTERNAL_WRITE_TIMEOUT_S = 10.0


async def _finish(
    broker: BrokerServer,
    ctx: RequestContext,
    result: Any,
    handling_s: float,
    throttled: Throttled | None,
) -> Chunks | None:
    """Await a coroutine handler's response, then the replication of the internal writes
    the request made. When the in-sync replicas cannot get them, the connection is closed,
    so that the client retries (at the new coordinator)."""
    body = await result if inspect.isawaitable(result) else result
    linger_s = ctx.writes.flush_at - time.monotonic()
    if linger_s > 0:  # group.coordinator.append.linger.ms: answered when the window closes
        await asyncio.sleep(linger_s)
    offsets = ctx.writes.offsets()
    if offsets and not await broker.replica_manager.wait_replicated(
        offsets, INTERNAL_WRITE_TIMEOUT_S
    ):
        raise CloseConnectionError("coordinator state could not be replicated")
    if body is None:
        return None
    header = ctx.header
    if header.api_key > keys.FETCH_KEY and metrics.ENABLED:
        metrics.response_errors(header.api_key, body)
    body = _throttle(broker, ctx, body, handling_s, throttled)
    if ctx.encode_off_loop:  # a large response (its body is immutable): off the event loop
        return await asyncio.to_thread(encode_response, header, body)
    return encode_response(header, body)
