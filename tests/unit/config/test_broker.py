"""Broker config building: names, types, precedence, environment mapping."""

from __future__ import annotations

from pathlib import Path

import pytest

from odradek.common.errors import ConfigError
from odradek.config.broker import (
    BROKER_CONFIG_DEFS,
    Listener,
    build_broker_config,
    env_overrides,
    load_broker_config,
)


def test_defaults_when_nothing_set() -> None:
    config = build_broker_config({})
    assert config.get("num.partitions") == 1
    assert config.get("auto.create.topics.enable") is True
    assert config.retention_ms() == 168 * 3_600_000
    assert config.roll_ms() == 168 * 3_600_000
    assert config.explicit == {}


def test_typed_values_are_parsed() -> None:
    config = build_broker_config({
        "num.partitions": " 3 ",
        "auto.create.topics.enable": "FALSE",
        "log.dirs": "/a, /b,,",
        "socket.request.max.bytes": "1024",
    })
    assert config.get("num.partitions") == 3
    assert config.get("auto.create.topics.enable") is False
    assert config.log_dirs == [Path("/a"), Path("/b")]
    assert config.get("socket.request.max.bytes") == 1024


def test_unknown_typo_is_rejected() -> None:
    with pytest.raises(ConfigError, match=r"num\.partitons"):
        build_broker_config({"num.partitons": "3"})


@pytest.mark.parametrize("name", ["background.threads", "queued.max.requests",
                                  "ssl.keystore.location", "listener.name.x.ssl.foo"])
def test_valid_but_unimplemented_kafka_name_is_accepted(name: str) -> None:
    if name in BROKER_CONFIG_DEFS:
        pytest.skip(f"{name} is implemented now")
    config = build_broker_config({name: "10"})
    assert config.unknown_valid == {name: "10"}
    assert name not in config.explicit


@pytest.mark.parametrize(("name", "value"), [
    ("num.partitions", "abc"),
    ("num.partitions", "1.5"),
    ("num.partitions", "0"),  # at least 1
    ("socket.request.max.bytes", str(2**31)),  # INT overflow
    ("auto.create.topics.enable", "yes"),
    ("log.retention.ms", "ten"),
    ("log.segment.bytes", "13"),  # at least 14
])
def test_invalid_value_names_the_config(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as info:
        build_broker_config({name: value})
    assert name in str(info.value)


def test_retention_precedence_ms_over_minutes_over_hours() -> None:
    assert build_broker_config({"log.retention.hours": "2"}).retention_ms() == 7_200_000
    assert build_broker_config({"log.retention.hours": "2",
                                "log.retention.minutes": "3"}).retention_ms() == 180_000
    assert build_broker_config({"log.retention.hours": "2", "log.retention.minutes": "3",
                                "log.retention.ms": "1234"}).retention_ms() == 1234
    assert build_broker_config({"log.retention.ms": "-1"}).retention_ms() == -1


def test_roll_precedence_ms_over_hours() -> None:
    assert build_broker_config({"log.roll.hours": "1"}).roll_ms() == 3_600_000
    assert build_broker_config({"log.roll.hours": "1", "log.roll.ms": "500"}).roll_ms() == 500


def test_log_config_takes_broker_synonyms_and_overrides() -> None:
    config = build_broker_config({
        "log.segment.bytes": "1000000",
        "message.max.bytes": "2000",
        "log.retention.minutes": "1",
        "log.roll.ms": "777",
        "log.message.timestamp.type": "LogAppendTime",
    })
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
        "KAFKA_LOG_DIRS": "/other",
    }
    assert env_overrides(environ) == {
        "log.dirs": "/data", "node.id": "3", "log.cleaner.dedupe.buffer.size": "u"}


def test_load_layers_file_env_and_overrides(tmp_path: Path) -> None:
    properties = tmp_path / "server.properties"
    properties.write_text("num.partitions=2\nlog.dirs=/from-file\nnode.id=5\n")
    config = load_broker_config(properties, overrides={"num.partitions": "4"},
                                environ={"ODRADEK_LOG_DIRS": "/from-env"})
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
    assert config.listeners == [Listener("PLAINTEXT", "127.0.0.1", 9092),
                                Listener("EXT", "::1", 9093)]
    assert config.advertised_listeners == config.listeners
    with pytest.raises(ConfigError):
        build_broker_config({"listeners": "not-a-listener"})
    with pytest.raises(ConfigError):
        build_broker_config({"listeners": "PLAINTEXT://h:70000"})


def test_every_definition_default_parses_back() -> None:
    for definition in BROKER_CONFIG_DEFS.values():
        if definition.default is None or isinstance(definition.default, list):
            continue
        assert definition.parse(str(definition.default).lower()
                                if isinstance(definition.default, bool)
                                else str(definition.default)) == definition.default
