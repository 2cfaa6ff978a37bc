"""A minimal blocking Kafka client for the admin requests confluent-kafka does not expose:
ListTransactions, DescribeTransactions, DescribeProducers and WriteTxnMarkers.

Requests and responses are kio entities, sent over the kio client the tools share
(``odradek.protocol.client.KioConnection``). A :class:`Cluster` bootstraps like Kafka's
AdminClient: ApiVersions and Metadata on the first reachable bootstrap server, then
FindCoordinator for transactional ids; each request goes to the broker that must answer it
(coordinator or partition leader), at the highest version both sides support. PLAINTEXT
only. Not thread-safe.
"""

from __future__ import annotations

import dataclasses
import socket
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import timedelta
from types import GenericAlias, ModuleType
from typing import Any, TypeVar

from kio.schema.describe_transactions.v0 import response as describe_transactions_v0
from kio.schema.errors import ErrorCode
from kio.static.primitive import i32, i64

from odradek.protocol.client import (
    API_VERSIONS,
    ConnectionClosedError,
    KioConnection,
    WireError,
    request_module,
)

METADATA = 3
FIND_COORDINATOR = 10
WRITE_TXN_MARKERS = 27
DESCRIBE_PRODUCERS = 61
DESCRIBE_TRANSACTIONS = 65
LIST_TRANSACTIONS = 66
TRANSACTION_KEY_TYPE = 1

# Versions this client can build and read, newest first.
SUPPORTED: dict[int, tuple[int, ...]] = {
    METADATA: (12, 9, 4, 1),
    FIND_COORDINATOR: (4, 3, 2, 1),
    WRITE_TXN_MARKERS: (1,),
    DESCRIBE_PRODUCERS: (0,),
    DESCRIBE_TRANSACTIONS: (0,),
    LIST_TRANSACTIONS: (1, 0),
}
API_NAMES = {
    METADATA: "Metadata",
    FIND_COORDINATOR: "FindCoordinator",
    WRITE_TXN_MARKERS: "WriteTxnMarkers",
    DESCRIBE_PRODUCERS: "DescribeProducers",
    DESCRIBE_TRANSACTIONS: "DescribeTransactions",
    LIST_TRANSACTIONS: "ListTransactions",
}

# The messages of Kafka's org.apache.kafka.common.protocol.Errors for the codes these requests
# answer; others are shown by name.
MESSAGES = {
    ErrorCode.unknown_server_error: "The server experienced an unexpected error when "
    "processing the request.",
    ErrorCode.unknown_topic_or_partition: "This server does not host this topic-partition.",
    ErrorCode.not_leader_or_follower: "For requests intended only for the leader, this error "
    "indicates that the broker is not the current leader.",
    ErrorCode.coordinator_load_in_progress: "The coordinator is loading and hence can't "
    "process requests.",
    ErrorCode.coordinator_not_available: "The coordinator is not available.",
    ErrorCode.not_coordinator: "This is not the correct coordinator.",
    ErrorCode.invalid_request: "This most likely occurs because of a request being malformed "
    "by the client library or the message was sent to an "
    "incompatible broker. See the broker logs for more details.",
    ErrorCode.cluster_authorization_failed: "Cluster authorization failed.",
    ErrorCode.transactional_id_authorization_failed: "Transactional Id authorization failed.",
    ErrorCode.invalid_producer_epoch: "Producer attempted to produce with an old epoch.",
    ErrorCode.producer_fenced: "There is a newer producer with the same transactionalId which "
    "fences the current one.",
    ErrorCode.transaction_coordinator_fenced: "Indicates that the transaction coordinator "
    "sending a WriteTxnMarker is no longer the "
    "current coordinator for a given producer.",
    ErrorCode.transactional_id_not_found: "The transactionalId could not be found.",
    ErrorCode.unsupported_version: "The version of API is not supported.",
}

T = TypeVar("T")


class ClientError(Exception):
    """A request could not be made or answered (no broker, no route, a failed call)."""


class KafkaProtocolError(ClientError):
    """A Kafka error code in a response."""

    def __init__(self, code: int, message: str | None = None) -> None:
        self.code = ErrorCode(code)
        super().__init__(message or describe_error(code))

    @property
    def retriable(self) -> bool:
        return bool(self.code.retriable)


def describe_error(code: int) -> str:
    error = ErrorCode(code)
    return MESSAGES.get(error, error.name.upper())


