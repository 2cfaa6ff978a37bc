"""ApiVersions v3+ (KIP-511): an invalid client software name or version gets INVALID_REQUEST
with no version ranges, as Kafka answers; every real client's name and version pass."""

from __future__ import annotations

from typing import Any, cast

import pytest
from kio.schema.errors import ErrorCode

from odradek.config.broker import build_broker_config
from odradek.protocol.api_versions import API_VERSIONS_KEY, SUPPORTED_APIS
from odradek.protocol.codec import RequestHeader, encode_response, request_module
from odradek.server.handlers.api_versions import (
    encoded_api_versions,
    handle_api_versions,
    is_valid_client_software,
)
from odradek.server.request_context import ConnectionInfo, RequestContext

# What the clients odradek is tested with sent (measured against a broker): confluent-kafka
# 2.16.2, kcat 1.7.1 (librdkafka 2.0.2), kafka-python 3.0.12, the Java client 3.9.1. aiokafka
# 0.14 sends ApiVersions v0, which has no such fields.
REAL_CLIENTS = [
    ("confluent-kafka-python", "2.16.2-rdkafka-2.16.0"),
    ("librdkafka", "2.0.2"),
    ("kafka-python", "3.0.12"),
    ("apache-kafka-java", "3.9.1"),
    ("odradek-transactions", "1"),  # odradek's own tools
]

INVALID = [
    ("", "1.0"),
    ("client", ""),
    ("-client", "1.0"),
    ("client-", "1.0"),
    ("client", "1.0."),
    (".client", "1.0"),
    ("my client", "1.0"),
    ("client", "1.0+build"),
    ("client_name", "1.0"),
    ("client", "1.0\n"),
    ("clíent", "1.0"),
]


class Broker:
    """What ApiVersions reads of the broker: its config."""

    def __init__(self, protocols: list[str]) -> None:
        self.config = build_broker_config(
            {"group.coordinator.rebalance.protocols": ",".join(protocols)}
        )


def api_versions(
    version: int,
    name: str,
    software_version: str,
    protocols: tuple[str, ...] = ("classic", "consumer"),
) -> Any:
    ctx = RequestContext(RequestHeader(API_VERSIONS_KEY, version, 1, "c"), ConnectionInfo())
    request = request_module(API_VERSIONS_KEY, version).ApiVersionsRequest(
        client_software_name=name, client_software_version=software_version
    )
    return handle_api_versions(cast(Any, Broker(list(protocols))), ctx, request)


def test_consumer_protocol_apis_are_advertised_only_while_enabled() -> None:
    """KIP-848: ConsumerGroupHeartbeat and ConsumerGroupDescribe disappear from the ranges
    when group.coordinator.rebalance.protocols leaves out consumer, as in Kafka; the answer
    still comes from the encoding cache."""
    on = api_versions(3, "librdkafka", "2.0.2")
    off = api_versions(3, "librdkafka", "2.0.2", protocols=("classic",))
    assert {68, 69} <= {k.api_key for k in on.api_keys}
    assert {k.api_key for k in off.api_keys} == set(SUPPORTED_APIS) - {68, 69}
    header = RequestHeader(API_VERSIONS_KEY, 3, 7, "c")
    cached = encoded_api_versions(header, off)
    assert cached is not None
    assert b"".join(cached) == b"".join(bytes(c) for c in encode_response(header, off))


@pytest.mark.parametrize(
    ("name", "software_version"),
    [*REAL_CLIENTS, ("a", "1"), ("A-1.b", "0"), ("apache-kafka-java", "4.1.0-SNAPSHOT")],
)
def test_valid_names_and_versions(name: str, software_version: str) -> None:
    response = api_versions(3, name, software_version)
    assert response.error_code == ErrorCode.none
    assert {k.api_key: (k.min_version, k.max_version) for k in response.api_keys} == dict(
        SUPPORTED_APIS
    )


@pytest.mark.parametrize("version", [3, 4])
@pytest.mark.parametrize(("name", "software_version"), INVALID)
def test_invalid_name_or_version_is_an_invalid_request(
    version: int, name: str, software_version: str
) -> None:
    response = api_versions(version, name, software_version)
    assert response.error_code == ErrorCode.invalid_request
    assert response.api_keys == ()


@pytest.mark.parametrize("version", [0, 1, 2])
def test_versions_before_3_have_nothing_to_check(version: int) -> None:
    request = request_module(API_VERSIONS_KEY, version).ApiVersionsRequest()
    assert is_valid_client_software(request, version)


def test_the_client_software_is_kept_on_the_connection() -> None:
    """What KIP-714's selectors and labels read (``client_software_name``/``_version``)."""
    connection = ConnectionInfo()
    request = request_module(API_VERSIONS_KEY, 3).ApiVersionsRequest(
        client_software_name="apache-kafka-java", client_software_version="3.9.1"
    )
    ctx = RequestContext(RequestHeader(API_VERSIONS_KEY, 3, 1, "c"), connection)
    assert handle_api_versions(cast(Any, Broker(["classic"])), ctx, request).error_code == 0
    assert (connection.client.software_name, connection.client.software_version) == (
        "apache-kafka-java",
        "3.9.1",
    )
    invalid = request_module(API_VERSIONS_KEY, 3).ApiVersionsRequest(
        client_software_name="-bad", client_software_version="1"
    )
    handle_api_versions(cast(Any, None), ctx, invalid)
    assert connection.client.software_name == "apache-kafka-java"  # an invalid one is not kept
