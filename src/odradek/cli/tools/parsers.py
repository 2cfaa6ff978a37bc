"""The flags of the client tools, as Kafka's ``bin/kafka-*.sh`` spell them.

Standard library only: registering the sub-commands must not import confluent-kafka (an
optional dependency, and slow to import). Each tool's module is imported when it runs.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable
from typing import Any

Runner = Callable[[argparse.Namespace], int]

TOOLS_EXTRA_HINT = "it is a dependency of odradek: reinstall odradek (pip install odradek)"


def lazy(module: str) -> Runner:
    """A ``run`` that imports ``odradek.cli.tools.<module>`` and calls its ``main``."""

    def run(args: argparse.Namespace) -> int:
        try:
            loaded = importlib.import_module(f"odradek.cli.tools.{module}")
        except ImportError as exc:
            if not (exc.name or "").startswith("confluent_kafka"):
                raise
            print(
                f"odradek: the client tools need confluent-kafka: {TOOLS_EXTRA_HINT}",
                file=sys.stderr,
            )
            return 1
        result: int = loaded.main(args)
        return result

    return run


def _bootstrap(parser: argparse.ArgumentParser, broker_list: bool = False) -> None:
    parser.add_argument(
        "--bootstrap-server", metavar="HOST:PORT[,HOST:PORT]", help="the cluster to connect to"
    )
    if broker_list:
        parser.add_argument(
            "--broker-list",
            dest="bootstrap_server",
            metavar="HOST:PORT",
            help="deprecated alias of --bootstrap-server",
        )


def _command_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--command-config",
        metavar="FILE",
        help="client properties file (security settings, default.api.timeout.ms, ...)",
    )


def _output(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--output",
        choices=["table", "json"],
        default="table",
        help="human-readable output (default) or JSON for scripts",
    )


def verbose_flag(parser: argparse.ArgumentParser) -> None:
    """``--verbose``: librdkafka's log on stderr (silent otherwise; errors are reported as one
    line each). Not on consumer-groups, where Kafka's ``--verbose`` means something else:
    ``odradek --verbose consumer-groups ...`` there."""
    parser.add_argument(
        "--verbose",
        dest="librdkafka_verbose",
        action="store_true",
        help="show librdkafka's log (connection attempts, retries) on stderr",
    )


def _action(group: Any, flag: str, help_text: str) -> None:
    const = flag.lstrip("-")
    group.add_argument(flag, dest="action", action="store_const", const=const, help=help_text)


def add_topics(commands: Any) -> None:
    parser = commands.add_parser(
        "topics",
        help="create, list, describe, alter and delete topics (kafka-topics)",
        description="Create, delete, describe, or change a topic, like kafka-topics.sh.",
    )
    actions = parser.add_mutually_exclusive_group(required=True)
    _action(actions, "--create", "create a new topic")
    _action(actions, "--list", "list all available topics")
    _action(actions, "--describe", "list details for the given topics")
    _action(actions, "--delete", "delete a topic")
    _action(actions, "--alter", "alter the number of partitions and replica assignment")
    _bootstrap(parser)
    _command_config(parser)
    parser.add_argument("--topic", help="the topic (a regular expression except for --create)")
    parser.add_argument("--partitions", type=int, help="number of partitions")
    parser.add_argument("--replication-factor", type=int, help="replicas per partition")
    parser.add_argument(
        "--config",
        action="append",
        metavar="NAME=VALUE",
        help="a topic config override for --create (repeatable)",
    )
    parser.add_argument(
        "--replica-assignment",
        metavar="B1:B2,B3:B4",
        help="manual assignment: partitions separated by ',', replicas by ':'",
    )
    parser.add_argument(
        "--if-not-exists", action="store_true", help="with --create: do nothing if the topic exists"
    )
    parser.add_argument(
        "--if-exists",
        action="store_true",
        help="with --alter, --delete, --describe: do nothing if absent",
    )
    parser.add_argument(
        "--exclude-internal",
        action="store_true",
        help="leave internal topics out of --list and --describe",
    )
    parser.add_argument(
        "--under-replicated-partitions",
        action="store_true",
        help="with --describe: only partitions with ISR < replicas",
    )
    parser.add_argument(
        "--unavailable-partitions",
        action="store_true",
        help="with --describe: only partitions without a leader",
    )
    parser.add_argument(
        "--topics-with-overrides",
        action="store_true",
        help="with --describe: only topics with config overrides",
    )
    _output(parser)
    verbose_flag(parser)
    parser.set_defaults(run=lazy("topics"))


def add_console_producer(commands: Any) -> None:
    parser = commands.add_parser(
        "console-producer",
        help="send lines of stdin as records (kafka-console-producer)",
        description="Read lines from stdin and send each as a record, like "
        "kafka-console-producer.sh.",
    )
    _bootstrap(parser, broker_list=True)
    parser.add_argument("--topic", required=True, help="the topic to produce to")
    parser.add_argument(
        "--property",
        "--reader-property",
        dest="property",
        action="append",
        metavar="NAME=VALUE",
        help="line reader settings: parse.key, key.separator, parse.headers, "
        "headers.delimiter, headers.separator, headers.key.separator, "
        "null.marker, ignore.error",
    )
    parser.add_argument(
        "--reader-config", metavar="FILE", help="line reader settings from a properties file"
    )
    parser.add_argument(
        "--producer-property",
        "--command-property",
        dest="producer_property",
        action="append",
        metavar="NAME=VALUE",
        help="a producer config (repeatable; --command-property is Kafka 4.2's name)",
    )
    parser.add_argument(
        "--producer.config",
        "--command-config",
        dest="producer_config",
        metavar="FILE",
        help="producer configs from a properties file (--command-config is Kafka 4.2's name)",
    )
    parser.add_argument(
        "--compression-codec",
        nargs="?",
        const="gzip",
        choices=["none", "gzip", "snappy", "lz4", "zstd"],
        help="compression (gzip if given without a value)",
    )
    parser.add_argument("--request-required-acks", metavar="ACKS", help="acks: 0, 1 or all/-1")
    parser.add_argument(
        "--timeout",
        type=int,
        metavar="MS",
        default=1000,
        help="linger.ms: how long to wait to fill a batch (default 1000)",
    )
    parser.add_argument("--batch-size", type=int, metavar="BYTES", help="batch.size")
    parser.add_argument("--request-timeout-ms", type=int, metavar="MS")
    parser.add_argument("--message-send-max-retries", type=int, metavar="N")
    parser.add_argument("--retry-backoff-ms", type=int, metavar="MS")
    parser.add_argument("--sync", action="store_true", help="wait for each record's ack")
    parser.add_argument(
        "--progress-interval",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="report records/s on stderr this often (0: never; default 5)",
    )
    _output(parser)
    verbose_flag(parser)
    parser.set_defaults(run=lazy("console_producer"))


def add_console_consumer(commands: Any) -> None:
    parser = commands.add_parser(
        "console-consumer",
        help="print records of a topic (kafka-console-consumer)",
        description="Consume records and print them to stdout, like kafka-console-consumer.sh.",
    )
    _bootstrap(parser)
    parser.add_argument("--topic", help="the topic to consume")
    parser.add_argument(
        "--include",
        "--whitelist",
        dest="include",
        metavar="REGEX",
        help="consume every topic whose whole name matches REGEX",
    )
    parser.add_argument("--partition", type=int, help="consume only this partition")
    parser.add_argument(
        "--offset",
        help="with --partition: a non-negative offset, earliest or latest (default latest)",
    )
    parser.add_argument(
        "--from-beginning",
        action="store_true",
        help="start at the earliest offset when there is no committed offset",
    )
    parser.add_argument("--group", help="the consumer group (default: a new one, no commits)")
    parser.add_argument("--max-messages", type=int, metavar="N", help="exit after N records")
    parser.add_argument(
        "--timeout-ms",
        type=int,
        metavar="MS",
        help="exit when no record arrives for MS milliseconds",
    )
    parser.add_argument(
        "--property",
        "--formatter-property",
        dest="property",
        action="append",
        metavar="NAME=VALUE",
        help="formatter settings: print.key, print.value, print.timestamp, "
        "print.partition, print.offset, print.headers, key.separator, "
        "line.separator, headers.separator, null.literal",
    )
    parser.add_argument(
        "--formatter", help="DefaultMessageFormatter (default) or NoOpMessageFormatter"
    )
    parser.add_argument(
        "--formatter-config", metavar="FILE", help="formatter settings from a properties file"
    )
    parser.add_argument(
        "--isolation-level",
        choices=["read_committed", "read_uncommitted"],
        help="default read_uncommitted, as Kafka's consumer",
    )
    parser.add_argument(
        "--consumer-property",
        "--command-property",
        dest="consumer_property",
        action="append",
        metavar="NAME=VALUE",
        help="a consumer config (repeatable; --command-property is Kafka 4.2's name)",
    )
    parser.add_argument(
        "--consumer.config",
        "--command-config",
        dest="consumer_config",
        metavar="FILE",
        help="consumer configs from a properties file (--command-config is Kafka 4.2's name)",
    )
    parser.add_argument(
        "--skip-message-on-error",
        action="store_true",
        help="skip records that cannot be processed instead of stopping",
    )
    _output(parser)
    verbose_flag(parser)
    parser.set_defaults(run=lazy("console_consumer"))


class _EntityNames(argparse.Action):
    """``--entity-name NAME`` and ``--entity-default`` into one list, in the order given
    (Kafka pairs them with the ``--entity-type`` values by position); the default is ``""``."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        name = "" if self.nargs == 0 else values
        setattr(namespace, self.dest, [*(getattr(namespace, self.dest, None) or []), name])


