"""Client quotas: Kafka's precedence of quota entities, its sampled rate and throttle time."""

from __future__ import annotations

import pytest

from odradek.security.client_quotas import (
    ClientQuotaManager,
    QuotaType,
    Rate,
    desanitize,
    quota_entity_paths,
    resolve_quota,
    sanitize,
)


def test_sanitize_as_kafka() -> None:
    assert sanitize("alice") == "alice"
    assert sanitize("CN=alice,O=x") == "CN%3Dalice%2CO%3Dx"
    assert sanitize("a b*c~d") == "a%20b%2Ac%7Ed"
    assert sanitize("user/1") == "user%2F1"
    assert desanitize(sanitize("CN=alice, O=x ~*")) == "CN=alice, O=x ~*"


def test_precedence_most_specific_first() -> None:
    assert quota_entity_paths("alice", "app") == [
        "users/alice/clients/app",
        "users/alice/clients/<default>",
        "users/alice",
        "users/<default>/clients/app",
        "users/<default>/clients/<default>",
        "users/<default>",
        "clients/app",
        "clients/<default>",
    ]


@pytest.mark.parametrize(
    ("configs", "expected"),
    [
        ({}, None),
        ({"clients/<default>": {"producer_byte_rate": "10"}}, ("clients/<default>", 10.0)),
        (
            {
                "clients/app": {"producer_byte_rate": "20"},
                "users/alice": {"producer_byte_rate": "30"},
            },
            ("users/alice", 30.0),
        ),
        (
            {
                "users/alice": {"consumer_byte_rate": "30"},  # another quota type: not this one
                "users/<default>": {"producer_byte_rate": "40"},
            },
            ("users/<default>", 40.0),
        ),
        (
            {
                "users/alice": {"producer_byte_rate": "30"},
                "users/alice/clients/app": {"producer_byte_rate": "50"},
            },
            ("users/alice/clients/app", 50.0),
        ),
    ],
)
def test_resolve_quota(
    configs: dict[str, dict[str, str]], expected: tuple[str, float] | None
) -> None:
    quota = resolve_quota(configs, "alice", "app", QuotaType.PRODUCE)
    assert (None if quota is None else (quota.entity_path, quota.bound)) == expected


def test_rate_counts_at_least_samples_minus_one_windows() -> None:
    rate = Rate(samples=11, window_s=1.0)
    rate.record(1000, now=0.0)
    assert rate.measure(0.0) == pytest.approx(100.0)  # 1000 over 10 s, not over 0 s
    rate.record(1000, now=5.5)
    # 5.5 s elapsed, 5 full windows: 5 more count as elapsed (Kafka's Rate.windowSize)
    assert rate.measure(5.5) == pytest.approx(2000 / 10.5)


def test_rate_forgets_old_samples() -> None:
    rate = Rate(samples=3, window_s=1.0)
    rate.record(300, now=0.0)
    rate.record(30, now=10.0)
    assert rate.measure(10.0) == pytest.approx(15.0)  # only the 30, over 2 windows


def _manager(bound: float) -> ClientQuotaManager:
    configs = {"users/alice": {"producer_byte_rate": str(bound)}}
    return ClientQuotaManager(QuotaType.PRODUCE, lambda: configs, samples=11, window_s=1.0)


def test_no_quota_no_throttle() -> None:
    manager = _manager(100)
    assert manager.record("bob", "x", 10**9, now=0.0) == 0


def test_within_quota_no_throttle() -> None:
    manager = _manager(1000)
    assert manager.record("alice", "x", 5000, now=0.0) == 0  # 500 B/s over 10 s


def test_throttle_time_is_kafkas_formula() -> None:
    manager = _manager(1000)
    # 20000 B over the 10 s minimum window: 2000 B/s, twice the bound: (2000-1000)/1000*10 s
    assert manager.record("alice", "x", 20_000, now=0.0) == 10_000
    assert manager.throttled_ms_total == 10_000


def test_throttle_is_capped_at_the_quota_window() -> None:
    manager = _manager(1)
    assert manager.record("alice", "x", 10**9, now=0.0) == 11_000


def test_clients_of_one_entity_share_the_budget() -> None:
    manager = _manager(1000)
    assert manager.record("alice", "one", 6000, now=0.0) == 0
    assert manager.record("alice", "two", 6000, now=0.0) > 0


def test_unrecord_takes_back() -> None:
    manager = _manager(1000)
    assert manager.record("alice", "x", 20_000, now=0.0) > 0
    manager.unrecord("alice", "x", 20_000, now=0.0)
    assert manager.throttle_ms("alice", "x", now=0.0) == 0


def test_steady_producer_converges_to_the_bound() -> None:
    """A client that waits out each throttle time averages the quota."""
    manager = _manager(1000)
    now, sent = 0.0, 0
    while now < 60:
        sent += 500
        throttle = manager.record("alice", "x", 500, now)
        now += max(throttle / 1000, 0.01)
    assert sent / now == pytest.approx(1000, rel=0.2)
