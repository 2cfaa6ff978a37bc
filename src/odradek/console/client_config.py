"""``--command-config``: the console's client properties, a Java ``.properties`` file as the
other tools take it, handed to librdkafka.

librdkafka's own names pass as they are (``security.protocol``, ``sasl.mechanism``,
``sasl.username``, ``ssl.ca.location``, ...). The Java-only settings the client tools
translate (``sasl.jaas.config``, keystores and truststores) are refused with the librdkafka
names to use instead: the console never connects with less security than was asked for.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from odradek.common.client_logs import log_settings
from odradek.config.properties import read_properties

# Java client settings -> what to write instead in a librdkafka properties file.
NEEDS_TRANSLATION: dict[str, str] = {
    "sasl.jaas.config": "sasl.username and sasl.password",
    "ssl.truststore.location": "ssl.ca.location (a PEM file)",
    "ssl.truststore.type": "ssl.ca.location (a PEM file)",
    "ssl.truststore.password": "ssl.ca.location (a PEM file)",
    "ssl.keystore.location": "ssl.keystore.location with a PKCS12 file, or "
    "ssl.certificate.location and ssl.key.location",
    "ssl.keystore.type": "ssl.keystore.location with a PKCS12 file",
}


class ClientConfigError(ValueError):
    """A ``--command-config`` file the console cannot use; ``str()`` says why."""


def load_client_config(path: str | Path | None) -> dict[str, str]:
    """librdkafka settings from a ``--command-config`` file (none for None)."""
    if path is None:
        return {}
    try:
        props = read_properties(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise ClientConfigError(f"cannot read --command-config {path}: {exc}") from exc
    for key in props:
        if key in NEEDS_TRANSLATION:
            raise ClientConfigError(
                f"--command-config {path}: {key} is a Java client setting; the console takes "
                f"librdkafka's: {NEEDS_TRANSLATION[key]}"
            )
    return props


def is_plaintext(settings: dict[str, str]) -> bool:
    """Whether the connection is PLAINTEXT (the console's own kio client speaks only that)."""
    return settings.get("security.protocol", "plaintext").lower() == "plaintext"


def client_settings(settings: Mapping[str, str], overrides: Mapping[str, str]) -> dict[str, Any]:
    """A librdkafka client's config: ``settings`` with ``overrides``, its log silent as every
    tool's unless ``--verbose``."""
    merged = {**settings, **overrides}
    return {**merged, **log_settings(merged)}
