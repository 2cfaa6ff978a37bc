"""KIP-848's dynamic group configs (ConfigResource type 32): Kafka 4.0's GroupConfig
validation, with its messages, and the consumer-group coordinator using a group's
``consumer.session.timeout.ms`` and ``consumer.heartbeat.interval.ms`` (fake clock and
scheduler, as the other consumer-group unit tests)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from odradek.common.clock import FakeClock
from odradek.common.errors import InvalidConfigError, InvalidRequestError
from odradek.coordinator.group import group_configs as gc
from odradek.coordinator.group.consumer.manager import HeartbeatRequest, HeartbeatResult
from odradek.coordinator.group.coordinator import GroupConfig, GroupCoordinator
from tests.unit.coordinator.test_consumer_group_protocol import (
    GROUP,
    REBALANCE,
    SESSION,
    TOPIC,
    TOPIC_ID,
    FakeTopics,
)
from tests.unit.coordinator.test_group_coordinator import FakeOffsetsLog, FakeScheduler

S, H = gc.CONSUMER_SESSION_TIMEOUT_MS, gc.CONSUMER_HEARTBEAT_INTERVAL_MS
# Kafka's broker defaults: session 45 s in [45 s, 60 s], heartbeat 5 s in [5 s, 15 s].
BROKER = GroupConfig()


def invalid(configs: Mapping[str, str], config: GroupConfig = BROKER) -> str:
    with pytest.raises(InvalidConfigError) as caught:
        gc.validate(configs, config)
    return str(caught.value)


def test_a_group_without_overrides_takes_the_brokers_values() -> None:
    assert gc.validate({}, BROKER) == {S: 45_000, H: 5000}
    wide = GroupConfig(consumer_session_timeout_ms=50_000, consumer_heartbeat_interval_ms=7000)
    assert gc.validate({}, wide) == {S: 50_000, H: 7000}
    assert gc.validate({S: " 60000 ", H: "15000"}, BROKER) == {S: 60_000, H: 15_000}


def test_values_outside_the_brokers_bounds_fail_with_kafkas_messages() -> None:
    assert invalid({H: "4999"}) == (
        "consumer.heartbeat.interval.ms must be greater than or equal to "
        "group.consumer.min.heartbeat.interval.ms"
    )
    assert invalid({H: "15001"}) == (
        "consumer.heartbeat.interval.ms must be less than or equal to "
        "group.consumer.max.heartbeat.interval.ms"
    )
    assert invalid({S: "44999"}) == (
        "consumer.session.timeout.ms must be greater than or equal to "
        "group.consumer.min.session.timeout.ms"
    )
    assert invalid({S: "60001"}) == (
        "consumer.session.timeout.ms must be less than or equal to "
        "group.consumer.max.session.timeout.ms"
    )
    # The heartbeat bounds are checked first, as Kafka's GroupConfig.validateValues does.
    assert invalid({S: "1", H: "1"}).startswith("consumer.heartbeat.interval.ms must be greater")


def test_the_session_timeout_must_exceed_the_heartbeat_interval() -> None:
    loose = GroupConfig(
        consumer_min_session_timeout_ms=1000,
        consumer_min_heartbeat_interval_ms=1000,
        consumer_max_heartbeat_interval_ms=60_000,
    )
    assert invalid({S: "10000", H: "10000"}, loose) == (
        "consumer.session.timeout.ms must be greater than consumer.heartbeat.interval.ms"
    )
    assert gc.validate({S: "10001", H: "10000"}, loose) == {S: 10_001, H: 10_000}


def test_unknown_names_types_and_non_positive_values() -> None:
    assert invalid({"share.session.timeout.ms": "45000"}) == (
        "Unknown group config name: share.session.timeout.ms"
    )
    assert invalid({S: "abc"}) == (
        "Invalid value abc for configuration consumer.session.timeout.ms: Not a number of type INT"
    )
    assert invalid({H: "2147483648"}).endswith("Not a number of type INT")
    assert invalid({H: "0"}) == (
        "Invalid value 0 for configuration consumer.heartbeat.interval.ms: Value must be at least 1"
    )


def test_altering_sets_deletes_and_refuses_list_operations() -> None:
    current = {S: "50000"}
    assert gc.altered(current, [(H, gc.SET, "6000")], True, BROKER) == {S: "50000", H: "6000"}
    assert gc.altered(current, [(S, gc.DELETE, None)], True, BROKER) == {}
    # AlterConfigs (not incremental) replaces the whole set.
    assert gc.altered(current, [(H, gc.SET, "6000")], False, BROKER) == {H: "6000"}
    with pytest.raises(InvalidConfigError, match=r"Can't APPEND to key .* is not LIST"):
        gc.altered(current, [(S, gc.APPEND, "1")], True, BROKER)
    with pytest.raises(InvalidConfigError, match="must be less than or equal"):
        gc.altered(current, [(S, gc.SET, "70000")], True, BROKER)


def test_a_group_resource_needs_a_name() -> None:
    with pytest.raises(InvalidRequestError, match="Group name must not be empty"):
        gc.check_name("", describing=True)
    with pytest.raises(InvalidRequestError, match="Default group resources are not allowed"):
        gc.check_name("", describing=False)


def test_entity_paths_sanitize_the_group_id() -> None:
    assert gc.entity_path("orders-app") == "groups/orders-app"
    assert gc.entity_path("a/b c") == "groups/a%2Fb%20c"
    assert gc.group_of("groups/a%2Fb%20c") == "a/b c"
    assert gc.group_of("client-metrics/x") is None


class Overrides:
    """A GroupConfigLookup over a dict the test changes as it goes."""

    def __init__(self) -> None:
        self.configs: dict[str, dict[str, str]] = {}

    def group_configs(self, group_id: str) -> Mapping[str, str]:
        return self.configs.get(group_id, {})


class Harness:
    def __init__(self) -> None:
        self.clock = FakeClock()
        self.scheduler = FakeScheduler(self.clock)
        self.overrides = Overrides()
        self.coordinator = GroupCoordinator(
            GroupConfig(offsets_partitions=4, consumer_session_timeout_ms=SESSION),
            self.clock,
            self.scheduler,
            FakeOffsetsLog(),
            FakeTopics({TOPIC: (TOPIC_ID, 6)}),
            self.overrides,
        )

    def heartbeat(self, member_id: str, epoch: int, **fields: Any) -> HeartbeatResult:
        request = HeartbeatRequest(
            group_id=GROUP,
            member_id=member_id,
            member_epoch=epoch,
            **fields,
        )
        return self.coordinator.consumer_group_heartbeat(request)

    def join(self, member_id: str) -> HeartbeatResult:
        return self.heartbeat(
            member_id, 0, owned={}, subscribed_topic_names=(TOPIC,), rebalance_timeout_ms=REBALANCE
        )

    def members(self) -> set[str]:
        group = self.coordinator.consumer_group(GROUP)
        assert group is not None
        return set(group.members)


def test_heartbeat_responses_carry_the_groups_interval_from_the_next_heartbeat_on() -> None:
    h = Harness()
    joined = h.join("a")
    assert joined.heartbeat_interval_ms == 5000  # the broker's
    h.overrides.configs[GROUP] = {H: "7000"}
    assert h.heartbeat("a", joined.member_epoch).heartbeat_interval_ms == 7000
    h.overrides.configs["other-group"] = {H: "9000"}  # another group's config: no effect
    del h.overrides.configs[GROUP]
    assert h.heartbeat("a", joined.member_epoch).heartbeat_interval_ms == 5000


def test_a_silent_member_is_removed_after_the_groups_session_timeout() -> None:
    h = Harness()
    h.overrides.configs[GROUP] = {S: "50000"}  # set before the group exists
    h.join("a")
    h.scheduler.advance(SESSION + 1000)  # past the broker's 45 s, within the group's 50 s
    assert h.members() == {"a"}
    h.scheduler.advance(50_000 - SESSION - 1000)
    assert h.members() == set()


def test_an_altered_session_timeout_applies_from_the_members_next_heartbeat() -> None:
    h = Harness()
    epoch = h.join("a").member_epoch
    h.overrides.configs[GROUP] = {S: "60000"}
    h.scheduler.advance(1000)
    h.heartbeat("a", epoch)  # re-arms the timer with the group's 60 s
    h.scheduler.advance(SESSION + 1000)
    assert h.members() == {"a"}
    h.scheduler.advance(60_000 - SESSION - 1000)
    assert h.members() == set()
