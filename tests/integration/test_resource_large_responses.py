"""A response encoded into more than 2^20 chunks is sent, not dropped: Metadata for all
topics of a broker with 100,000 partitions was (the connection closed with no answer and no
log line: uvloop refuses to write that many buffers at once). A Metadata request naming
200,000 unknown topics makes a response of about 1.4 million chunks without creating any."""

from __future__ import annotations

import pytest
from kio.schema.errors import ErrorCode

from tests.support.broker_process import BrokerProcess
from tests.support.raw_client import RawClient

pytestmark = pytest.mark.integration

UNKNOWN_TOPICS = 200_000


def test_a_response_of_over_a_million_chunks_arrives(broker: BrokerProcess) -> None:
    names = [f"missing-{n}" for n in range(UNKNOWN_TOPICS)]
    with RawClient.to(broker.bootstrap, timeout=300) as client:
        response = client.metadata(names)
        assert len(response.topics) == UNKNOWN_TOPICS
        assert {t.error_code for t in response.topics} == {ErrorCode.unknown_topic_or_partition}
        assert {t.name for t in response.topics} == set(names)
        assert client.api_versions().error_code == ErrorCode.none  # the connection still serves
