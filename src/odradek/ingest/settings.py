"""Ingest's settings: the Kafka table engine's names (``kafka_broker_list``, ...) in a config
file, the same settings as flags (``--bootstrap-server``, ...), and their defaults.

A config file has one ``name = value`` per line (``#`` starts a comment, values may be quoted
as in a ClickHouse ``SETTINGS`` clause). Names are the engine's (``kafka_topic_list``), the
flags' (``topic``, ``max-block-size``) or, when they contain a dot, librdkafka consumer
properties (``session.timeout.ms``). Flags win over the file.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from odradek.ingest.errors import SettingsError

FORMATS = ("JSONEachRow", "CSV", "TSV", "RawBLOB", "Avro")
FORMAT_ALIASES = {"tabseparated": "TSV", "rawbytes": "RawBLOB", "raw": "RawBLOB"}
DEFAULT_TARGET = "duckdb:///odradek-ingest.duckdb"

# The Kafka table engine's setting -> the field it sets here.
ENGINE_NAMES = {
    "kafka_broker_list": "bootstrap_server",
    "kafka_topic_list": "topics",
    "kafka_group_name": "group",
    "kafka_format": "format",
    "kafka_schema": "schema",
    "kafka_num_consumers": "consumers",
    "kafka_max_block_size": "max_block_size",
    "kafka_skip_broken_messages": "skip_broken_messages",
    "kafka_commit_every_batch": "commit_every_batch",
    "kafka_client_id": "client_id",
    "kafka_poll_timeout_ms": "poll_timeout_ms",
    "kafka_poll_max_batch_size": "poll_max_batch_size",
    "kafka_flush_interval_ms": "flush_interval_ms",
    "kafka_handle_error_mode": "handle_error_mode",
    "kafka_keeper_path": "keeper_path",
}


@dataclass(frozen=True)
class IngestSettings:
    """Everything one ``odradek ingest`` run needs (see docs/ingest.md for each)."""

    bootstrap_server: str
    topics: tuple[str, ...]
    group: str
    format: str
    table: str
    target: str = DEFAULT_TARGET
    schema: Path | None = None
    consumers: int = 1
    max_block_size: int = 65536
    poll_max_batch_size: int = 0  # 0: max_block_size, as the engine's default
    skip_broken_messages: int = 0
    commit_every_batch: bool = False
    client_id: str = ""
    poll_timeout_ms: int = 500
    flush_interval_ms: int = 7500
    handle_error_mode: str = "default"
    create_table: str | None = None
    error_table: str = ""  # "": <table>_errors
    offsets_table: str = "odradek_ingest_offsets"
    auto_offset_reset: str = "earliest"
    consumer_properties: dict[str, str] = field(default_factory=dict)
    state_dir: Path = Path("odradek-ingest")
    keeper: str | None = None
    keeper_path: str = ""
    metrics_port: int | None = None  # None: no metrics endpoint; 0: any free port
    metrics_host: str = "127.0.0.1"

    @property
    def errors_table(self) -> str:
        return self.error_table or f"{self.table}_errors"

    @property
    def batch_size(self) -> int:
        """Records asked for per poll."""
        return self.poll_max_batch_size or self.max_block_size


_INT_FIELDS = {
    "consumers",
    "max_block_size",
    "poll_max_batch_size",
    "skip_broken_messages",
    "poll_timeout_ms",
    "flush_interval_ms",
    "metrics_port",
}
_REQUIRED = ("bootstrap_server", "topics", "group", "format", "table")


def read_config_file(path: Path) -> dict[str, Any]:
    """The settings a config file gives, by field name (librdkafka properties gathered under
    ``consumer_properties``)."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise SettingsError(f"cannot read config file {path}: {exc.strerror}") from exc
    values: dict[str, Any] = {}
    properties: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip().rstrip(",")
        if not line:
            continue
        name, sep, value = line.partition("=")
        if not sep:
            raise SettingsError(f"{path}:{number}: expected 'name = value', got {raw.strip()!r}")
        name, value = name.strip(), _unquote(value.strip())
        if "." in name:
            properties[name] = value
            continue
        values[_field_for(name, f"{path}:{number}")] = value
    if properties:
        values["consumer_properties"] = properties
    return values


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def _field_for(name: str, where: str) -> str:
    if name in ENGINE_NAMES:
        return ENGINE_NAMES[name]
    normalised = name.replace("-", "_")
    if normalised == "topic":
        return "topics"
    names = {f.name for f in dataclasses.fields(IngestSettings)}
    if normalised in names and normalised != "consumer_properties":
        return normalised
    raise SettingsError(f"{where}: unknown setting {name!r}")


def build_settings(values: dict[str, Any]) -> IngestSettings:
    """Settings from raw values (strings from a file, typed values from flags), checked."""
    missing = [n for n in _REQUIRED if not values.get(n)]
    if missing:
        flags = ", ".join("--" + n.replace("_", "-").replace("topics", "topic") for n in missing)
        raise SettingsError(f"missing required setting(s): {flags}")
    typed: dict[str, Any] = {}
    for name, value in values.items():
        typed[name] = _typed(name, value)
    typed["format"] = canonical_format(typed["format"])
    settings = IngestSettings(**typed)
    _check(settings)
    return settings


def _typed(name: str, value: Any) -> Any:
    if name in _INT_FIELDS:
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise SettingsError(f"{name} must be an integer, got {value!r}") from None
        if number < 0:
            raise SettingsError(f"{name} must not be negative, got {number}")
        return number
    if name == "commit_every_batch":
        return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes")
    if name == "topics":
        items = [value] if isinstance(value, str) else list(value)
        return tuple(t.strip() for item in items for t in item.split(",") if t.strip())
    if name in ("schema", "state_dir"):
        return None if value is None else Path(value)
    return value


def canonical_format(name: str) -> str:
    lowered = name.lower()
    for known in FORMATS:
        if known.lower() == lowered:
            return known
    if lowered in FORMAT_ALIASES:
        return FORMAT_ALIASES[lowered]
    raise SettingsError(f"unknown format {name!r}: one of {', '.join(FORMATS)}")


def _check(settings: IngestSettings) -> None:
    if settings.handle_error_mode not in ("default", "stream"):
        raise SettingsError(
            f"handle_error_mode must be 'default' or 'stream', got {settings.handle_error_mode!r}"
        )
    if settings.auto_offset_reset not in ("earliest", "latest"):
        raise SettingsError(
            f"auto_offset_reset must be 'earliest' or 'latest', got {settings.auto_offset_reset!r}"
        )
    if settings.metrics_port is not None and settings.metrics_port > 65535:
        raise SettingsError(f"metrics_port must be a port number, got {settings.metrics_port}")
    if settings.consumers < 1:
        raise SettingsError("consumers must be at least 1")
    if settings.max_block_size < 1:
        raise SettingsError("max_block_size must be at least 1")
    if settings.format == "Avro" and settings.schema is None:
        raise SettingsError("format Avro needs a schema file: --schema FILE (kafka_schema)")
