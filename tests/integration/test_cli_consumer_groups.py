"""``odradek consumer-groups``: listing, lag, members and state, every reset mode (a dry run
changes nothing, --execute commits), deleting offsets and groups, and flag errors."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from tests.integration.test_cli_common import (
    GROUP_OVERRIDES,
    fails,
    odradek,
    ok,
    ok_json,
    table,
    usage_error,
)
from tests.support.broker_process import BrokerProcess

pytestmark = pytest.mark.integration

TOPIC = "events"
RECORDS = 10  # per partition
BASELINE = {0: 3, 1: 7}  # committed offsets of a prepared group
HOUR_MS = 3_600_000


@pytest.fixture
def cluster(broker_factory: Callable[..., BrokerProcess]) -> Iterator[tuple[BrokerProcess, int]]:
    """A broker with topic ``events`` (2 partitions of 10 records stamped two hours ago, one
    second apart) and the records' base timestamp."""
    broker = broker_factory(overrides=GROUP_OVERRIDES)
    ok(
        "topics",
        "--bootstrap-server",
        broker.bootstrap,
        "--create",
        "--topic",
        TOPIC,
        "--partitions",
        "2",
    )
    base = int(time.time() * 1000) - 2 * HOUR_MS
    producer = Producer({"bootstrap.servers": broker.bootstrap})
    for i in range(RECORDS):
        for partition in (0, 1):
            producer.produce(
                TOPIC,
                value=f"{partition}-{i}".encode(),
                partition=partition,
                timestamp=base + i * 1000,
            )
    assert producer.flush(10) == 0
    yield broker, base


def client(broker: BrokerProcess, group: str) -> Consumer:
    return Consumer(
        {"bootstrap.servers": broker.bootstrap, "group.id": group, "enable.auto.commit": False}
    )


def commit(broker: BrokerProcess, group: str, offsets: dict[int, int]) -> None:
    consumer = client(broker, group)
    try:
        consumer.commit(
            offsets=[TopicPartition(TOPIC, p, o) for p, o in offsets.items()], asynchronous=False
        )
    finally:
        consumer.close()


def committed(broker: BrokerProcess, group: str) -> dict[int, int]:
    consumer = client(broker, group)
    try:
        found = consumer.committed([TopicPartition(TOPIC, p) for p in (0, 1)], timeout=10)
    finally:
        consumer.close()
    return {tp.partition: tp.offset for tp in found if tp.offset >= 0}


def groups_cli(broker: BrokerProcess, *args: str) -> str:
    return ok("consumer-groups", "--bootstrap-server", broker.bootstrap, *args)


def groups_fail(broker: BrokerProcess, *args: str, code: int = 1) -> str:
    return fails("consumer-groups", "--bootstrap-server", broker.bootstrap, *args, code=code)


def test_describe_lag_of_an_empty_group(cluster: tuple[BrokerProcess, int]) -> None:
    broker, _ = cluster
    commit(broker, "readers", BASELINE)
    result = odradek(
        "consumer-groups",
        "--bootstrap-server",
        broker.bootstrap,
        "--describe",
        "--group",
        "readers",
    )
    assert result.returncode == 0, result.stderr
    assert "Consumer group 'readers' has no active members." in result.stderr
    rows = table(result.stdout)
    assert [(r["PARTITION"], r["CURRENT-OFFSET"], r["LOG-END-OFFSET"], r["LAG"]) for r in rows] == [
        ("0", "3", "10", "7"),
        ("1", "7", "10", "3"),
    ]
    assert {
        (r["GROUP"], r["TOPIC"], r["CONSUMER-ID"], r["HOST"], r["CLIENT-ID"]) for r in rows
    } == {("readers", TOPIC, "-", "-", "-")}

    [report] = ok_json(
        "consumer-groups",
        "--bootstrap-server",
        broker.bootstrap,
        "--describe",
        "--group",
        "readers",
    )
    assert report["state"] == "Empty"
    assert [(o["partition"], o["lag"], o["consumer_id"]) for o in report["offsets"]] == [
        (0, 7, None),
        (1, 3, None),
    ]

    assert groups_cli(broker, "--list").split() == ["readers"]
    assert table(groups_cli(broker, "--list", "--state")) == [
        {"GROUP": "readers", "STATE": "Empty"}
    ]
    assert groups_cli(broker, "--list", "--state", "Stable").split() == ["GROUP", "STATE"]
    assert ok_json("consumer-groups", "--bootstrap-server", broker.bootstrap, "--list") == [
        {"group": "readers", "state": "Empty"}
    ]

    stderr = groups_fail(broker, "--describe", "--group", "nobody")
    assert "Consumer group 'nobody' does not exist." in stderr


