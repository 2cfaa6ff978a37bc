"""A minimal blocking Kafka client for the admin requests confluent-kafka does not expose:
ListTransactions, DescribeTransactions, DescribeProducers and WriteTxnMarkers.

Requests and responses are kio entities. A :class:`Cluster` bootstraps like Kafka's
AdminClient: ApiVersions and Metadata on the first reachable bootstrap server, then
FindCoordinator for transactional ids; each request goes to the broker that must answer it
(coordinator or partition leader), at the highest version both sides support. PLAINTEXT
only. Not thread-safe.
"""

from __future__ import annotations

import dataclasses
import io
import socket
import struct
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta
from functools import cache
from types import ModuleType
from typing import Any, TypeVar

from kio.index import load_payload_module
from kio.schema.errors import ErrorCode
from kio.schema.request_header.v1.header import RequestHeader as RequestHeaderV1
from kio.schema.request_header.v2.header import RequestHeader as RequestHeaderV2
from kio.schema.response_header.v1.header import ResponseHeader as ResponseHeaderV1
from kio.serial import entity_reader, entity_writer
from kio.static.constants import EntityType
from kio.static.primitive import i16, i32

METADATA = 3
FIND_COORDINATOR = 10
API_VERSIONS = 18
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

_INT32 = struct.Struct(">i")
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


@cache
def payload_module(api_key: int, version: int, kind: EntityType) -> ModuleType:
    return load_payload_module(api_key, version, kind)  # type: ignore[arg-type]


@cache
def top_level(api_key: int, version: int, kind: EntityType) -> Any:
    module = payload_module(api_key, version, kind)
    return next(
        value
        for value in vars(module).values()
        if getattr(value, "__type__", None) is kind
        and getattr(value, "__module__", None) == module.__name__
    )


def request_module(api_key: int, version: int) -> ModuleType:
    return payload_module(api_key, version, EntityType.request)


def encode(entity: Any) -> bytes:
    buffer = io.BytesIO()
    entity_writer(type(entity))(buffer, entity)
    return buffer.getvalue()


@dataclasses.dataclass(frozen=True, slots=True)
class Broker:
    node_id: int
    host: str
    port: int


class Connection:
    """One TCP connection to one broker, with the API versions it supports."""

    def __init__(self, host: str, port: int, timeout: float, client_id: str) -> None:
        try:
            self.sock = socket.create_connection((host, port), timeout=timeout)
        except OSError as exc:
            raise ClientError(f"cannot connect to {host}:{port}: {exc}") from exc
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.address = f"{host}:{port}"
        self.client_id = client_id
        self._correlation_id = 0
        self.versions: dict[int, tuple[int, int]] = {}
        self._negotiate()

    def close(self) -> None:
        self.sock.close()

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
            self.versions = {
                int(k.api_key): (int(k.min_version), int(k.max_version)) for k in response.api_keys
            }
            return
        raise ClientError(f"{self.address} supports no ApiVersions version this tool knows")

    def version(self, api_key: int) -> int:
        """The newest version of ``api_key`` both sides support."""
        low, high = self.versions.get(api_key, (0, -1))
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
        self,
        api_key: int,
        build: Callable[[ModuleType], Any],
        decode: Callable[[bytes, int], Any] | None = None,
    ) -> Any:
        """Build the request at the negotiated version (``build`` gets its module) and
        return the decoded response (with ``decode(payload, body_offset)`` if given)."""
        version = self.version(api_key)
        return self.call(build(request_module(api_key, version)), decode)

    def call(self, entity: Any, decode: Callable[[bytes, int], Any] | None = None) -> Any:
        self._correlation_id += 1
        correlation_id = self._correlation_id
        header_class = RequestHeaderV2 if entity.__flexible__ else RequestHeaderV1
        header = header_class(
            request_api_key=i16(entity.__api_key__),
            request_api_version=i16(entity.__version__),
            correlation_id=i32(correlation_id),
            client_id=self.client_id,
        )
        payload = encode(header) + encode(entity)
        try:
            self.sock.sendall(_INT32.pack(len(payload)) + payload)
            (size,) = _INT32.unpack(self._read(4))
            data = self._read(size)
        except OSError as exc:
            raise ClientError(f"request to {self.address} failed: {exc}") from exc
        api_key, version = int(entity.__api_key__), int(entity.__version__)
        body_class = top_level(api_key, version, EntityType.response)
        if body_class.__flexible__ and api_key != API_VERSIONS:
            response_header, offset = entity_reader(ResponseHeaderV1)(data, 0)
            got = int(response_header.correlation_id)
        else:
            (got,), offset = _INT32.unpack_from(data, 0), 4
        if got != correlation_id:
            raise ClientError(
                f"{self.address} answered correlation id {got}, expected {correlation_id}"
            )
        if decode is not None:
            return decode(data, offset)
        body, _ = entity_reader(body_class)(data, offset)
        return body

    def _read(self, count: int) -> bytes:
        chunks = bytearray()
        while len(chunks) < count:
            chunk = self.sock.recv(count - len(chunks))
            if not chunk:
                raise ClientError(f"{self.address} closed the connection")
            chunks += chunk
        return bytes(chunks)


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

        result: list[TransactionDescription] = self.connection(node_id).request(
            DESCRIBE_TRANSACTIONS, build, decode_describe_transactions
        )
        return result

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


# -- DescribeTransactions, decoded by hand ------------------------------------------------------
# kio's reader refuses the -1 that Kafka sends as the start time of an id with no transaction
# in progress, so this response (v0, flexible) is read here.


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


class _Reader:
    def __init__(self, data: bytes, position: int) -> None:
        self.data = data
        self.position = position

    def fixed(self, fmt: str) -> int:
        (value,) = struct.unpack_from(fmt, self.data, self.position)
        self.position += struct.calcsize(fmt)
        return int(value)

    def varint(self) -> int:
        shift = result = 0
        while True:
            byte = self.data[self.position]
            self.position += 1
            result |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return result
            shift += 7

    def string(self) -> str:
        length = self.varint() - 1
        text = self.data[self.position : self.position + max(length, 0)].decode()
        self.position += max(length, 0)
        return text

    def count(self) -> int:
        return max(self.varint() - 1, 0)

    def skip_tags(self) -> None:
        for _ in range(self.varint()):
            self.varint()
            self.position += self.varint()


def decode_describe_transactions(data: bytes, offset: int) -> list[TransactionDescription]:
    reader = _Reader(data, offset)
    reader.fixed(">i")  # throttle time
    states = []
    for _ in range(reader.count()):
        error_code = reader.fixed(">h")
        transactional_id = reader.string()
        state = reader.string()
        timeout_ms = reader.fixed(">i")
        start_ms = reader.fixed(">q")
        producer_id = reader.fixed(">q")
        producer_epoch = reader.fixed(">h")
        partitions = []
        for _ in range(reader.count()):
            topic = reader.string()
            partitions += [(topic, reader.fixed(">i")) for _ in range(reader.count())]
            reader.skip_tags()
        reader.skip_tags()
        states.append(
            TransactionDescription(
                error_code,
                transactional_id,
                state,
                timeout_ms,
                start_ms,
                producer_id,
                producer_epoch,
                tuple(partitions),
            )
        )
    return states


def timeout_of(config: dict[str, str], default_ms: int = 60_000) -> timedelta:
    """The admin call timeout from a ``--command-config`` file (default.api.timeout.ms)."""
    value = config.get("default.api.timeout.ms")
    return timedelta(milliseconds=int(value) if value and value.isdigit() else default_ms)
