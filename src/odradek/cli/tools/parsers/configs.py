"""The flags of ``configs`` (kafka-configs.sh)."""

from __future__ import annotations

import argparse
from typing import Any

from odradek.cli.tools.parsers.common import (
    action_flag,
    bootstrap_flag,
    command_config_flag,
    lazy,
    output_flag,
    verbose_flag,
)

CONFLICT = (
    "--entity-{type,name,default} should not be used in conjunction with specific entity flags"
)


def _refuse_with_group(parser: argparse.ArgumentParser, namespace: argparse.Namespace) -> None:
    """Kafka's tool refuses --entity-type/--entity-name/--entity-default with --group."""
    if getattr(namespace, "group", None) is not None:
        parser.error(CONFLICT)


class _EntityTypes(argparse.Action):
    """``--entity-type TYPE``, repeatable, in the order given."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        _refuse_with_group(parser, namespace)
        setattr(namespace, self.dest, [*(getattr(namespace, self.dest, None) or []), values])


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
        _refuse_with_group(parser, namespace)
        name = "" if self.nargs == 0 else values
        setattr(namespace, self.dest, [*(getattr(namespace, self.dest, None) or []), name])


class _Group(argparse.Action):
    """``--group ID``: Kafka 4.0's shorthand for ``--entity-type groups --entity-name ID``
    (KAFKA-17327), read here as those two flags; not with them, as in Kafka."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        if getattr(namespace, self.dest, None) is not None:
            parser.error("--group may be given once")
        if getattr(namespace, "entity_types", None) or getattr(namespace, "entity_names", None):
            parser.error(CONFLICT)
        setattr(namespace, self.dest, values)
        namespace.entity_types = ["groups"]
        namespace.entity_names = [values]


def add_configs(commands: Any) -> None:
    parser = commands.add_parser(
        "configs",
        help="describe and alter the configs of topics, brokers, groups, users and clients "
        "(kafka-configs)",
        description="Describe or change the configs of topics, brokers and groups, the SCRAM "
        "credentials of users and the quotas of users and clients, like kafka-configs.sh.",
    )
    actions = parser.add_mutually_exclusive_group(required=True)
    action_flag(actions, "--describe", "list the configs of the entity")
    action_flag(actions, "--alter", "add or delete configs of the entity")
    bootstrap_flag(parser)
    command_config_flag(parser)
    parser.add_argument(
        "--entity-type",
        dest="entity_types",
        action=_EntityTypes,
        metavar="TYPE",
        help="topics, brokers, users, clients, client-metrics or groups (users and clients "
        "may be given together)",
    )
    parser.add_argument(
        "--entity-name",
        dest="entity_names",
        action=_EntityNames,
        help="the topic name, broker id, user principal, client id, client-metrics resource "
        "name or group id",
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
    parser.add_argument(
        "--group",
        action=_Group,
        metavar="ID",
        help="the group's id: shorthand for --entity-type groups --entity-name",
    )
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
    output_flag(parser)
    verbose_flag(parser)
    parser.set_defaults(run=lazy("configs"))