def test_active_member(cluster: tuple[BrokerProcess, int]) -> None:
    broker, _ = cluster
    consumer = Consumer(
        {
            "bootstrap.servers": broker.bootstrap,
            "group.id": "live",
            "client.id": "lag-watcher",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    try:
        consumer.subscribe([TOPIC])
        seen = 0
        deadline = time.monotonic() + 20
        while seen < 5 and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and message.error() is None and message.partition() == 0:
                seen += 1
        consumer.commit(offsets=[TopicPartition(TOPIC, 0, 5)], asynchronous=False)
        _check_active(broker, consumer.memberid())
    finally:
        consumer.close()
    assert "was successful" in groups_cli(broker, "--delete", "--group", "live")


def _check_active(broker: BrokerProcess, member: str) -> None:
    rows = table(groups_cli(broker, "--describe", "--group", "live"))
    assert [(r["PARTITION"], r["CURRENT-OFFSET"], r["LAG"]) for r in rows] == [
        ("0", "5", "5"),
        ("1", "-", "-"),
    ]
    assert {(r["CONSUMER-ID"], r["CLIENT-ID"]) for r in rows} == {(member, "lag-watcher")}
    assert all(r["HOST"].startswith("/") for r in rows)

    [members] = table(groups_cli(broker, "--describe", "--group", "live", "--members", "--verbose"))
    assert (members["CONSUMER-ID"], members["#PARTITIONS"], members["ASSIGNMENT"]) == (
        member,
        "2",
        f"{TOPIC}:0,1",
    )
    state = groups_cli(broker, "--describe", "--group", "live", "--state").splitlines()[-1]
    assert state.split()[0] == "live" and state.split()[-2:] == ["Stable", "1"]

    assert "current state is Stable" in groups_fail(
        broker, "--reset-offsets", "--group", "live", "--all-topics", "--to-earliest", "--execute"
    )
    assert "could not be deleted" in groups_fail(broker, "--delete", "--group", "live")


def test_console_consumer_commits_for_its_group(cluster: tuple[BrokerProcess, int]) -> None:
    broker, _ = cluster
    read = (
        "console-consumer",
        "--bootstrap-server",
        broker.bootstrap,
        "--include",
        "ev.*",
        "--group",
        "cc",
        "--from-beginning",
    )
    first = ok(*read, "--max-messages", "4").split()
    rows = table(groups_cli(broker, "--describe", "--group", "cc"))
    done = [r for r in rows if r["CURRENT-OFFSET"] != "-"]
    assert sum(int(r["CURRENT-OFFSET"]) for r in done) == 4
    assert all(int(r["LAG"]) == RECORDS - int(r["CURRENT-OFFSET"]) for r in done)
    rest = ok(*read, "--max-messages", str(2 * RECORDS - 4)).split()
    assert sorted(first + rest) == sorted(f"{p}-{i}" for p in (0, 1) for i in range(RECORDS))


def local_time(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]


def utc_time(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def scenarios(base: int) -> list[tuple[list[str], dict[int, int]]]:
    everything = ["--topic", TOPIC]
    return [
        ([*everything, "--to-earliest"], {0: 0, 1: 0}),
        (["--all-topics", "--to-latest"], {0: 10, 1: 10}),
        ([*everything, "--to-current"], {0: 3, 1: 7}),
        ([*everything, "--to-offset", "5"], {0: 5, 1: 5}),
        ([*everything, "--to-offset", "50"], {0: 10, 1: 10}),
        ([*everything, "--shift-by", "-2"], {0: 1, 1: 5}),
        (["--all-topics", "--shift-by", "5"], {0: 8, 1: 10}),
        ([*everything, "--to-datetime", local_time(base + 4000)], {0: 4, 1: 4}),
        ([*everything, "--to-datetime", utc_time(base + 6500)], {0: 7, 1: 7}),
        ([*everything, "--by-duration", "PT1H"], {0: 10, 1: 10}),
        ([*everything, "--by-duration", "P1DT1M"], {0: 0, 1: 0}),
        (["--topic", f"{TOPIC}:1", "--to-earliest"], {0: 3, 1: 0}),
    ]


def test_every_reset_mode(cluster: tuple[BrokerProcess, int]) -> None:
    broker, base = cluster
    for number, (args, expected) in enumerate(scenarios(base)):
        group = f"reset-{number}"
        commit(broker, group, BASELINE)
        reset = ("--reset-offsets", "--group", group, *args)
        planned = table(groups_cli(broker, *reset, "--dry-run"))
        changed = {int(r["PARTITION"]): int(r["NEW-OFFSET"]) for r in planned}
        assert {**BASELINE, **changed} == expected, args
        assert committed(broker, group) == BASELINE, f"{args}: a dry run changed offsets"
        groups_cli(broker, *reset, "--execute")
        assert committed(broker, group) == expected, args


def test_reset_defaults_export_and_file(cluster: tuple[BrokerProcess, int], tmp_path: Path) -> None:
    broker, _ = cluster
    commit(broker, "planned", BASELINE)
    reset = (
        "consumer-groups",
        "--bootstrap-server",
        broker.bootstrap,
        "--reset-offsets",
        "--group",
        "planned",
    )
    result = odradek(*reset, "--all-topics", "--to-offset", "2")
    assert result.returncode == 0 and "No action will be performed" in result.stderr
    assert committed(broker, "planned") == BASELINE

    exported = ok(*reset, "--all-topics", "--to-offset", "2", "--export")
    assert exported.splitlines() == [f"{TOPIC},0,2", f"{TOPIC},1,2"]
    plan = tmp_path / "plan.csv"
    plan.write_text(exported)
    ok(*reset, "--from-file", str(plan), "--execute")
    assert committed(broker, "planned") == {0: 2, 1: 2}

    [data] = [ok_json(*reset, "--topic", TOPIC, "--to-latest", "--execute")]
    assert data["executed"] is True
    assert [(o["partition"], o["new_offset"]) for o in data["offsets"]] == [(0, 10), (1, 10)]

    commit(broker, "half", {0: 4})
    stderr = groups_fail(
        broker,
        "--reset-offsets",
        "--group",
        "half",
        "--topic",
        TOPIC,
        "--shift-by",
        "1",
        "--execute",
    )
    assert f"Cannot shift offset for partition {TOPIC}-1" in stderr
    assert "does not exist" in groups_fail(
        broker, "--reset-offsets", "--group", "half", "--topic", "absent", "--to-earliest"
    )


def test_delete_offsets_and_groups(cluster: tuple[BrokerProcess, int]) -> None:
    broker, _ = cluster
    commit(broker, "trim", BASELINE)
    out = groups_cli(broker, "--delete-offsets", "--group", "trim", "--topic", f"{TOPIC}:0")
    assert out.splitlines()[0] == "Request succeeded for deleting offsets from group trim."
    assert table("\n".join(out.splitlines()[1:])) == [
        {"TOPIC": TOPIC, "PARTITION": "0", "STATUS": "Successful"}
    ]
    assert committed(broker, "trim") == {1: 7}
    assert "does not exist" in groups_fail(
        broker, "--delete-offsets", "--group", "trim", "--topic", "absent"
    )

    commit(broker, "gone", BASELINE)
    assert (
        groups_cli(broker, "--delete", "--group", "gone", "--group", "trim").strip()
        == "Deletion of requested consumer groups ('gone', 'trim') was successful."
    )
    assert groups_cli(broker, "--list") == ""
    assert "could not be deleted" in groups_fail(broker, "--delete", "--group", "gone")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--describe"], "needs --group"),
        (["--list", "--members"], "only valid with --describe"),
        (["--reset-offsets", "--group", "g", "--topic", "t"], "exactly one reset scenario"),
        (
            ["--reset-offsets", "--group", "g", "--topic", "t", "--to-earliest", "--to-latest"],
            "exactly one reset scenario",
        ),
        (["--reset-offsets", "--group", "g", "--to-earliest"], "reset scopes"),
        (
            [
                "--reset-offsets",
                "--group",
                "g",
                "--topic",
                "t",
                "--to-earliest",
                "--dry-run",
                "--execute",
            ],
            "one of --execute and --dry-run",
        ),
        (
            ["--reset-offsets", "--group", "g", "--topic", "t", "--to-datetime", "yesterday"],
            "invalid --to-datetime",
        ),
        (
            ["--reset-offsets", "--group", "g", "--topic", "t", "--by-duration", "1h"],
            "invalid --by-duration",
        ),
        (["--delete-offsets", "--group", "g"], "exactly one --group and --topic"),
        (["--describe", "--group", "g", "--to-latest"], "only valid with --reset-offsets"),
        (["--describe", "--list"], "not allowed with"),
    ],
)
def test_flag_errors(args: list[str], message: str) -> None:
    assert message in usage_error("consumer-groups", "--bootstrap-server", "127.0.0.1:1", *args)
