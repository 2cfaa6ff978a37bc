"""Broker configs: Kafka's names and defaults, parsed from server.properties, overrides and env.

Unknown names that are valid Kafka broker configs are accepted and reported as having no effect
yet; anything else (a typo) stops startup with a clear message, as does an invalid value.

Environment variables (see :func:`env_overrides`): ``ODRADEK_NUM_PARTITIONS=3`` and, as in
Apache Kafka's and Confluent's Docker images, ``KAFKA_NUM_PARTITIONS=3`` both set
``num.partitions``. Precedence, lowest first: embedded defaults, the properties file,
``KAFKA_*``, ``ODRADEK_*``, ``--override``.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from odradek.common.errors import ConfigError, InvalidConfigError
from odradek.config.broker_defs import BROKER_CONFIG_DEFS
from odradek.config.kafka_names import KAFKA_BROKER_CONFIG_NAMES
from odradek.config.properties import parse_properties
from odradek.config.topic import TOPIC_CONFIG_DEFS, TOPIC_TO_BROKER_SYNONYM, LogConfig

log = logging.getLogger(__name__)

EMBEDDED_DEFAULTS: Mapping[str, str] = {
    "node.id": "0",
    "listeners": "PLAINTEXT://127.0.0.1:9092",
    "log.dirs": "./odradek-data",
    "offsets.topic.replication.factor": "1",
    "transaction.state.log.replication.factor": "1",
    "metrics.port": "9404",  # odradek.observability.http.DEFAULT_PORT
}

ENV_PREFIX = "ODRADEK_"
KAFKA_ENV_PREFIX = "KAFKA_"

# KAFKA_* variables that are not broker configs: the ones Apache Kafka's image leaves out of
# server.properties (docker/resources/common-scripts/kafka-propertiesSpec.json, the same list
# as Confluent's cp-kafka), those kafka-run-class.sh and cp-kafka's launch script read, and
# KAFKA_HOME. Names that map to no broker config (Kubernetes' service links for a Service
# called "kafka": KAFKA_PORT, KAFKA_SERVICE_HOST, ...) are skipped without being listed here.
KAFKA_ENV_NOT_CONFIGS: frozenset[str] = frozenset(
    {
        "KAFKA_VERSION",
        "KAFKA_HEAP_OPTS",
        "KAFKA_LOG4J_OPTS",
        "KAFKA_OPTS",
        "KAFKA_JMX_OPTS",
        "KAFKA_JVM_PERFORMANCE_OPTS",
        "KAFKA_GC_LOG_OPTS",
        "KAFKA_LOG4J_ROOT_LOGLEVEL",
        "KAFKA_LOG4J_LOGGERS",
        "KAFKA_TOOLS_LOG4J_LOGLEVEL",
        "KAFKA_DEBUG",
        "KAFKA_HOME",
        "KAFKA_JMX_PORT",
        "KAFKA_JMX_HOSTNAME",
    }
)

_UNDERSCORES = re.compile(r"_+")
_RUN_MEANING = {1: ".", 2: "_", 3: "-"}  # Kafka's images: ub ConvertKey (docker/resources/ub)
# Lower case -> Kafka's spelling (one broker config is camel case: zookeeper.clientCnxnSocket,
# which cp-kafka also takes as KAFKA_ZOOKEEPER_CLIENT_CNXN_SOCKET).
_CANONICAL_NAMES: dict[str, str] = {
    name.lower(): name for name in (*BROKER_CONFIG_DEFS, *KAFKA_BROKER_CONFIG_NAMES)
}
_ENV_RENAMED = {"ZOOKEEPER_CLIENT_CNXN_SOCKET": "zookeeper.clientCnxnSocket"}


@dataclass(frozen=True, slots=True)
class Listener:
    name: str
    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> Listener:
        try:
            name, rest = text.split("://", 1)
            host, port_text = rest.rsplit(":", 1)
            port = int(port_text)
        except ValueError as exc:
            raise ConfigError(f"Invalid listener {text!r}: expected NAME://host:port") from exc
        if not 0 <= port <= 65535:
            raise ConfigError(f"Invalid listener {text!r}: port out of range")
        return cls(name.upper(), host.strip("[]"), port)

    def __str__(self) -> str:
        return f"{self.name}://{self.host}:{self.port}"


@dataclass(slots=True)
class BrokerConfig:
    """Parsed broker configuration: explicitly set values plus Kafka's defaults."""

    explicit: dict[str, Any] = field(default_factory=dict)
    unknown_valid: dict[str, str] = field(default_factory=dict)
    dynamic_broker: dict[str, Any] = field(default_factory=dict)  # this broker's dynamic configs
    dynamic_default: dict[str, Any] = field(default_factory=dict)  # cluster-wide dynamic

    def get(self, name: str) -> Any:
        for layer in (self.dynamic_broker, self.dynamic_default, self.explicit):
            if name in layer:
                return layer[name]
        return BROKER_CONFIG_DEFS[name].default

    def is_set(self, name: str) -> bool:
        return name in self.dynamic_broker or name in self.dynamic_default or name in self.explicit

    @property
    def node_id(self) -> int:
        node_id = int(self.get("node.id"))
        return node_id if node_id >= 0 else max(int(self.get("broker.id")), 0)

    @property
    def listeners(self) -> list[Listener]:
        return [Listener.parse(text) for text in self.get("listeners")]

    @property
    def advertised_listeners(self) -> list[Listener]:
        advertised = self.get("advertised.listeners")
        if not advertised:
            return self.listeners
        return [Listener.parse(text) for text in advertised]

    @property
    def log_dirs(self) -> list[Path]:
        dirs = self.get("log.dirs") or [self.get("log.dir")]
        return [Path(d) for d in dirs]

    def retention_ms(self) -> int:
        if self.is_set("log.retention.ms"):
            return int(self.get("log.retention.ms"))
        if self.is_set("log.retention.minutes"):
            return int(self.get("log.retention.minutes")) * 60_000
        return int(self.get("log.retention.hours")) * 3_600_000

    def roll_ms(self) -> int:
        if self.is_set("log.roll.ms"):
            return int(self.get("log.roll.ms"))
        return int(self.get("log.roll.hours")) * 3_600_000

    def roll_jitter_ms(self) -> int:
        if self.is_set("log.roll.jitter.ms"):
            return int(self.get("log.roll.jitter.ms"))
        return int(self.get("log.roll.jitter.hours")) * 3_600_000

    def topic_defaults(self) -> dict[str, Any]:
        """The broker-level default of every topic config (the DEFAULT_CONFIG source)."""
        defaults = {name: d.default for name, d in TOPIC_CONFIG_DEFS.items()}
        for topic_name, synonym in TOPIC_TO_BROKER_SYNONYM.items():
            if self.is_set(synonym):
                defaults[topic_name] = self.get(synonym)
        defaults["retention.ms"] = self.retention_ms()
        defaults["segment.ms"] = self.roll_ms()
        defaults["segment.jitter.ms"] = self.roll_jitter_ms()
        return defaults

    def log_config(self, overrides: Mapping[str, Any] | None = None) -> LogConfig:
        values = self.topic_defaults()
        values.update(overrides or {})
        return LogConfig(values)