def add_configs(commands: Any) -> None:
    parser = commands.add_parser(
        "configs",
        help="describe and alter the configs of topics, brokers, users and clients (kafka-configs)",
        description="Describe or change the configs of topics and brokers, the SCRAM "
        "credentials of users and the quotas of users and clients, like kafka-configs.sh.",
    )
    actions = parser.add_mutually_exclusive_group(required=True)
    _action(actions, "--describe", "list the configs of the entity")
    _action(actions, "--alter", "add or delete configs of the entity")
    _bootstrap(parser)
    _command_config(parser)
    parser.add_argument(
        "--entity-type",
        dest="entity_types",
        action="append",
        metavar="TYPE",
        help="topics, brokers, users or clients (users and clients may be given together)",
    )
    parser.add_argument(
        "--entity-name",
        dest="entity_names",
        action=_EntityNames,
        help="the topic name, broker id, user principal or client id",
    )
    parser.add_argument(
        "--entity-default",
        dest="entity_names",
        action=_EntityNames,
        nargs=0,
        help="the default entity of brokers, users or clients",
    )
    parser.add_argument("--topic", help="shorthand for --entity-type topics --entity-name")
    parser.add_argument("--broker", help="shorthand for --entity-type brokers --entity-name")
    parser.add_argument("--user", help="shorthand for --entity-type users --entity-name")
    parser.add_argument("--client", help="shorthand for --entity-type clients --entity-name")
    for kind in ("broker", "user", "client"):
        parser.add_argument(
            f"--{kind}-defaults",
            action="store_true",
            help=f"shorthand for --entity-type {kind}s --entity-default",
        )
    parser.add_argument(
        "--add-config",
        metavar="K1=V1,K2=[V2,V3]",
        help="configs to set (list values in square brackets), e.g. quotas "
        "'producer_byte_rate=1048576' or SCRAM credentials "
        "'SCRAM-SHA-256=[iterations=8192,password=secret]'",
    )
    parser.add_argument(
        "--add-config-file", metavar="FILE", help="configs to set, from a properties file"
    )
    parser.add_argument("--delete-config", metavar="K1,K2", help="configs to remove")
    parser.add_argument(
        "--all", action="store_true", help="with --describe: all configs, not only the overrides"
    )
    _output(parser)
    verbose_flag(parser)
    parser.set_defaults(run=lazy("configs"))


