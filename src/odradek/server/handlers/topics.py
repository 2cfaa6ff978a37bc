"""CreateTopics and DeleteTopics (basic: name, partitions, replication factor, configs).

Both are coroutines: they await each topic's metadata write (in a cluster a ZooKeeper write,
which never blocks the event loop) in request order, and in a cluster answer once this
broker's metadata shows the change."""

from __future__ import annotations

from collections import Counter
from dataclasses import fields
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

from kio.schema.errors import ErrorCode

from odradek.cluster.admin_manager import TopicSpec
from odradek.common.errors import KafkaError
from odradek.common.ids import ZERO_UUID, TopicPartition
from odradek.protocol.api_versions import CREATE_TOPICS_KEY, DELETE_TOPICS_KEY
from odradek.protocol.codec import build, response_module
from odradek.security.acl import AclOperation, ResourceType
from odradek.server.authorization import authorize, denied
from odradek.server.collaborators import (
    Authorizing,
    HasAdminManager,
    HasCluster,
    HasConfigManager,
    HasMetadataStore,
)

if TYPE_CHECKING:
    from odradek.server.request_context import RequestContext


class TopicsCollaborators(
    Authorizing, HasAdminManager, HasCluster, HasConfigManager, HasMetadataStore, Protocol
):
    """What CreateTopics and DeleteTopics read from the broker."""


async def handle_create_topics(
    broker: TopicsCollaborators, ctx: RequestContext, request: Any
) -> Any:
    header = ctx.header
    module = response_module(CREATE_TOPICS_KEY, header.api_version)
    counts = Counter(t.name for t in request.topics)
    validate_only = bool(getattr(request, "validate_only", False))
    may_not_create, may_not_describe_configs = _create_refusals(broker, ctx, request)
    results = []
    created_names: list[str] = []
    for topic in request.topics:
        if counts[topic.name] > 1:
            results.append(
                _create_result(
                    module, topic.name, None, ErrorCode.invalid_request, "Duplicate topic name."
                )
            )
            continue
        if topic.name in may_not_create:
            results.append(
                _create_result(
                    module,
                    topic.name,
                    None,
                    ErrorCode.topic_authorization_failed,
                    "Authorization failed.",
                )
            )
            continue
        spec = TopicSpec(
            topic.name,
            topic.num_partitions,
            topic.replication_factor,
            {a.partition_index: list(a.broker_ids) for a in topic.assignments} or None,
            {c.name: c.value for c in topic.configs},
        )
        try:
            created = await broker.admin_manager.create_topic_async(spec, validate_only)
        except KafkaError as exc:
            results.append(_create_result(module, topic.name, None, exc.error_code, str(exc)))
            continue
        if created.name in may_not_describe_configs:
            result = _hidden_configs_result(module, created)
        else:
            result = _create_result(
                module,
                created.name,
                created,
                ErrorCode.none,
                None,
                _configs(broker, module, created),
            )
        if validate_only and hasattr(result, "topic_id"):
            result = build(type(result), **{**_fields(result), "topic_id": ZERO_UUID})
        results.append(result)
        if not validate_only:
            created_names.append(created.name)
    response = build(module.CreateTopicsResponse, throttle_time=timedelta(0), topics=tuple(results))
    if created_names:
        await broker.cluster.wait_for_metadata(
            lambda: all(_has_leaders(broker, name) for name in created_names), _timeout_s(request)
        )
    return response


def _create_refusals(
    broker: TopicsCollaborators, ctx: RequestContext, request: Any
) -> tuple[frozenset[str], frozenset[str]]:
    """The topics the principal may not create (without CREATE on the cluster, those it
    may not CREATE), and those whose configs it may not see in the answer."""
    if broker.authorizer is None:
        return frozenset(), frozenset()
    names = [t.name for t in request.topics]
    may_not_create: frozenset[str] = frozenset()
    if not authorize(ctx, broker, AclOperation.CREATE, ResourceType.CLUSTER):
        may_not_create = denied(ctx, broker, AclOperation.CREATE, ResourceType.TOPIC, names)
    configs = denied(ctx, broker, AclOperation.DESCRIBE_CONFIGS, ResourceType.TOPIC, names)
    return may_not_create, configs


def _has_leaders(broker: TopicsCollaborators, name: str) -> bool:
    topic = broker.metadata_store.topics.get(name)
    states = broker.metadata_store.states
    return topic is not None and all(
        TopicPartition(name, p) in states and states[TopicPartition(name, p)].leader >= 0
        for p in topic.assignment
    )


