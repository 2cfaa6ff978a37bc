"""``odradek acls``: the flags as Kafka's model (resource patterns and their entries), Kafka's
flag checks and output, the conversion to confluent-kafka's bindings, and whole runs against a
canned broker (what librdkafka sends, how errors come out)."""

from __future__ import annotations

import argparse
import io
import socket
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from kio.schema.errors import ErrorCode
from kio.static.primitive import i8, i32

from odradek.cli.main import build_parser, main
from odradek.cli.tools.acls_args import (
    CLUSTER,
    acls_to_add,
    check_args,
    list_filters,
    parse_operation,
    requested_acls,
)
from odradek.cli.tools.acls_bindings import binding, binding_filter, from_binding
from odradek.cli.tools.acls_output import adding_lines, current_lines, removal_question
from odradek.cli.tools.common import ToolError, UsageError
from odradek.protocol.client import response_module
from odradek.security.acl import (
    AccessControlEntry,
    AclOperation,
    AclPermissionType,
    PatternType,
    ResourcePattern,
    ResourcePatternFilter,
    ResourceType,
)
from tests.unit.cli.fake_broker import FakeBroker

METADATA, CREATE_ACLS, DESCRIBE_ACLS, DELETE_ACLS = 3, 30, 29, 31


def parse(*flags: str) -> argparse.Namespace:
    return build_parser().parse_args(["acls", "--bootstrap-server", "127.0.0.1:9092", *flags])


def checked(*flags: str) -> argparse.Namespace:
    args = parse(*flags)
    check_args(args)
    return args


def allow(principal: str, operation: str, host: str = "*") -> AccessControlEntry:
    return AccessControlEntry(principal, host, AclOperation[operation], AclPermissionType.ALLOW)


def deny(principal: str, operation: str) -> AccessControlEntry:
    return AccessControlEntry(principal, "*", AclOperation[operation], AclPermissionType.DENY)


def topic(name: str, pattern_type: str = "LITERAL") -> ResourcePattern:
    return ResourcePattern(ResourceType.TOPIC, name, PatternType[pattern_type])


def group(name: str) -> ResourcePattern:
    return ResourcePattern(ResourceType.GROUP, name, PatternType.LITERAL)


def txn(name: str) -> ResourcePattern:
    return ResourcePattern(ResourceType.TRANSACTIONAL_ID, name, PatternType.LITERAL)


CLUSTER_PATTERN = ResourcePattern(ResourceType.CLUSTER, "kafka-cluster", PatternType.LITERAL)


def operations(entries: frozenset[AccessControlEntry]) -> set[str]:
    return {e.operation.name for e in entries}


# -- flags -> resource patterns and entries ------------------------------------------------------


def test_operation_and_principals_make_one_entry_each_per_host() -> None:
    args = checked(
        "--add",
        "--topic",
        "orders",
        "--allow-principal",
        "User:alice",
        "--allow-principal",
        "User:bob",
        "--allow-host",
        "10.0.0.1",
        "--deny-principal",
        "User:mallory",
        "--operation",
        "Read",
        "--operation",
        "Write",
    )
    assert acls_to_add(args) == {
        topic("orders"): frozenset(
            {
                allow("User:alice", "READ", "10.0.0.1"),
                allow("User:alice", "WRITE", "10.0.0.1"),
                allow("User:bob", "READ", "10.0.0.1"),
                allow("User:bob", "WRITE", "10.0.0.1"),
                deny("User:mallory", "READ"),
                deny("User:mallory", "WRITE"),
            }
        )
    }


def test_the_operation_defaults_to_all_and_the_host_to_any() -> None:
    args = checked("--add", "--group", "billing", "--cluster", "--allow-principal", "User:a")
    assert acls_to_add(args) == {
        group("billing"): frozenset({allow("User:a", "ALL")}),
        CLUSTER_PATTERN: frozenset({allow("User:a", "ALL")}),
    }
    assert ResourcePatternFilter(ResourceType.CLUSTER, "kafka-cluster", PatternType.LITERAL) == (
        CLUSTER
    )


def test_producer_writes_describes_and_creates_topics() -> None:
    args = checked("--add", "--producer", "--topic", "t", "--allow-principal", "User:p")
    assert {p: operations(e) for p, e in acls_to_add(args).items()} == {
        topic("t"): {"WRITE", "DESCRIBE", "CREATE"}
    }


