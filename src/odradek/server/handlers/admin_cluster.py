"""DescribeCluster and DescribeLogDirs."""

from __future__ import annotations

import shutil
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

from kio.schema.errors import ErrorCode

from odradek.protocol import api_versions as keys
from odradek.protocol.codec import build, response_module
from odradek.security.acl import AclOperation, ResourceType
from odradek.server.authorization import (
    AUTHORIZED_OPERATIONS_OMITTED,
    authorize,
    cluster_authorized_operations,
)
from odradek.server.collaborators import Authorizing, HasLogManager, LeaderDiscovery

if TYPE_CHECKING:
    from odradek.server.request_context import RequestContext


class AdminClusterCollaborators(Authorizing, LeaderDiscovery, HasLogManager, Protocol):
    """What DescribeCluster and DescribeLogDirs read from the broker."""

    @property
    def cluster_id(self) -> str: ...


ZERO = timedelta(0)
BROKERS_ENDPOINT = 1
UNKNOWN_VOLUME_BYTES = -1  # DescribeLogDirs' total/usable bytes when not known


def handle_describe_cluster(
    broker: AdminClusterCollaborators, ctx: RequestContext, request: Any
) -> Any:
    header = ctx.header
    module = response_module(keys.DESCRIBE_CLUSTER_KEY, header.api_version)
    endpoint_type = getattr(request, "endpoint_type", BROKERS_ENDPOINT)
    if endpoint_type != BROKERS_ENDPOINT:
        return build(
            module.DescribeClusterResponse,
            throttle_time=ZERO,
            error_code=ErrorCode.unsupported_endpoint_type,
            error_message="The broker does not serve controller endpoints",
            endpoint_type=endpoint_type,
            cluster_id=broker.cluster_id,
            controller_id=-1,
            brokers=(),
            cluster_authorized_operations=AUTHORIZED_OPERATIONS_OMITTED,
        )
    brokers = tuple(
        build(
            module.DescribeClusterBroker,
            broker_id=b.broker_id,
            host=b.host,
            port=b.port,
            rack=b.rack,
            is_fenced=False,
        )
        for b in broker.broker_endpoints(ctx.listener_name)
    )
    controller_id = broker.cluster.controller_id()
    operations = AUTHORIZED_OPERATIONS_OMITTED
    if request.include_cluster_authorized_operations:
        operations = cluster_authorized_operations(ctx, broker)
    return build(
        module.DescribeClusterResponse,
        throttle_time=ZERO,
        error_code=ErrorCode.none,
        error_message=None,
        endpoint_type=endpoint_type,
        cluster_id=broker.cluster_id,
        controller_id=controller_id,
        brokers=brokers,
        cluster_authorized_operations=operations,
    )


def handle_describe_log_dirs(
    broker: AdminClusterCollaborators, ctx: RequestContext, request: Any
) -> Any:
    header = ctx.header
    module = response_module(keys.DESCRIBE_LOG_DIRS_KEY, header.api_version)
    if not authorize(ctx, broker, AclOperation.DESCRIBE, ResourceType.CLUSTER):
        return build(
            module.DescribeLogDirsResponse,
            throttle_time=ZERO,
            error_code=ErrorCode.cluster_authorization_failed,
            results=(),
        )
    wanted = (
        None
        if request.topics is None
        else {(t.topic, p) for t in request.topics for p in t.partitions}
    )
    results = []
    offline = broker.log_manager.offline_dirs
    for directory in broker.log_manager.log_dirs:
        if directory in offline:
            # As Kafka describes an offline dir: its error, no partitions, sizes unknown.
            results.append(
                build(
                    module.DescribeLogDirsResult,
                    error_code=ErrorCode.kafka_storage_error,
                    log_dir=str(directory),
                    topics=(),
                    total_bytes=UNKNOWN_VOLUME_BYTES,
                    usable_bytes=UNKNOWN_VOLUME_BYTES,
                )
            )
            continue
        by_topic: dict[str, list[Any]] = {}
        for tp, log_obj in sorted(broker.log_manager.logs.items()):
            if log_obj.dir.parent != directory or (wanted is not None and tp not in wanted):
                continue
            by_topic.setdefault(tp.topic, []).append(
                build(
                    module.DescribeLogDirsPartition,
                    partition_index=tp.partition,
                    partition_size=log_obj.size_in_bytes,
                    offset_lag=0,
                    is_future_key=False,
                )
            )
        usage = shutil.disk_usage(directory)
        results.append(
            build(
                module.DescribeLogDirsResult,
                error_code=ErrorCode.none,
                log_dir=str(directory),
                topics=tuple(
                    build(module.DescribeLogDirsTopic, name=name, partitions=tuple(parts))
                    for name, parts in by_topic.items()
                ),
                total_bytes=usage.total,
                usable_bytes=usage.free,
            )
        )
    return build(
        module.DescribeLogDirsResponse,
        throttle_time=ZERO,
        error_code=ErrorCode.none,
        results=tuple(results),
    )
