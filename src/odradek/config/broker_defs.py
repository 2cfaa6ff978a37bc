"""The broker's config definitions: Kafka's names, types, defaults and validators (the
broker-only ones, and the broker-wide synonyms of the topic configs), and which of them
AlterConfigs may change without a restart."""

from __future__ import annotations

from odradek.config.definitions import ConfigDef, ConfigType, at_least, one_of
from odradek.config.topic import TOPIC_CONFIG_DEFS, TOPIC_TO_BROKER_SYNONYM

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
    ConfigDef("group.coordinator.append.linger.ms", I, 5, validator=at_least(0)),
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