def test_idempotent_producer_and_transactional_id() -> None:
    args = checked(
        "--add",
        "--producer",
        "--idempotent",
        "--topic",
        "t",
        "--transactional-id",
        "tx-1",
        "--allow-principal",
        "User:p",
    )
    assert {p: operations(e) for p, e in acls_to_add(args).items()} == {
        topic("t"): {"WRITE", "DESCRIBE", "CREATE"},
        txn("tx-1"): {"WRITE", "DESCRIBE"},
        CLUSTER_PATTERN: {"IDEMPOTENT_WRITE"},
    }


def test_consumer_reads_topics_and_groups() -> None:
    args = checked(
        "--add", "--consumer", "--topic", "t", "--group", "g", "--allow-principal", "User:c"
    )
    assert acls_to_add(args) == {
        topic("t"): frozenset({allow("User:c", "READ"), allow("User:c", "DESCRIBE")}),
        group("g"): frozenset({allow("User:c", "READ")}),
    }


def test_producer_and_consumer_together_merge_on_the_topic() -> None:
    args = checked(
        "--add",
        "--producer",
        "--consumer",
        "--topic",
        "t",
        "--group",
        "g",
        "--allow-principal",
        "User:x",
    )
    assert {p: operations(e) for p, e in acls_to_add(args).items()} == {
        topic("t"): {"WRITE", "DESCRIBE", "CREATE", "READ"},
        group("g"): {"READ"},
    }


def test_prefixed_patterns_leave_the_cluster_out_as_kafka_does() -> None:
    args = checked(
        "--add",
        "--resource-pattern-type",
        "prefixed",
        "--topic",
        "orders-",
        "--cluster",
        "--allow-principal",
        "User:a",
    )
    assert list(acls_to_add(args)) == [topic("orders-", "PREFIXED")]


def test_remove_without_principals_removes_everything_on_the_resource() -> None:
    args = checked("--remove", "--topic", "t", "--resource-pattern-type", "MATCH")
    match = ResourcePatternFilter(ResourceType.TOPIC, "t", PatternType.MATCH)
    assert requested_acls(args) == {match: frozenset()}


def test_list_filters_and_principals() -> None:
    args = checked("--list", "--topic", "t", "--principal", "User:a", "--principal", "User:a")
    literal = ResourcePatternFilter(ResourceType.TOPIC, "t", PatternType.LITERAL)
    assert list_filters(args) == ([literal], ["User:a"])
    assert list_filters(checked("--list")) == ([], [])


@pytest.mark.parametrize(
    "text, constant",
    [
        ("Read", "READ"),
        ("ClusterAction", "CLUSTER_ACTION"),
        ("CLUSTERACTION", "CLUSTER_ACTION"),
        ("cluster_action", "CLUSTER_ACTION"),
        ("IdempotentWrite", "IDEMPOTENT_WRITE"),
        ("DescribeTokens", "DESCRIBE_TOKENS"),
        (" All ", "ALL"),
    ],
)
def test_operation_names(text: str, constant: str) -> None:
    assert parse_operation(text) == AclOperation[constant]


