from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from odradek.ingest.cli import configure_parser, load_settings
from odradek.ingest.consumer import kafka_config
from odradek.ingest.errors import IngestError, SettingsError

BASE = ["--bootstrap-server=b", "--topic=a", "--group=g", "--format=CSV", "--table=t"]


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    configure_parser(parser)
    return parser.parse_args(argv)


def test_engine_settings_file_with_flags_overriding(tmp_path: Path) -> None:
    config = tmp_path / "ingest.conf"
    config.write_text(
        "# the seed's table settings\n"
        "kafka_broker_list = '127.0.0.1:9092',\n"
        "kafka_topic_list = 'user-queue01,user-queue02',\n"
        "kafka_group_name = 'ck-consumer-02'\n"
        "kafka_format = 'jsoneachrow'\n"
        "kafka_skip_broken_messages = 100\n"
        "kafka_handle_error_mode = 'stream'\n"
        "table = users\n"
        "session.timeout.ms = 6000\n"
    )
    settings = load_settings(parse(str(config), "--skip-broken-messages", "5", "--topic", "x"))
    assert settings.bootstrap_server == "127.0.0.1:9092"
    assert settings.topics == ("x",)
    assert settings.group == "ck-consumer-02"
    assert settings.format == "JSONEachRow"
    assert settings.skip_broken_messages == 5
    assert settings.handle_error_mode == "stream"
    assert settings.errors_table == "users_errors"
    assert settings.consumer_properties == {"session.timeout.ms": "6000"}
    assert settings.target == "duckdb:///odradek-ingest.duckdb"


def test_flags_alone() -> None:
    settings = load_settings(
        parse(
            "--bootstrap-server=b:1",
            "--topic=a,b",
            "--topic=c",
            "--group=g",
            "--format=TSV",
            "--table=t",
            "--commit-every-batch",
            "--consumer-property=group.instance.id=one",
            "--consumers=2",
        )
    )
    assert settings.topics == ("a", "b", "c")
    assert settings.commit_every_batch
    config = kafka_config(settings, 1)
    assert config["isolation.level"] == "read_committed"
    assert config["enable.auto.commit"] is False
    assert config["group.instance.id"] == "one-1"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--topic=a", "--group=g", "--format=CSV", "--table=t"], "--bootstrap-server"),
        (["--bootstrap-server=b", "--group=g", "--format=CSV", "--table=t"], "--topic"),
        (["--bootstrap-server=b", "--topic=a", "--group=g", "--format=XML", "--table=t"], "XML"),
        (
            ["--bootstrap-server=b", "--topic=a", "--group=g", "--format=Avro", "--table=t"],
            "schema",
        ),
        (
            [*BASE, "--skip-broken-messages=-1"],
            "negative",
        ),
        (
            [*BASE, "--handle-error-mode=ignore"],
            "handle_error_mode",
        ),
    ],
)
def test_bad_settings_are_refused(argv: list[str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(parse(*argv))


def test_exactly_once_settings_cannot_be_overridden() -> None:
    settings = load_settings(
        parse(
            "--bootstrap-server=b",
            "--topic=a",
            "--group=g",
            "--format=CSV",
            "--table=t",
            "--consumer-property=isolation.level=read_uncommitted",
        )
    )
    with pytest.raises(IngestError, match=r"isolation\.level"):
        kafka_config(settings, 0)


def test_unknown_config_file_setting(tmp_path: Path) -> None:
    config = tmp_path / "c.conf"
    config.write_text("kafka_topics = a\n")
    with pytest.raises(SettingsError, match=r"c.conf:1: unknown setting 'kafka_topics'"):
        load_settings(parse(str(config)))