def raise_for(code: int, message: str | None = None) -> None:
    if code != ErrorCode.none:
        raise KafkaProtocolError(code, message)


def make(cls: Any, **fields: Any) -> Any:
    """An entity of ``cls`` from those of ``fields`` its version has (versions differ by
    fields only, for what this client sends)."""
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{name: value for name, value in fields.items() if name in names})


@dataclasses.dataclass(frozen=True, slots=True)
class Broker:
    node_id: int
    host: str
    port: int


class Connection(KioConnection):
    """One TCP connection to one broker, with the API versions it supports; failures are
    :class:`ClientError`."""

    def __init__(self, host: str, port: int, timeout: float, client_id: str) -> None:
        try:
            super().__init__(host, port, timeout, client_id)
        except OSError as exc:
            raise ClientError(f"cannot connect to {host}:{port}: {exc}") from exc
        self.address = f"{host}:{port}"
        self.api_versions: dict[int, tuple[int, int]] = {}
        try:
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._negotiate()
        except BaseException:
            self.close()
            raise

    def _negotiate(self) -> None:
        for version in (3, 0):
            mod = request_module(API_VERSIONS, version)
            request = (
                mod.ApiVersionsRequest(
                    client_software_name="odradek-transactions", client_software_version="1"
                )
                if version >= 3
                else mod.ApiVersionsRequest()
            )
            response = self.call(request)
            if response.error_code == ErrorCode.unsupported_version:
                continue
            raise_for(response.error_code)
            self.api_versions = {
                int(k.api_key): (int(k.min_version), int(k.max_version)) for k in response.api_keys
            }
            return
        raise ClientError(f"{self.address} supports no ApiVersions version this tool knows")

    def version(self, api_key: int) -> int:
        """The newest version of ``api_key`` both sides support."""
        low, high = self.api_versions.get(api_key, (0, -1))
        for version in SUPPORTED[api_key]:
            if low <= version <= high:
                return version
        raise ClientError(
            f"the broker at {self.address} does not support a version of "
            f"{API_NAMES[api_key]} this tool knows "
            f"(broker: {low}-{high}, tool: {min(SUPPORTED[api_key])}-"
            f"{max(SUPPORTED[api_key])})"
        )

    def request(
        self, api_key: int, build: Callable[[ModuleType], Any], body_class: Any = None
    ) -> Any:
        """Build the request at the negotiated version (``build`` gets its module) and
        return the decoded response (read as ``body_class`` if given)."""
        version = self.version(api_key)
        return self.call(build(request_module(api_key, version)), body_class)

    def call(self, entity: Any, body_class: Any = None) -> Any:
        try:
            return super().call(entity, body_class)
        except ConnectionClosedError as exc:
            raise ClientError(f"{self.address} closed the connection") from exc
        except WireError as exc:  # a response that does not fit its request
            raise ClientError(f"{self.address}: {exc}") from exc
        except OSError as exc:
            raise ClientError(f"request to {self.address} failed: {exc}") from exc


@dataclasses.dataclass(frozen=True, slots=True)
class PartitionInfo:
    topic: str
    partition: int
    leader: int
    replicas: tuple[int, ...]


