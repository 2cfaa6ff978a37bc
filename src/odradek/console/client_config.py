"""``--command-config``: the console's client properties, a Java ``.properties`` file taken as
every client tool takes it (``odradek.security.client_properties``): librdkafka's own names as
they are, Java client names translated (``sasl.jaas.config`` with Kafka's PLAIN or SCRAM login
module, PEM truststores, PKCS12 or PEM keystores, ...); what librdkafka cannot honour is
refused, naming the property, so the console never connects with less security than was
asked for.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from odradek.common.client_logs import log_settings
from odradek.config.properties import read_properties
from odradek.security import client_properties


class ClientConfigError(ValueError):
    """A ``--command-config`` file the console cannot use; ``str()`` says why."""


def load_client_config(path: str | Path | None) -> dict[str, str]:
    """librdkafka settings from a ``--command-config`` file (none for None); a note on stderr
    for each Java-only property left out."""
    if path is None:
        return {}
    try:
        props = read_properties(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise ClientConfigError(f"cannot read --command-config {path}: {exc}") from exc
    try:
        return client_properties.librdkafka_config(props)
    except client_properties.ClientConfigError as exc:
        raise ClientConfigError(f"--command-config {path}: {exc}") from exc


def is_plaintext(settings: dict[str, str]) -> bool:
    """Whether the connection is PLAINTEXT (the console's own kio client speaks only that)."""
    return settings.get("security.protocol", "plaintext").lower() == "plaintext"


def client_settings(settings: Mapping[str, str], overrides: Mapping[str, str]) -> dict[str, Any]:
    """A librdkafka client's config: ``settings`` with ``overrides``, its log silent as every
    tool's unless ``--verbose``."""
    merged = {**settings, **overrides}
    return {**merged, **log_settings(merged)}