def add_delete_records(commands: Any) -> None:
    parser = commands.add_parser(
        "delete-records",
        help="delete records below an offset (kafka-delete-records)",
        description="Move the log start offset of partitions forward, like "
        "kafka-delete-records.sh.",
    )
    _bootstrap(parser)
    _command_config(parser)
    parser.add_argument(
        "--offset-json-file",
        required=True,
        metavar="FILE",
        help='{"partitions": [{"topic": "t", "partition": 0, "offset": 3}], '
        '"version": 1}; offset -1 means the high watermark',
    )
    _output(parser)
    verbose_flag(parser)
    parser.set_defaults(run=lazy("delete_records"))


def add_cluster(commands: Any) -> None:
    parser = commands.add_parser(
        "cluster",
        help="cluster health check: id, controller, brokers, topics, groups",
        description="Describe the cluster: its id, controller and brokers, its topics and "
        "consumer groups. Exits 1 when the cluster cannot be reached or a partition has no "
        "leader.",
    )
    _bootstrap(parser)
    _command_config(parser)
    parser.add_argument(
        "--include-internal", action="store_true", help="count and list internal topics too"
    )
    _output(parser)
    verbose_flag(parser)
    parser.set_defaults(run=lazy("cluster"))


def add_consumer_groups(commands: Any) -> None:
    parser = commands.add_parser(
        "consumer-groups",
        help="list, describe, delete groups; reset offsets (kafka-consumer-groups)",
        description="List, describe and delete consumer groups and reset or delete their "
        "offsets, like kafka-consumer-groups.sh.",
    )
    actions = parser.add_mutually_exclusive_group(required=True)
    _action(actions, "--list", "list all consumer groups")
    _action(
        actions, "--describe", "describe groups: offsets and lag (default), --members or --state"
    )
    _action(actions, "--delete", "delete groups (they must have no members)")
    _action(actions, "--reset-offsets", "reset the committed offsets of inactive groups")
    _action(actions, "--delete-offsets", "delete committed offsets of a group for topics")
    _bootstrap(parser)
    _command_config(parser)
    parser.add_argument("--group", action="append", help="a group id (repeatable)")
    parser.add_argument("--all-groups", action="store_true", help="every group")
    parser.add_argument(
        "--topic",
        action="append",
        metavar="TOPIC[:P1,P2]",
        help="topic (and partitions) for --reset-offsets / --delete-offsets",
    )
    parser.add_argument(
        "--all-topics",
        action="store_true",
        help="with --reset-offsets: every topic the group has offsets for",
    )
    parser.add_argument("--members", action="store_true", help="with --describe: members")
    parser.add_argument("--offsets", action="store_true", help="with --describe: offsets")
    parser.add_argument(
        "--state",
        nargs="?",
        const="",
        default=None,
        metavar="STATES",
        help="with --describe: group state; with --list: show (and filter by "
        "comma-separated) states",
    )
    parser.add_argument(
        "--verbose", action="store_true", help="with --describe --members: the assignments too"
    )
    _reset_flags(parser)
    parser.add_argument(
        "--timeout",
        type=int,
        default=5000,
        metavar="MS",
        help="timeout of admin requests (default 5000)",
    )
    _output(parser)
    parser.set_defaults(run=lazy("consumer_groups"))


