"""KIP-714 with the Apache Kafka Java client (kafka-clients 3.9.1): its Admin creates and
describes a ``client-metrics`` resource (ConfigResource.Type.CLIENT_METRICS) and lists it
(ListClientMetricsResources), and a producer
it matches pushes its metrics (compressed, as the client picks from the broker's accepted
types), which appear on the broker's Prometheus endpoint labelled with the client's
identity. The program is compiled here from the source below."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.broker_process import BrokerProcess, free_port
from tests.support.java import (
    JVM_OPTIONS,
    JavaPrograms,
    compile_programs,
    find_jars,
    java_libs_dir,
)
from tests.unit.observability.scrape import scrape, wait_for_endpoint

pytestmark = [pytest.mark.integration, pytest.mark.java]

DEADLINE_S = 120.0
CLIENT_ID = "telemetry-java"
SOURCE = """
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.Arrays;
import java.util.Collections;
import java.util.Map;
import java.util.Properties;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.ClientMetricsResourceListing;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.serialization.StringSerializer;

/** TelemetryJava BOOTSTRAP CLIENT_ID STOP_FILE: subscribes CLIENT_ID, produces until STOP_FILE. */
public final class TelemetryJava {
    public static void main(String[] args) throws Exception {
        ConfigResource resource = new ConfigResource(ConfigResource.Type.CLIENT_METRICS, "java");
        Properties adminProps = new Properties();
        adminProps.put("bootstrap.servers", args[0]);
        try (Admin admin = Admin.create(adminProps)) {
            admin.incrementalAlterConfigs(Map.of(resource, Arrays.asList(
                new AlterConfigOp(new ConfigEntry("metrics", "org.apache.kafka.producer."),
                    AlterConfigOp.OpType.SET),
                new AlterConfigOp(new ConfigEntry("interval.ms", "1000"), AlterConfigOp.OpType.SET),
                new AlterConfigOp(new ConfigEntry("match", "client_id=" + args[1]),
                    AlterConfigOp.OpType.SET)))).all().get();
            Config config = admin.describeConfigs(Collections.singleton(resource)).all().get()
                .get(resource);
            for (ConfigEntry entry : config.entries()) {
                System.out.println("CONFIG " + entry.name() + "=" + entry.value());
            }
            for (ClientMetricsResourceListing listing
                    : admin.listClientMetricsResources().all().get()) {
                System.out.println("LISTED " + listing.name());
            }
        }
        Properties props = new Properties();
        props.put("bootstrap.servers", args[0]);
        props.put("client.id", args[1]);
        props.put("key.serializer", StringSerializer.class.getName());
        props.put("value.serializer", StringSerializer.class.getName());
        long deadline = System.currentTimeMillis() + 150_000L;
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(props)) {
            System.out.println("PRODUCING");
            System.out.flush();
            while (!Files.exists(Paths.get(args[2])) && System.currentTimeMillis() < deadline) {
                producer.send(new ProducerRecord<>("telemetry-java", "k", "v"));
                Thread.sleep(200);
            }
        }
        System.out.println("OK");
    }
}
"""


@pytest.fixture(scope="module")
def telemetry_java(tmp_path_factory: pytest.TempPathFactory) -> JavaPrograms:
    """The program compiled against the client jars (skipped or failed as the other Java
    tests are when the JDK or the jars are missing)."""
    programs = compile_programs(tmp_path_factory.mktemp("java-classes"))
    out = tmp_path_factory.mktemp("telemetry-java")
    source = out / "TelemetryJava.java"
    source.write_text(SOURCE)
    javac = Path(programs.java).with_name("javac")
    jars, _ = find_jars(java_libs_dir())
    subprocess.run(
        [str(javac), "-d", str(out), "-cp", os.pathsep.join(map(str, jars)), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return JavaPrograms(programs.java, out, jars)


@pytest.fixture
def telemetry_broker(
    broker_factory: Callable[..., BrokerProcess],
) -> Iterator[tuple[BrokerProcess, int]]:
    port = free_port()
    broker = broker_factory(overrides={"metrics.port": str(port)})
    wait_for_endpoint(port)
    yield broker, port


def test_java_producer_pushes_its_metrics(
    telemetry_java: JavaPrograms, telemetry_broker: tuple[BrokerProcess, int], tmp_path: Path
) -> None:
    broker, port = telemetry_broker
    stop_file = tmp_path / "stop"
    command = [
        telemetry_java.java,
        *JVM_OPTIONS,
        "-cp",
        telemetry_java.classpath,
        "TelemetryJava",
        broker.bootstrap,
        CLIENT_ID,
        str(stop_file),
    ]
    output = tmp_path / "out.txt"
    with output.open("w") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        series: dict[str, dict[str, str]] = {}
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline and proc.poll() is None:
            for name, labels in scrape(port).values:
                values = dict(labels)
                if values.get("client_id") == CLIENT_ID:
                    series[name] = values
            if series:
                break
            time.sleep(0.5)
        stop_file.touch()
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = output.read_text()
    assert proc.returncode == 0, f"{text}\n--- broker log ---\n{broker.log()}"
    assert "CONFIG metrics=org.apache.kafka.producer." in text
    assert "CONFIG interval.ms=1000" in text
    assert "LISTED java" in text  # ListClientMetricsResources
    assert series, f"the Java producer pushed nothing\n{text}\n--- broker log ---\n{broker.log()}"
    assert all(name.startswith("org_apache_kafka_producer_") for name in series)
    latency = series["org_apache_kafka_producer_request_latency_avg"]
    assert latency["client_instance_id"]
    assert "org_apache_kafka_producer_record_send_total" in series