def _timeout_s(request: Any) -> float:
    """How long the answer may wait for the change to reach this broker's metadata."""
    timeout = getattr(request, "timeout", None)
    return timeout.total_seconds() if isinstance(timeout, timedelta) else 30.0


def _configs(broker: TopicsCollaborators, module: Any, created: Any) -> tuple[Any, ...]:
    """KIP-525: the created topic's effective configs with their sources (v5+)."""
    if not hasattr(module, "CreatableTopicConfigs"):
        return ()
    return tuple(
        build(
            module.CreatableTopicConfigs,
            name=e.name,
            value=e.value,
            read_only=e.read_only,
            config_source=int(e.source),
            is_sensitive=e.sensitive,
        )
        for e in broker.configs.describe_topic_metadata(created, None)
    )


def _create_result(
    module: Any,
    name: str,
    created: Any,
    error: ErrorCode,
    message: str | None,
    configs: tuple[Any, ...] = (),
) -> Any:
    return build(
        module.CreatableTopicResult,
        name=name,
        topic_id=created.topic_id if created is not None else ZERO_UUID,
        error_code=error,
        error_message=message,
        topic_config_error_code=0,
        num_partitions=created.partitions if created is not None else -1,
        replication_factor=created.replication_factor if created is not None else -1,
        configs=configs if created is not None else None,
    )


def _hidden_configs_result(module: Any, created: Any) -> Any:
    """A topic created for a principal that may not DESCRIBE_CONFIGS it: no configs,
    partitions or replication factor, and TOPIC_AUTHORIZATION_FAILED for them."""
    return build(
        module.CreatableTopicResult,
        name=created.name,
        topic_id=created.topic_id,
        error_code=ErrorCode.none,
        error_message=None,
        topic_config_error_code=ErrorCode.topic_authorization_failed,
        num_partitions=-1,
        replication_factor=-1,
        configs=(),
    )


async def handle_delete_topics(
    broker: TopicsCollaborators, ctx: RequestContext, request: Any
) -> Any:
    header = ctx.header
    module = response_module(DELETE_TOPICS_KEY, header.api_version)
    if hasattr(request, "topic_names"):
        wanted = [(name, None) for name in request.topic_names]
    else:
        wanted = [(t.name, t.topic_id if t.topic_id != ZERO_UUID else None) for t in request.topics]
    results = []
    for name, topic_id in wanted:
        refused = _refused_deletion(module, broker, ctx, name, topic_id)
        if refused is not None:
            results.append(refused)
            continue
        try:
            deleted = await broker.admin_manager.delete_topic_async(name, topic_id)
            results.append(
                build(
                    module.DeletableTopicResult,
                    name=deleted.name,
                    topic_id=deleted.topic_id,
                    error_code=ErrorCode.none,
                    error_message=None,
                )
            )
        except KafkaError as exc:
            results.append(
                build(
                    module.DeletableTopicResult,
                    name=name,
                    topic_id=topic_id or ZERO_UUID,
                    error_code=exc.error_code,
                    error_message=str(exc),
                )
            )
    response = build(
        module.DeleteTopicsResponse, throttle_time=timedelta(0), responses=tuple(results)
    )
    deleted_names = [r.name for r in results if r.error_code == ErrorCode.none]
    if deleted_names:
        await broker.cluster.wait_for_metadata(
            lambda: not any(n in broker.metadata_store.topics for n in deleted_names),
            _timeout_s(request),
        )
    return response


def _refused_deletion(
    module: Any, broker: TopicsCollaborators, ctx: RequestContext, name: str | None, topic_id: Any
) -> Any | None:
    """TOPIC_AUTHORIZATION_FAILED for a topic the principal may not DELETE; one named by id
    that it may not even DESCRIBE is answered without its name. None if allowed."""
    if broker.authorizer is None:
        return None
    if topic_id is not None:
        found = broker.metadata_store.by_id.get(topic_id)
        name = None if found is None else found.name
    if name is None:
        return None  # (an unknown id: UNKNOWN_TOPIC_ID)
    if topic_id is not None and not authorize(
        ctx, broker, AclOperation.DESCRIBE, ResourceType.TOPIC, name
    ):
        name = None
    elif authorize(ctx, broker, AclOperation.DELETE, ResourceType.TOPIC, name):
        return None
    return build(
        module.DeletableTopicResult,
        name=name,
        topic_id=topic_id or ZERO_UUID,
        error_code=ErrorCode.topic_authorization_failed,
        error_message=None,
    )


def _fields(entity: Any) -> dict[str, Any]:
    return {f.name: getattr(entity, f.name) for f in fields(entity)}
