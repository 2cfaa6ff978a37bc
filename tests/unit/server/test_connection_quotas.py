"""Connection limits without sockets: per-IP limits and overrides, the broker-wide limit with
its inter-broker exemption, the creation rate, and queued.max.request.bytes."""

from __future__ import annotations

import pytest

from odradek.common.errors import ConfigError
from odradek.config.broker import build_broker_config
from odradek.server.connection_quotas import (
    Admission,
    ConnectionQuotas,
    parse_ip_overrides,
)


def quotas(exempt: str | None = None, **configs: str) -> ConnectionQuotas:
    raw = {name.replace("_", "."): value for name, value in configs.items()}
    return ConnectionQuotas(build_broker_config(raw), exempt)


def test_per_ip_limit_refuses_the_next_connection_and_serves_other_addresses() -> None:
    q = quotas(max_connections_per_ip="2")
    for _ in range(2):
        assert q.admit("10.0.0.1", "PLAINTEXT", 0.0).admission is Admission.ACCEPT
        q.opened("10.0.0.1", 0.0)
    refused = q.admit("10.0.0.1", "PLAINTEXT", 0.0)
    assert refused.admission is Admission.REFUSE and "10.0.0.1" in refused.reason
    assert q.admit("10.0.0.2", "PLAINTEXT", 0.0).admission is Admission.ACCEPT
    q.closed("10.0.0.1")
    assert q.admit("10.0.0.1", "PLAINTEXT", 0.0).admission is Admission.ACCEPT


def test_per_ip_overrides() -> None:
    q = quotas(max_connections_per_ip="1", max_connections_per_ip_overrides="10.0.0.9:3")
    assert q.ip_limit("10.0.0.9") == 3 and q.ip_limit("10.0.0.1") == 1
    assert parse_ip_overrides("a:1, [::1]:5") == {"a": 1, "::1": 5}
    with pytest.raises(ConfigError, match="host:count"):
        parse_ip_overrides("nohost")


def test_broker_wide_limit_waits_and_exempts_the_inter_broker_listener() -> None:
    q = quotas(exempt="INTERNAL", max_connections="1")
    q.opened("10.0.0.1", 0.0)
    assert q.admit("10.0.0.2", "CLIENT", 0.0).admission is Admission.WAIT
    assert q.admit("10.0.0.3", "INTERNAL", 0.0).admission is Admission.ACCEPT
    q.closed("10.0.0.1")
    assert q.admit("10.0.0.2", "CLIENT", 0.0).admission is Admission.ACCEPT


def test_creation_rate() -> None:
    q = quotas(max_connection_creation_rate="2")
    for now in (0.0, 0.1):
        assert q.admit("h", "L", now).admission is Admission.ACCEPT
        q.opened("h", now)
    waiting = q.admit("h", "L", 0.2)
    assert waiting.admission is Admission.WAIT
    assert waiting.retry_after_s == pytest.approx(0.8)
    assert q.admit("h", "L", 1.05).admission is Admission.ACCEPT


def test_queued_request_bytes() -> None:
    q = quotas(queued_max_request_bytes="1000")
    assert q.reserve_request_bytes(600)
    assert not q.reserve_request_bytes(600)
    q.release_request_bytes(600)
    assert q.reserve_request_bytes(5000)  # alone, a request larger than the pool gets in
    assert not q.reserve_request_bytes(1)


def test_unlimited_by_default() -> None:
    q = quotas()
    for _ in range(1000):
        assert q.admit("h", "L", 0.0).admission is Admission.ACCEPT
        q.opened("h", 0.0)
    assert q.reserve_request_bytes(10**9)
