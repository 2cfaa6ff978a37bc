"""ApiVersions v3+ over the wire (KIP-511): an invalid client software name or version gets
INVALID_REQUEST with no version ranges and the connection stays open; the names and versions
real clients send are accepted."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.broker_process import BrokerProcess
from tests.support.raw_client import API_VERSIONS, METADATA, RawClient, request_module

pytestmark = pytest.mark.integration

NONE = 0
INVALID_REQUEST = 42


def api_versions(client: RawClient, version: int, name: str, software_version: str) -> Any:
    return client.call(
        request_module(API_VERSIONS, version).ApiVersionsRequest(
            client_software_name=name, client_software_version=software_version
        )
    )


@pytest.mark.parametrize("version", [3, 4])
@pytest.mark.parametrize(
    ("name", "software_version"),
    [("", "1.0"), ("odradek test", "1.0"), ("odradek", "1.0+local"), ("odradek-", "1"), ("x", "")],
)
def test_invalid_client_software_is_an_invalid_request(
    shared_broker: BrokerProcess, version: int, name: str, software_version: str
) -> None:
    with RawClient.to(shared_broker.bootstrap) as client:
        response = api_versions(client, version, name, software_version)
        assert (response.error_code, response.api_keys) == (INVALID_REQUEST, ())
        # The connection stays open: the client can correct itself.
        fixed = api_versions(client, version, "odradek-test", "1.0")
        assert fixed.error_code == NONE
        assert METADATA in {k.api_key for k in fixed.api_keys}
        assert client.metadata().brokers


@pytest.mark.parametrize(
    ("name", "software_version"),
    [
        ("confluent-kafka-python", "2.16.2-rdkafka-2.16.0"),
        ("librdkafka", "2.0.2"),  # kcat 1.7.1
        ("kafka-python", "3.0.12"),
        ("apache-kafka-java", "3.9.1"),
    ],
)
def test_what_real_clients_send_is_valid(
    shared_broker: BrokerProcess, name: str, software_version: str
) -> None:
    with RawClient.to(shared_broker.bootstrap) as client:
        assert api_versions(client, 3, name, software_version).error_code == NONE
