"""DescribeConfigs sent by the tool itself, for the synonyms.

confluent-kafka keeps a config's synonyms in a dict keyed by name, so the synonyms that share
the config's name collapse into the last one: ``message.max.bytes`` set dynamically shows only
``DEFAULT_CONFIG:message.max.bytes=1048588``, where Kafka's tool lists DYNAMIC_BROKER_CONFIG,
then STATIC_BROKER_CONFIG, then DEFAULT_CONFIG. Over PLAINTEXT, ``configs --describe`` asks
the broker itself (kio over a plain socket) and keeps every synonym in order; otherwise
``rebuild`` restores the config's own layer in front of what confluent-kafka kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from odradek.cli.tools.common import ToolError, error_text
from odradek.protocol.client import KioConnection, pick_version, request_module

DESCRIBE_CONFIGS = 32
SUPPORTED = (1, 4)  # synonyms are in every version from 1
SOURCES = {
    0: "UNKNOWN",
    1: "DYNAMIC_TOPIC_CONFIG",
    2: "DYNAMIC_BROKER_CONFIG",
    3: "DYNAMIC_DEFAULT_BROKER_CONFIG",
    4: "STATIC_BROKER_CONFIG",
    5: "DEFAULT_CONFIG",
    6: "DYNAMIC_BROKER_LOGGER_CONFIG",
    7: "DYNAMIC_CLIENT_METRICS_CONFIG",
    8: "DYNAMIC_GROUP_CONFIG",
}

Synonym = tuple[str, str | None, str]  # name, value, source name


def describe_synonyms(
    host: str, port: int, resource_type: int, name: str, timeout: float
) -> dict[str, list[Synonym]]:
    """Config name -> its synonyms in the broker's order, from the broker at host:port."""
    with KioConnection(host, port, timeout=timeout, client_id="odradek-configs") as conn:
        version = pick_version(conn.versions(), DESCRIBE_CONFIGS, "DescribeConfigs", SUPPORTED)
        module = request_module(DESCRIBE_CONFIGS, version)
        fields: dict[str, Any] = {"include_synonyms": True}
        if version >= 3:
            fields["include_documentation"] = False
        resource = module.DescribeConfigsResource(
            resource_type=resource_type, resource_name=name, configuration_keys=None
        )
        response = conn.call(module.DescribeConfigsRequest(resources=(resource,), **fields))
    result = response.results[0]
    if int(result.error_code) != 0:
        raise ToolError(result.error_message or error_text(int(result.error_code)))
    return {
        str(c.name): [
            (str(s.name), s.value, SOURCES.get(int(s.source), str(s.source))) for s in c.synonyms
        ]
        for c in result.configs
    }


def rebuild(name: str, value: str | None, source: str, kept: Sequence[Synonym]) -> list[Synonym]:
    """confluent-kafka's synonyms with the config's own layer put back in front when the
    dict lost it (a middle layer that shares the name stays lost)."""
    synonyms = list(kept)
    if source not in ("DEFAULT_CONFIG", "UNKNOWN") and (not synonyms or synonyms[0][2] != source):
        synonyms.insert(0, (name, value, source))
    return synonyms
