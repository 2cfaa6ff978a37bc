"""Client quotas for ``configs --entity-type users|clients`` (KIP-546): DescribeClientQuotas
and AlterClientQuotas, and how Kafka's tool prints quotas.

confluent-kafka has no client-quota API, so the tool sends the requests itself over the
transactions tool's kio client (``txn_client``) to one broker of the cluster: PLAINTEXT only.
Kafka's tool prints what its admin client returns, Java HashMaps of Java doubles; the lines
here are in the same order (``java_hash_order``) with the same numbers (``java_double``).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import IntEnum
from typing import Any, TypeVar

from kio.static.primitive import f64, i8

from odradek.cli.tools.common import ToolError, UsageError, error_text
from odradek.cli.tools.txn_client import ClientError, Cluster, Connection
from odradek.protocol.client import pick_version, request_module

DESCRIBE_CLIENT_QUOTAS = 48
ALTER_CLIENT_QUOTAS = 49
SUPPORTED = (0, 1)
CLIENT_ID = "odradek-configs"

# ClientQuotaEntity's entity types, for the configs tool's entity types.
USER = "user"
CLIENT = "client-id"
IP = "ip"
QUOTA_ENTITY_TYPES = {"users": USER, "clients": CLIENT}
LABELS = {USER: "user-principal", CLIENT: "client-id", IP: "ip"}

# The quota configs of users and clients (Kafka's QuotaConfig.isClientOrUserQuotaConfig).
QUOTA_CONFIGS = frozenset(
    {"producer_byte_rate", "consumer_byte_rate", "request_percentage", "controller_mutation_rate"}
)

T = TypeVar("T")

# A quota entity: (entity type, name or None for the default) pairs.
QuotaEntity = tuple[tuple[str, str | None], ...]


class MatchType(IntEnum):
    """How a DescribeClientQuotas filter component matches an entity name."""

    EXACT = 0
    DEFAULT = 1
    SPECIFIED = 2  # any name but the default


@dataclass(frozen=True)
class FilterComponent:
    entity_type: str
    match_type: MatchType
    match: str | None = None


@dataclass(frozen=True)
class EntityQuotas:
    """One described entity and its quota values, in the broker's order."""

    entity: QuotaEntity
    values: tuple[tuple[str, float], ...]


# -- the configs tool's entities as quota entities ---------------------------------------------


def filter_components(types: Sequence[str], names: Sequence[str]) -> list[FilterComponent]:
    """Kafka's describe filter for ``--entity-type``/``--entity-name``/``--entity-default``
    (names pair with types by position, ``""`` is the default): an exact name, the default,
    or any name of a type given without one."""
    if len(names) > len(types):
        raise UsageError("More entity names specified than entity types")
    components = []
    for index, entity_type in enumerate(types):
        quota_type = QUOTA_ENTITY_TYPES[entity_type]
        if index >= len(names):
            components.append(FilterComponent(quota_type, MatchType.SPECIFIED))
        elif names[index] == "":
            components.append(FilterComponent(quota_type, MatchType.DEFAULT))
        else:
            components.append(FilterComponent(quota_type, MatchType.EXACT, names[index]))
    return components


def quota_entity(types: Sequence[str], names: Sequence[str]) -> QuotaEntity:
    """The one entity that ``--alter`` names (a name for every type; ``""`` the default)."""
    return tuple(
        (QUOTA_ENTITY_TYPES[t], name or None) for t, name in zip(types, names, strict=True)
    )


def entity_json(entity: QuotaEntity) -> dict[str, str | None]:
    return dict(entity)


def quota_value(key: str, text: str) -> float:
    """A quota config's value, a number as Java's ``Double.parseDouble`` reads it."""
    try:
        if "_" in text:
            raise ValueError(text)
        return float(text)
    except ValueError as exc:
        raise UsageError(f"Cannot parse quota configuration value for {key}: {text}") from exc


# -- the requests ------------------------------------------------------------------------------