# -- Kafka's flag checks -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--add", "--consumer", "--topic", "t", "--allow-principal", "User:a"], "--group"),
        (
            ["--add", "--consumer", "--topic", "t", "--group", "g", "--cluster"],
            "no --cluster",
        ),
        (["--add", "--producer", "--allow-principal", "User:a"], "--producer needs a --topic"),
        (["--add", "--idempotent", "--topic", "t"], "--idempotent can only be used"),
        (["--list", "--producer", "--topic", "t"], '"--list" can\'t be used with option'),
        (["--list", "--allow-principal", "User:a"], '"--allow-principal"'),
        (["--list", "--deny-host", "h"], '"--deny-host"'),
        (["--add", "--topic", "t", "--principal", "User:a"], "only be used with --list"),
        (
            ["--add", "--producer", "--topic", "t", "--operation", "Read"],
            '"--producer" can\'t be used with option "--operation"',
        ),
        (
            ["--add", "--consumer", "--topic", "t", "--group", "g", "--deny-principal", "U:x"],
            '"--consumer" can\'t be used with option "--deny-principal"',
        ),
    ],
)
def test_flag_combinations_kafka_refuses(flags: list[str], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        check_args(parse(*flags))


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--add", "--topic", "t"], "--add needs --allow-principal or --deny-principal"),
        (["--add", "--producer", "--topic", "t"], "--add needs --allow-principal"),
        (
            [
                "--add",
                "--topic",
                "t",
                "--allow-principal",
                "User:a",
                "--resource-pattern-type",
                "any",
            ],
            "ANY is not valid with --add",
        ),
        (["--add", "--allow-principal", "User:a"], "at least one resource"),
        (["--remove", "--allow-principal", "User:a"], "at least one resource"),
        (["--add", "--topic", "t", "--allow-principal", "alice"], "expected principalType:name"),
        (["--add", "--topic", "t", "--allow-principal", "User:"], "expected principalType:name"),
        (
            ["--add", "--topic", "t", "--allow-principal", "User:a", "--operation", "Fly"],
            "unknown operation 'Fly'",
        ),
        (
            ["--add", "--group", "g", "--allow-principal", "User:a", "--operation", "Write"],
            "ResourceType GROUP only supports operations ALL, READ, DELETE, DESCRIBE "
            "\\(not WRITE\\)",
        ),
        (
            ["--add", "--cluster", "--allow-principal", "User:a", "--operation", "CreateTokens"],
            "ResourceType CLUSTER only supports",
        ),
    ],
)
def test_requests_kafka_refuses(flags: list[str], message: str) -> None:
    args = checked(*flags)
    with pytest.raises(UsageError, match=message):
        acls_to_add(args) if args.action == "add" else requested_acls(args)