def env_key_to_name(suffix: str) -> str | None:
    """Kafka's Docker images' rule for a variable's name after its prefix: ``_`` stands for
    ``.``, ``__`` for ``_`` and ``___`` for ``-``, in lower case (``LOG_DIRS`` is
    ``log.dirs``). None for four or more underscores in a row, which the rule leaves
    undefined."""
    parts = []
    position = 0
    for run in _UNDERSCORES.finditer(suffix):
        meaning = _RUN_MEANING.get(len(run.group()))
        if meaning is None:
            return None
        parts += [suffix[position : run.start()], meaning]
        position = run.end()
    parts.append(suffix[position:])
    return "".join(parts).lower()


def env_config_name(suffix: str) -> str | None:
    """The broker config (odradek's or Kafka's, in Kafka's spelling) a variable names after
    its prefix, or None."""
    if suffix in _ENV_RENAMED:
        return _ENV_RENAMED[suffix]
    name = env_key_to_name(suffix)
    return None if name is None else _CANONICAL_NAMES.get(name)


def env_overrides(environ: Mapping[str, str]) -> dict[str, str]:
    """Broker configs from ``ODRADEK_*`` and ``KAFKA_*`` variables (:func:`env_config_name`):
    ``ODRADEK_LOG_DIRS=x`` and ``KAFKA_LOG_DIRS=x`` both mean ``log.dirs=x``; when both name
    the same config, ``ODRADEK_*`` wins.

    Only names that are broker configs (odradek's or Kafka's) are taken; others are skipped
    with a debug log line, not an error: the environment is shared with other tools (test
    harnesses, wrappers, the JVM settings Kafka's scripts read such as ``KAFKA_HEAP_OPTS``,
    Kubernetes service links such as ``KAFKA_PORT``). A config taken here is then checked like
    any other: an invalid value stops startup."""
    from_kafka: dict[str, str] = {}
    from_odradek: dict[str, str] = {}
    for key, value in sorted(environ.items()):
        if key.startswith(ENV_PREFIX):
            prefix, result = ENV_PREFIX, from_odradek
        elif key.startswith(KAFKA_ENV_PREFIX):
            if key in KAFKA_ENV_NOT_CONFIGS:
                log.debug(
                    "ignoring environment variable %s: Kafka's images do not take it "
                    "as a broker config",
                    key,
                )
                continue
            prefix, result = KAFKA_ENV_PREFIX, from_kafka
        else:
            continue
        name = env_config_name(key[len(prefix) :])
        if name is None:
            log.debug("ignoring environment variable %s: not a broker config", key)
            continue
        result[name] = value
    return {**from_kafka, **from_odradek}


