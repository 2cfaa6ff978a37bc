"""``odradek configs``: kafka-configs.sh. Topics and brokers: DescribeConfigs and
IncrementalAlterConfigs. Users: SCRAM credentials (Describe/AlterUserScramCredentials).
Users and clients: quotas (DescribeClientQuotas/AlterClientQuotas, sent by the tool itself:
``client_quotas``). Client-metrics resources (KIP-714): ``configs_client_metrics``."""

from __future__ import annotations

import argparse

from odradek.cli.tools.common import (
    Admin,
    UsageError,
    run_tool,
)
from odradek.cli.tools.configs_client_metrics import (
    alter_client_metrics,
    describe_client_metrics,
)
from odradek.cli.tools.configs_entities import (
    CLIENT_ENTITY_TYPES,
    CLIENT_METRICS_ENTITY_TYPE,
    Entity,
    requested_entities,
    resource_entity,
)
from odradek.cli.tools.configs_resources import alter, describe
from odradek.cli.tools.configs_scram_quotas import alter_client_entities, describe_client_entities


def main(args: argparse.Namespace) -> int:
    return run_tool("configs", args, _run)


def _run(args: argparse.Namespace) -> int:
    entities = requested_entities(args)
    if entities.types[0] == CLIENT_METRICS_ENTITY_TYPE:
        if args.action == "describe":
            return describe_client_metrics(args, entities)
        return alter_client_metrics(args, entities)
    if entities.types[0] in CLIENT_ENTITY_TYPES:
        if args.action == "describe":
            return describe_client_entities(args, entities)
        return alter_client_entities(args, entities)
    entity_type, name = resource_entity(entities)
    admin = Admin.from_args(args)
    if args.action == "describe":
        return describe(admin, args, entity_type, name)
    if name is None:
        raise UsageError("--alter needs --entity-name")
    return alter(admin, args, Entity(entity_type, name))