def _reset_flags(parser: argparse.ArgumentParser) -> None:
    scenarios = parser.add_argument_group("reset scenarios (exactly one with --reset-offsets)")
    scenarios.add_argument("--to-earliest", action="store_true")
    scenarios.add_argument("--to-latest", action="store_true")
    scenarios.add_argument("--to-current", action="store_true")
    scenarios.add_argument("--to-offset", type=int, metavar="OFFSET")
    scenarios.add_argument(
        "--to-datetime",
        metavar="YYYY-MM-DDTHH:mm:SS.sss",
        help="local time unless a zone is given (Z or +hh:mm)",
    )
    scenarios.add_argument(
        "--by-duration",
        metavar="PnDTnHnMnS",
        help="reset to the offset of now minus this ISO-8601 duration",
    )
    scenarios.add_argument(
        "--shift-by",
        type=int,
        metavar="N",
        help="move the committed offsets by N (may be negative)",
    )
    scenarios.add_argument(
        "--from-file",
        metavar="CSV",
        help="offsets from a CSV of topic,partition,offset (or group,topic,partition,offset)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="show the new offsets only (the default)"
    )
    parser.add_argument("--execute", action="store_true", help="commit the new offsets")
    parser.add_argument(
        "--export", action="store_true", help="print the new offsets as CSV (for --from-file)"
    )


