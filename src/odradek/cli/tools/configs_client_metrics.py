"""KIP-714 client-metrics resources in ``configs`` (``--entity-type client-metrics``):
DescribeConfigs and IncrementalAlterConfigs on ConfigResource type 16, sent by the tool
itself (confluent-kafka has no such resource type) to one broker of the cluster over the
kio client the quota commands use: PLAINTEXT only. ``--describe`` without a name lists
every resource (ListClientMetricsResources) and describes each, as kafka-configs does."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from typing import Any

from kio.static.primitive import i8

from odradek.cli.tools.common import (
    ToolError,
    UsageError,
    api_timeout,
    check_reachable,
    client_config,
    error_text,
    load_properties,
    print_json,
    require_bootstrap,
    wants_json,
)
from odradek.cli.tools.configs_entities import (
    CLIENT_METRICS_ENTITY_TYPE,
    Entities,
    requested_changes,
)
from odradek.cli.tools.txn_client import ClientError, Cluster
from odradek.common import reachability
from odradek.protocol.client import WireError, pick_version, request_module

CLIENT_METRICS = 16  # ConfigResource.Type.CLIENT_METRICS
DESCRIBE_CONFIGS = 32
INCREMENTAL_ALTER_CONFIGS = 44
LIST_CLIENT_METRICS_RESOURCES = 74  # ListConfigResources v0
# The versions the tool sends: api key -> (name, oldest, newest).
_APIS = {
    DESCRIBE_CONFIGS: ("DescribeConfigs", 1, 4),
    INCREMENTAL_ALTER_CONFIGS: ("IncrementalAlterConfigs", 0, 1),
    LIST_CLIENT_METRICS_RESOURCES: ("ListClientMetricsResources", 0, 0),
}
SET, DELETE = 0, 1


def _name(entities: Entities) -> str:
    if len(entities.names) != 1 or not entities.names[0]:
        raise UsageError("an --entity-name is required for client-metrics")
    return entities.names[0]


def _config(args: argparse.Namespace) -> tuple[dict[str, str], float]:
    props = load_properties(args.command_config)
    config = client_config(require_bootstrap(args), props, {})
    if not reachability.uses_plaintext(config):
        raise ToolError(
            "client-metrics configs are described and altered over PLAINTEXT only: "
            "confluent-kafka has no client-metrics resource type"
        )
    return config, api_timeout(props)


def _call(
    config: Mapping[str, str], timeout: float, api_key: int, build: Callable[[Any, int], Any]
) -> Any:
    """Send the request ``build(module, version)`` makes to the cluster's lowest broker id."""
    check_reachable(config, timeout)
    try:
        cluster = Cluster(config["bootstrap.servers"], timeout, "odradek-configs")
    except ClientError as exc:
        raise ToolError(str(exc)) from exc
    try:
        connection = cluster.connection(min(cluster.brokers))
        name, oldest, newest = _APIS[api_key]
        version = pick_version(connection.api_versions, api_key, name, (oldest, newest))
        return connection.call(build(request_module(api_key, version), version))
    except (ClientError, WireError) as exc:
        raise ToolError(str(exc)) from exc
    finally:
        cluster.close()


def _listed(config: Mapping[str, str], timeout: float) -> list[str]:
    """Every client-metrics resource's name (ListClientMetricsResources)."""

    def build(module: Any, _version: int) -> Any:
        return module.ListConfigResourcesRequest()

    response = _call(config, timeout, LIST_CLIENT_METRICS_RESOURCES, build)
    if int(response.error_code):
        raise ToolError(error_text(int(response.error_code)))
    return sorted(str(r.resource_name) for r in response.config_resources)


def describe_client_metrics(args: argparse.Namespace, entities: Entities) -> int:
    """One resource's configs, or (without --entity-name) every resource's."""
    named = [n for n in entities.names if n]
    if len(named) > 1:
        raise UsageError("at most one --entity-name for client-metrics")
    config, timeout = _config(args)
    names = named or _listed(config, timeout)

    def build(module: Any, version: int) -> Any:
        resources = tuple(
            module.DescribeConfigsResource(
                resource_type=i8(CLIENT_METRICS), resource_name=name, configuration_keys=None
            )
            for name in names
        )
        extra = {"include_documentation": False} if version >= 3 else {}
        return module.DescribeConfigsRequest(resources=resources, include_synonyms=False, **extra)

    described: list[tuple[str, dict[str, str | None]]] = []
    if names:
        for result in _call(config, timeout, DESCRIBE_CONFIGS, build).results:
            if int(result.error_code):
                raise ToolError(result.error_message or error_text(int(result.error_code)))
            configs = {str(c.name): c.value for c in result.configs}
            described.append((str(result.resource_name), configs))
    if wants_json(args):
        shown = [
            {"entity_type": CLIENT_METRICS_ENTITY_TYPE, "entity_name": name, "configs": configs}
            for name, configs in described
        ]
        print_json(shown[0] if named else shown)
        return 0
    for name, configs in described:
        print(f"Dynamic configs for client-metric {name} are:")
        for key, value in configs.items():
            print(f"  {key}={value} sensitive=false synonyms={{}}")
    return 0


def alter_client_metrics(args: argparse.Namespace, entities: Entities) -> int:
    name = _name(entities)
    to_add, to_delete = requested_changes(args)
    config, timeout = _config(args)

    def build(module: Any, _version: int) -> Any:
        ops = [(k, SET, v) for k, v in to_add.items()] + [(k, DELETE, None) for k in to_delete]
        resource = module.AlterConfigsResource(
            resource_type=i8(CLIENT_METRICS),
            resource_name=name,
            configs=tuple(
                module.AlterableConfig(name=k, config_operation=i8(op), value=v) for k, op, v in ops
            ),
        )
        return module.IncrementalAlterConfigsRequest(resources=(resource,), validate_only=False)

    [result] = _call(config, timeout, INCREMENTAL_ALTER_CONFIGS, build).responses
    if int(result.error_code):
        raise ToolError(result.error_message or error_text(int(result.error_code)))
    if wants_json(args):
        print_json(
            {
                "entity_type": CLIENT_METRICS_ENTITY_TYPE,
                "entity_name": name,
                "set": to_add,
                "deleted": to_delete,
            }
        )
    else:
        print(f"Completed updating config for client-metric {name}.")
    return 0
