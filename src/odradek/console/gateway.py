"""The console's admin client: every read and write the pages make of the cluster's metadata,
offsets, configs and log dirs, as blocking calls on confluent-kafka's AdminClient (the app
runs them on its worker threads, never on the event loop).

Each method returns plain values of ``models`` or raises ``KafkaError`` with a message fit for
a page."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from concurrent.futures import Future
from typing import Any

from confluent_kafka import KafkaException, TopicPartition
from confluent_kafka.admin import (  # type: ignore[attr-defined]  # the module has no __all__
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ConfigSource,
    NewPartitions,
    NewTopic,
    OffsetSpec,
    ResourcePatternType,
    ResourceType,
)

from odradek.common.internal_topics import INTERNAL_TOPICS
from odradek.console import wire
from odradek.console.client_config import client_settings, is_plaintext
from odradek.console.health import partition_health, topics_to_check_min_isr
from odradek.console.models import (
    AclRow,
    Broker,
    ClusterView,
    ConfigValue,
    Health,
    OffsetRange,
    PartitionState,
    Topic,
)
from odradek.protocol.client import WireError

DEFAULT_TIMEOUT_S = 15.0


class KafkaError(Exception):
    """A request the cluster refused or did not answer; ``str()`` is the client's message."""


def wait(future: Future[Any], timeout: float) -> Any:
    """A client future's result, its failure as ``KafkaError``."""
    try:
        return future.result(timeout)
    except KafkaException as exc:
        raise KafkaError(_message(exc)) from exc
    except TimeoutError as exc:
        raise KafkaError(f"no answer within {timeout:.0f} s") from exc


def _message(exc: KafkaException) -> str:
    error = exc.args[0] if exc.args else None
    text = str(error.str()) if error is not None and hasattr(error, "str") else str(exc)
    return text.removeprefix("Broker: ")


