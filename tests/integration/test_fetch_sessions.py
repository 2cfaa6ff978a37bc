"""Fetch sessions (KIP-227) with real clients against a broker process. The Apache Java
consumer (kafka-clients) opens a session with its first fetch and then fetches
incrementally: the broker's metrics count its fetches and cache its partitions, and every
record still arrives once and in order, across an eviction of its session and a restart of
the broker. librdkafka (confluent-kafka) fetches without sessions: its fetches stay full,
and it still gets everything."""

from __future__ import annotations

import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
from confluent_kafka import Consumer, KafkaError, Message, Producer
from confluent_kafka import TopicPartition as KafkaTopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from tests.support.broker_process import BrokerProcess, free_port
from tests.support.java import JVM_OPTIONS, JavaPrograms, compile_programs
from tests.unit.observability.scrape import Samples, scrape, wait_for_endpoint

pytestmark = pytest.mark.integration

PARTITIONS = 64
PER_PARTITION = 30
TIMEOUT_S = 120.0
PREFIX = "kafka_server_fetchsessioncache_"


@pytest.fixture(scope="module")
def java_programs(tmp_path_factory: pytest.TempPathFactory) -> JavaPrograms:
    return compile_programs(tmp_path_factory.mktemp("java-classes"))


class MeteredBroker:
    def __init__(self, broker: BrokerProcess, metrics_port: int) -> None:
        self.broker = broker
        self.metrics_port = metrics_port

    @property
    def bootstrap(self) -> str:
        return self.broker.bootstrap

    def samples(self) -> Samples:
        return scrape(self.metrics_port)

    def fetches(self) -> tuple[float, float]:
        """(full, incremental) Fetch requests since the broker started."""
        samples = self.samples()
        return (
            samples.get(PREFIX + "fetches_total", fetch="full"),
            samples.get(PREFIX + "fetches_total", fetch="incremental"),
        )

    def wait_for(self, what: str, condition: Callable[[Samples], bool]) -> Samples:
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            samples = self.samples()
            if condition(samples):
                return samples
            if time.monotonic() > deadline:
                pytest.fail(f"{what} not seen within {TIMEOUT_S}s:\n{self.broker.log()}")
            time.sleep(0.2)


def metered(
    broker_factory: Callable[..., BrokerProcess], overrides: dict[str, str] | None = None
) -> MeteredBroker:
    port = free_port()
    broker = broker_factory(overrides={"metrics.port": str(port), **(overrides or {})})
    wait_for_endpoint(port)
    return MeteredBroker(broker, port)


@pytest.fixture
def broker(broker_factory: Callable[..., BrokerProcess]) -> MeteredBroker:
    return metered(broker_factory)


def create_topic(bootstrap: str) -> str:
    topic = f"sessions-{uuid.uuid4().hex[:10]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(topic, PARTITIONS, 1)]).values():
        future.result(timeout=30)
    return topic