def add_reassign_partitions(commands: Any) -> None:
    parser = commands.add_parser(
        "reassign-partitions",
        help="move partition replicas between brokers (kafka-reassign-partitions)",
        description="Generate, execute, verify, list and cancel partition reassignments, like "
        "kafka-reassign-partitions.sh. Exactly one action.",
    )
    actions = parser.add_argument_group("actions (exactly one)")
    actions.add_argument(
        "--generate",
        action="store_true",
        help="propose an assignment of the topics of "
        "--topics-to-move-json-file onto the brokers of --broker-list",
    )
    actions.add_argument(
        "--execute", action="store_true", help="start the reassignment of --reassignment-json-file"
    )
    actions.add_argument(
        "--verify",
        action="store_true",
        help="report the progress of the reassignment of "
        "--reassignment-json-file (and clear throttles once it is done)",
    )
    actions.add_argument(
        "--cancel",
        action="store_true",
        help="cancel the active reassignments of --reassignment-json-file",
    )
    actions.add_argument(
        "--list", action="store_true", help="list the ongoing partition reassignments"
    )
    _bootstrap(parser)
    _command_config(parser)
    parser.add_argument(
        "--reassignment-json-file",
        metavar="FILE",
        help='{"version": 1, "partitions": [{"topic": "t", "partition": 0, '
        '"replicas": [1, 2], "log_dirs": ["any", "any"]}]} '
        "(--execute, --verify, --cancel)",
    )
    parser.add_argument(
        "--topics-to-move-json-file",
        metavar="FILE",
        help='{"topics": [{"topic": "t"}], "version": 1} (--generate)',
    )
    parser.add_argument(
        "--broker-list", metavar="0,1,2", help="the brokers to place the replicas on (--generate)"
    )
    parser.add_argument(
        "--disable-rack-aware",
        action="store_true",
        default=None,
        help="with --generate: ignore the brokers' racks",
    )
    parser.add_argument(
        "--additional",
        action="store_true",
        default=None,
        help="with --execute: start even if other reassignments are ongoing "
        "(also changes the throttle of ongoing ones)",
    )
    parser.add_argument(
        "--throttle",
        type=int,
        metavar="BYTES/S",
        help="with --execute: limit replication of the moving replicas "
        "(leader/follower.replication.throttled.rate)",
    )
    parser.add_argument(
        "--replica-alter-log-dirs-throttle",
        type=int,
        metavar="BYTES/S",
        help="with --execute: limit moves between log directories of a broker",
    )
    parser.add_argument(
        "--timeout",
        type=int,
        metavar="MS",
        help="with --execute and --cancel: how long to wait for log directory "
        "moves to start (default 10000)",
    )
    parser.add_argument(
        "--preserve-throttles",
        action="store_true",
        default=None,
        help="with --verify and --cancel: leave the throttles in place",
    )
    verbose_flag(parser)
    parser.set_defaults(run=lazy("reassign_partitions"))


def _election_type(text: str) -> str:
    value = text.upper()
    if value not in ("PREFERRED", "UNCLEAN"):
        raise argparse.ArgumentTypeError(
            f"invalid choice: {text!r} (choose from preferred, unclean)"
        )
    return value


def add_leader_election(commands: Any) -> None:
    parser = commands.add_parser(
        "leader-election",
        help="preferred or unclean leader election (kafka-leader-election)",
        description="Elect a new leader for partitions, like kafka-leader-election.sh: the "
        "preferred replica (if it is in sync and not the leader), or any replica when the "
        "partition has no leader (unclean).",
    )
    _bootstrap(parser)
    parser.add_argument(
        "--admin.config",
        "--command-config",
        dest="command_config",
        metavar="FILE",
        help="admin client properties file",
    )
    parser.add_argument(
        "--election-type",
        type=_election_type,
        metavar="PREFERRED|UNCLEAN",
        help="preferred or unclean (any case)",
    )
    parser.add_argument("--topic", help="the topic of the partition (with --partition)")
    parser.add_argument("--partition", type=int, help="the partition (with --topic)")
    parser.add_argument(
        "--all-topic-partitions",
        action="store_true",
        help="every eligible partition of the cluster",
    )
    parser.add_argument(
        "--path-to-json-file",
        metavar="FILE",
        help='{"partitions": [{"topic": "t", "partition": 0}]}',
    )
    verbose_flag(parser)
    parser.set_defaults(run=lazy("leader_election"))