class Cluster:
    """Connections to the brokers of one cluster, found from the bootstrap servers."""

    def __init__(
        self, bootstrap: str, timeout: float = 60.0, client_id: str = "odradek-transactions"
    ) -> None:
        self.timeout = timeout
        self.client_id = client_id
        self.deadline = time.monotonic() + timeout
        self.connections: dict[int, Connection] = {}
        self.brokers: dict[int, Broker] = {}
        self._bootstrap = self._connect_bootstrap(bootstrap)
        self.refresh_brokers()

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for connection in {
            id(c): c for c in [self._bootstrap, *self.connections.values()]
        }.values():
            connection.close()

    def _connect_bootstrap(self, bootstrap: str) -> Connection:
        failures = []
        for server in (s.strip() for s in bootstrap.split(",") if s.strip()):
            host, _, port = server.rpartition(":")
            if not host or not port.isdigit():
                raise ClientError(f"invalid bootstrap server {server!r} (expected host:port)")
            try:
                return Connection(host.strip("[]"), int(port), self.timeout, self.client_id)
            except ClientError as exc:
                failures.append(str(exc))
        raise ClientError("no bootstrap server reachable: " + "; ".join(failures or ["none given"]))

    # -- routing -------------------------------------------------------------------------------

    def connection(self, node_id: int) -> Connection:
        found = self.connections.get(node_id)
        if found is None:
            broker = self.brokers.get(node_id)
            if broker is None:
                raise ClientError(f"broker {node_id} is not in the cluster metadata")
            found = Connection(broker.host, broker.port, self.timeout, self.client_id)
            self.connections[node_id] = found
        return found

    def metadata(self, topics: Sequence[str] | None) -> Any:
        """A Metadata response for ``topics`` (all topics for None)."""

        def build(mod: ModuleType) -> Any:
            wanted = (
                None
                if topics is None
                else tuple(make(mod.MetadataRequestTopic, name=t, topic_id=None) for t in topics)
            )
            return make(
                mod.MetadataRequest,
                topics=wanted,
                allow_auto_topic_creation=False,
                include_cluster_authorized_operations=False,
                include_topic_authorized_operations=False,
            )

        response = self._bootstrap.request(METADATA, build)
        self.brokers = {
            int(b.node_id): Broker(int(b.node_id), str(b.host), int(b.port))
            for b in response.brokers
        }
        return response

    def refresh_brokers(self) -> None:
        self.metadata(())

    def partitions(self, topics: Sequence[str] | None) -> list[PartitionInfo]:
        """Every partition of ``topics`` (all topics, internal ones included, for None);
        raises for a topic the cluster does not have."""
        found = []
        for topic in self.metadata(topics).topics:
            raise_for(topic.error_code)
            found += [
                PartitionInfo(
                    str(topic.name),
                    int(p.partition_index),
                    int(p.leader_id),
                    tuple(int(r) for r in p.replica_nodes),
                )
                for p in topic.partitions
            ]
        return sorted(found, key=lambda p: (p.topic, p.partition))

    def leader(self, topic: str, partition: int) -> int:
        for info in self.partitions([topic]):
            if info.partition == partition:
                if info.leader < 0:
                    raise KafkaProtocolError(ErrorCode.leader_not_available)
                return info.leader
        raise KafkaProtocolError(ErrorCode.unknown_topic_or_partition)

    def transaction_coordinator(self, transactional_id: str) -> int:
        def build(mod: ModuleType) -> Any:
            return make(
                mod.FindCoordinatorRequest,
                key=transactional_id,
                key_type=TRANSACTION_KEY_TYPE,
                coordinator_keys=(transactional_id,),
            )

        def lookup() -> int:
            response = self._bootstrap.request(FIND_COORDINATOR, build)
            result = response.coordinators[0] if hasattr(response, "coordinators") else response
            raise_for(result.error_code, result.error_message)
            node_id = int(result.node_id)
            self.brokers.setdefault(node_id, Broker(node_id, str(result.host), int(result.port)))
            return node_id

        return self.retrying(lookup)

    def retrying(self, attempt: Callable[[], T]) -> T:
        """Run ``attempt`` until it succeeds, raises something not retriable, or the
        cluster's timeout passes."""
        backoff = 0.1
        while True:
            try:
                return attempt()
            except KafkaProtocolError as exc:
                if not exc.retriable or time.monotonic() + backoff > self.deadline:
                    raise
            time.sleep(backoff)
            backoff = min(backoff * 2, 1.0)

    # -- transaction requests ------------------------------------------------------------------

    def list_transactions(
        self,
        node_id: int,
        states: Iterable[str] = (),
        producer_ids: Iterable[int] = (),
        duration_ms: int = -1,
    ) -> Any:
        state_filters, pid_filters = tuple(states), tuple(producer_ids)
        connection = self.connection(node_id)
        if duration_ms >= 0 and connection.version(LIST_TRANSACTIONS) < 1:
            raise ClientError(
                f"broker {node_id} does not support filtering on duration (ListTransactions v1)"
            )

        def build(mod: ModuleType) -> Any:
            return make(
                mod.ListTransactionsRequest,
                state_filters=state_filters,
                producer_id_filters=pid_filters,
                duration_filter=duration_ms,
            )

        response = connection.request(LIST_TRANSACTIONS, build)
        raise_for(response.error_code)
        return response

    def describe_transactions(
        self, node_id: int, transactional_ids: Sequence[str]
    ) -> list[TransactionDescription]:
        def build(mod: ModuleType) -> Any:
            return mod.DescribeTransactionsRequest(transactional_ids=tuple(transactional_ids))

        response = self.connection(node_id).request(
            DESCRIBE_TRANSACTIONS, build, DescribeTransactionsResponseV0
        )
        return transaction_descriptions(response)

    def describe_producers(self, node_id: int, topic: str, partitions: Sequence[int]) -> Any:
        def build(mod: ModuleType) -> Any:
            return mod.DescribeProducersRequest(
                topics=(mod.TopicRequest(name=topic, partition_indexes=tuple(partitions)),)
            )

        return self.connection(node_id).request(DESCRIBE_PRODUCERS, build)

    def write_abort_marker(
        self,
        node_id: int,
        topic: str,
        partition: int,
        producer_id: int,
        producer_epoch: int,
        coordinator_epoch: int,
    ) -> int:
        """WriteTxnMarkers with one ABORT marker; the partition's error code."""

        def build(mod: ModuleType) -> Any:
            return mod.WriteTxnMarkersRequest(
                markers=(
                    mod.WritableTxnMarker(
                        producer_id=producer_id,
                        producer_epoch=producer_epoch,
                        transaction_result=False,
                        coordinator_epoch=coordinator_epoch,
                        topics=(
                            mod.WritableTxnMarkerTopic(name=topic, partition_indexes=(partition,)),
                        ),
                    ),
                )
            )

        response = self.connection(node_id).request(WRITE_TXN_MARKERS, build)
        for marker in response.markers:
            for result_topic in marker.topics:
                for result in result_topic.partitions:
                    if result_topic.name == topic and result.partition_index == partition:
                        return int(result.error_code)
        raise ClientError("the WriteTxnMarkers response has no result for the partition")


