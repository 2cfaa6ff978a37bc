"""Metadata: brokers, cluster id, controller, topics with partitions; topic auto-creation.
With an authorizer, a listing leaves out the topics the principal may not DESCRIBE, and a
named one it may not DESCRIBE (or auto-create) is TOPIC_AUTHORIZATION_FAILED.

Auto-creation is asynchronous, as in Kafka: the unknown topics a request names are queued
(``AdminManager.auto_create``) and answered LEADER_NOT_AVAILABLE until they are created;
clients retry Metadata. A request naming or listing more than ``CHUNK_TOPICS`` topics is
answered by a coroutine that yields the event loop between chunks of topics, and its
response is encoded on a worker thread."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import timedelta
from functools import partial
from operator import attrgetter
from typing import TYPE_CHECKING, Any, Protocol

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
    authorized_operations,
    cluster_authorized_operations,
    denied,
)
from odradek.server.collaborators import (
    Authorizing,
    HasAdminManager,
    HasConfig,
    HasLogManager,
    HasMetadataStore,
    HasNodeId,
    LeaderDiscovery,
)

if TYPE_CHECKING:
    from odradek.server.request_context import RequestContext


class MetadataCollaborators(
    Authorizing,
    LeaderDiscovery,
    HasAdminManager,
    HasConfig,
    HasLogManager,
    HasMetadataStore,
    HasNodeId,
    Protocol,
):
    """What Metadata reads from the broker (auto-creation through the admin manager)."""

    @property
    def cluster_id(self) -> str: ...


CHUNK_TOPICS = 1000
"""Topics answered per turn of the event loop (a few milliseconds of work)."""
NO_TOPIC_ID = uuid.UUID(int=0)
_NAME = attrgetter("name")


def handle_metadata(broker: MetadataCollaborators, ctx: RequestContext, request: Any) -> Any:
    module = response_module(METADATA_KEY, ctx.header.api_version)
    answers = _Answers(module, broker, ctx)
    requested = request.topics
    answer: Callable[[Any], Any]
    items: Sequence[Any]
    if requested is None or (ctx.header.api_version == 0 and not requested):
        existing = broker.metadata_store.topics
        hidden = denied(ctx, broker, AclOperation.DESCRIBE, ResourceType.TOPIC, existing)
        items = (
            [t for t in existing.values() if t.name not in hidden]
            if hidden
            else [*existing.values()]
        )
        answer = answers.listed
    else:
        items, names = _distinct(requested)
        answers.prepare(names, bool(getattr(request, "allow_auto_topic_creation", True)))
        answer = answers.requested
    if len(items) <= CHUNK_TOPICS:
        return _response(module, broker, ctx, request, [answer(item) for item in items])
    return _chunked(module, broker, ctx, request, items, answer)


async def _chunked(
    module: Any,
    broker: MetadataCollaborators,
    ctx: RequestContext,
    request: Any,
    items: Sequence[Any],
    answer: Callable[[Any], Any],
) -> Any:
    ctx.encode_off_loop = True
    topics: list[Any] = []
    for start in range(0, len(items), CHUNK_TOPICS):
        if start:
            await asyncio.sleep(0)
        topics.extend(answer(item) for item in items[start : start + CHUNK_TOPICS])
    return _response(module, broker, ctx, request, topics)


def _distinct(requested: Sequence[Any]) -> tuple[Sequence[Any], list[str]]:
    """The requested topics, each name once (Kafka answers the set of names asked for), and
    their names."""
    names = list(map(_NAME, requested))
    if None in names or "" in names:  # topics asked for by id
        names = [name for name in names if name]
    if len(set(names)) == len(names):
        return requested, names
    seen: set[str] = set()
    items = []
    for item in requested:
        name = item.name
        if name:
            if name in seen:
                continue
            seen.add(name)
        items.append(item)
    return items, list(seen)


def _response(
    module: Any, broker: MetadataCollaborators, ctx: RequestContext, request: Any, topics: list[Any]
) -> Any:
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
    return build(
        module.MetadataResponse,
        throttle_time=timedelta(0),
        brokers=brokers,
        cluster_id=broker.cluster_id,
        controller_id=broker.cluster.controller_id(),
        topics=tuple(topics),
        cluster_authorized_operations=cluster_operations,
    )


def _with_operations(broker: MetadataCollaborators, ctx: RequestContext, topic: Any) -> Any:
    """A topic the principal may describe, with its ``topic_authorized_operations``."""
    if topic.name is None or topic.error_code == ErrorCode.topic_authorization_failed:
        return topic
    operations = authorized_operations(ctx, broker, ResourceType.TOPIC, topic.name)
    return dataclasses.replace(topic, topic_authorized_operations=operations)


def _factory(entity_type: Any, varying: frozenset[str], **constant: Any) -> Callable[..., Any]:
    """``entity_type``'s constructor with the ``constant`` fields its version has bound, taking
    the ``varying`` ones per call: ``build``'s per-version filtering done once per request,
    not once per topic (and per call only for the old versions that lack a varying field)."""
    names = {field.name for field in dataclasses.fields(entity_type)}
    make = partial(entity_type, **{k: v for k, v in constant.items() if k in names})
    lacking = varying - names
    if not lacking:
        return make

    def make_without(**values: Any) -> Any:
        for name in lacking:
            values.pop(name, None)
        return make(**values)

    return make_without


class _Answers:
    """One request's answers, topic by topic: what is decided for the whole request once
    (authorization, auto-creation), then one response entry per topic."""

    def __init__(self, module: Any, broker: MetadataCollaborators, ctx: RequestContext) -> None:
        self.module = module
        self.broker = broker
        self.ctx = ctx
        self.store = broker.metadata_store
        self.creating: Collection[str] = broker.admin_manager.auto_creating
        self.not_described: Collection[str] = frozenset()
        self.not_creatable: Collection[str] = frozenset()
        self.auto_create = False
        self.refused: dict[str, KafkaError] = {}
        self.topic_entry = _factory(
            module.MetadataResponseTopic,
            frozenset({"error_code", "name", "topic_id", "is_internal", "partitions"}),
            is_internal=False,
            partitions=(),
            topic_authorized_operations=AUTHORIZED_OPERATIONS_OMITTED,
        )
        self.single_node_partition = _factory(
            module.MetadataResponsePartition,
            frozenset({"partition_index"}),
            error_code=ErrorCode.none,
            leader_id=broker.node_id,
            leader_epoch=0,
            replica_nodes=(broker.node_id,),
            isr_nodes=(broker.node_id,),
            offline_replicas=(),
        )
        self._partitions: dict[int, tuple[Any, ...]] = {}  # a single node's, by count

    def prepare(self, names: list[str], allow_auto: bool) -> None:
        """Authorize the named topics, and queue the unknown ones for auto-creation (the
        admin manager reads the names lazily, up to its cap)."""
        ctx, broker = self.ctx, self.broker
        self.not_described = denied(ctx, broker, AclOperation.DESCRIBE, ResourceType.TOPIC, names)
        self.auto_create = allow_auto and bool(broker.config.get("auto.create.topics.enable"))
        if not self.auto_create:
            return
        topics, not_described = self.store.topics, self.not_described
        unknown: Iterable[str] = (n for n in names if n not in topics and n not in not_described)
        if not authorize(ctx, broker, AclOperation.CREATE, ResourceType.CLUSTER):
            unknown = list(unknown)
            self.not_creatable = denied(
                ctx, broker, AclOperation.CREATE, ResourceType.TOPIC, unknown
            )
        not_creatable = self.not_creatable
        self.refused = broker.admin_manager.auto_create(
            name for name in unknown if name not in not_creatable
        )

    def listed(self, topic: TopicMetadata) -> Any:
        if topic.name in self.creating:
            return self.error(topic.name, None, ErrorCode.leader_not_available)
        return self.topic(topic)

    def requested(self, item: Any) -> Any:
        name = item.name
        topic_id = getattr(item, "topic_id", None)
        if not name and topic_id is not None and topic_id.int != 0:
            return self._by_id(topic_id)
        if name in self.not_described:
            return self.error(name, None, ErrorCode.topic_authorization_failed)
        if name in self.creating:
            return self.error(name, None, ErrorCode.leader_not_available)
        topic = self.store.topics.get(name)
        if topic is not None:
            return self.topic(topic)
        if name in self.not_creatable:
            return self.error(name, None, ErrorCode.topic_authorization_failed)
        try:
            validate_topic_name(name)
        except KafkaError as exc:
            return self.error(name, None, exc.error_code)
        if not self.auto_create:
            return self.error(name, None, ErrorCode.unknown_topic_or_partition)
        refused = self.refused.get(name)
        if refused is not None:
            return self.error(name, None, refused.error_code)
        # Queued now, or left for a later request: being created, as far as clients know.
        return self.error(name, None, ErrorCode.leader_not_available)

    def _by_id(self, topic_id: uuid.UUID) -> Any:
        found = self.store.by_id.get(topic_id)
        if found is None:
            return self.error(None, topic_id, ErrorCode.unknown_topic_id)
        if not authorize(
            self.ctx, self.broker, AclOperation.DESCRIBE, ResourceType.TOPIC, found.name
        ):
            return self.error(None, topic_id, ErrorCode.topic_authorization_failed)
        return self.topic(found)

    def error(self, name: str | None, topic_id: uuid.UUID | None, error: ErrorCode) -> Any:
        return self.topic_entry(error_code=error, name=name, topic_id=topic_id or NO_TOPIC_ID)

    def topic(self, topic: TopicMetadata) -> Any:
        return self.broker.cluster.describe_topic(self, topic)

    def replicated_topic(self, topic: TopicMetadata) -> Any:
        """Leader, epoch, replicas, ISR and offline replicas from the partition states."""
        return _cluster_topic(self.module, self.broker, topic)

    def hosted_topic(self, topic: TopicMetadata) -> Any:
        """Every partition led here (one whose log dir is offline has no leader)."""
        partitions = self._single_node_partitions(topic.partitions)
        if self.broker.log_manager.offline_dirs:
            partitions = self._with_offline(topic.name, partitions)
        return self.topic_entry(
            error_code=ErrorCode.none,
            name=topic.name,
            topic_id=topic.topic_id,
            is_internal=topic.internal,
            partitions=partitions,
        )

    def _with_offline(self, name: str, partitions: tuple[Any, ...]) -> tuple[Any, ...]:
        """KIP-112: a partition whose log is in an offline log dir has no leader; its only
        replica is offline."""
        is_offline = self.broker.log_manager.is_offline
        node = self.broker.node_id
        return tuple(
            build(
                self.module.MetadataResponsePartition,
                error_code=ErrorCode.leader_not_available,
                partition_index=entry.partition_index,
                leader_id=-1,
                leader_epoch=-1,
                replica_nodes=(node,),
                isr_nodes=(node,),
                offline_replicas=(node,),
            )
            if is_offline(TopicPartition(name, entry.partition_index))
            else entry
            for entry in partitions
        )

    def _single_node_partitions(self, count: int) -> tuple[Any, ...]:
        """A single node leads every partition: the entries differ only in their index, so
        the topics with as many partitions share one tuple of them."""
        partitions = self._partitions.get(count)
        if partitions is None:
            partitions = self._partitions[count] = tuple(
                self.single_node_partition(partition_index=p) for p in range(count)
            )
        return partitions


def _cluster_topic(module: Any, broker: MetadataCollaborators, topic: TopicMetadata) -> Any:
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
        error_code=ErrorCode.none,
        name=topic.name,
        topic_id=topic.topic_id,
        is_internal=topic.internal,
        partitions=tuple(partitions),
        topic_authorized_operations=AUTHORIZED_OPERATIONS_OMITTED,
    )
