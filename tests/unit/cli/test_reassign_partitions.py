"""``odradek reassign-partitions``: flag checks, the JSON files, replica placement for
--generate, and each action's output against a stand-in cluster."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from odradek.cli.main import main
from odradek.cli.tools import reassign_partitions as tool
from odradek.cli.tools.common import ToolError
from odradek.cli.tools.reassign_partitions import (
    Broker,
    Move,
    Target,
    assign_replicas_to_brokers,
    follower_throttles,
    format_reassignment_json,
    leader_throttles,
    ongoing_lines,
    parse_broker_list,
    parse_reassignment,
    parse_topics_to_move,
    propose,
    proposed_moves,
    rack_alternated,
    reassigning_brokers,
    reassignment_states,
    refuse_log_dir_moves,
    status_lines,
    validate_for_execute,
)
from odradek.cli.tools.reassignment_api import OngoingReassignment, PartitionError
from odradek.cluster import assignment
from tests.unit.cli.fake_broker import FakeAdmin, Node

BOOTSTRAP = ["--bootstrap-server", "127.0.0.1:1"]


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(["reassign-partitions", *argv])
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


# -- flags -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            [*BOOTSTRAP],
            "Command must include exactly one action: --generate, --execute, "
            "--verify, --cancel, --list",
        ),
        ([*BOOTSTRAP, "--list", "--verify"], "exactly one action"),
        (["--list"], "--bootstrap-server is required"),
        ([*BOOTSTRAP, "--execute"], 'Missing required argument "--reassignment-json-file"'),
        ([*BOOTSTRAP, "--verify"], 'Missing required argument "--reassignment-json-file"'),
        ([*BOOTSTRAP, "--cancel"], 'Missing required argument "--reassignment-json-file"'),
        (
            [*BOOTSTRAP, "--generate", "--broker-list", "1,2"],
            'Missing required argument "--topics-to-move-json-file"',
        ),
        (
            [*BOOTSTRAP, "--generate", "--topics-to-move-json-file", "t.json"],
            'Missing required argument "--broker-list"',
        ),
        (
            [*BOOTSTRAP, "--verify", "--reassignment-json-file", "r.json", "--broker-list", "1"],
            'Option "--broker-list" can\'t be used with action "--verify"',
        ),
        (
            [*BOOTSTRAP, "--list", "--additional"],
            'Option "--additional" can\'t be used with action "--list"',
        ),
        (
            [*BOOTSTRAP, "--execute", "--reassignment-json-file", "r.json", "--preserve-throttles"],
            'Option "--preserve-throttles" can\'t be used with action "--execute"',
        ),
        (
            [*BOOTSTRAP, "--cancel", "--reassignment-json-file", "r.json", "--throttle", "10"],
            'Option "--throttle" can\'t be used with action "--cancel"',
        ),
        (
            [
                *BOOTSTRAP,
                "--generate",
                "--topics-to-move-json-file",
                "t.json",
                "--broker-list",
                "1",
                "--reassignment-json-file",
                "r.json",
            ],
            'Option "--reassignment-json-file" can\'t be used with action "--generate"',
        ),
    ],
)
def test_usage_errors(argv: list[str], message: str) -> None:
    code, out, err = run(*argv)
    assert code == 1
    assert message in err
    assert err.startswith("odradek reassign-partitions: error: ")
    assert out == ""


def test_help_lists_every_action(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("--help")[0] == 0
    with pytest.raises(SystemExit):
        main(["reassign-partitions", "--help"])
    text = capsys.readouterr().out
    for flag in (
        "--generate",
        "--execute",
        "--verify",
        "--cancel",
        "--list",
        "--reassignment-json-file",
        "--topics-to-move-json-file",
        "--broker-list",
        "--disable-rack-aware",
        "--additional",
        "--throttle",
        "--preserve-throttles",
    ):
        assert flag in text


def test_missing_file_is_a_failure(tmp_path: Path) -> None:
    code, _, err = run(
        *BOOTSTRAP, "--verify", "--reassignment-json-file", str(tmp_path / "none.json")
    )
    assert code == 1
    assert err.startswith("Error: cannot read ")


# -- JSON files --------------------------------------------------------------------------------


def test_topics_to_move() -> None:
    text = '{"topics": [{"topic": "foo"}, {"topic": "bar"}], "version": 1}'
    assert parse_topics_to_move(text) == ["foo", "bar"]
    assert parse_topics_to_move('{"topics": []}') == []
    with pytest.raises(ToolError, match="duplicate entries: foo"):
        parse_topics_to_move('{"topics": [{"topic": "foo"}, {"topic": "foo"}]}')
    with pytest.raises(ToolError, match="Not supported version field value 2"):
        parse_topics_to_move('{"topics": [], "version": 2}')
    with pytest.raises(ToolError, match="not a valid JSON"):
        parse_topics_to_move("{topics")
    with pytest.raises(ToolError, match='"topic" must be a string'):
        parse_topics_to_move('{"topics": [{"name": "foo"}]}')


def test_broker_list() -> None:
    assert parse_broker_list("3,1,2") == [3, 1, 2]
    with pytest.raises(ToolError, match="Broker list contains duplicate entries: 1"):
        parse_broker_list("1,2,1")
    with pytest.raises(ToolError, match="comma-separated broker ids"):
        parse_broker_list("1,two")


def test_reassignment_file() -> None:
    text = json.dumps(
        {
            "version": 1,
            "partitions": [
                {"topic": "foo", "partition": 1, "replicas": [2, 3], "log_dirs": ["any", "any"]},
                {"topic": "bar", "partition": 0, "replicas": [1]},
            ],
        }
    )
    assert parse_reassignment(text) == [
        Target("foo", 1, (2, 3), ("any", "any")),
        Target("bar", 0, (1,), ("any",)),
    ]
    assert parse_reassignment('{"version": 1}') == []
    with pytest.raises(
        ToolError,
        match=r"Size of replicas list \[1, 2\] is different from size "
        r"of log dirs list \[any\] for partition foo-0",
    ):
        parse_reassignment(
            '{"partitions": [{"topic": "foo", "partition": 0, '
            '"replicas": [1, 2], "log_dirs": ["any"]}]}'
        )
    with pytest.raises(ToolError, match='"partition" must be an integer'):
        parse_reassignment('{"partitions": [{"topic": "foo", "partition": "0", "replicas": []}]}')
    with pytest.raises(ToolError, match='"replicas" must be a list'):
        parse_reassignment('{"partitions": [{"topic": "foo", "partition": 0, "replicas": 1}]}')


def test_execute_checks() -> None:
    good = [Target("foo", 0, (1, 2), ("any", "any")), Target("foo", 1, (2, 3), ("any", "any"))]
    assert validate_for_execute(good) == {("foo", 0): (1, 2), ("foo", 1): (2, 3)}
    with pytest.raises(ToolError, match="Partition reassignment list cannot be empty"):
        validate_for_execute([])
    with pytest.raises(ToolError, match="Partition replica list cannot be empty"):
        validate_for_execute([Target("foo", 0, (), ())])
    with pytest.raises(ToolError, match="contains duplicate topic partitions: foo-0"):
        validate_for_execute([good[0], good[0]])
    with pytest.raises(
        ToolError, match="may not contain duplicate entries: foo-0 contains multiple entries for 1"
    ):
        validate_for_execute([Target("foo", 0, (1, 2, 1), ("any",) * 3)])


def test_log_dir_moves_are_refused() -> None:
    refuse_log_dir_moves([Target("foo", 0, (1,), ("any",))])
    with pytest.raises(ToolError, match=r"foo-0 \(/data/a, any\)"):
        refuse_log_dir_moves([Target("foo", 0, (1, 2), ("/data/a", "any"))])


def test_reassignment_json_is_kafkas() -> None:
    text = format_reassignment_json({("foo", 10): [3, 1], ("foo", 2): [1, 2], ("bar", 0): [2]})
    assert text == (
        '{"version":1,"partitions":['
        '{"topic":"bar","partition":0,"replicas":[2],"log_dirs":["any"]},'
        '{"topic":"foo","partition":2,"replicas":[1,2],"log_dirs":["any","any"]},'
        '{"topic":"foo","partition":10,"replicas":[3,1],"log_dirs":["any","any"]}]}'
    )
    reread = parse_reassignment(text)
    assert [t.tp for t in reread] == [("bar", 0), ("foo", 2), ("foo", 10)]


# -- replica placement -------------------------------------------------------------------------


def test_assignment_is_deterministic_with_a_start_index() -> None:
    brokers = [Broker(3), Broker(1), Broker(2)]  # placed in id order
    first = assign_replicas_to_brokers(brokers, 6, 2, start_index=1)
    assert first == assign_replicas_to_brokers(list(reversed(brokers)), 6, 2, start_index=1)
    assert first == {0: [2, 1], 1: [3, 2], 2: [1, 3], 3: [2, 3], 4: [3, 1], 5: [1, 2]}
    leaders = [replicas[0] for replicas in first.values()]
    assert sorted(leaders) == [1, 1, 2, 2, 3, 3]  # leaders spread evenly


def test_rack_aware_assignment_matches_kafka() -> None:
    racks = {0: "rack1", 1: "rack3", 2: "rack3", 3: "rack2", 4: "rack2", 5: "rack1"}
    brokers = [Broker(i, r) for i, r in racks.items()]
    assert rack_alternated(brokers) == [0, 3, 1, 5, 4, 2]
    assert rack_alternated(brokers[:5]) == [0, 3, 1, 4, 2]
    assignment = assign_replicas_to_brokers(brokers, 7, 3, start_index=0)
    assert assignment == {
        0: [0, 3, 1],
        1: [3, 1, 5],
        2: [1, 5, 4],
        3: [5, 4, 2],
        4: [4, 2, 0],
        5: [2, 0, 3],
        6: [0, 4, 2],
    }
    for replicas in assignment.values():
        assert len({racks[b] for b in replicas}) == 3  # one replica per rack


def test_assignment_errors() -> None:
    brokers = [Broker(1), Broker(2)]
    with pytest.raises(ToolError, match="Replication factor: 3 larger than available brokers: 2"):
        assign_replicas_to_brokers(brokers, 1, 3)
    with pytest.raises(ToolError, match="Replication factor must be larger than 0"):
        assign_replicas_to_brokers(brokers, 1, 0)
    with pytest.raises(ToolError, match="Not all brokers have rack information"):
        assign_replicas_to_brokers([Broker(1, "a"), Broker(2)], 1, 1)


def test_random_start_stays_valid() -> None:
    brokers = [Broker(i) for i in (4, 5, 6)]
    for _ in range(20):
        for replicas in assign_replicas_to_brokers(brokers, 5, 3).values():
            assert sorted(replicas) == [4, 5, 6]


def test_proposal_keeps_partition_count_and_replication_factor() -> None:
    current = {("foo", 0): [1, 2], ("foo", 1): [2, 3], ("foo", 2): [3, 1], ("bar", 0): [1]}
    proposal = propose(current, [Broker(4), Broker(5), Broker(6)], start_index=0)
    assert proposal == {("bar", 0): [4], ("foo", 0): [4, 5], ("foo", 1): [5, 6], ("foo", 2): [6, 4]}


# -- reports -----------------------------------------------------------------------------------


def test_verify_status_lines() -> None:
    targets = [
        Target("foo", 0, (2, 3), ()),
        Target("foo", 1, (2, 3), ()),
        Target("bar", 0, (1, 2), ()),
        Target("gone", 0, (1,), ()),
    ]
    ongoing = {("foo", 1): OngoingReassignment("foo", 1, (1, 2, 3), (3,), (1,))}
    assignment = {"foo": {0: [2, 3], 1: [1, 2, 3]}, "bar": {0: [2, 1]}}
    states = reassignment_states(targets, ongoing, assignment)
    assert status_lines(states) == [
        "Status of partition reassignment:",
        "There is no active reassignment of partition bar-0, but replica set is 2,1 rather "
        "than 1,2.",
        "Reassignment of partition foo-0 is completed.",
        "Reassignment of partition foo-1 is still in progress.",
        "There is no active reassignment of partition gone-0, but replica set is  rather than 1.",
    ]


def test_list_lines() -> None:
    assert ongoing_lines({}) == ["No partition reassignments found."]
    ongoing = {
        ("foo", 1): OngoingReassignment("foo", 1, (1, 2, 3, 4), (4,), (1,)),
        ("bar", 0): OngoingReassignment("bar", 0, (2, 3), (3,), ()),
        ("foo", 0): OngoingReassignment("foo", 0, (1, 2), (), ()),
    }
    assert ongoing_lines(ongoing) == [
        "Current partition reassignments:",
        "bar-0: replicas: 2,3. adding: 3.",
        "foo-0: replicas: 1,2.",
        "foo-1: replicas: 1,2,3,4. adding: 4. removing: 1.",
    ]


def test_throttled_replicas() -> None:
    ongoing = {("foo", 3): OngoingReassignment("foo", 3, (1, 2, 4), (4,), (1,))}
    proposed = {("foo", 0): [2, 3], ("foo", 3): [2, 5], ("bar", 10): [1]}
    current = {("foo", 0): [1, 2], ("foo", 3): [1, 2, 4], ("bar", 10): [2]}
    moves = proposed_moves(ongoing, proposed, current)
    assert moves == {
        "foo": {0: Move({1, 2}, {3}), 3: Move({1, 2}, {5})},
        "bar": {10: Move({2}, {1})},
    }
    assert leader_throttles(moves) == {"foo": "0:1,0:2,3:1,3:2", "bar": "10:2"}
    assert follower_throttles(moves) == {"foo": "0:3,3:5", "bar": "10:1"}
    assert reassigning_brokers(moves) == [1, 2, 3, 5]


# -- actions against a stand-in cluster --------------------------------------------------------


class FakeController:
    """Stands in for reassignment_api.ControllerClient."""

    ongoing: dict[Any, OngoingReassignment] = {}
    errors: dict[Any, PartitionError] = {}
    altered: list[dict[Any, Any]] = []
    listed: list[Any] = []

    def __init__(self, admin: Any) -> None:
        self.admin = admin

    def list_ongoing(self, partitions: Any = None) -> dict[Any, OngoingReassignment]:
        wanted = None if partitions is None else set(partitions)
        FakeController.listed.append(wanted)
        return {tp: r for tp, r in self.ongoing.items() if wanted is None or tp in wanted}

    def alter(self, targets: dict[Any, Any]) -> dict[Any, PartitionError]:
        FakeController.altered.append(dict(targets))
        return {tp: e for tp, e in self.errors.items() if tp in targets}


@pytest.fixture
def cluster(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAdmin]:
    admin = FakeAdmin(
        nodes=[Node(1, rack="a"), Node(2, rack="b"), Node(3)],
        assignment={"foo": {0: [1, 2], 1: [2, 3]}, "bar": {0: [3]}},
    )

    class AdminFactory:
        @staticmethod
        def from_args(args: Any) -> FakeAdmin:
            return admin

    FakeController.ongoing, FakeController.errors = {}, {}
    FakeController.altered, FakeController.listed = [], []
    monkeypatch.setattr(tool, "Admin", AdminFactory)
    monkeypatch.setattr(tool, "ControllerClient", FakeController)
    yield admin


def write(tmp_path: Path, document: Any) -> str:
    path = tmp_path / "file.json"
    path.write_text(json.dumps(document))
    return str(path)


def plan(*entries: tuple[str, int, list[int]]) -> dict[str, Any]:
    return {
        "version": 1,
        "partitions": [{"topic": t, "partition": p, "replicas": r} for t, p, r in entries],
    }


def test_execute(cluster: FakeAdmin, tmp_path: Path) -> None:
    file = write(tmp_path, plan(("foo", 0, [2, 3]), ("bar", 0, [1, 2])))
    code, out, err = run(*BOOTSTRAP, "--execute", "--reassignment-json-file", file)
    assert (code, err) == (0, "")
    assert out == (
        "Current partition replica assignment\n\n"
        '{"version":1,"partitions":[{"topic":"bar","partition":0,"replicas":[3],'
        '"log_dirs":["any"]},{"topic":"foo","partition":0,"replicas":[1,2],'
        '"log_dirs":["any","any"]}]}\n\n'
        "Save this to use as the --reassignment-json-file option during rollback\n"
        "Successfully started partition reassignments for bar-0,foo-0\n"
    )
    assert FakeController.altered == [{("foo", 0): (2, 3), ("bar", 0): (1, 2)}]
    assert cluster.altered == []  # no throttle


def test_execute_refuses_while_others_run(cluster: FakeAdmin, tmp_path: Path) -> None:
    FakeController.ongoing = {("foo", 1): OngoingReassignment("foo", 1, (2, 3, 1), (1,), (3,))}
    file = write(tmp_path, plan(("foo", 0, [2, 3])))
    code, out, err = run(*BOOTSTRAP, "--execute", "--reassignment-json-file", file)
    assert code == 1
    assert "Cannot execute because there is an existing partition assignment." in err
    assert FakeController.altered == []
    code, out, _ = run(*BOOTSTRAP, "--execute", "--reassignment-json-file", file, "--additional")
    assert code == 0
    assert out.endswith("Successfully started partition reassignment for foo-0\n")


def test_execute_with_throttle(cluster: FakeAdmin, tmp_path: Path) -> None:
    file = write(tmp_path, plan(("foo", 0, [2, 3])))
    code, out, _ = run(
        *BOOTSTRAP, "--execute", "--reassignment-json-file", file, "--throttle", "1000"
    )
    assert code == 0
    assert "Warning: You must run --verify periodically" in out
    assert "The inter-broker throttle limit was set to 1000 B/s" in out
    changes = {
        (str(r.restype), r.name): {c.name: c.value for c in r.incremental_configs}
        for r in cluster.altered
    }
    assert changes == {
        ("ResourceType.TOPIC", "foo"): {
            "leader.replication.throttled.replicas": "0:1,0:2",
            "follower.replication.throttled.replicas": "0:3",
        },
        **{
            ("ResourceType.BROKER", str(b)): {
                "leader.replication.throttled.rate": "1000",
                "follower.replication.throttled.rate": "1000",
            }
            for b in (1, 2, 3)
        },
    }


def test_execute_failures(cluster: FakeAdmin, tmp_path: Path) -> None:
    code, _, err = run(
        *BOOTSTRAP,
        "--execute",
        "--reassignment-json-file",
        write(tmp_path, plan(("foo", 0, [2, 7]))),
    )
    assert (code, err) == (1, "Error: Unknown broker id 7\n")
    code, _, err = run(
        *BOOTSTRAP,
        "--execute",
        "--reassignment-json-file",
        write(tmp_path, plan(("foo", 5, [2, 3]), ("nope", 0, [1]))),
    )
    assert (code, err) == (1, "Error: Unable to find partition: foo-5, nope-0\n")
    FakeController.errors = {("foo", 0): PartitionError(39, "Replica 3 is offline")}
    code, _, err = run(
        *BOOTSTRAP,
        "--execute",
        "--reassignment-json-file",
        write(tmp_path, plan(("foo", 0, [2, 3]))),
    )
    assert (code, err) == (
        1,
        "Error: Error reassigning partition(s):\nfoo-0: Replica 3 is offline\n",
    )


def test_verify_clears_throttles_when_done(cluster: FakeAdmin, tmp_path: Path) -> None:
    file = write(tmp_path, plan(("foo", 0, [1, 2]), ("foo", 1, [3, 2])))
    code, out, _ = run(*BOOTSTRAP, "--verify", "--reassignment-json-file", file)
    assert code == 0
    assert out == (
        "Status of partition reassignment:\n"
        "Reassignment of partition foo-0 is completed.\n"
        "There is no active reassignment of partition foo-1, but replica set is 2,3 rather "
        "than 3,2.\n"
        "Clearing broker-level throttles on brokers 1,2,3\n"
        "Clearing topic-level throttles on topic foo\n"
    )
    deleted = {r.name: sorted(c.name for c in r.incremental_configs) for r in cluster.altered}
    assert deleted["foo"] == [
        "follower.replication.throttled.replicas",
        "leader.replication.throttled.replicas",
    ]
    assert deleted["2"] == [
        "follower.replication.throttled.rate",
        "leader.replication.throttled.rate",
        "replica.alter.log.dirs.io.max.bytes.per.second",
    ]


def test_verify_in_progress_keeps_throttles(cluster: FakeAdmin, tmp_path: Path) -> None:
    FakeController.ongoing = {("foo", 0): OngoingReassignment("foo", 0, (1, 2, 3), (3,), (1,))}
    file = write(tmp_path, plan(("foo", 0, [2, 3])))
    code, out, _ = run(*BOOTSTRAP, "--verify", "--reassignment-json-file", file)
    assert (code, out) == (
        0,
        "Status of partition reassignment:\n"
        "Reassignment of partition foo-0 is still in progress.\n",
    )
    assert cluster.altered == []
    FakeController.ongoing = {}
    code, out, _ = run(
        *BOOTSTRAP, "--verify", "--reassignment-json-file", file, "--preserve-throttles"
    )
    assert "Clearing" not in out
    assert cluster.altered == []


def test_list(cluster: FakeAdmin) -> None:
    assert run(*BOOTSTRAP, "--list")[:2] == (0, "No partition reassignments found.\n")
    FakeController.ongoing = {("foo", 0): OngoingReassignment("foo", 0, (1, 2, 3), (3,), (1,))}
    assert run(*BOOTSTRAP, "--list")[:2] == (
        0,
        "Current partition reassignments:\nfoo-0: replicas: 1,2,3. adding: 3. removing: 1.\n",
    )


def test_cancel(cluster: FakeAdmin, tmp_path: Path) -> None:
    FakeController.ongoing = {
        ("foo", 0): OngoingReassignment("foo", 0, (1, 2, 3), (3,), (1,)),
        ("foo", 1): OngoingReassignment("foo", 1, (2, 3, 1), (1,), ()),
    }
    file = write(tmp_path, plan(("foo", 0, [2, 3]), ("bar", 0, [1])))
    code, out, _ = run(
        *BOOTSTRAP, "--cancel", "--reassignment-json-file", file, "--preserve-throttles"
    )
    assert (code, out) == (
        0,
        "Successfully cancelled partition reassignment for: foo-0\n"
        "None of the specified partition moves are active.\n",
    )
    assert FakeController.listed == [{("foo", 0), ("bar", 0)}]
    assert FakeController.altered == [{("foo", 0): None}]  # null replicas: cancel
    FakeController.ongoing = {}
    code, out, _ = run(*BOOTSTRAP, "--cancel", "--reassignment-json-file", file)
    assert out.splitlines() == [
        "None of the specified partition reassignments are active.",
        "None of the specified partition moves are active.",
        "Clearing broker-level throttles on brokers 1,2,3",
        "Clearing topic-level throttles on topics bar,foo",
    ]


def test_generate(cluster: FakeAdmin, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(assignment, "draw_index", lambda n: 0)
    file = write(tmp_path, {"topics": [{"topic": "foo"}], "version": 1})
    code, out, err = run(
        *BOOTSTRAP,
        "--generate",
        "--topics-to-move-json-file",
        file,
        "--broker-list",
        "2,3",
        "--disable-rack-aware",
    )
    assert (code, err) == (0, "")
    assert out == (
        "Current partition replica assignment\n"
        '{"version":1,"partitions":[{"topic":"foo","partition":0,"replicas":[1,2],'
        '"log_dirs":["any","any"]},{"topic":"foo","partition":1,"replicas":[2,3],'
        '"log_dirs":["any","any"]}]}\n\n'
        "Proposed partition reassignment configuration\n"
        '{"version":1,"partitions":[{"topic":"foo","partition":0,"replicas":[2,3],'
        '"log_dirs":["any","any"]},{"topic":"foo","partition":1,"replicas":[3,2],'
        '"log_dirs":["any","any"]}]}\n'
    )
    proposal = out.splitlines()[-1]
    assert [t.replicas for t in parse_reassignment(proposal)] == [(2, 3), (3, 2)]


def test_generate_needs_racks_on_all_brokers_or_none(cluster: FakeAdmin, tmp_path: Path) -> None:
    file = write(tmp_path, {"topics": [{"topic": "foo"}]})
    code, _, err = run(
        *BOOTSTRAP, "--generate", "--topics-to-move-json-file", file, "--broker-list", "1,2,3"
    )
    assert code == 1
    assert "Not all brokers have rack information. Add --disable-rack-aware" in err
    code, _, _ = run(
        *BOOTSTRAP, "--generate", "--topics-to-move-json-file", file, "--broker-list", "1,2"
    )  # both have racks: rack-aware
    assert code == 0
    code, _, err = run(
        *BOOTSTRAP,
        "--generate",
        "--topics-to-move-json-file",
        write(tmp_path, {"topics": [{"topic": "nope"}]}),
        "--broker-list",
        "1",
    )
    assert (code, err) == (1, "Error: Topic nope not found.\n")