PATTERN_TYPES = ("ANY", "MATCH", "LITERAL", "PREFIXED")


def _pattern_type(text: str) -> str:
    value = text.strip().upper()
    if value not in PATTERN_TYPES:
        raise argparse.ArgumentTypeError(
            f"unknown resource pattern type {text!r} (choose from any, match, literal, prefixed)"
        )
    return value


def add_acls(commands: Any) -> None:
    """``acls``: kafka-acls.sh."""
    parser = commands.add_parser(
        "acls",
        help="add, remove and list ACLs (kafka-acls)",
        description="Add, remove or list the ACLs of topics, groups, the cluster, "
        "transactional ids and delegation tokens, like kafka-acls.sh. Exactly one action.",
    )
    actions = parser.add_mutually_exclusive_group(required=True)
    _action(actions, "--add", "add ACLs")
    _action(actions, "--remove", "remove ACLs (asks first, unless --force)")
    _action(actions, "--list", "list the ACLs of the given resources (all without one)")
    _bootstrap(parser)
    _command_config(parser)
    resources = parser.add_argument_group("resources")
    resources.add_argument(
        "--topic", action="append", help="a topic ('*': every topic; repeatable)"
    )
    resources.add_argument(
        "--group", action="append", help="a consumer group ('*': every group; repeatable)"
    )
    resources.add_argument("--cluster", action="store_true", help="the cluster")
    resources.add_argument(
        "--transactional-id",
        action="append",
        help="a transactional id ('*': every one; repeatable)",
    )
    resources.add_argument(
        "--delegation-token",
        action="append",
        help="a delegation token id ('*': every token; repeatable)",
    )
    resources.add_argument(
        "--resource-pattern-type",
        type=_pattern_type,
        default="LITERAL",
        metavar="TYPE",
        help="literal (default) or prefixed: how the resource names match; "
        "with --list and --remove also any (any pattern type, the exact name) or match "
        "(every pattern that matches the names: use with care with --remove)",
    )
    entries = parser.add_argument_group("entries")
    entries.add_argument(
        "--allow-principal",
        action="append",
        metavar="TYPE:NAME",
        help="a principal to allow, such as User:alice (User:* for everyone; repeatable)",
    )
    entries.add_argument(
        "--deny-principal",
        action="append",
        metavar="TYPE:NAME",
        help="a principal to deny (deny entries win over allow entries; repeatable)",
    )
    entries.add_argument(
        "--allow-host",
        action="append",
        metavar="HOST",
        help="a host the allowed principals may connect from (default *: any; repeatable)",
    )
    entries.add_argument(
        "--deny-host",
        action="append",
        metavar="HOST",
        help="a host the denied principals are denied from (default *: any; repeatable)",
    )
    entries.add_argument(
        "--operation",
        action="append",
        metavar="OPERATION",
        help="the operation allowed or denied (default All; repeatable): Read, Write, "
        "Create, Delete, Alter, Describe, ClusterAction, DescribeConfigs, AlterConfigs, "
        "IdempotentWrite, CreateTokens, DescribeTokens, All",
    )
    entries.add_argument(
        "--principal",
        action="append",
        metavar="TYPE:NAME",
        help="with --list: only this principal's ACLs (repeatable)",
    )
    entries.add_argument(
        "--producer",
        action="store_true",
        help="the ACLs of a producer: Write, Describe and Create on the topics, Write and "
        "Describe on the transactional ids",
    )
    entries.add_argument(
        "--idempotent",
        action="store_true",
        help="with --producer: also IdempotentWrite on the cluster",
    )
    entries.add_argument(
        "--consumer",
        action="store_true",
        help="the ACLs of a consumer: Read and Describe on the topics, Read on the groups",
    )
    parser.add_argument(
        "--force", action="store_true", help="with --remove: do not ask for confirmation"
    )
    verbose_flag(parser)
    parser.set_defaults(run=lazy("acls"))