def load_broker_config(
    properties_file: Path | None = None,
    overrides: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
    embedded_defaults: bool = True,
) -> BrokerConfig:
    """Layer: embedded defaults < properties file < KAFKA_* < ODRADEK_* < --override."""
    user: dict[str, str] = {}
    if properties_file is not None:
        try:
            text = properties_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"Cannot read {properties_file}: {exc.strerror}") from exc
        user.update(parse_properties(text))
    user.update(env_overrides(os.environ if environ is None else environ))
    user.update(overrides or {})
    raw: dict[str, str] = dict(EMBEDDED_DEFAULTS) if embedded_defaults else {}
    if "broker.id" in user:
        raw.pop("node.id", None)  # the user named the broker: no embedded id to clash with
    if user.get("zookeeper.connect"):
        # A cluster: Kafka's own defaults (replication factor 3) for the internal topics.
        raw.pop("offsets.topic.replication.factor", None)
        raw.pop("transaction.state.log.replication.factor", None)
    raw.update(user)
    return build_broker_config(raw)


def build_broker_config(raw: Mapping[str, str]) -> BrokerConfig:
    config = BrokerConfig()
    for name, value in raw.items():
        definition = BROKER_CONFIG_DEFS.get(name)
        if definition is None:
            if name in KAFKA_BROKER_CONFIG_NAMES or name.startswith(
                ("listener.name.", "ssl.", "sasl.", "confluent.")
            ):
                config.unknown_valid[name] = value
                continue
            raise ConfigError(
                f"Unknown broker config {name!r}: not a Kafka broker config (is it misspelt?)"
            )
        try:
            config.explicit[name] = definition.parse(value)
        except InvalidConfigError as exc:
            raise ConfigError(str(exc)) from exc
    _check_consistency(config)
    return config


def _check_consistency(config: BrokerConfig) -> None:
    if config.is_set("node.id") and config.is_set("broker.id"):
        node_id, broker_id = config.get("node.id"), config.get("broker.id")
        if node_id >= 0 and broker_id >= 0 and node_id != broker_id:
            raise ConfigError(f"node.id ({node_id}) and broker.id ({broker_id}) differ")
    listeners = config.listeners
    if not listeners:
        raise ConfigError("listeners must name at least one listener")
    config.advertised_listeners  # noqa: B018 - parsed for validation
    if config.log_dirs == []:
        raise ConfigError("log.dirs must name at least one directory")
