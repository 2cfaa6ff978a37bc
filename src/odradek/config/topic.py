"""Topic-level configs: Kafka's names, types and defaults, each with its broker-level synonym."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from odradek.config.definitions import (
    LONG_MAX,
    ConfigDef,
    ConfigType,
    at_least,
    between,
    one_of,
)

B, I, L, D, S, LIST = (
    ConfigType.BOOLEAN,
    ConfigType.INT,
    ConfigType.LONG,
    ConfigType.DOUBLE,
    ConfigType.STRING,
    ConfigType.LIST,
)
COMPRESSION_TYPES = ("uncompressed", "zstd", "lz4", "snappy", "gzip", "producer")

# (definition, broker synonym) — the broker synonym supplies the default when the topic has none.
_TOPIC_CONFIGS: tuple[tuple[ConfigDef, str | None], ...] = (
    (
        ConfigDef("cleanup.policy", LIST, ["delete"], validator=one_of("delete", "compact")),
        "log.cleanup.policy",
    ),
    (
        ConfigDef("compression.type", S, "producer", validator=one_of(*COMPRESSION_TYPES)),
        "compression.type",
    ),
    (ConfigDef("compression.gzip.level", I, -1), "compression.gzip.level"),
    (ConfigDef("compression.lz4.level", I, 9), "compression.lz4.level"),
    (ConfigDef("compression.zstd.level", I, 3), "compression.zstd.level"),
    (
        ConfigDef("delete.retention.ms", L, 86_400_000, validator=at_least(0)),
        "log.cleaner.delete.retention.ms",
    ),
    (
        ConfigDef("file.delete.delay.ms", L, 60_000, validator=at_least(0)),
        "log.segment.delete.delay.ms",
    ),
    (
        ConfigDef("flush.messages", L, LONG_MAX, validator=at_least(1)),
        "log.flush.interval.messages",
    ),
    (ConfigDef("flush.ms", L, LONG_MAX, validator=at_least(0)), "log.flush.interval.ms"),
    (ConfigDef("follower.replication.throttled.replicas", LIST, []), None),
    (ConfigDef("index.interval.bytes", I, 4096, validator=at_least(0)), "log.index.interval.bytes"),
    (ConfigDef("leader.replication.throttled.replicas", LIST, []), None),
    (ConfigDef("local.retention.bytes", L, -2), "log.local.retention.bytes"),
    (ConfigDef("local.retention.ms", L, -2), "log.local.retention.ms"),
    (
        ConfigDef("max.compaction.lag.ms", L, LONG_MAX, validator=at_least(1)),
        "log.cleaner.max.compaction.lag.ms",
    ),
    (ConfigDef("max.message.bytes", I, 1_048_588, validator=at_least(0)), "message.max.bytes"),
    (ConfigDef("message.downconversion.enable", B, True), "log.message.downconversion.enable"),
    (ConfigDef("message.format.version", S, "3.0-IV1"), "log.message.format.version"),
    (
        ConfigDef("message.timestamp.after.max.ms", L, LONG_MAX, validator=at_least(0)),
        "log.message.timestamp.after.max.ms",
    ),
    (
        ConfigDef("message.timestamp.before.max.ms", L, LONG_MAX, validator=at_least(0)),
        "log.message.timestamp.before.max.ms",
    ),
    (
        ConfigDef("message.timestamp.difference.max.ms", L, LONG_MAX, validator=at_least(0)),
        "log.message.timestamp.difference.max.ms",
    ),
    (
        ConfigDef(
            "message.timestamp.type",
            S,
            "CreateTime",
            validator=one_of("CreateTime", "LogAppendTime"),
        ),
        "log.message.timestamp.type",
    ),
    (
        ConfigDef("min.cleanable.dirty.ratio", D, 0.5, validator=between(0, 1)),
        "log.cleaner.min.cleanable.ratio",
    ),
    (
        ConfigDef("min.compaction.lag.ms", L, 0, validator=at_least(0)),
        "log.cleaner.min.compaction.lag.ms",
    ),
    (ConfigDef("min.insync.replicas", I, 1, validator=at_least(1)), "min.insync.replicas"),
    (ConfigDef("preallocate", B, False), "log.preallocate"),
    (ConfigDef("remote.storage.enable", B, False), None),
    (ConfigDef("remote.log.copy.disable", B, False), None),
    (ConfigDef("remote.log.delete.on.disable", B, False), None),
    (ConfigDef("retention.bytes", L, -1), "log.retention.bytes"),
    (ConfigDef("retention.ms", L, 604_800_000, validator=at_least(-1)), "log.retention.ms"),
    (ConfigDef("segment.bytes", I, 1_073_741_824, validator=at_least(14)), "log.segment.bytes"),
    (
        ConfigDef("segment.index.bytes", I, 10_485_760, validator=at_least(4)),
        "log.index.size.max.bytes",
    ),
    (ConfigDef("segment.jitter.ms", L, 0, validator=at_least(0)), "log.roll.jitter.ms"),
    (ConfigDef("segment.ms", L, 604_800_000, validator=at_least(1)), "log.roll.ms"),
    (ConfigDef("unclean.leader.election.enable", B, False), "unclean.leader.election.enable"),
)

TOPIC_CONFIG_DEFS: Mapping[str, ConfigDef] = {d.name: d for d, _ in _TOPIC_CONFIGS}
TOPIC_TO_BROKER_SYNONYM: Mapping[str, str] = {d.name: s for d, s in _TOPIC_CONFIGS if s}


@dataclass(frozen=True, slots=True)
class LogConfig:
    """The effective configuration of one log: topic overrides over broker defaults."""

    values: Mapping[str, Any]

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    @property
    def segment_bytes(self) -> int:
        return int(self.values["segment.bytes"])

    @property
    def segment_ms(self) -> int:
        return int(self.values["segment.ms"])

    @property
    def segment_index_bytes(self) -> int:
        return int(self.values["segment.index.bytes"])

    @property
    def index_interval_bytes(self) -> int:
        return int(self.values["index.interval.bytes"])

    @property
    def max_message_bytes(self) -> int:
        return int(self.values["max.message.bytes"])

    @property
    def log_append_time(self) -> bool:
        return bool(self.values["message.timestamp.type"] == "LogAppendTime")

    @property
    def compact(self) -> bool:
        return "compact" in self.values["cleanup.policy"]

    @property
    def target_compression(self) -> int | None:
        """The codec batches are stored with, or None to keep the producer's."""
        name = str(self.values["compression.type"])
        codes = {"uncompressed": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}
        return codes.get(name)

    @property
    def delete(self) -> bool:
        return "delete" in self.values["cleanup.policy"]


def validate_topic_configs(raw: Mapping[str, str | None]) -> dict[str, Any]:
    """Parse topic overrides; an unknown name or a bad value raises InvalidConfigError."""
    from odradek.common.errors import InvalidConfigError

    parsed: dict[str, Any] = {}
    for name, value in raw.items():
        definition = TOPIC_CONFIG_DEFS.get(name)
        if definition is None:
            raise InvalidConfigError(f"Unknown topic config name: {name}")
        parsed[name] = definition.parse(value)
    return parsed


def effective_log_config(
    broker_defaults: Mapping[str, Any], overrides: Mapping[str, Any]
) -> LogConfig:
    values = dict(broker_defaults)
    values.update(overrides)
    return LogConfig(values)
