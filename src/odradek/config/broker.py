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
from odradek.config.definitions import ConfigDef, ConfigType, at_least, one_of
from odradek.config.kafka_names import KAFKA_BROKER_CONFIG_NAMES
from odradek.config.properties import parse_properties
from odradek.config.topic import TOPIC_CONFIG_DEFS, TOPIC_TO_BROKER_SYNONYM, LogConfig

log = logging.getLogger(__name__)

B, I, L, D, S, LIST = (
    ConfigType.BOOLEAN,
    ConfigType.INT,
    ConfigType.LONG,
    ConfigType.DOUBLE,
    ConfigType.STRING,
    ConfigType.LIST,
)

_BROKER_ONLY: tuple[ConfigDef, ...] = (
    ConfigDef("broker.id", I, -1),
    ConfigDef("node.id", I, -1),
    ConfigDef("broker.rack", S, None),
    ConfigDef("listeners", LIST, ["PLAINTEXT://:9092"]),
    ConfigDef("advertised.listeners", LIST, None),
    ConfigDef(
        "listener.security.protocol.map",
        LIST,
        ["PLAINTEXT:PLAINTEXT", "SSL:SSL", "SASL_PLAINTEXT:SASL_PLAINTEXT", "SASL_SSL:SASL_SSL"],
    ),
    ConfigDef("log.dirs", LIST, None),
    ConfigDef("log.dir", S, "/tmp/kafka-logs"),
    ConfigDef("num.partitions", I, 1, validator=at_least(1)),
    ConfigDef("default.replication.factor", I, 1, validator=at_least(1)),
    ConfigDef("auto.create.topics.enable", B, True),
    ConfigDef("delete.topic.enable", B, True),
    ConfigDef("socket.request.max.bytes", I, 104_857_600, validator=at_least(1)),
    # Connection limits (server/connection_quotas.py), as Kafka's SocketServer applies them.
    ConfigDef("connections.max.idle.ms", L, 600_000),
    ConfigDef("max.connections", I, 2**31 - 1, validator=at_least(0), dynamic=True),
    ConfigDef("max.connections.per.ip", I, 2**31 - 1, validator=at_least(0), dynamic=True),
    ConfigDef("max.connections.per.ip.overrides", S, "", dynamic=True),
    ConfigDef("max.connection.creation.rate", I, 2**31 - 1, validator=at_least(0), dynamic=True),
    ConfigDef("queued.max.request.bytes", L, -1),
    ConfigDef("socket.send.buffer.bytes", I, 102_400),
    ConfigDef("socket.receive.buffer.bytes", I, 102_400),
    ConfigDef("num.network.threads", I, 3, validator=at_least(1), dynamic=True),
    ConfigDef("num.io.threads", I, 8, validator=at_least(1), dynamic=True),
    ConfigDef("num.recovery.threads.per.data.dir", I, 1, validator=at_least(1)),
    ConfigDef("log.roll.hours", I, 168, validator=at_least(1)),
    ConfigDef("log.roll.jitter.hours", I, 0, validator=at_least(0)),
    ConfigDef("log.retention.hours", I, 168),
    ConfigDef("log.retention.minutes", I, None),
    ConfigDef("log.retention.check.interval.ms", L, 300_000, validator=at_least(1)),
    ConfigDef("log.initial.task.delay.ms", L, 30_000, validator=at_least(0)),
    ConfigDef("log.flush.offset.checkpoint.interval.ms", I, 60_000, validator=at_least(0)),
    ConfigDef("log.flush.start.offset.checkpoint.interval.ms", I, 60_000),
    ConfigDef("log.flush.scheduler.interval.ms", L, 2**63 - 1),
    ConfigDef("log.cleaner.enable", B, True),
    ConfigDef("log.cleaner.threads", I, 1, validator=at_least(0)),
    ConfigDef("log.cleaner.backoff.ms", L, 15_000, validator=at_least(0)),
    ConfigDef("log.cleaner.dedupe.buffer.size", L, 134_217_728, validator=at_least(1)),
    ConfigDef("offsets.topic.num.partitions", I, 50, validator=at_least(1)),
    ConfigDef("offsets.topic.replication.factor", I, 3, validator=at_least(1)),
    ConfigDef("offsets.retention.minutes", I, 10_080, validator=at_least(1)),
    ConfigDef("transaction.state.log.num.partitions", I, 50, validator=at_least(1)),
    ConfigDef("transaction.state.log.replication.factor", I, 3, validator=at_least(1)),
    ConfigDef("transaction.max.timeout.ms", I, 900_000, validator=at_least(1)),
    ConfigDef("transactional.id.expiration.ms", I, 604_800_000, validator=at_least(1)),
    ConfigDef(
        "transaction.abort.timed.out.transaction.cleanup.interval.ms",
        I,
        10_000,
        validator=at_least(1),
    ),
    ConfigDef(
        "transaction.remove.expired.transaction.cleanup.interval.ms",
        I,
        3_600_000,
        validator=at_least(1),
    ),
    ConfigDef("transaction.state.log.segment.bytes", I, 104_857_600, validator=at_least(1)),
    ConfigDef("producer.id.expiration.ms", I, 86_400_000, validator=at_least(1)),
    ConfigDef("producer.id.expiration.check.interval.ms", I, 600_000, validator=at_least(1)),
    ConfigDef("group.initial.rebalance.delay.ms", I, 3000, validator=at_least(0)),
    ConfigDef("telemetry.max.bytes", I, 1_048_576, validator=at_least(1)),
    ConfigDef("group.min.session.timeout.ms", I, 6000),
    ConfigDef("group.max.session.timeout.ms", I, 1_800_000),
    ConfigDef("group.max.size", I, 2**31 - 1, validator=at_least(1)),
    # KIP-848's consumer group protocol (Kafka 4.0's defaults).
    ConfigDef(
        "group.coordinator.rebalance.protocols",
        LIST,
        ["classic", "consumer"],
        validator=one_of("classic", "consumer"),
    ),
    ConfigDef("group.consumer.assignors", LIST, ["uniform", "range"]),
    ConfigDef("group.consumer.session.timeout.ms", I, 45_000, validator=at_least(1)),
    ConfigDef("group.consumer.min.session.timeout.ms", I, 45_000, validator=at_least(1)),
    ConfigDef("group.consumer.max.session.timeout.ms", I, 60_000, validator=at_least(1)),
    ConfigDef("group.consumer.heartbeat.interval.ms", I, 5000, validator=at_least(1)),
    ConfigDef("group.consumer.min.heartbeat.interval.ms", I, 5000, validator=at_least(1)),
    ConfigDef("group.consumer.max.heartbeat.interval.ms", I, 15_000, validator=at_least(1)),
    ConfigDef("group.consumer.max.size", I, 2**31 - 1, validator=at_least(1)),
    ConfigDef(
        "group.consumer.migration.policy",
        S,
        "bidirectional",
        validator=one_of(
            "disabled", "upgrade", "downgrade", "bidirectional", case_insensitive=True
        ),
    ),
    # KIP-227's fetch session cache.
    ConfigDef("max.incremental.fetch.session.cache.slots", I, 1000, validator=at_least(0)),
    ConfigDef("min.incremental.fetch.session.eviction.ms", I, 120_000, validator=at_least(0)),
    ConfigDef("offset.metadata.max.bytes", I, 4096),
    ConfigDef("offsets.retention.check.interval.ms", L, 600_000, validator=at_least(1)),
    ConfigDef("offsets.topic.segment.bytes", I, 104_857_600, validator=at_least(1)),
    ConfigDef("zookeeper.connect", S, None),
    ConfigDef("zookeeper.session.timeout.ms", I, 18_000),
    ConfigDef("zookeeper.connection.timeout.ms", I, None),
    ConfigDef("replica.lag.time.max.ms", L, 30_000),
    ConfigDef("replica.fetch.max.bytes", I, 1_048_576, validator=at_least(0)),
    ConfigDef("replica.fetch.min.bytes", I, 1, validator=at_least(1)),
    ConfigDef("replica.fetch.wait.max.ms", I, 500, validator=at_least(0)),
    ConfigDef("replica.fetch.response.max.bytes", I, 10_485_760, validator=at_least(0)),
    ConfigDef("replica.fetch.backoff.ms", I, 1000, validator=at_least(0)),
    ConfigDef("replica.socket.timeout.ms", I, 30_000),
    ConfigDef("replica.high.watermark.checkpoint.interval.ms", L, 5000, validator=at_least(1)),
    ConfigDef("num.replica.fetchers", I, 1, validator=at_least(1), dynamic=True),
    ConfigDef("auto.leader.rebalance.enable", B, True),
    ConfigDef("leader.imbalance.check.interval.seconds", L, 300, validator=at_least(1)),
    ConfigDef("leader.imbalance.per.broker.percentage", I, 10, validator=at_least(0)),
    ConfigDef("controlled.shutdown.enable", B, True),
    ConfigDef("controlled.shutdown.max.retries", I, 3),
    ConfigDef("controlled.shutdown.retry.backoff.ms", L, 5000),
    ConfigDef("controller.socket.timeout.ms", I, 30_000),
    ConfigDef("transaction.state.log.min.isr", I, 2, validator=at_least(1)),
    ConfigDef("offsets.commit.required.acks", I, -1),
    ConfigDef("offsets.commit.timeout.ms", I, 5000, validator=at_least(1)),
    # Replication throttles (kafka-reassign-partitions --throttle sets and clears them);
    # accepted and stored, not enforced.
    ConfigDef(
        "leader.replication.throttled.rate", L, 2**63 - 1, validator=at_least(1), dynamic=True
    ),
    ConfigDef(
        "follower.replication.throttled.rate", L, 2**63 - 1, validator=at_least(1), dynamic=True
    ),
    ConfigDef(
        "replica.alter.log.dirs.io.max.bytes.per.second",
        L,
        2**63 - 1,
        validator=at_least(1),
        dynamic=True,
    ),
    # The metrics endpoint (Prometheus /metrics, Jolokia /jolokia): off when unset or
    # negative, 0 picks a free port; metrics.host defaults to the first listener's host.
    ConfigDef("metrics.port", I, None, validator=at_least(-1)),
    ConfigDef("metrics.host", S, None),
    ConfigDef("process.roles", LIST, [], validator=one_of("broker", "controller")),
    ConfigDef("controller.quorum.voters", LIST, []),
    ConfigDef("controller.listener.names", S, None),
    ConfigDef("inter.broker.listener.name", S, None),
    # Security (docs/security.md). Settings the broker cannot honour stop startup
    # (odradek.security.listener_security): never fail open.
    ConfigDef(
        "security.inter.broker.protocol",
        S,
        "PLAINTEXT",
        validator=one_of("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"),
    ),
    ConfigDef("sasl.enabled.mechanisms", LIST, ["GSSAPI"]),
    ConfigDef("sasl.mechanism.inter.broker.protocol", S, "GSSAPI"),
    ConfigDef("sasl.kerberos.min.time.before.relogin", L, 60000, dynamic=True),
    # Dynamic in Kafka and accepted by AlterConfigs; odradek's value has no effect (yet).
    ConfigDef("background.threads", I, 10, validator=at_least(1), dynamic=True),
    ConfigDef("log.cleaner.io.buffer.load.factor", D, 0.9, dynamic=True),
    ConfigDef("log.cleaner.io.buffer.size", I, 524288, validator=at_least(0), dynamic=True),
    ConfigDef("log.cleaner.io.max.bytes.per.second", D, 1.7976931348623157e308, dynamic=True),
    ConfigDef("metric.reporters", LIST, [], dynamic=True),
    ConfigDef("transaction.partition.verification.enable", B, True, dynamic=True),
    ConfigDef("connections.max.reauth.ms", L, 0, validator=at_least(0)),
    ConfigDef("connection.failed.authentication.delay.ms", I, 100, validator=at_least(0)),
    ConfigDef("authorizer.class.name", S, ""),
    ConfigDef("super.users", S, None),
    ConfigDef("allow.everyone.if.no.acl.found", B, False),
    ConfigDef("ssl.principal.mapping.rules", S, "DEFAULT"),
    # Client quotas: the rate is measured over quota.window.num windows of this many seconds.
    ConfigDef("quota.window.num", I, 11, validator=at_least(1)),
    ConfigDef("quota.window.size.seconds", I, 1, validator=at_least(1)),
    ConfigDef("ssl.client.auth", S, "none", validator=one_of("none", "requested", "required")),
)

