"""``odradek configs --entity-type users|clients``: the flags as Kafka's entities, Kafka's
checks of what may be altered, SCRAM credentials as confluent-kafka's alterations, quotas
printed as Kafka's tool prints them (Java's HashMap order and Double.toString, checked
against a JVM), and whole quota runs against a canned broker."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from kio.schema.errors import ErrorCode
from kio.static.primitive import f64, i32

from odradek.cli.main import build_parser, main
from odradek.cli.tools.client_quotas import (
    ALTER_CLIENT_QUOTAS,
    DESCRIBE_CLIENT_QUOTAS,
    EntityQuotas,
    FilterComponent,
    MatchType,
    entity_hash,
    filter_components,
    java_double,
    java_hash_order,
    java_string_hash,
    quota_entity,
    quota_lines,
    quota_value,
)
from odradek.cli.tools.common import UsageError
from odradek.cli.tools.configs_entities import Entities, requested_entities, resource_entity
from odradek.cli.tools.configs_scram_quotas import (
    ScramDescription,
    alteration_kind,
    scram_alterations,
    scram_credential,
    scram_users_to_describe,
)
from odradek.protocol.client import response_module
from tests.unit.cli.fake_broker import FakeBroker

METADATA = 3
QUOTAS = ["producer_byte_rate", "consumer_byte_rate", "request_percentage"]


def entities(*flags: str) -> Entities:
    args: argparse.Namespace = build_parser().parse_args(
        ["configs", "--bootstrap-server", "127.0.0.1:9092", "--describe", *flags]
    )
    return requested_entities(args)


# -- the flags as entities ---------------------------------------------------------------------


def test_entity_names_pair_with_types_in_the_order_given() -> None:
    assert entities(
        "--entity-type",
        "users",
        "--entity-name",
        "alice",
        "--entity-type",
        "clients",
        "--entity-name",
        "app",
    ) == Entities(["users", "clients"], ["alice", "app"])
    assert entities(
        "--entity-type",
        "users",
        "--entity-default",
        "--entity-type",
        "clients",
        "--entity-name",
        "app",
    ) == Entities(["users", "clients"], ["", "app"])
    assert entities("--entity-type", "users", "--entity-type", "clients") == Entities(
        ["users", "clients"], []
    )


def test_shorthand_flags_in_kafkas_order() -> None:
    # Kafka reads --client before --user, whatever the command line's order.
    assert entities("--user", "alice", "--client", "app") == Entities(
        ["clients", "users"], ["app", "alice"]
    )
    assert entities("--user-defaults") == Entities(["users"], [""])
    assert entities("--client-defaults", "--user", "alice") == Entities(
        ["users", "clients"], ["alice", ""]
    )
    assert entities("--broker", "0") == Entities(["brokers"], ["0"])


def test_groups_are_a_config_resource_like_topics() -> None:
    """KIP-848's group configs: kafka-configs' ``--entity-type groups``, no default entity."""
    named = entities("--entity-type", "groups", "--entity-name", "orders-app")
    assert named == Entities(["groups"], ["orders-app"])
    assert resource_entity(named) == ("groups", "orders-app")
    assert resource_entity(entities("--entity-type", "groups")) == ("groups", None)
    with pytest.raises(UsageError, match="--entity-default is only valid with brokers"):
        resource_entity(entities("--entity-type", "groups", "--entity-default"))
    # Kafka 4.0's shorthand (KAFKA-17327): --group ID is --entity-type groups --entity-name ID.
    assert entities("--group", "orders-app") == named


@pytest.mark.parametrize(
    "flags",
    [
        ["--entity-type", "groups", "--group", "orders-app"],
        ["--group", "orders-app", "--entity-type", "groups"],
        ["--entity-name", "orders-app", "--group", "orders-app"],
        ["--group", "orders-app", "--entity-name", "billing"],
        ["--group", "orders-app", "--entity-default"],
    ],
)
def test_the_group_flag_is_not_given_with_entity_flags(
    flags: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        entities(*flags)
    assert exited.value.code  # odradek's parser exits 1 on a usage error
    assert "should not be used in conjunction with specific entity flags" in (
        capsys.readouterr().err
    )


def test_the_configs_help_names_groups() -> None:
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    text = " ".join(commands["configs"].format_help().split())
    assert "client-metrics or groups" in text
    assert "--group ID" in text


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ([], "At least one entity type must be specified"),
        (["--entity-type", "users", "--entity-type", "users"], "Duplicate entity type(s)"),
        (["--entity-type", "ips"], "Invalid entity type ips"),
        (
            ["--entity-type", "users", "--entity-type", "topics"],
            "Only 'users' and 'clients' entity types may be specified together",
        ),
        (
            ["--entity-type", "users", "--client", "app"],
            "should not be used in conjunction with specific entity flags",
        ),
    ],
)
def test_entity_flags_kafka_refuses(flags: list[str], message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        entities(*flags)


def test_describe_filters_match_names_defaults_and_any_name() -> None:
    assert filter_components(["users", "clients"], ["alice", "app"]) == [
        FilterComponent("user", MatchType.EXACT, "alice"),
        FilterComponent("client-id", MatchType.EXACT, "app"),
    ]
    assert filter_components(["users", "clients"], [""]) == [
        FilterComponent("user", MatchType.DEFAULT),
        FilterComponent("client-id", MatchType.SPECIFIED),
    ]
    with pytest.raises(UsageError, match="More entity names specified than entity types"):
        filter_components(["clients"], ["a", "b"])


def test_alter_entity_uses_null_for_the_default() -> None:
    assert quota_entity(["clients", "users"], ["app", ""]) == (
        ("client-id", "app"),
        ("user", None),
    )


def test_scram_credentials_are_described_for_users_only() -> None:
    assert scram_users_to_describe(Entities(["users"], [])) == []
    assert scram_users_to_describe(Entities(["users"], ["alice"])) == ["alice"]
    assert scram_users_to_describe(Entities(["users"], [""])) is None
    assert scram_users_to_describe(Entities(["users", "clients"], ["alice"])) is None
    assert scram_users_to_describe(Entities(["clients"], [])) is None


# -- what may be altered -----------------------------------------------------------------------


def test_quota_and_scram_alterations() -> None:
    user, both = Entities(["users"], ["alice"]), Entities(["users", "clients"], ["a", "b"])
    assert alteration_kind(user, {"SCRAM-SHA-256": "password=x"}, ["SCRAM-SHA-512"]) == "scram"
    assert alteration_kind(user, {"producer_byte_rate": "1"}, ["request_percentage"]) == "quotas"
    assert alteration_kind(both, {"consumer_byte_rate": "1"}, []) == "quotas"
    assert alteration_kind(Entities(["users"], [""]), {}, ["producer_byte_rate"]) == "quotas"


@pytest.mark.parametrize(
    ("entity", "to_add", "to_delete", "message"),
    [
        (
            Entities(["clients"], ["app"]),
            {"SCRAM-SHA-256": "password=x"},
            [],
            "Only quota configs can be added for 'clients' using --bootstrap-server. "
            "Unexpected config names: SCRAM-SHA-256",
        ),
        (
            Entities(["users", "clients"], ["a", "b"]),
            {},
            ["retention.ms"],
            "Only quota configs can be deleted for 'clients'",
        ),
        (
            Entities(["users"], ["alice"]),
            {"retention.ms": "1", "producer_byte_rate": "1"},
            [],
            "Only quota and SCRAM credential configs can be added for 'users' using "
            "--bootstrap-server. Unexpected config names: retention.ms",
        ),
        (
            Entities(["users"], [""]),
            {"SCRAM-SHA-256": "password=x"},
            [],
            "The use of --entity-default or --user-defaults is not allowed with User SCRAM "
            "Credentials using --bootstrap-server.",
        ),
        (
            Entities(["users"], ["alice"]),
            {"SCRAM-SHA-256": "password=x"},
            ["producer_byte_rate"],
            "Cannot alter both quota and SCRAM credential configs simultaneously for 'users'",
        ),
    ],
)
def test_alterations_kafka_refuses(
    entity: Entities, to_add: dict[str, str], to_delete: list[str], message: str
) -> None:
    with pytest.raises(UsageError) as refused:
        alteration_kind(entity, to_add, to_delete)
    assert message in str(refused.value)


def test_scram_credential_syntax() -> None:
    assert scram_credential("SCRAM-SHA-256", "password=alice-secret") == (4096, "alice-secret")
    assert scram_credential("SCRAM-SHA-256", "iterations=-1,password=p") == (4096, "p")
    assert scram_credential("SCRAM-SHA-512", "iterations=8192,password=a,b=c") == (8192, "a,b=c")
    with pytest.raises(UsageError, match="Iterations 1000 is less than the minimum 4096"):
        scram_credential("SCRAM-SHA-256", "iterations=1000,password=p")
    with pytest.raises(UsageError) as invalid:
        scram_credential("SCRAM-SHA-256", "passwd=top-secret")
    assert "Invalid credential property SCRAM-SHA-256" in str(invalid.value)
    assert "top-secret" not in str(invalid.value)  # never echo what may be a password
    with pytest.raises(UsageError, match="no iteration count"):
        scram_credential("SCRAM-SHA-256", "iterations=,password=p")


def test_scram_alterations_are_confluent_kafkas() -> None:
    deletion, upsertion = scram_alterations(
        "alice", {"SCRAM-SHA-512": "iterations=8192,password=pw"}, ["SCRAM-SHA-256"]
    )
    assert type(deletion).__name__ == "UserScramCredentialDeletion"
    assert (deletion.user, deletion.mechanism.name) == ("alice", "SCRAM_SHA_256")
    assert type(upsertion).__name__ == "UserScramCredentialUpsertion"
    info = upsertion.scram_credential_info
    assert (upsertion.user, info.mechanism.name, info.iterations) == (
        "alice",
        "SCRAM_SHA_512",
        8192,
    )
    assert upsertion.password == b"pw"


def test_quota_values_are_numbers() -> None:
    assert quota_value("request_percentage", "200") == 200.0
    assert quota_value("producer_byte_rate", "1.5e6") == 1_500_000.0
    for text in ("fast", "1_000", ""):
        with pytest.raises(UsageError, match="Cannot parse quota configuration value for k"):
            quota_value("k", text)


# -- output ------------------------------------------------------------------------------------


def test_doubles_as_java_prints_them() -> None:
    # Each expected text is what OpenJDK 17's Double.toString printed for the value.
    cases = {
        1048576.0: "1048576.0",
        200.0: "200.0",
        2e7: "2.0E7",
        1.048576e7: "1.048576E7",
        1e-4: "1.0E-4",
        0.001: "0.001",
        12345678.9: "1.23456789E7",
        9999999.0: "9999999.0",
        -3e10: "-3.0E10",
        0.0: "0.0",
        123456789012.0: "1.23456789012E11",
    }
    assert {value: java_double(value) for value in cases} == cases


def test_string_hashes_are_javas() -> None:
    assert java_string_hash("hello") == 99162322
    assert java_string_hash("\U0001f600") == 1772899  # a surrogate pair in UTF-16
    assert java_string_hash("producer_byte_rate") == -832502454 + (1 << 32)
    assert java_string_hash(None) == java_string_hash("") == 0


def test_hash_map_order_is_javas() -> None:
    # The orders a JVM iterates `new HashMap<>(n)` filled in this order.
    keys = [*QUOTAS, "controller_mutation_rate"]
    orders = [java_hash_order(keys[:n], java_string_hash) for n in range(1, 5)]
    assert orders == [
        ["producer_byte_rate"],
        ["consumer_byte_rate", "producer_byte_rate"],
        ["consumer_byte_rate", "producer_byte_rate", "request_percentage"],
        [
            "producer_byte_rate",
            "consumer_byte_rate",
            "controller_mutation_rate",
            "request_percentage",
        ],
    ]
    reordered = ["request_percentage", "consumer_byte_rate", "producer_byte_rate"]
    assert java_hash_order(reordered, java_string_hash) == [
        "consumer_byte_rate",
        "request_percentage",
        "producer_byte_rate",
    ]
    found = [
        (("user", "alice"),),
        (("user", None),),
        (("client-id", "app"),),
        (("user", "alice"), ("client-id", "app")),
        (("user", "bob"),),
        (("client-id", None),),
        (("user", None), ("client-id", None)),
        (("user", "carol"),),
        (("user", "dave"), ("client-id", "x")),
    ]
    ordered = java_hash_order(list(range(len(found))), lambda i: entity_hash(found[i]))
    assert ordered == [8, 0, 3, 4, 2, 1, 5, 6, 7]


def test_quota_lines_as_kafka_prints_them() -> None:
    described = [
        EntityQuotas((("user", "alice"),), (("producer_byte_rate", 1048576.0),)),
        EntityQuotas(
            (("user", "alice"), ("client-id", "app")),
            (("request_percentage", 200.0), ("consumer_byte_rate", 2e7)),
        ),
        EntityQuotas((("client-id", None), ("user", None)), (("producer_byte_rate", 5.0),)),
    ]
    assert quota_lines(described) == [  # in the order a JVM iterates Kafka's HashMap
        "Quota configs for user-principal 'alice' are producer_byte_rate=1048576.0",
        "Quota configs for user-principal 'alice', client-id 'app' are "
        "consumer_byte_rate=2.0E7, request_percentage=200.0",
        "Quota configs for the default user-principal, the default client-id are "
        "producer_byte_rate=5.0",
    ]


def test_scram_lines_as_kafka_prints_them() -> None:
    alice = ScramDescription("alice", (("SCRAM-SHA-256", 8192), ("SCRAM-SHA-512", 4096)))
    assert alice.line() == (
        "SCRAM credential configs for user-principal 'alice' are "
        "SCRAM-SHA-256=iterations=8192, SCRAM-SHA-512=iterations=4096"
    )
    failed = ScramDescription("bob", error="Broker: Duplicate resource")
    assert failed.line() == (
        "Error retrieving SCRAM credential configs for user-principal 'bob': "
        "Broker: Duplicate resource"
    )


# -- whole runs against a canned broker --------------------------------------------------------

Handler = Callable[[Any], Any]


@pytest.fixture
def quota_broker() -> Iterator[Callable[..., FakeBroker]]:
    """A canned broker listing itself in Metadata, with the quota APIs given."""
    started: list[FakeBroker] = []

    def start(handlers: dict[int, Handler], versions: dict[int, tuple[int, int]]) -> FakeBroker:
        broker = FakeBroker({METADATA: (0, 12), **versions}, {})

        def metadata(body: Any) -> Any:
            module = response_module(METADATA, body.__version__)
            node = module.MetadataResponseBroker(
                node_id=i32(0), host="127.0.0.1", port=i32(broker.port), rack=None
            )
            return module.MetadataResponse(
                throttle_time=timedelta(0),
                brokers=(node,),
                cluster_id="c",
                controller_id=i32(0),
                topics=(),
            )

        broker.handlers.update({METADATA: metadata, **handlers})
        started.append(broker)
        return broker

    yield start
    for broker in started:
        broker.close()


def described_quotas(
    *entries: tuple[tuple[tuple[str, str | None], ...], dict[str, float]],
) -> Handler:
    def handle(body: Any) -> Any:
        module = response_module(DESCRIBE_CLIENT_QUOTAS, body.__version__)
        return module.DescribeClientQuotasResponse(
            throttle_time=timedelta(0),
            error_code=ErrorCode(0),
            error_message=None,
            entries=tuple(
                module.EntryData(
                    entity=tuple(
                        module.EntityData(entity_type=t, entity_name=n) for t, n in entity
                    ),
                    values=tuple(module.ValueData(key=k, value=f64(v)) for k, v in values.items()),
                )
                for entity, values in entries
            ),
        )

    return handle


def altered(code: int = 0, message: str | None = None) -> Handler:
    def handle(body: Any) -> Any:
        module = response_module(ALTER_CLIENT_QUOTAS, body.__version__)
        return module.AlterClientQuotasResponse(
            throttle_time=timedelta(0),
            entries=tuple(
                module.EntryData(
                    error_code=ErrorCode(code),
                    error_message=message,
                    entity=tuple(
                        module.EntityData(entity_type=e.entity_type, entity_name=e.entity_name)
                        for e in entry.entity
                    ),
                )
                for entry in body.entries
            ),
        )

    return handle


def requests(broker: FakeBroker, api_key: int) -> list[Any]:
    return [body for _header, body in broker.received if int(body.__api_key__) == api_key]


BOTH_APIS = {DESCRIBE_CLIENT_QUOTAS: (0, 1), ALTER_CLIENT_QUOTAS: (0, 1)}


def configs(broker: FakeBroker, *flags: str) -> int:
    return main(["configs", "--bootstrap-server", f"127.0.0.1:{broker.port}", *flags])


def test_describe_clients(
    quota_broker: Callable[..., FakeBroker], capsys: pytest.CaptureFixture[str]
) -> None:
    broker = quota_broker(
        {
            DESCRIBE_CLIENT_QUOTAS: described_quotas(
                ((("client-id", "app"),), {"producer_byte_rate": 1048576.0}),
                ((("client-id", None),), {"consumer_byte_rate": 2097152.0}),
            )
        },
        BOTH_APIS,
    )
    assert configs(broker, "--describe", "--entity-type", "clients") == 0
    assert capsys.readouterr().out.splitlines() == [  # a JVM's HashMap order, as Kafka's
        "Quota configs for the default client-id are consumer_byte_rate=2097152.0",
        "Quota configs for client-id 'app' are producer_byte_rate=1048576.0",
    ]
    (request,) = requests(broker, DESCRIBE_CLIENT_QUOTAS)
    assert int(request.__version__) == 1
    assert request.strict
    assert [(c.entity_type, int(c.match_type), c.match) for c in request.components] == [
        ("client-id", 2, None)
    ]


def test_describe_a_users_client_as_json(
    quota_broker: Callable[..., FakeBroker], capsys: pytest.CaptureFixture[str]
) -> None:
    entity = (("user", "alice"), ("client-id", "app"))
    handler = described_quotas((entity, {"request_percentage": 200.0}))
    broker = quota_broker({DESCRIBE_CLIENT_QUOTAS: handler}, BOTH_APIS)
    flags = ["--entity-type", "users", "--entity-name", "alice", "--entity-type", "clients"]
    assert configs(broker, "--describe", *flags, "--entity-name", "app", "--output", "json") == 0
    assert json.loads(capsys.readouterr().out) == {
        "quotas": [
            {
                "entity": {"user": "alice", "client-id": "app"},
                "configs": {"request_percentage": 200.0},
            }
        ],
        "scram_credentials": [],
    }
    (request,) = requests(broker, DESCRIBE_CLIENT_QUOTAS)
    assert [(c.entity_type, int(c.match_type), c.match) for c in request.components] == [
        ("user", 0, "alice"),
        ("client-id", 0, "app"),
    ]


def test_alter_quotas_of_a_users_clients(
    quota_broker: Callable[..., FakeBroker], capsys: pytest.CaptureFixture[str]
) -> None:
    current = described_quotas(
        ((("user", "alice"), ("client-id", None)), {"request_percentage": 1.0})
    )
    broker = quota_broker(
        {DESCRIBE_CLIENT_QUOTAS: current, ALTER_CLIENT_QUOTAS: altered()}, BOTH_APIS
    )
    code = configs(
        broker,
        "--alter",
        "--entity-type",
        "users",
        "--entity-name",
        "alice",
        "--entity-type",
        "clients",
        "--entity-default",
        "--add-config",
        "producer_byte_rate=1048576,consumer_byte_rate=2097152",
        "--delete-config",
        "request_percentage",
    )
    assert code == 0
    assert capsys.readouterr().out == "Completed updating config for user alice.\n"
    (request,) = requests(broker, ALTER_CLIENT_QUOTAS)
    assert not request.validate_only
    (entry,) = request.entries
    assert [(e.entity_type, e.entity_name) for e in entry.entity] == [
        ("user", "alice"),
        ("client-id", None),
    ]
    assert [(o.key, float(o.value), o.remove) for o in entry.ops] == [
        ("producer_byte_rate", 1048576.0, False),
        ("consumer_byte_rate", 2097152.0, False),
        ("request_percentage", 0.0, True),
    ]


def test_alter_the_default_client(
    quota_broker: Callable[..., FakeBroker], capsys: pytest.CaptureFixture[str]
) -> None:
    broker = quota_broker({ALTER_CLIENT_QUOTAS: altered()}, BOTH_APIS)
    flags = ["--client-defaults", "--add-config", "request_percentage=200"]
    assert configs(broker, "--alter", *flags) == 0
    assert (
        capsys.readouterr().out == "Completed updating default config for clients in the cluster.\n"
    )
    assert requests(broker, DESCRIBE_CLIENT_QUOTAS) == []  # nothing to delete, nothing to check
    (request,) = requests(broker, ALTER_CLIENT_QUOTAS)
    assert [(e.entity_type, e.entity_name) for e in request.entries[0].entity] == [
        ("client-id", None)
    ]


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    return line


def test_deleting_a_quota_that_is_not_set_fails(
    quota_broker: Callable[..., FakeBroker], capsys: pytest.CaptureFixture[str]
) -> None:
    broker = quota_broker(
        {DESCRIBE_CLIENT_QUOTAS: described_quotas(), ALTER_CLIENT_QUOTAS: altered()}, BOTH_APIS
    )
    flags = ["--client", "app", "--delete-config", "producer_byte_rate"]
    assert configs(broker, "--alter", *flags) == 1
    assert one_error_line(capsys) == "Error: Invalid config(s): producer_byte_rate"
    assert requests(broker, ALTER_CLIENT_QUOTAS) == []


def test_a_refused_alteration_is_one_line(
    quota_broker: Callable[..., FakeBroker], capsys: pytest.CaptureFixture[str]
) -> None:
    handler = altered(42, "Invalid quota value")
    broker = quota_broker({ALTER_CLIENT_QUOTAS: handler}, BOTH_APIS)
    assert (
        configs(broker, "--alter", "--client", "app", "--add-config", "request_percentage=-1") == 1
    )
    assert one_error_line(capsys) == "Error: Invalid quota value"


def test_a_broker_without_the_quota_apis(
    quota_broker: Callable[..., FakeBroker], capsys: pytest.CaptureFixture[str]
) -> None:
    broker = quota_broker({}, {})
    assert (
        configs(broker, "--alter", "--client", "app", "--add-config", "request_percentage=5") == 1
    )
    assert one_error_line(capsys) == "Error: the broker does not support AlterClientQuotas"
    assert configs(broker, "--describe", "--entity-type", "clients") == 1
    assert one_error_line(capsys) == "Error: the broker does not support DescribeClientQuotas"


def test_quotas_over_another_security_protocol_fail_before_connecting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "client.properties"
    config.write_text("security.protocol=SASL_SSL\nsasl.mechanism=PLAIN\n")
    base = ["configs", "--bootstrap-server", "127.0.0.1:1", "--command-config", str(config)]
    for flags in (
        ["--describe", "--entity-type", "users"],
        ["--alter", "--client", "app", "--add-config", "producer_byte_rate=10"],
    ):
        assert main([*base, *flags]) == 1
        line = one_error_line(capsys)
        assert line.startswith("Error: quota configs are described and altered over PLAINTEXT ")
        assert "(security.protocol is SASL_SSL)" in line


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (
            ["--alter", "--entity-type", "users", "--entity-type", "clients", "--entity-name", "a"],
            "--entity-name or --entity-default must be specified with each --entity-type",
        ),
        (
            [
                "--alter",
                "--user",
                "alice",
                "--add-config",
                "SCRAM-SHA-256=[iterations=10,password=p]",
            ],
            "Iterations 10 is less than the minimum 4096 required for SCRAM-SHA-256",
        ),
        (
            ["--alter", "--client", "app", "--add-config", "producer_byte_rate=fast"],
            "Cannot parse quota configuration value for producer_byte_rate: fast",
        ),
        (["--alter", "--user", "alice"], "--alter needs --add-config"),
    ],
)
def test_bad_requests_exit_1_before_connecting(
    flags: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["configs", "--bootstrap-server", "127.0.0.1:1", *flags]) == 1
    line = one_error_line(capsys)
    assert line.startswith("odradek configs: error: ")
    assert message in line