class QuotaClient:
    """A connection to one broker of the cluster at ``bootstrap`` for the quota requests."""

    def __init__(self, bootstrap: str, timeout: float) -> None:
        try:
            self.cluster = Cluster(bootstrap, timeout, CLIENT_ID)
        except ClientError as exc:
            raise ToolError(str(exc)) from exc
        try:
            if not self.cluster.brokers:
                raise ClientError("the cluster metadata lists no broker")
            self.connection: Connection = self.cluster.connection(min(self.cluster.brokers))
        except ClientError as exc:
            self.cluster.close()
            raise ToolError(str(exc)) from exc

    def __enter__(self) -> QuotaClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cluster.close()

    def supports(self, api_key: int) -> bool:
        return api_key in self.connection.api_versions

    def describe(
        self, components: Sequence[FilterComponent], strict: bool = True
    ) -> list[EntityQuotas]:
        """DescribeClientQuotas: the entities matching every component (and, when
        ``strict``, no other entity type) with their quotas."""
        module = self._module(DESCRIBE_CLIENT_QUOTAS, "DescribeClientQuotas")
        request = module.DescribeClientQuotasRequest(
            components=tuple(
                module.ComponentData(
                    entity_type=c.entity_type, match_type=i8(c.match_type), match=c.match
                )
                for c in components
            ),
            strict=strict,
        )
        response = self._call(request)
        _raise_for(int(response.error_code), response.error_message)
        return [
            EntityQuotas(
                tuple((str(e.entity_type), e.entity_name) for e in entry.entity),
                tuple((str(v.key), float(v.value)) for v in entry.values),
            )
            for entry in response.entries or ()
        ]

    def alter(self, entity: QuotaEntity, ops: Mapping[str, float | None]) -> None:
        """AlterClientQuotas for one entity: set each key to its value, remove it for None."""
        module = self._module(ALTER_CLIENT_QUOTAS, "AlterClientQuotas")
        entry = module.EntryData(
            entity=tuple(module.EntityData(entity_type=t, entity_name=n) for t, n in entity),
            ops=tuple(
                module.OpData(
                    key=key, value=f64(0.0 if value is None else value), remove=value is None
                )
                for key, value in ops.items()
            ),
        )
        response = self._call(
            module.AlterClientQuotasRequest(entries=(entry,), validate_only=False)
        )
        for result in response.entries:
            _raise_for(int(result.error_code), result.error_message)

    def _module(self, api_key: int, name: str) -> Any:
        version = pick_version(self.connection.api_versions, api_key, name, SUPPORTED)
        return request_module(api_key, version)

    def _call(self, request: Any) -> Any:
        try:
            return self.connection.call(request)
        except ClientError as exc:
            raise ToolError(str(exc)) from exc


def _raise_for(code: int, message: str | None) -> None:
    if code != 0:
        raise ToolError(message or error_text(code))


# -- Kafka's output ----------------------------------------------------------------------------


def quota_lines(described: Iterable[EntityQuotas]) -> list[str]:
    """``Quota configs for user-principal 'alice', client-id 'app' are k=v, ...`` per entity,
    as Kafka's tool prints them."""
    return [
        f"Quota configs for {entity_text(q.entity)} are {values_text(q.values)}"
        for q in java_hash_order(list(described), lambda q: entity_hash(q.entity))
    ]


def entity_text(entity: QuotaEntity) -> str:
    names = dict(entity)
    return ", ".join(
        f"the default {label}" if names[kind] is None else f"{label} '{names[kind]}'"
        for kind, label in LABELS.items()
        if kind in names
    )


def values_text(values: Sequence[tuple[str, float]]) -> str:
    ordered = java_hash_order(list(values), lambda kv: java_string_hash(kv[0]))
    return ", ".join(f"{key}={java_double(value)}" for key, value in ordered)


def java_double(value: float) -> str:
    """``Double.toString``: the shortest digits, plain from 10^-3 to 10^7, else ``d.dddEn``."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0 or 1e-3 <= abs(value) < 1e7:
        return repr(value)  # Python's repr is also the shortest, and plain in this range
    shortest = Decimal(repr(value)).normalize().as_tuple()
    text = "".join(map(str, shortest.digits))
    exponent = int(shortest.exponent) + len(text) - 1
    return f"{'-' if shortest.sign else ''}{text[0]}.{text[1:] or '0'}E{exponent}"


def java_string_hash(text: str | None) -> int:
    """``String.hashCode`` (0 for null), as an unsigned 32-bit number."""
    if text is None:
        return 0
    units = text.encode("utf-16-be")
    result = 0
    for (unit,) in struct.iter_unpack(">H", units):
        result = (31 * result + unit) & 0xFFFFFFFF
    return result


def entity_hash(entity: QuotaEntity) -> int:
    """``ClientQuotaEntity.hashCode``: ``Objects.hash`` of its entries map."""
    entries = sum(java_string_hash(kind) ^ java_string_hash(name) for kind, name in entity)
    return (31 + entries) & 0xFFFFFFFF


def java_hash_order(items: Sequence[T], hash_of: Callable[[T], int]) -> list[T]:
    """``items`` in the iteration order of a ``java.util.HashMap`` sized for them
    (``new HashMap<>(n)``) into which they were put in this order: by bucket, then by
    insertion."""
    capacity = 1 << max(len(items) - 1, 0).bit_length()
    threshold = int(capacity * 0.75)
    for count in range(1, len(items) + 1):
        if count > threshold:
            capacity *= 2
            threshold = int(capacity * 0.75)

    def bucket(indexed: tuple[int, T]) -> tuple[int, int]:
        h = hash_of(indexed[1])
        return (h ^ (h >> 16)) & (capacity - 1), indexed[0]

    return [item for _, item in sorted(enumerate(items), key=bucket)]
