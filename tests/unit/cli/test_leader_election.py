"""``odradek leader-election``: flag checks, the JSON file, and Kafka's report of an election
(with a stand-in AdminClient)."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import ElectionType, KafkaError, KafkaException, TopicPartition

from odradek.cli.main import main
from odradek.cli.tools import leader_election as tool
from odradek.cli.tools.common import ToolError
from odradek.cli.tools.leader_election import outcome_lines, parse_election_json
from tests.unit.cli.fake_broker import FakeAdmin

BOOTSTRAP = ["--bootstrap-server", "127.0.0.1:1"]


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(["leader-election", *argv])
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["--election-type", "preferred", "--all-topic-partitions"],
            "Missing required option(s): bootstrap-server",
        ),
        ([*BOOTSTRAP, "--all-topic-partitions"], "Missing required option(s): election-type"),
        (["--all-topic-partitions"], "Missing required option(s): bootstrap-server, election-type"),
        (
            [*BOOTSTRAP, "--election-type", "preferred"],
            "One and only one of the following options is required: topic, all-topic-partitions, "
            "path-to-json-file",
        ),
        (
            [
                *BOOTSTRAP,
                "--election-type",
                "preferred",
                "--all-topic-partitions",
                "--topic",
                "t",
                "--partition",
                "0",
            ],
            "One and only one of the following options is required",
        ),
        (
            [*BOOTSTRAP, "--election-type", "preferred", "--topic", "t"],
            "Missing required option(s): partition",
        ),
        (
            [
                *BOOTSTRAP,
                "--election-type",
                "preferred",
                "--all-topic-partitions",
                "--partition",
                "0",
            ],
            "Option partition is only allowed if topic is used",
        ),
        (
            [*BOOTSTRAP, "--election-type", "cleanest", "--all-topic-partitions"],
            "invalid choice: 'cleanest'",
        ),
    ],
)
def test_usage_errors(argv: list[str], message: str) -> None:
    code, out, err = run(*argv)
    assert code == 1
    assert message in err
    assert out == ""


def test_election_json() -> None:
    text = '{"partitions": [{"topic": "foo", "partition": 1}, {"topic": "bar", "partition": 0}]}'
    assert parse_election_json(text) == [("bar", 0), ("foo", 1)]
    assert parse_election_json('{"partitions": []}') == []
    with pytest.raises(ToolError, match='missing "partitions" field'):
        parse_election_json('{"topics": []}')
    with pytest.raises(ToolError, match="duplicate partitions: foo-1"):
        parse_election_json(
            '{"partitions": [{"topic": "foo", "partition": 1}, {"topic": "foo", "partition": 1}]}'
        )
    with pytest.raises(ToolError, match="invalid partition entry"):
        parse_election_json('{"partitions": [{"topic": "foo"}]}')
    with pytest.raises(ToolError, match="not valid JSON"):
        parse_election_json("{")


def test_report_lines() -> None:
    results = {
        ("foo", 1): None,
        ("bar", 0): None,
        ("foo", 0): KafkaError(KafkaError.ELECTION_NOT_NEEDED),
        ("baz", 2): KafkaError(KafkaError.PREFERRED_LEADER_NOT_AVAILABLE),
    }
    lines, failures = outcome_lines("PREFERRED", results)
    assert failures == 1
    assert lines[:2] == [
        "Successfully completed leader election (PREFERRED) for partitions bar-0, foo-1",
        "Valid replica already elected for partitions foo-0",
    ]
    assert lines[2].startswith(
        "Error completing leader election (PREFERRED) for partition: baz-2: "
    )
    assert outcome_lines("UNCLEAN", {}) == ([], 0)


@pytest.fixture
def admin(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAdmin]:
    fake = FakeAdmin()
    monkeypatch.setattr(tool, "Admin", lambda config, timeout: fake)
    yield fake


def test_election_of_one_partition(admin: FakeAdmin) -> None:
    admin.election_result = {TopicPartition("foo", 0): None}
    code, out, err = run(
        *BOOTSTRAP, "--election-type", "Preferred", "--topic", "foo", "--partition", "0"
    )
    assert (code, out, err) == (
        0,
        "Successfully completed leader election (PREFERRED) for partitions foo-0\n",
        "",
    )
    [(kind, partitions)] = admin.elections
    assert kind == ElectionType.PREFERRED
    assert [(tp.topic, tp.partition) for tp in partitions] == [("foo", 0)]


def test_election_of_all_partitions_with_failures(admin: FakeAdmin) -> None:
    admin.election_result = {
        TopicPartition("foo", 0): KafkaException(KafkaError(KafkaError.ELECTION_NOT_NEEDED)),
        TopicPartition("foo", 1): KafkaException(
            KafkaError(KafkaError.ELIGIBLE_LEADERS_NOT_AVAILABLE, "no live replica in the ISR")
        ),
    }
    code, out, err = run(*BOOTSTRAP, "--election-type", "unclean", "--all-topic-partitions")
    assert code == 1
    assert out.splitlines() == [
        "Valid replica already elected for partitions foo-0",
        "Error completing leader election (UNCLEAN) for partition: foo-1: "
        "no live replica in the ISR",
    ]
    assert err == "Error: 1 replica(s) could not be elected\n"
    assert admin.elections == [(ElectionType.UNCLEAN, None)]  # None: every partition


def test_election_from_a_file(admin: FakeAdmin, tmp_path: Path) -> None:
    path = tmp_path / "election.json"
    path.write_text(
        json.dumps(
            {"partitions": [{"topic": "foo", "partition": 1}, {"topic": "bar", "partition": 0}]}
        )
    )
    admin.election_result = {TopicPartition("bar", 0): None, TopicPartition("foo", 1): None}
    code, out, _ = run(
        *BOOTSTRAP,
        "--election-type",
        "PREFERRED",
        "--path-to-json-file",
        str(path),
        "--admin.config",
        str(tmp_path / "none.properties"),
    )
    assert code == 1  # the admin config file does not exist
    code, out, _ = run(*BOOTSTRAP, "--election-type", "PREFERRED", "--path-to-json-file", str(path))
    assert (code, out) == (
        0,
        "Successfully completed leader election (PREFERRED) for partitions bar-0, foo-1\n",
    )
    sent: Any = admin.elections[-1][1]
    assert [(tp.topic, tp.partition) for tp in sent] == [("bar", 0), ("foo", 1)]
    path.write_text('{"partitions": []}')
    assert run(*BOOTSTRAP, "--election-type", "PREFERRED", "--path-to-json-file", str(path))[
        :2
    ] == (0, "")