class KafkaGateway:
    """One AdminClient for the console's life; thread-safe as the AdminClient is."""

    def __init__(self, settings: Mapping[str, str], timeout: float = DEFAULT_TIMEOUT_S) -> None:
        self.settings = dict(settings)
        self.timeout = timeout
        self.admin = AdminClient(client_settings(self.settings, {"client.id": "odradek-console"}))

    # -- metadata -----------------------------------------------------------------------------

    def cluster(self) -> ClusterView:
        """Brokers (with racks), controller and every topic's partitions."""
        described = self.admin.describe_cluster(request_timeout=self.timeout)
        try:
            metadata = self.admin.list_topics(timeout=self.timeout)
        except KafkaException as exc:
            raise KafkaError(_message(exc)) from exc
        info = wait(described, self.timeout)
        brokers = tuple(
            sorted((Broker(n.id, n.host, n.port, n.rack) for n in info.nodes), key=lambda b: b.id)
        )
        topics = {name: _topic(meta) for name, meta in metadata.topics.items()}
        controller = info.controller.id if info.controller is not None else -1
        return ClusterView(info.cluster_id, controller, brokers, dict(sorted(topics.items())))

    def topic(self, name: str) -> Topic | None:
        """One topic's partitions (a Metadata request naming it alone); None if it does not
        exist."""
        try:
            metadata = self.admin.list_topics(name, timeout=self.timeout)
        except KafkaException as exc:
            raise KafkaError(_message(exc)) from exc
        meta = metadata.topics.get(name)
        if meta is None or (meta.error is not None and not meta.partitions):
            return None
        return _topic(meta)

    def broker_count(self) -> int:
        info = wait(self.admin.describe_cluster(request_timeout=self.timeout), self.timeout)
        return len(info.nodes)

    def health(self, view: ClusterView) -> Health:
        partitions = view.partitions()
        checked = topics_to_check_min_isr(partitions)
        min_isr: dict[str, int] = {}
        if checked:
            configs = self.topic_configs_many(checked)
            for topic, values in configs.items():
                entry = values.get("min.insync.replicas")
                if entry is not None and entry.value is not None:
                    min_isr[topic] = int(entry.value)
        return partition_health(partitions, min_isr)

    def offsets(self, partitions: Iterable[tuple[str, int]]) -> dict[tuple[str, int], OffsetRange]:
        """Log start and end offsets of ``partitions`` (those that fail are left out)."""
        wanted = list(partitions)
        if not wanted:
            return {}
        earliest = self._list_offsets({tp: OffsetSpec.earliest() for tp in wanted})
        latest = self._list_offsets({tp: OffsetSpec.latest() for tp in wanted})
        return {
            tp: OffsetRange(earliest[tp], latest[tp])
            for tp in wanted
            if tp in earliest and tp in latest
        }

    def end_offsets(self, partitions: Iterable[tuple[str, int]]) -> dict[tuple[str, int], int]:
        wanted = list(partitions)
        return self._list_offsets({tp: OffsetSpec.latest() for tp in wanted}) if wanted else {}

    def offsets_for_time(
        self, partitions: Iterable[tuple[str, int]], timestamp_ms: int
    ) -> dict[tuple[str, int], int]:
        """The first offset at or after ``timestamp_ms`` per partition (-1: none is)."""
        wanted = list(partitions)
        spec = OffsetSpec.for_timestamp(timestamp_ms)
        return self._list_offsets(dict.fromkeys(wanted, spec)) if wanted else {}

    def _list_offsets(self, specs: Mapping[tuple[str, int], Any]) -> dict[tuple[str, int], int]:
        request = {TopicPartition(t, p): spec for (t, p), spec in specs.items()}
        futures = self.admin.list_offsets(request, request_timeout=self.timeout)
        result: dict[tuple[str, int], int] = {}
        for tp, future in futures.items():
            try:
                result[(tp.topic, tp.partition)] = int(future.result(self.timeout).offset)
            except KafkaException:
                continue
        return result

    def replica_sizes(
        self, view: ClusterView, topics: Iterable[Topic]
    ) -> dict[tuple[str, int], dict[int, int]] | None:
        """Size on disk of the replicas of ``topics`` (partition -> broker id -> bytes), from
        the DescribeLogDirs of each broker holding one; None when the console cannot ask
        (not a PLAINTEXT connection)."""
        if not is_plaintext(self.settings):
            return None
        sizes: dict[tuple[str, int], dict[int, int]] = {}
        wanted = {t.name: [p.partition for p in t.partitions] for t in topics}
        holders = {r for t in topics for p in t.partitions for r in p.replicas}
        for broker in view.brokers:
            if broker.id not in holders:
                continue
            try:
                dirs = wire.describe_log_dirs(broker.host, broker.port, self.timeout, wanted)
            except WireError:
                continue  # a broker that does not answer: its replicas have no size
            for log_dir in dirs:
                for replica in log_dir.replicas:
                    if not replica.is_future:
                        sizes.setdefault((replica.topic, replica.partition), {})[broker.id] = (
                            replica.size
                        )
        return sizes

    def log_dirs(self, broker: Broker) -> list[wire.LogDir]:
        """A broker's log dirs with their errors and disks' total and usable bytes, without
        the replicas in them (listing every replica costs the broker and the console a
        DescribeLogDirs of every partition: the topic pages ask for their own)."""
        if not is_plaintext(self.settings):
            raise KafkaError("log dirs need a PLAINTEXT connection (the console's kio client)")
        try:
            return wire.describe_log_dirs(broker.host, broker.port, self.timeout, {})
        except WireError as exc:
            raise KafkaError(str(exc)) from exc

    # -- configs ------------------------------------------------------------------------------

    def topic_configs(self, topic: str) -> dict[str, ConfigValue]:
        return self.topic_configs_many([topic])[topic]

    def topic_configs_many(self, topics: Iterable[str]) -> dict[str, dict[str, ConfigValue]]:
        resources = [ConfigResource(ResourceType.TOPIC, name) for name in topics]
        return {r.name: v for r, v in self._describe_configs(resources).items()}

    def broker_configs(self, broker_id: int) -> dict[str, ConfigValue]:
        resource = ConfigResource(ResourceType.BROKER, str(broker_id))
        return next(iter(self._describe_configs([resource]).values()))

    def _describe_configs(self, resources: list[Any]) -> dict[Any, dict[str, ConfigValue]]:
        futures = self.admin.describe_configs(resources, request_timeout=self.timeout)
        result = {}
        for resource, future in futures.items():
            entries = wait(future, self.timeout)
            result[resource] = {
                name: ConfigValue(
                    name,
                    entry.value,
                    _source_name(entry.source),
                    bool(entry.is_read_only),
                    bool(entry.is_sensitive),
                    bool(entry.is_default),
                )
                for name, entry in sorted(entries.items())
            }
        return result

    def set_topic_config(self, topic: str, name: str, value: str | None) -> None:
        """IncrementalAlterConfigs: SET ``name`` to ``value``, or DELETE it (back to the
        default) when ``value`` is None."""
        operation = AlterConfigOpType.DELETE if value is None else AlterConfigOpType.SET
        entry = ConfigEntry(name, value, incremental_operation=operation)
        resource = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=[entry])
        for future in self.admin.incremental_alter_configs(
            [resource], request_timeout=self.timeout
        ).values():
            wait(future, self.timeout)

    # -- topic lifecycle ----------------------------------------------------------------------

    def create_topic(
        self, name: str, partitions: int, replication: int, configs: Mapping[str, str]
    ) -> None:
        new = NewTopic(name, partitions, replication, config=dict(configs))
        for future in self.admin.create_topics([new], request_timeout=self.timeout).values():
            wait(future, self.timeout)

    def add_partitions(self, topic: str, total: int) -> None:
        request = [NewPartitions(topic, total)]
        for future in self.admin.create_partitions(request, request_timeout=self.timeout).values():
            wait(future, self.timeout)

    def delete_records(self, topic: str, before: Mapping[int, int]) -> dict[int, int]:
        """DeleteRecords up to (not including) each partition's offset; the new log starts."""
        request = [TopicPartition(topic, p, offset) for p, offset in before.items()]
        futures = self.admin.delete_records(request, request_timeout=self.timeout)
        return {
            tp.partition: int(wait(future, self.timeout).low_watermark)
            for tp, future in futures.items()
        }

    def delete_topic(self, topic: str) -> None:
        for future in self.admin.delete_topics([topic], request_timeout=self.timeout).values():
            wait(future, self.timeout)

    # -- security -----------------------------------------------------------------------------

    def acls(self) -> list[AclRow]:
        """Every ACL binding (an empty list when the cluster has no authorizer)."""
        # None matches any name, principal and host (confluent-kafka's stubs say str).
        everything = AclBindingFilter(
            ResourceType.ANY,
            None,  # type: ignore[arg-type]
            ResourcePatternType.ANY,
            None,  # type: ignore[arg-type]
            None,  # type: ignore[arg-type]
            AclOperation.ANY,
            AclPermissionType.ANY,
        )
        try:
            bindings = wait(
                self.admin.describe_acls(everything, request_timeout=self.timeout), self.timeout
            )
        except KafkaError as exc:
            if "security is disabled" in str(exc).lower() or "SECURITY_DISABLED" in str(exc):
                return []
            raise
        return sorted(
            AclRow(
                b.restype.name,
                b.name,
                b.resource_pattern_type.name,
                b.principal,
                b.host,
                b.operation.name,
                b.permission_type.name,
            )
            for b in bindings
        )

    def quotas(self, view: ClusterView) -> list[wire.QuotaEntry]:
        if not is_plaintext(self.settings):
            raise KafkaError("quotas need a PLAINTEXT connection (the console's kio client)")
        last: Exception | None = None
        for broker in view.brokers:
            try:
                return wire.describe_client_quotas(broker.host, broker.port, self.timeout)
            except WireError as exc:
                last = exc
        raise KafkaError(str(last or "no broker to ask"))


def _source_name(source: Any) -> str:
    """A config source's name (confluent-kafka reports ``ConfigEntry.source`` as a number)."""
    try:
        return str(ConfigSource(int(source)).name)
    except ValueError:
        return str(source)


def _topic(meta: Any) -> Topic:
    partitions = tuple(
        PartitionState(
            meta.topic,
            p.id,
            p.leader,
            tuple(p.replicas),
            tuple(p.isrs),
            None if p.error is None else p.error.name(),
        )
        for p in sorted(meta.partitions.values(), key=lambda p: p.id)
    )
    error = None if meta.error is None else meta.error.name()
    return Topic(meta.topic, partitions, meta.topic in INTERNAL_TOPICS, error)
