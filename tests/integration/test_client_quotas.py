"""Client quotas against a real broker: AlterClientQuotas/DescribeClientQuotas as Kafka
answers them, and a librdkafka producer held to its producer_byte_rate by throttle_time_ms
while another client is not slowed."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from confluent_kafka import Producer

from tests.integration.clients import unique_topic
from tests.support.broker_process import BrokerProcess
from tests.support.raw_client import RawClient, request_module

pytestmark = pytest.mark.integration

ALTER_CLIENT_QUOTAS, DESCRIBE_CLIENT_QUOTAS = 49, 48
MIB = 1024 * 1024


def alter_quotas(
    broker: BrokerProcess,
    entity: dict[str, str | None],
    ops: dict[str, float | None],
    validate_only: bool = False,
) -> Any:
    module = request_module(ALTER_CLIENT_QUOTAS, 1)
    request = module.AlterClientQuotasRequest(
        entries=(
            module.EntryData(
                entity=tuple(
                    module.EntityData(entity_type=t, entity_name=n) for t, n in entity.items()
                ),
                ops=tuple(
                    module.OpData(key=k, value=v or 0.0, remove=v is None) for k, v in ops.items()
                ),
            ),
        ),
        validate_only=validate_only,
    )
    with RawClient.to(broker.bootstrap) as client:
        return client.call(request)


def describe_quotas(
    broker: BrokerProcess, components: list[tuple[str, int, str | None]], strict: bool = False
) -> Any:
    module = request_module(DESCRIBE_CLIENT_QUOTAS, 1)
    request = module.DescribeClientQuotasRequest(
        components=tuple(
            module.ComponentData(entity_type=t, match_type=m, match=n) for t, m, n in components
        ),
        strict=strict,
    )
    with RawClient.to(broker.bootstrap) as client:
        return client.call(request)


def described(response: Any) -> dict[tuple[tuple[str, str | None], ...], dict[str, float]]:
    return {
        tuple((e.entity_type, e.entity_name) for e in entry.entity): {
            v.key: v.value for v in entry.values
        }
        for entry in response.entries
    }


def test_alter_and_describe_client_quotas(shared_broker: BrokerProcess) -> None:
    user = unique_topic("user")
    result = alter_quotas(shared_broker, {"user": user}, {"producer_byte_rate": 2048.0})
    assert [e.error_code for e in result.entries] == [0]
    alter_quotas(shared_broker, {"user": user, "client-id": None}, {"consumer_byte_rate": 4096.0})
    alter_quotas(shared_broker, {"client-id": "app"}, {"request_percentage": 50.0})

    exact = described(describe_quotas(shared_broker, [("user", 0, user)]))
    assert exact == {
        (("user", user),): {"producer_byte_rate": 2048.0},
        (("user", user), ("client-id", None)): {"consumer_byte_rate": 4096.0},
    }
    strict = described(describe_quotas(shared_broker, [("user", 0, user)], strict=True))
    assert list(strict) == [(("user", user),)]
    clients = described(describe_quotas(shared_broker, [("client-id", 2, None)], strict=True))
    assert clients[(("client-id", "app"),)] == {"request_percentage": 50.0}

    alter_quotas(shared_broker, {"user": user}, {"producer_byte_rate": None})  # remove
    exact = described(describe_quotas(shared_broker, [("user", 0, user)], strict=True))
    assert exact == {}


@pytest.mark.parametrize(
    ("entity", "ops"),
    [
        ({"user": "u"}, {"no_such_quota": 1.0}),
        ({"user": "u"}, {"producer_byte_rate": -5.0}),
        ({"user": "u"}, {"producer_byte_rate": 10.5}),
        ({"ip": "127.0.0.1"}, {"connection_creation_rate": 5.0}),
        ({"group": "g"}, {"producer_byte_rate": 10.0}),
    ],
)
def test_invalid_quota_alterations(
    shared_broker: BrokerProcess, entity: dict[str, str | None], ops: dict[str, float | None]
) -> None:
    result = alter_quotas(shared_broker, entity, ops)
    assert [e.error_code for e in result.entries] == [42]  # INVALID_REQUEST
    assert result.entries[0].error_message


def produce_for(
    bootstrap: str, topic: str, client_id: str, seconds: float, throttles: list[int]
) -> float:
    """Produce 10 KiB records as fast as the broker lets us; acknowledged bytes per second."""
    acked = [0]

    def delivered(error: Any, message: Any) -> None:
        if error is None:
            acked[0] += len(message.value())

    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "client.id": client_id,
            "linger.ms": 5,
            # Java's producer sends 16 KiB batches; librdkafka's 1 MB ones would let a
            # Kafka-style quota overshoot by several batches in the first window.
            "batch.size": 65536,
            "throttle_cb": lambda event: throttles.append(event.throttle_time),
            "queue.buffering.max.kbytes": 4096,
        }
    )
    value = b"x" * 10240
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        try:
            producer.produce(topic, value, on_delivery=delivered)
        except BufferError:
            producer.poll(0.05)
            continue
        producer.poll(0)
    elapsed = time.monotonic() - started
    producer.purge()
    producer.flush(10)
    return acked[0] / elapsed


def test_producer_is_held_to_its_byte_rate(broker: BrokerProcess) -> None:
    topic = unique_topic("quota")
    with RawClient.to(broker.bootstrap) as client:
        client.create_topic(topic, 1)
    alter_quotas(broker, {"client-id": "throttled"}, {"producer_byte_rate": float(MIB)})
    time.sleep(1.5)  # the broker re-resolves quotas within a second

    throttles: list[int] = []
    other: dict[str, float] = {}

    def other_client() -> None:
        time.sleep(3)
        other["rate"] = produce_for(broker.bootstrap, topic, "free", 4, [])

    thread = threading.Thread(target=other_client)
    thread.start()
    rate = produce_for(broker.bootstrap, topic, "throttled", 10, throttles)
    thread.join()
    print(f"throttled client {rate / MIB:.2f} MiB/s, free client {other['rate'] / MIB:.2f} MiB/s")
    assert throttles and max(throttles) > 0, "no throttle_time_ms reached the client"
    assert 0.8 * MIB <= rate <= 1.2 * MIB, f"{rate / MIB:.2f} MiB/s"
    assert other["rate"] > 1.5 * MIB, f"the unthrottled client got {other['rate'] / MIB:.2f} MiB/s"
