"""A scrape's text is byte for byte what prometheus_client's encoder writes for the families
built from every gauge, although the gauges' lines are kept from one scrape to the next
(``gauge_text.GaugeText``): after appends, new partitions and deleted ones, in the text and
the OpenMetrics formats, and when the format asked for changes between scrapes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

from odradek.common.ids import TopicPartition
from odradek.observability.gauge_text import GaugeText
from odradek.observability.http import MetricsEndpoint, Scrape, format_scrape
from odradek.server.broker import BrokerServer
from tests.unit.observability.log_broker import log_broker
from tests.unit.storage.helpers import TOPIC_ID, append, log_config, make_batch

TEXT = ""
OPENMETRICS = "application/openmetrics-text; version=1.0.0"
UTF8_TEXT = "text/plain; version=1.0.0; escaping=allow-utf-8"


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[BrokerServer]:
    with log_broker(tmp_path) as server:
        yield server


def scraped(endpoint: MetricsEndpoint, gauge_text: GaugeText, accept: str) -> tuple[bytes, bytes]:
    """(the scrape's text, what the encoder writes for all its families built)."""
    encoder, content_type = choose_encoder(accept)
    scrape = Scrape(encoder, content_type, endpoint.collector.snapshot(), [], CollectorRegistry())
    return format_scrape(scrape, gauge_text, gzipped=False), encoder(scrape.registry())


def test_scrapes_follow_appends_creations_and_deletions(broker: BrokerServer) -> None:
    manager = broker.log_manager
    endpoint = MetricsEndpoint(broker)
    gauge_text = GaugeText()
    logs = [
        manager.get_or_create_log(TopicPartition(topic, partition), TOPIC_ID, log_config())
        for topic, partition in (("b", 0), ("a", 1), ("a", 0))
    ]
    for accept in (TEXT, TEXT, OPENMETRICS, OPENMETRICS, UTF8_TEXT, TEXT):
        text, expected = scraped(endpoint, gauge_text, accept)
        assert text == expected
    assert b'kafka_log_log_logendoffset{partition="1",topic="a"} 0.0\n' in text

    end_offset = 0
    for accept in (TEXT, OPENMETRICS, UTF8_TEXT):  # a value changed, the same format asked for
        text, expected = scraped(endpoint, gauge_text, accept)
        end_offset += 3
        append(logs[1], make_batch(3))
        text, expected = scraped(endpoint, gauge_text, accept)
        assert text == expected
        line = f'kafka_log_log_logendoffset{{partition="1",topic="a"}} {end_offset}.0\n'
        assert line.encode() in text

    manager.delete_log(TopicPartition("b", 0))
    manager.get_or_create_log(TopicPartition("c", 0), TOPIC_ID, log_config())
    for accept in (TEXT, OPENMETRICS):
        text, expected = scraped(endpoint, gauge_text, accept)
        assert text == expected
        assert b'topic="b"' not in text
        assert b'kafka_log_log_size{partition="0",topic="c"} 0.0\n' in text

    manager.delete_log(TopicPartition("c", 0))
    manager.delete_log(TopicPartition("a", 0))
    manager.delete_log(TopicPartition("a", 1))
    text, expected = scraped(endpoint, gauge_text, OPENMETRICS)
    assert text == expected
    assert b"kafka_log_log_size" not in text
    assert text.endswith(b"# EOF\n") and text.count(b"# EOF") == 1


def test_unchanged_gauges_are_not_given_to_the_encoder_again(broker: BrokerServer) -> None:
    manager = broker.log_manager
    for partition in range(50):
        manager.get_or_create_log(TopicPartition("t", partition), TOPIC_ID, log_config())
    endpoint = MetricsEndpoint(broker)
    gauge_text = GaugeText()
    text_encoder, content_type = choose_encoder(TEXT)
    samples: list[int] = []

    def counting(registry: CollectorRegistry) -> bytes:
        samples.append(sum(len(family.samples) for family in registry.collect()))
        return text_encoder(registry)

    first = gauge_text.render(endpoint.collector.snapshot().gauges, counting, content_type)
    assert samples[0] >= 200  # four Log gauges per partition
    samples.clear()
    append(manager.logs[TopicPartition("t", 7)], make_batch(2))
    again = gauge_text.render(endpoint.collector.snapshot().gauges, counting, content_type)
    assert max(samples) < 50  # the changed partition's gauges and the few others
    assert again != first
    assert b'kafka_log_log_logendoffset{partition="7",topic="t"} 2.0\n' in again