BROKER_CONFIG_DEFS: dict[str, ConfigDef] = {d.name: d for d in _BROKER_ONLY}
for _topic_name, _synonym in TOPIC_TO_BROKER_SYNONYM.items():
    _topic_def = TOPIC_CONFIG_DEFS[_topic_name]
    if _synonym not in BROKER_CONFIG_DEFS:
        BROKER_CONFIG_DEFS[_synonym] = ConfigDef(
            _synonym, _topic_def.type, _topic_def.default, validator=_topic_def.validator
        )
# Time-based synonyms: the *.ms form has no default of its own; it comes from hours/minutes.
for _ms_name in ("log.retention.ms", "log.roll.ms", "log.roll.jitter.ms"):
    BROKER_CONFIG_DEFS[_ms_name] = ConfigDef(
        _ms_name, L, None, validator=BROKER_CONFIG_DEFS[_ms_name].validator
    )

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


# Broker configs Kafka lets AlterConfigs change without a restart (DynamicBrokerConfig):
# the log defaults of every topic config, and the thread pools and cleaner settings.
DYNAMIC_BROKER_CONFIGS: frozenset[str] = frozenset(
    set(TOPIC_TO_BROKER_SYNONYM.values())
    | {
        "log.retention.hours",
        "log.retention.minutes",
        "log.roll.hours",
        "log.roll.jitter.hours",
        "num.io.threads",
        "num.network.threads",
        "num.replica.fetchers",
        "num.recovery.threads.per.data.dir",
        "background.threads",
        "log.cleaner.threads",
        "log.cleaner.dedupe.buffer.size",
        "log.cleaner.io.buffer.size",
        "log.cleaner.io.max.bytes.per.second",
        "log.cleaner.backoff.ms",
        "log.cleaner.io.buffer.load.factor",
        "max.connections",
        "max.connections.per.ip",
        "max.connections.per.ip.overrides",
        "max.connection.creation.rate",
        "metric.reporters",
        "producer.id.expiration.ms",
        "transaction.partition.verification.enable",
        "follower.replication.throttled.rate",
        "leader.replication.throttled.rate",
        "replica.alter.log.dirs.io.max.bytes.per.second",
        "log.message.downconversion.enable",
        "sasl.kerberos.min.time.before.relogin",
    }
)