def produce(bootstrap: str, topic: str, first: int, last: int) -> None:
    """Records first..last-1 of every partition, value "PARTITION:OFFSET", one round of all
    partitions at a time (so a consumer meanwhile sees a few partitions change per fetch)."""
    producer = Producer(
        {"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 0}
    )
    failures: list[KafkaError] = []

    def delivered(error: KafkaError | None, _message: Message[bytes, bytes]) -> None:
        if error is not None:
            failures.append(error)

    for offset in range(first, last):
        for partition in range(PARTITIONS):
            producer.produce(
                topic,
                f"{partition}:{offset}".encode(),
                partition=partition,
                on_delivery=delivered,
            )
        producer.flush(30)
    assert producer.flush(30) == 0 and not failures, failures


class JavaConsumer:
    """FetchSessionConsumer in its own JVM, reading every partition of a topic."""

    def __init__(self, programs: JavaPrograms, bootstrap: str, topic: str, name: str) -> None:
        command = [
            programs.java,
            *JVM_OPTIONS,
            "-cp",
            programs.classpath,
            "FetchSessionConsumer",
            bootstrap,
            topic,
            str(PARTITIONS),
            str(PER_PARTITION),
            str(int(TIMEOUT_S)),
            name,
        ]
        self.proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL
        )

    def result(self, broker: MeteredBroker) -> str:
        try:
            stdout, stderr = self.proc.communicate(timeout=TIMEOUT_S + 60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            stdout, stderr = self.proc.communicate()
        out = stdout.decode(errors="replace")
        expected = [f"OK {PARTITIONS * PER_PARTITION}"]
        if self.proc.returncode != 0 or out.splitlines()[-1:] != expected:
            pytest.fail(
                f"FetchSessionConsumer failed ({self.proc.returncode}):\n{out}\n"
                f"{stderr.decode(errors='replace')[-4000:]}\n--- broker log ---\n"
                f"{broker.broker.log()}",
                pytrace=False,
            )
        return out

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


@pytest.fixture
def java_consumers(java_programs: JavaPrograms) -> Iterator[Callable[..., JavaConsumer]]:
    started: list[JavaConsumer] = []

    def start(broker: MeteredBroker, topic: str, name: str = "sessions") -> JavaConsumer:
        consumer = JavaConsumer(java_programs, broker.bootstrap, topic, name)
        started.append(consumer)
        return consumer

    yield start
    for consumer in started:
        consumer.kill()


def test_the_java_consumer_fetches_incrementally(
    broker: MeteredBroker, java_consumers: Callable[..., JavaConsumer]
) -> None:
    topic = create_topic(broker.bootstrap)
    produce(broker.bootstrap, topic, 0, 1)
    consumer = java_consumers(broker, topic)
    # Warm-up: the consumer's session holds all its partitions.
    warm = broker.wait_for(
        "the Java consumer's session",
        lambda s: s.get(PREFIX + "numincrementalfetchpartitionscached") >= PARTITIONS,
    )
    assert warm.get(PREFIX + "numincrementalfetchsessions") >= 1
    full_before, incremental_before = broker.fetches()
    produce(broker.bootstrap, topic, 1, PER_PARTITION)
    consumer.result(broker)
    full, incremental = broker.fetches()
    assert incremental - incremental_before > 10
    assert incremental - incremental_before > 5 * (full - full_before)


def test_an_evicted_session_loses_nothing(
    broker_factory: Callable[..., BrokerProcess], java_consumers: Callable[..., JavaConsumer]
) -> None:
    """One slot, evictable at once: two consumers take it from each other all along (each
    then gets FETCH_SESSION_ID_NOT_FOUND and starts over with a full fetch)."""
    broker = metered(
        broker_factory,
        {
            "max.incremental.fetch.session.cache.slots": "1",
            "min.incremental.fetch.session.eviction.ms": "0",
        },
    )
    topic = create_topic(broker.bootstrap)
    produce(broker.bootstrap, topic, 0, 1)
    first = java_consumers(broker, topic, "first")
    second = java_consumers(broker, topic, "second")
    produce(broker.bootstrap, topic, 1, PER_PARTITION)
    first.result(broker)
    second.result(broker)
    samples = broker.samples()
    assert samples.get(PREFIX + "incrementalfetchsessionevictions_total") > 0
    assert samples.get(PREFIX + "numincrementalfetchsessions") <= 1
    errors = samples.total(
        "kafka_network_requestmetrics_errors_total", error="FETCH_SESSION_ID_NOT_FOUND"
    )
    assert errors > 0


def test_a_broker_restart_mid_consumption_loses_nothing(
    broker: MeteredBroker, java_consumers: Callable[..., JavaConsumer]
) -> None:
    topic = create_topic(broker.bootstrap)
    produce(broker.bootstrap, topic, 0, PER_PARTITION // 2)
    consumer = java_consumers(broker, topic)
    broker.wait_for(
        "incremental fetches", lambda s: s.get(PREFIX + "fetches_total", fetch="incremental") > 5
    )
    broker.broker.restart()
    wait_for_endpoint(broker.metrics_port)
    produce(broker.bootstrap, topic, PER_PARTITION // 2, PER_PARTITION)
    consumer.result(broker)
    # The new broker process: the consumer opened a new session and fetches within it.
    full, incremental = broker.fetches()
    assert full >= 1 and incremental > 0


def test_librdkafka_fetches_without_sessions_and_gets_everything(broker: MeteredBroker) -> None:
    topic = create_topic(broker.bootstrap)
    producing = threading.Thread(
        target=produce, args=(broker.bootstrap, topic, 0, PER_PARTITION), daemon=True
    )
    producing.start()
    consumer = Consumer(
        {
            "bootstrap.servers": broker.bootstrap,
            "group.id": f"g-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "fetch.wait.max.ms": 100,
        }
    )
    next_offset = [0] * PARTITIONS
    try:
        consumer.assign([KafkaTopicPartition(topic, p, 0) for p in range(PARTITIONS)])
        deadline = time.monotonic() + TIMEOUT_S
        while sum(next_offset) < PARTITIONS * PER_PARTITION:
            assert time.monotonic() < deadline, f"consumed only {sum(next_offset)}"
            message = consumer.poll(0.5)
            if message is None or message.error() is not None:
                continue
            partition, offset = message.partition(), message.offset()
            assert partition is not None and offset is not None
            assert offset == next_offset[partition]
            assert message.value() == f"{partition}:{offset}".encode()
            next_offset[partition] += 1
    finally:
        consumer.close()
    producing.join(TIMEOUT_S)
    full, incremental = broker.fetches()
    assert full > 0 and incremental == 0
    assert broker.samples().get(PREFIX + "numincrementalfetchsessions") == 0
