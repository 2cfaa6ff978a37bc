"""Broker config building: names, types, precedence, environment mapping."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from odradek.common.errors import ConfigError
from odradek.config.broker import (
    KAFKA_ENV_NOT_CONFIGS,
    Listener,
    build_broker_config,
    env_config_name,
    env_key_to_name,
    env_overrides,
    load_broker_config,
)
from odradek.config.broker_defs import BROKER_CONFIG_DEFS


def test_defaults_when_nothing_set() -> None:
    config = build_broker_config({})
    assert config.get("num.partitions") == 1
    assert config.get("auto.create.topics.enable") is True
    assert config.retention_ms() == 168 * 3_600_000
    assert config.roll_ms() == 168 * 3_600_000
    assert config.explicit == {}


def test_typed_values_are_parsed() -> None:
    config = build_broker_config(
        {
            "num.partitions": " 3 ",
            "auto.create.topics.enable": "FALSE",
            "log.dirs": "/a, /b,,",
            "socket.request.max.bytes": "1024",
        }
    )
    assert config.get("num.partitions") == 3
    assert config.get("auto.create.topics.enable") is False
    assert config.log_dirs == [Path("/a"), Path("/b")]
    assert config.get("socket.request.max.bytes") == 1024


def test_unknown_typo_is_rejected() -> None:
    with pytest.raises(ConfigError, match=r"num\.partitons"):
        build_broker_config({"num.partitons": "3"})


@pytest.mark.parametrize(
    "name",
    [
        "fetch.purgatory.purge.interval.requests",
        "queued.max.requests",
        "ssl.keystore.location",
        "listener.name.x.ssl.foo",
    ],
)
def test_valid_but_unimplemented_kafka_name_is_accepted(name: str) -> None:
    if name in BROKER_CONFIG_DEFS:
        pytest.skip(f"{name} is implemented now")
    config = build_broker_config({name: "10"})
    assert config.unknown_valid == {name: "10"}
    assert name not in config.explicit


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("num.partitions", "abc"),
        ("num.partitions", "1.5"),
        ("num.partitions", "0"),  # at least 1
        ("socket.request.max.bytes", str(2**31)),  # INT overflow
        ("auto.create.topics.enable", "yes"),
        ("log.retention.ms", "ten"),
        ("log.segment.bytes", "13"),  # at least 14
    ],
)
def test_invalid_value_names_the_config(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as info:
        build_broker_config({name: value})
    assert name in str(info.value)


def test_retention_precedence_ms_over_minutes_over_hours() -> None:
    assert build_broker_config({"log.retention.hours": "2"}).retention_ms() == 7_200_000
    assert (
        build_broker_config(
            {"log.retention.hours": "2", "log.retention.minutes": "3"}
        ).retention_ms()
        == 180_000
    )
    assert (
        build_broker_config(
            {"log.retention.hours": "2", "log.retention.minutes": "3", "log.retention.ms": "1234"}
        ).retention_ms()
        == 1234
    )
    assert build_broker_config({"log.retention.ms": "-1"}).retention_ms() == -1


def test_roll_precedence_ms_over_hours() -> None:
    assert build_broker_config({"log.roll.hours": "1"}).roll_ms() == 3_600_000
    assert build_broker_config({"log.roll.hours": "1", "log.roll.ms": "500"}).roll_ms() == 500


def test_log_config_takes_broker_synonyms_and_overrides() -> None:
    config = build_broker_config(
        {
            "log.segment.bytes": "1000000",
            "message.max.bytes": "2000",
            "log.retention.minutes": "1",
            "log.roll.ms": "777",
            "log.message.timestamp.type": "LogAppendTime",
        }
    )
    log_config = config.log_config()
    assert log_config.segment_bytes == 1_000_000
    assert log_config.max_message_bytes == 2000
    assert log_config["retention.ms"] == 60_000
    assert log_config.segment_ms == 777
    assert log_config.log_append_time
    overridden = config.log_config({"segment.bytes": 5000, "segment.ms": 10})
    assert overridden.segment_bytes == 5000
    assert overridden.segment_ms == 10
    assert overridden.max_message_bytes == 2000


def test_log_config_defaults_match_kafka() -> None:
    log_config = build_broker_config({}).log_config()
    assert log_config.segment_bytes == 1_073_741_824
    assert log_config.segment_index_bytes == 10_485_760
    assert log_config.index_interval_bytes == 4096
    assert log_config.max_message_bytes == 1_048_588
    assert log_config.segment_ms == 604_800_000
    assert log_config["retention.ms"] == 604_800_000
    assert not log_config.log_append_time
    assert not log_config.compact


def test_env_overrides_mapping() -> None:
    environ = {
        "ODRADEK_LOG_DIRS": "/data",
        "ODRADEK_NODE_ID": "3",
        "ODRADEK_LOG_CLEANER_DEDUPE_BUFFER_SIZE": "u",
        "ODRADEK_REQUIRE_JAVA": "not a broker config: ignored",
        "ODRADEK_": "ignored",
        "PATH": "/bin",
        "odradek_num_partitions": "9",  # the prefix is upper case
    }
    assert env_overrides(environ) == {
        "log.dirs": "/data",
        "node.id": "3",
        "log.cleaner.dedupe.buffer.size": "u",
    }


@pytest.mark.parametrize(
    ("suffix", "name"),
    [
        ("NUM_PARTITIONS", "num.partitions"),
        ("OFFSETS_TOPIC_REPLICATION_FACTOR", "offsets.topic.replication.factor"),
        ("LOG_DIRS", "log.dirs"),
        ("LOG_DIR", "log.dir"),
        ("ZOOKEEPER_CONNECT", "zookeeper.connect"),
        ("ZOOKEEPER_CLIENT_CNXN_SOCKET", "zookeeper.clientCnxnSocket"),  # cp-kafka's rename
        ("ZOOKEEPER_CLIENTCNXNSOCKET", "zookeeper.clientCnxnSocket"),
        ("NUM_PARTITIONS_", None),
        ("_NUM_PARTITIONS", None),
        ("NUM____PARTITIONS", None),  # four underscores: undefined in Kafka's rule
        ("NUM__PARTITIONS", None),  # num_partitions
        ("NUM___PARTITIONS", None),  # num-partitions
        ("", None),
    ],
)
def test_env_config_name_follows_kafkas_image_rule(suffix: str, name: str | None) -> None:
    assert env_config_name(suffix) == name


@pytest.mark.parametrize(
    ("suffix", "name"),
    [
        ("ABC_DEF", "abc.def"),  # the examples of Kafka's docker/examples/README.md
        ("ABC___DEF", "abc-def"),
        ("ABC__DEF", "abc_def"),
        ("X__Y___Z_W", "x_y-z.w"),
        ("A_B_C", "a.b.c"),  # one-letter words too
        ("A____B", None),
    ],
)
def test_env_key_translation(suffix: str, name: str | None) -> None:
    assert env_key_to_name(suffix) == name


def test_kafka_docker_variables_set_broker_configs() -> None:
    environ = {
        "KAFKA_NUM_PARTITIONS": "5",
        "KAFKA_BROKER_ID": "2",
        "KAFKA_ADVERTISED_LISTENERS": "PLAINTEXT://kafka:9092",
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
        "KAFKA_FETCH_PURGATORY_PURGE_INTERVAL_REQUESTS": "500",  # valid in Kafka, no effect here
    }
    assert env_overrides(environ) == {
        "num.partitions": "5",
        "broker.id": "2",
        "advertised.listeners": "PLAINTEXT://kafka:9092",
        "offsets.topic.replication.factor": "1",
        "fetch.purgatory.purge.interval.requests": "500",
    }
    config = load_broker_config(environ=environ)
    assert config.get("num.partitions") == 5
    assert config.node_id == 2
    assert config.unknown_valid == {"fetch.purgatory.purge.interval.requests": "500"}


def test_kafka_variables_that_are_not_configs_are_ignored(caplog: pytest.LogCaptureFixture) -> None:
    environ = {
        "KAFKA_HEAP_OPTS": "-Xmx1G -Xms1G",
        "KAFKA_OPTS": "-Djava.security.auth.login.config=/etc/jaas.conf",
        "KAFKA_JMX_OPTS": "-Dcom.sun.management.jmxremote",
        "KAFKA_LOG4J_OPTS": "-Dlog4j.configuration=file:/x",
        "KAFKA_DEBUG": "y",
        "KAFKA_VERSION": "3.9.0",
        "KAFKA_HOME": "/opt/kafka",
        "KAFKA_LOG4J_ROOT_LOGLEVEL": "WARN",
        "KAFKA_LOG4J_LOGGERS": "kafka.controller=INFO",
        # Kubernetes service links for a Service named "kafka"
        "KAFKA_PORT": "tcp://10.0.0.7:9092",
        "KAFKA_PORT_9092_TCP": "tcp://10.0.0.7:9092",
        "KAFKA_PORT_9092_TCP_ADDR": "10.0.0.7",
        "KAFKA_SERVICE_HOST": "10.0.0.7",
        "KAFKA_SERVICE_PORT": "9092",
        # the Apache image's SSL helpers: file names it turns into ssl.keystore.location
        "KAFKA_SSL_KEYSTORE_FILENAME": "kafka.keystore.jks",
        "KAFKA_": "empty",
        "KAFKA_NUM_PARTITONS": "3",  # a typo: skipped, as any non-config
    }
    with caplog.at_level(logging.DEBUG, logger="odradek.config.broker"):
        assert env_overrides(environ) == {}
        config = load_broker_config(environ=environ)
    assert config.get("num.partitions") == 1
    assert config.unknown_valid == {}
    logged = caplog.text
    for key in ("KAFKA_HEAP_OPTS", "KAFKA_PORT_9092_TCP_ADDR", "KAFKA_NUM_PARTITONS"):
        assert key in logged
    assert {
        "KAFKA_HEAP_OPTS",
        "KAFKA_OPTS",
        "KAFKA_JMX_OPTS",
        "KAFKA_LOG4J_OPTS",
        "KAFKA_VERSION",
        "KAFKA_DEBUG",
    } <= KAFKA_ENV_NOT_CONFIGS


def test_odradek_variables_win_over_kafka_variables() -> None:
    environ = {
        "KAFKA_NUM_PARTITIONS": "5",
        "ODRADEK_NUM_PARTITIONS": "7",
        "KAFKA_LOG_DIRS": "/kafka",
        "KAFKA_NODE_ID": "4",
    }
    assert env_overrides(environ) == {"num.partitions": "7", "log.dirs": "/kafka", "node.id": "4"}


def test_kafka_variable_with_an_invalid_value_stops_startup() -> None:
    with pytest.raises(ConfigError, match=r"num\.partitions"):
        load_broker_config(environ={"KAFKA_NUM_PARTITIONS": "many"})


def test_layers_file_then_kafka_env_then_odradek_env_then_overrides(tmp_path: Path) -> None:
    properties = tmp_path / "server.properties"
    properties.write_text(
        "num.partitions=2\nlog.segment.bytes=1000\nmessage.max.bytes=10\nlog.retention.ms=1\n"
    )
    environ = {
        "KAFKA_LOG_SEGMENT_BYTES": "2000",
        "KAFKA_MESSAGE_MAX_BYTES": "20",
        "KAFKA_LOG_RETENTION_MS": "2",
        "ODRADEK_MESSAGE_MAX_BYTES": "30",
        "ODRADEK_LOG_RETENTION_MS": "3",
    }
    config = load_broker_config(properties, overrides={"log.retention.ms": "4"}, environ=environ)
    assert config.get("num.partitions") == 2  # file
    assert config.get("log.segment.bytes") == 2000  # KAFKA_ over the file
    assert config.get("message.max.bytes") == 30  # ODRADEK_ over KAFKA_
    assert config.get("log.retention.ms") == 4  # --override over everything


def test_load_layers_file_env_and_overrides(tmp_path: Path) -> None:
    properties = tmp_path / "server.properties"
    properties.write_text("num.partitions=2\nlog.dirs=/from-file\nnode.id=5\n")
    config = load_broker_config(
        properties, overrides={"num.partitions": "4"}, environ={"ODRADEK_LOG_DIRS": "/from-env"}
    )
    assert config.get("num.partitions") == 4
    assert config.log_dirs == [Path("/from-env")]
    assert config.node_id == 5


def test_load_missing_file_is_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        load_broker_config(tmp_path / "missing.properties", environ={})


def test_node_id_and_broker_id_must_agree() -> None:
    with pytest.raises(ConfigError):
        build_broker_config({"node.id": "1", "broker.id": "2"})
    assert build_broker_config({"broker.id": "7"}).node_id == 7
    assert build_broker_config({"node.id": "7", "broker.id": "7"}).node_id == 7


def test_listeners_parse_and_reject_garbage() -> None:
    config = build_broker_config({"listeners": "PLAINTEXT://127.0.0.1:9092,ext://[::1]:9093"})
    assert config.listeners == [
        Listener("PLAINTEXT", "127.0.0.1", 9092),
        Listener("EXT", "::1", 9093),
    ]
    assert config.advertised_listeners == config.listeners
    with pytest.raises(ConfigError):
        build_broker_config({"listeners": "not-a-listener"})
    with pytest.raises(ConfigError):
        build_broker_config({"listeners": "PLAINTEXT://h:70000"})


def test_every_definition_default_parses_back() -> None:
    for definition in BROKER_CONFIG_DEFS.values():
        if definition.default is None or isinstance(definition.default, list):
            continue
        assert (
            definition.parse(
                str(definition.default).lower()
                if isinstance(definition.default, bool)
                else str(definition.default)
            )
            == definition.default
        )
