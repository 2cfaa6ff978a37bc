"""The one place a request handler asks whether its principal may do something: the
broker's ACL authorizer when ``authorizer.class.name`` is set; without one every request
is allowed, as in Kafka.

Handlers on the hot paths (Produce, Fetch) ask :func:`denied`, which returns at once
without an authorizer, so that no per-topic work is done for authorization then."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from kio.schema.errors import ErrorCode

from odradek.common.errors import KafkaError
from odradek.security.acl import AclOperation, ResourceType, supported_operations

if TYPE_CHECKING:
    from odradek.server.collaborators import Authorizing
    from odradek.server.request_context import RequestContext

CLUSTER_NAME = "kafka-cluster"  # Kafka's name for the one CLUSTER resource
# The schemas' default of every ``*_authorized_operations`` field: not asked for.
AUTHORIZED_OPERATIONS_OMITTED = -2147483648

# Kafka's messages for the authorization errors (``Errors``' default messages).
TOPIC_AUTHORIZATION_FAILED = "Topic authorization failed."
GROUP_AUTHORIZATION_FAILED = "Group authorization failed."
CLUSTER_AUTHORIZATION_FAILED = "Cluster authorization failed."
TRANSACTIONAL_ID_AUTHORIZATION_FAILED = "Transactional Id authorization failed."


class TopicAuthorizationError(KafkaError):
    """The principal may not do what a request asks on a topic."""

    error_code = ErrorCode.topic_authorization_failed


def authorize(
    ctx: RequestContext,
    broker: Authorizing,
    operation: AclOperation,
    resource_type: ResourceType,
    name: str = CLUSTER_NAME,
) -> bool:
    authorizer = broker.authorizer
    if authorizer is None:
        return True
    return authorizer.authorize(
        ctx.principal, ctx.connection.peer_host, operation, resource_type, name
    )


def authorize_any(
    ctx: RequestContext, broker: Authorizing, operation: AclOperation, resource_type: ResourceType
) -> bool:
    """Whether the principal may do ``operation`` on at least one resource of the type
    (KIP-679's ``authorizeByResourceType``: WRITE on some topic implies IDEMPOTENT_WRITE)."""
    authorizer = broker.authorizer
    if authorizer is None:
        return True
    return authorizer.authorize_any(
        ctx.principal, ctx.connection.peer_host, operation, resource_type
    )


def denied(
    ctx: RequestContext,
    broker: Authorizing,
    operation: AclOperation,
    resource_type: ResourceType,
    names: Iterable[str],
) -> frozenset[str]:
    """The distinct ``names`` the principal may not do ``operation`` on (Kafka's
    ``filterByAuthorized``, one decision per name). Empty without an authorizer, without
    looking at ``names``."""
    authorizer = broker.authorizer
    if authorizer is None:
        return frozenset()
    principal, host = ctx.principal, ctx.connection.peer_host
    return frozenset(
        name
        for name in set(names)
        if not authorizer.authorize(principal, host, operation, resource_type, name)
    )


def authorized(
    ctx: RequestContext,
    broker: Authorizing,
    operation: AclOperation,
    resource_type: ResourceType,
    names: Iterable[str],
) -> list[str]:
    """``names``, in order, less those the principal may not do ``operation`` on: what a
    listing shows (topics in Metadata, groups in ListGroups)."""
    listed = list(names)
    refused = denied(ctx, broker, operation, resource_type, listed)
    return [name for name in listed if name not in refused] if refused else listed


def authorized_operations(
    ctx: RequestContext,
    broker: Authorizing,
    resource_type: ResourceType,
    name: str = CLUSTER_NAME,
) -> int:
    """The ``*_authorized_operations`` bitfield of a resource: bit ``code`` set for each
    operation of its type the principal may do (every one without an authorizer)."""
    authorizer = broker.authorizer
    if authorizer is None:
        return _bits(supported_operations(resource_type))
    return authorizer.authorized_operations(
        ctx.principal, ctx.connection.peer_host, resource_type, name
    )


def cluster_authorized_operations(ctx: RequestContext, broker: Authorizing) -> int:
    """``cluster_authorized_operations`` when asked for: the bitfield if the principal may
    DESCRIBE the cluster, else 0 (Metadata, DescribeCluster)."""
    if not authorize(ctx, broker, AclOperation.DESCRIBE, ResourceType.CLUSTER):
        return 0
    return authorized_operations(ctx, broker, ResourceType.CLUSTER)


def _bits(operations: Iterable[AclOperation]) -> int:
    bits = 0
    for operation in operations:
        bits |= 1 << operation
    return bits
