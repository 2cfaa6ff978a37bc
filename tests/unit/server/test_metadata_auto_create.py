"""The Metadata handler: auto-creation answered LEADER_NOT_AVAILABLE while the topics are
created in the background (as Kafka does), a cap per request, names answered once, the
other errors (auto-creation off, invalid names, no CREATE permission), and the chunked
answer of a request naming more than CHUNK_TOPICS topics."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from kio.schema.errors import ErrorCode
from kio.schema.metadata.v1 import request as v1
from kio.schema.metadata.v12 import request as v12
from kio.schema.types import TopicName

from odradek.cluster import admin_manager
from odradek.common.principal import KafkaPrincipal
from odradek.protocol.codec import RequestHeader
from odradek.security.acl import (
    AccessControlEntry,
    AclOperation,
    AclPermissionType,
    PatternType,
    ResourcePattern,
    ResourceType,
)
from odradek.server.broker import BrokerServer
from odradek.server.handlers import metadata
from odradek.server.handlers.metadata import handle_metadata
from odradek.server.request_context import ConnectionInfo, RequestContext
from odradek.testing import Broker

METADATA = 3


@pytest.fixture
async def broker(tmp_path: Path) -> AsyncIterator[BrokerServer]:
    async with Broker(data_dir=tmp_path / "data", overrides={"num.partitions": "2"}) as running:
        assert running.server is not None
        yield running.server


def context(version: int, user: str = "alice") -> RequestContext:
    return RequestContext(
        RequestHeader(METADATA, version, 1, "test"),
        ConnectionInfo(principal=KafkaPrincipal("User", user), peer_host="127.0.0.1"),
    )


async def ask(
    server: BrokerServer, names: list[str], auto: bool = True, user: str = "alice"
) -> dict[str, ErrorCode]:
    """Metadata v12 naming ``names``: each topic's error code, in the response's order."""
    request = v12.MetadataRequest(
        topics=tuple(v12.MetadataRequestTopic(topic_id=None, name=TopicName(n)) for n in names),
        allow_auto_topic_creation=auto,
        include_topic_authorized_operations=False,
    )
    response: Any = handle_metadata(server, context(12, user), request)
    if inspect.isawaitable(response):
        response = await response
    return {t.name: t.error_code for t in response.topics}


async def created(server: BrokerServer, timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while server.admin_manager.auto_creating:
            await asyncio.sleep(0.01)


async def test_unknown_topics_are_leader_not_available_until_created(
    broker: BrokerServer,
) -> None:
    first = await ask(broker, ["auto-1", "auto-2"])
    assert first == {
        "auto-1": ErrorCode.leader_not_available,
        "auto-2": ErrorCode.leader_not_available,
    }
    await created(broker)
    request = v1.MetadataRequest(topics=(v1.MetadataRequestTopic(name=TopicName("auto-1")),))
    response = handle_metadata(broker, context(1), request)  # v1: always auto-creates
    (topic,) = response.topics
    assert topic.error_code == ErrorCode.none and len(topic.partitions) == 2
    assert [p.leader_id for p in topic.partitions] == [broker.node_id, broker.node_id]


async def test_a_topic_being_created_is_leader_not_available_even_once_written(
    broker: BrokerServer,
) -> None:
    await ask(broker, ["slow"])
    async with asyncio.timeout(20):  # its metadata write lands (fsynced on the writer thread)
        while "slow" not in broker.metadata_store.topics:
            await asyncio.sleep(0)
    assert "slow" in broker.admin_manager.auto_creating  # its logs are not all there yet
    assert await ask(broker, ["slow"]) == {"slow": ErrorCode.leader_not_available}
    await created(broker)
    assert await ask(broker, ["slow"]) == {"slow": ErrorCode.none}


async def test_names_over_the_cap_are_created_on_a_later_request(
    broker: BrokerServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(admin_manager, "MAX_AUTO_CREATIONS_PER_REQUEST", 4)
    names = [f"many-{i}" for i in range(10)]
    assert set((await ask(broker, names)).values()) == {ErrorCode.leader_not_available}
    await created(broker)
    assert sum(name in broker.metadata_store.topics for name in names) == 4
    for _ in range(3):  # clients retry metadata
        await ask(broker, names)
        await created(broker)
    assert set((await ask(broker, names)).values()) == {ErrorCode.none}


async def test_each_name_is_answered_once(broker: BrokerServer) -> None:
    request = v12.MetadataRequest(
        topics=tuple(v12.MetadataRequestTopic(topic_id=None, name=TopicName("dup")) for _ in "xyz"),
        allow_auto_topic_creation=True,
        include_topic_authorized_operations=False,
    )
    response = handle_metadata(broker, context(12), request)
    assert [t.name for t in response.topics] == ["dup"]


async def test_other_errors(broker: BrokerServer) -> None:
    assert await ask(broker, ["off"], auto=False) == {"off": ErrorCode.unknown_topic_or_partition}
    assert await ask(broker, ["bad name"]) == {"bad name": ErrorCode.invalid_topic_exception}
    assert not broker.admin_manager.auto_creating
    assert "off" not in broker.metadata_store.topics


async def test_auto_creation_off_in_the_broker_config(tmp_path: Path) -> None:
    overrides = {"auto.create.topics.enable": "false"}
    async with Broker(data_dir=tmp_path / "off", overrides=overrides) as running:
        assert running.server is not None
        assert await ask(running.server, ["nope"]) == {"nope": ErrorCode.unknown_topic_or_partition}
        assert not running.server.admin_manager.auto_creating


async def test_auto_creation_needs_create_on_the_topic_or_the_cluster(tmp_path: Path) -> None:
    overrides = {
        "authorizer.class.name": "kafka.security.authorizer.AclAuthorizer",
        "allow.everyone.if.no.acl.found": "false",
    }
    async with Broker(data_dir=tmp_path / "acl", overrides=overrides) as running:
        server = running.server
        assert server is not None and server.authorizer is not None
        alice = "User:alice"
        server.authorizer.replace_resource(
            ResourcePattern(ResourceType.TOPIC, "*", PatternType.LITERAL),
            frozenset(
                {AccessControlEntry(alice, "*", AclOperation.DESCRIBE, AclPermissionType.ALLOW)}
            ),
        )
        server.authorizer.replace_resource(
            ResourcePattern(ResourceType.TOPIC, "mine-", PatternType.PREFIXED),
            frozenset(
                {AccessControlEntry(alice, "*", AclOperation.CREATE, AclPermissionType.ALLOW)}
            ),
        )
        answers = await ask(server, ["mine-1", "theirs"])
        assert answers == {
            "mine-1": ErrorCode.leader_not_available,
            "theirs": ErrorCode.topic_authorization_failed,
        }
        assert list(server.admin_manager.auto_creating) == ["mine-1"]
        await created(server)


async def test_a_large_request_is_answered_in_chunks(
    broker: BrokerServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(metadata, "CHUNK_TOPICS", 10)
    await broker.admin_manager.create_topic_async(admin_manager.TopicSpec("known"))
    names = ["known", *(f"chunk-{i}" for i in range(25))]
    request = v12.MetadataRequest(
        topics=tuple(v12.MetadataRequestTopic(topic_id=None, name=TopicName(n)) for n in names),
        allow_auto_topic_creation=False,
        include_topic_authorized_operations=False,
    )
    response = handle_metadata(broker, context(12), request)
    assert inspect.isawaitable(response)
    topics = (await response).topics
    assert [t.name for t in topics] == names
    assert topics[0].error_code == ErrorCode.none and len(topics[0].partitions) == 2
    assert {t.error_code for t in topics[1:]} == {ErrorCode.unknown_topic_or_partition}
    listing = handle_metadata(
        broker,
        context(12),
        v12.MetadataRequest(
            topics=None, allow_auto_topic_creation=False, include_topic_authorized_operations=False
        ),
    )
    assert not inspect.isawaitable(listing)  # one topic: answered at once
    assert [t.name for t in listing.topics] == ["known"]