def test_bootstrap_server_is_required() -> None:
    args = build_parser().parse_args(["acls", "--list"])
    with pytest.raises(UsageError, match="--bootstrap-server is required"):
        check_args(args)


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--topic", "t"], "one of the arguments --add --remove --list is required"),
        (["--list", "--add"], "not allowed with argument"),
        (["--list", "--resource-pattern-type", "regex"], "unknown resource pattern type 'regex'"),
    ],
)
def test_bad_flags_exit_1_with_one_line(
    flags: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        parse(*flags)
    assert exited.value.code == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("odradek acls: error: ") and message in line


# -- output --------------------------------------------------------------------------------------


def test_adding_and_current_acls_print_as_kafka() -> None:
    entries = [allow("User:alice", "READ"), allow("User:alice", "WRITE")]
    assert adding_lines(topic("t"), entries) == [
        "Adding ACLs for resource "
        "`ResourcePattern(resourceType=TOPIC, name=t, patternType=LITERAL)`: ",
        " \t(principal=User:alice, host=*, operation=READ, permissionType=ALLOW)",
        "\t(principal=User:alice, host=*, operation=WRITE, permissionType=ALLOW)",
        "",
    ]
    acls = {CLUSTER_PATTERN: frozenset(entries[:1]), topic("a"): frozenset(entries)}
    assert current_lines(acls) == [
        "Current ACLs for resource "
        "`ResourcePattern(resourceType=TOPIC, name=a, patternType=LITERAL)`:",
        "\t(principal=User:alice, host=*, operation=READ, permissionType=ALLOW)",
        "\t(principal=User:alice, host=*, operation=WRITE, permissionType=ALLOW)",
        "",
        "Current ACLs for resource "
        "`ResourcePattern(resourceType=CLUSTER, name=kafka-cluster, patternType=LITERAL)`:",
        "\t(principal=User:alice, host=*, operation=READ, permissionType=ALLOW)",
        "",
    ]


def test_removal_questions() -> None:
    match = ResourcePatternFilter(ResourceType.TOPIC, "t", PatternType.MATCH)
    assert removal_question(match, []) == (
        "Are you sure you want to delete all ACLs for resource filter "
        "`ResourcePattern(resourceType=TOPIC, name=t, patternType=MATCH)`? (y/n)"
    )
    assert removal_question(ResourcePatternFilter.ANY, [allow("User:a", "READ")]) == (
        "Are you sure you want to remove ACLs: \n"
        " \t(principal=User:a, host=*, operation=READ, permissionType=ALLOW)\n"
        " from resource filter "
        "`ResourcePattern(resourceType=ANY, name=<any>, patternType=ANY)`? (y/n)"
    )


# -- confluent-kafka bindings --------------------------------------------------------------------


def test_bindings_round_trip_with_the_cluster_as_librdkafkas_broker() -> None:
    entry = allow("User:p", "IDEMPOTENT_WRITE")
    made = binding(CLUSTER_PATTERN, entry)
    assert (made.restype.name, made.name, made.operation.name) == (
        "BROKER",
        "kafka-cluster",
        "IDEMPOTENT_WRITE",
    )
    assert from_binding(made) == (CLUSTER_PATTERN, entry)
    any_filter = binding_filter(ResourcePatternFilter.ANY, None)
    assert (any_filter.restype.name, any_filter.name, any_filter.principal) == ("ANY", None, None)


def test_delegation_tokens_are_refused_before_connecting(
    capsys: pytest.CaptureFixture[str],
) -> None:
    token = ResourcePattern(ResourceType.DELEGATION_TOKEN, "x", PatternType.LITERAL)
    with pytest.raises(ToolError, match="no DELEGATION_TOKEN resource type"):
        binding(token, allow("User:a", "DESCRIBE"))
    flags = ["--delegation-token", "x", "--allow-principal", "User:a", "--operation", "Describe"]
    assert main(["acls", "--add", "--bootstrap-server", "127.0.0.1:1", *flags]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "Error: ACLs with resource type DELEGATION_TOKEN cannot be managed with librdkafka "
        "(confluent-kafka), which has no DELEGATION_TOKEN resource type"
    ]


# -- whole runs against a canned broker ----------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_unreachable_cluster_fails_at_once_with_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    port = _closed_port()
    assert main(["acls", "--list", "--bootstrap-server", f"127.0.0.1:{port}"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"Error: no broker answers at the bootstrap address 127.0.0.1:{port} (connection refused)"
    ]


Handler = Callable[[Any], Any]


@pytest.fixture
def acl_broker() -> Iterator[Callable[[dict[int, Handler]], FakeBroker]]:
    """A canned broker that lists itself in Metadata and answers the ACL requests with the
    handlers given."""
    brokers: list[FakeBroker] = []

    def start(handlers: dict[int, Handler]) -> FakeBroker:
        versions = {METADATA: (0, 1), DESCRIBE_ACLS: (0, 1), CREATE_ACLS: (0, 1)}
        versions[DELETE_ACLS] = (0, 1)
        broker = FakeBroker(versions, {})

        def metadata(body: Any) -> Any:
            module = response_module(METADATA, body.__version__)
            node = module.MetadataResponseBroker(
                node_id=i32(0), host="127.0.0.1", port=i32(broker.port), rack=None
            )
            return module.MetadataResponse(brokers=(node,), controller_id=i32(0), topics=())

        broker.handlers.update({METADATA: metadata, **handlers})
        brokers.append(broker)
        return broker

    yield start
    for broker in brokers:
        broker.close()


def described(*resources: tuple[int, str, int, list[tuple[str, int]]], code: int = 0) -> Handler:
    """DescribeAcls answering ``resources``: (type, name, pattern type, [(principal, op)])."""

    def handle(body: Any) -> Any:
        module = response_module(DESCRIBE_ACLS, body.__version__)
        return module.DescribeAclsResponse(
            throttle_time=timedelta(0),
            error_code=ErrorCode(code),
            error_message=None,
            resources=tuple(
                module.DescribeAclsResource(
                    resource_type=i8(kind),
                    resource_name=name,
                    pattern_type=i8(pattern),
                    acls=tuple(
                        module.AclDescription(
                            principal=p, host="*", operation=i8(op), permission_type=i8(3)
                        )
                        for p, op in entries
                    ),
                )
                for kind, name, pattern, entries in resources
            ),
        )

    return handle


def created(code: int = 0) -> Handler:
    def handle(body: Any) -> Any:
        module = response_module(CREATE_ACLS, body.__version__)
        result = module.AclCreationResult(error_code=ErrorCode(code), error_message=None)
        return module.CreateAclsResponse(
            throttle_time=timedelta(0), results=tuple(result for _ in body.creations)
        )

    return handle


def deleted(body: Any) -> Any:
    module = response_module(DELETE_ACLS, body.__version__)
    result = module.DeleteAclsFilterResult(
        error_code=ErrorCode(0), error_message=None, matching_acls=()
    )
    return module.DeleteAclsResponse(
        throttle_time=timedelta(0), filter_results=tuple(result for _ in body.filters)
    )


def requests(broker: FakeBroker, api_key: int) -> list[Any]:
    return [body for _, body in broker.received if body.__api_key__ == api_key]


def run(broker: FakeBroker, *flags: str) -> int:
    return main(["acls", "--bootstrap-server", f"127.0.0.1:{broker.port}", *flags])


def test_add_creates_the_missing_bindings(
    acl_broker: Callable[[dict[int, Handler]], FakeBroker], capsys: pytest.CaptureFixture[str]
) -> None:
    existing = described((4, "kafka-cluster", 3, [("User:p", 12)]))  # IDEMPOTENT_WRITE
    broker = acl_broker({DESCRIBE_ACLS: existing, CREATE_ACLS: created()})
    flags = ["--add", "--producer", "--idempotent", "--topic", "t", "--allow-principal", "User:p"]
    assert run(broker, *flags) == 0
    out = capsys.readouterr().out
    assert (
        "Acl (pattern=ResourcePattern(resourceType=CLUSTER, name=kafka-cluster, "
        "patternType=LITERAL), entry=(principal=User:p, host=*, operation=IDEMPOTENT_WRITE, "
        "permissionType=ALLOW)) already exists." in out
    )
    assert (
        "Adding ACLs for resource "
        "`ResourcePattern(resourceType=TOPIC, name=t, patternType=LITERAL)`: \n"
        " \t(principal=User:p, host=*, operation=WRITE, permissionType=ALLOW)\n"
        "\t(principal=User:p, host=*, operation=CREATE, permissionType=ALLOW)\n"
        "\t(principal=User:p, host=*, operation=DESCRIBE, permissionType=ALLOW)\n\n" in out
    )
    assert "Adding ACLs for resource `ResourcePattern(resourceType=CLUSTER" not in out
    (request,) = requests(broker, CREATE_ACLS)
    assert sorted(
        (c.resource_type, c.resource_name, c.resource_pattern_type, c.principal, c.operation)
        for c in request.creations
    ) == [(2, "t", 3, "User:p", op) for op in (4, 5, 8)]  # WRITE, CREATE, DESCRIBE


def test_list_prints_current_acls_per_resource(
    acl_broker: Callable[[dict[int, Handler]], FakeBroker], capsys: pytest.CaptureFixture[str]
) -> None:
    broker = acl_broker({DESCRIBE_ACLS: described((3, "g", 4, [("User:a", 3), ("User:b", 3)]))})
    assert run(broker, "--list", "--principal", "User:b") == 0
    assert capsys.readouterr().out.splitlines() == [
        "ACLs for principal `User:b`",
        "Current ACLs for resource "
        "`ResourcePattern(resourceType=GROUP, name=g, patternType=PREFIXED)`:",
        "\t(principal=User:b, host=*, operation=READ, permissionType=ALLOW)",
        "",
    ]


def test_no_authorizer_is_one_line_and_exit_1(
    acl_broker: Callable[[dict[int, Handler]], FakeBroker], capsys: pytest.CaptureFixture[str]
) -> None:
    # librdkafka drops DescribeAcls' top-level error; the tool asks again itself.
    broker = acl_broker({DESCRIBE_ACLS: described(code=54), CREATE_ACLS: created(54)})
    assert run(broker, "--list") == 1
    assert capsys.readouterr().err.splitlines() == [
        "Error while executing ACL command: No Authorizer is configured on the broker"
    ]
    assert run(broker, "--add", "--topic", "t", "--allow-principal", "User:a") == 1
    assert capsys.readouterr().err.splitlines() == [
        "Error while executing ACL command: No Authorizer is configured on the broker"
    ]


def test_remove_asks_first_unless_forced(
    acl_broker: Callable[[dict[int, Handler]], FakeBroker],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    broker = acl_broker({DELETE_ACLS: deleted})
    flags = ["--remove", "--topic", "t", "--allow-principal", "User:a", "--operation", "Read"]
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    assert run(broker, *flags) == 0
    assert capsys.readouterr().out.startswith("Are you sure you want to remove ACLs: \n")
    assert requests(broker, DELETE_ACLS) == []
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert run(broker, *flags, "--force") == 0
    (request,) = requests(broker, DELETE_ACLS)
    (one,) = request.filters
    assert (one.resource_type_filter, one.resource_name_filter, one.principal_filter) == (
        2,
        "t",
        "User:a",
    )
    assert (one.operation, one.permission_type) == (3, 3)  # READ, ALLOW
