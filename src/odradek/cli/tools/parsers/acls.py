"""The flags of ``acls`` (kafka-acls.sh)."""

from __future__ import annotations

import argparse
from typing import Any

from odradek.cli.tools.parsers.common import (
    action_flag,
    bootstrap_flag,
    command_config_flag,
    lazy,
    verbose_flag,
)

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
    action_flag(actions, "--add", "add ACLs")
    action_flag(actions, "--remove", "remove ACLs (asks first, unless --force)")
    action_flag(actions, "--list", "list the ACLs of the given resources (all without one)")
    bootstrap_flag(parser)
    command_config_flag(parser)
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