TRANSACTIONS_DESCRIPTION = (
    "This tool is used to analyze the transactional state of producers "
    "in the cluster. It can be used to detect and recover from hanging "
    "transactions."
)


def _transactions_output(parser: argparse.ArgumentParser, default: Any) -> None:
    parser.add_argument(
        "--output",
        choices=["table", "json"],
        default=default,
        help="a table as kafka-transactions.sh prints it (default), or JSON",
    )


def add_transactions(commands: Any) -> None:
    """``transactions``: kafka-transactions.sh, on the tool's own kio client (confluent-kafka
    has none of its requests)."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "transactions",
        help="list, describe and abort transactions (kafka-transactions.sh)",
        description=TRANSACTIONS_DESCRIPTION,
    )
    parser.add_argument(
        "--bootstrap-server",
        required=True,
        metavar="host:port",
        help="hostname and port for the broker to connect to, in the form "
        "`host:port` (multiple comma-separated entries can be given)",
    )
    parser.add_argument(
        "--command-config",
        metavar="FILE",
        help="property file containing configs to be passed to admin client",
    )
    _transactions_output(parser, "table")
    parser.set_defaults(run=lazy("transactions"))
    sub = parser.add_subparsers(
        dest="txn_command", metavar="COMMAND", required=True, title="commands"
    )

    listing = sub.add_parser("list", help="list transactions")
    listing.add_argument(
        "--duration-filter",
        type=int,
        metavar="MS",
        help="Duration (in millis) to filter by: if < 0, all transactions "
        "will be returned; otherwise, only transactions running longer "
        "than this duration will be returned",
    )

    describe = sub.add_parser(
        "describe",
        help="describe the state of an active transactional-id",
        description="Describe the state of an active transactional-id.",
    )
    describe.add_argument("--transactional-id", required=True, help="transactional id")

    producers = sub.add_parser(
        "describe-producers", help="describe the states of active producers for a topic partition"
    )
    producers.add_argument(
        "--broker-id",
        type=int,
        help="optional broker id to describe the producer state on a specific replica",
    )
    producers.add_argument("--topic", required=True, help="topic name")
    producers.add_argument("--partition", type=int, required=True, help="partition number")

    abort = sub.add_parser(
        "abort", help="abort a hanging transaction (requires administrative privileges)"
    )
    abort.add_argument("--topic", required=True, help="topic name")
    abort.add_argument("--partition", type=int, required=True, help="partition number")
    newer = abort.add_argument_group(
        "Brokers on versions 3.0 and above",
        "For newer brokers, only the start offset of the transaction to be aborted is required",
    )
    newer.add_argument("--start-offset", type=int, help="start offset of the transaction to abort")
    older = abort.add_argument_group(
        "Brokers on versions older than 3.0",
        "For older brokers, you must provide all of these arguments",
    )
    older.add_argument("--producer-id", type=int, help="producer id")
    older.add_argument("--producer-epoch", type=int, help="producer epoch")
    older.add_argument("--coordinator-epoch", type=int, help="coordinator epoch")

    hanging = sub.add_parser("find-hanging", help="find hanging transactions")
    hanging.add_argument(
        "--broker-id", type=int, help="broker id to search for hanging transactions"
    )
    hanging.add_argument(
        "--max-transaction-timeout",
        type=int,
        default=15,
        metavar="MINUTES",
        help="maximum transaction timeout in minutes to limit the scope of "
        "the search (15 minutes by default)",
    )
    hanging.add_argument(
        "--topic", help="topic name to limit search to (required if --partition is specified)"
    )
    hanging.add_argument("--partition", type=int, help="partition number")

    for command in (listing, describe, producers, abort, hanging):
        _transactions_output(command, argparse.SUPPRESS)


ALL = (
    add_topics,
    add_console_producer,
    add_console_consumer,
    add_configs,
    add_delete_records,
    add_cluster,
    add_consumer_groups,
    add_reassign_partitions,
    add_leader_election,
    add_transactions,
    add_acls,
)


def add_parsers(commands: Any) -> None:
    for add in ALL:
        add(commands)