# -- DescribeTransactions, read with kio as plain integers ---------------------------------------
# kio's schema reads TransactionStartTimeMs as a datetime and refuses the -1 that Kafka sends
# for an id with no transaction in progress; the variant of its classes below reads that field
# (and the timeout) as plain integers, with kio's reader, and is the same otherwise.


def int_variant(
    entity: type, retyped: Mapping[str, tuple[Any, str]], nested: Mapping[str, type] | None = None
) -> type:
    """A copy of the kio entity class ``entity`` with the fields of ``retyped`` read as
    (type, kafka_type) and the entity arrays of ``nested`` read as the given classes."""
    fields: list[tuple[str, Any, Any]] = []
    for field in dataclasses.fields(entity):
        kind: Any = field.type
        metadata: Mapping[str, Any] = field.metadata
        if field.name in retyped:
            kind, kafka_type = retyped[field.name]
            metadata = {**metadata, "kafka_type": kafka_type}
        elif nested and field.name in nested:
            kind = GenericAlias(tuple, (nested[field.name], ...))
        fields.append((field.name, kind, dataclasses.field(metadata=metadata)))
    namespace = {
        name: getattr(entity, name)
        for name in ("__type__", "__version__", "__flexible__", "__api_key__", "__header_schema__")
    }
    return dataclasses.make_dataclass(
        entity.__name__, fields, namespace=namespace, frozen=True, slots=True, kw_only=True
    )


DescribeTransactionsStateV0 = int_variant(
    describe_transactions_v0.TransactionState,
    {"transaction_timeout": (i32, "int32"), "transaction_start_time": (i64, "int64")},
)
DescribeTransactionsResponseV0 = int_variant(
    describe_transactions_v0.DescribeTransactionsResponse,
    {},
    {"transaction_states": DescribeTransactionsStateV0},
)


@dataclasses.dataclass(frozen=True, slots=True)
class TransactionDescription:
    error_code: int
    transactional_id: str
    state: str
    timeout_ms: int
    start_time_ms: int
    producer_id: int
    producer_epoch: int
    partitions: tuple[tuple[str, int], ...]


def transaction_descriptions(response: Any) -> list[TransactionDescription]:
    """The states of a DescribeTransactionsResponseV0."""
    return [
        TransactionDescription(
            int(state.error_code),
            str(state.transactional_id),
            str(state.transaction_state),
            int(state.transaction_timeout),
            int(state.transaction_start_time),
            int(state.producer_id),
            int(state.producer_epoch),
            tuple((str(t.topic), int(p)) for t in state.topics for p in t.partitions),
        )
        for state in response.transaction_states
    ]


def timeout_of(config: dict[str, str], default_ms: int = 60_000) -> timedelta:
    """The admin call timeout from a ``--command-config`` file (default.api.timeout.ms)."""
    value = config.get("default.api.timeout.ms")
    return timedelta(milliseconds=int(value) if value and value.isdigit() else default_ms)
