"""Every API the broker advertises must work at every version it advertises.

For each (api_key, version) in SUPPORTED_APIS (read at import time, so a newly advertised API or
version is swept automatically) a minimal valid request is built generically from kio's request
class (tests/support/conformance.py) and a per-API plan makes it meaningful: real topic and group
names, a valid record batch, a group member that really joined, a transaction that really began.
Each request goes over its own raw socket to one broker process; the test asserts that

* an answer arrives with the right correlation id and decodes exactly with the kio response
  class of that version, and re-encoding it gives the same bytes (no stray or default-valued
  tagged fields),
* the error codes are the expected ones (0 where the request should succeed),
* the connection is still usable (an ApiVersions on the same socket works) and the broker log
  has no "unexpected error" / "Traceback" / closed connection.

An API without a plan still gets the generic request and all checks except the error codes.
Also: the bare generic request of every (api_key, version) -- with one-element and with empty
arrays -- must be answered well-formed without hurting the connection; ApiVersions v0..v4 list
exactly SUPPORTED_APIS and v3+ carry no default-valued tagged fields; DescribeConfigs reports
time configs in milliseconds.
"""

from __future__ import annotations

import datetime
import itertools
import struct
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from kio.schema.errors import ErrorCode

from odradek.protocol import api_versions as keys
from odradek.protocol.api_versions import SUPPORTED_APIS
from odradek.protocol.legacy_codec import is_legacy_version
from odradek.protocol.records.codec import encode_batch
from tests.support.broker_process import BrokerProcess
from tests.support.conformance import (
    DEFAULT_TIMEOUT,
    PARTITION_MAX_BYTES,
    Answer,
    Expect,
    Names,
    api_name,
    build_request,
    default_valued_api_versions_tags,
    encode,
    error_messages,
    exchange,
    log_since,
    log_size,
    request_class,
    response_class,
    unexpected_errors,
)
from tests.support.raw_client import ConnectionClosedError, RawClient

pytestmark = pytest.mark.integration

E = ErrorCode
TOPIC_RESOURCE = 2
BROKER_RESOURCE = 4
EARLIEST = -2
LOG_PROBLEMS = ("unexpected error", "Traceback", "closing connection")
CLIENT_SOFTWARE = {"client_software_name": "odradek-conformance", "client_software_version": "1.0"}


def max_version(api_key: int) -> int:
    return SUPPORTED_APIS[api_key][1]


def _string(value: str) -> bytes:
    data = value.encode()
    return struct.pack(">h", len(data)) + data


def subscription(topics: list[str]) -> bytes:
    """ConsumerProtocolSubscription v0."""
    return (
        struct.pack(">hi", 0, len(topics))
        + b"".join(_string(t) for t in topics)
        + struct.pack(">i", -1)
    )


def assignment(topic: str, partitions: list[int]) -> bytes:
    """ConsumerProtocolAssignment v0."""
    return (
        struct.pack(">hi", 0, 1)
        + _string(topic)
        + struct.pack(">i", len(partitions))
        + b"".join(struct.pack(">i", p) for p in partitions)
        + struct.pack(">i", -1)
    )


# -- the broker and what the plans need ----------------------------------------------------------


class Setup:
    """One broker with a data topic; setup steps for plans run at each API's newest version."""

    def __init__(self, broker: BrokerProcess) -> None:
        self.broker = broker
        self.client = RawClient.to(broker.bootstrap)
        self._counter = itertools.count()
        self.topic = "conformance-data"
        self.client.create_topic(self.topic)
        result = self.client.produce(
            self.topic, 0, encode_batch([(b"k", b"v")], timestamp=int(time.time() * 1000))
        )
        assert result.error_code == 0, result
        metadata = self.client.metadata([self.topic])
        self.topic_id: uuid.UUID = metadata.topics[0].topic_id
        self.node_id = int(metadata.brokers[0].node_id)
        self.names = Names(
            topic=self.topic,
            topic_id=self.topic_id,
            group="conformance-group",
            transactional_id="conformance-txn",
        )
        for key_type, key in ((0, "warm-up-group"), (1, "warm-up-txn")):
            self._wait_for_coordinator(key_type, key)

    def close(self) -> None:
        self.client.close()

    def unique(self, prefix: str) -> str:
        return f"{prefix}-{next(self._counter)}"

    def call(self, api_key: int, overrides: Mapping[str, Any], version: int | None = None) -> Any:
        """A setup request at ``version`` (default: the newest advertised) on the setup
        connection; its decoded response."""
        request = build_request(
            api_key, max_version(api_key) if version is None else version, overrides, self.names
        )
        return exchange(self.client, request).body

    def _wait_for_coordinator(self, key_type: int, key: str) -> None:
        deadline = time.monotonic() + 10
        while True:
            body = self.call(
                keys.FIND_COORDINATOR_KEY,
                {"key_type": key_type, "key": key, "coordinator_keys": [key]},
            )
            code = (
                body.coordinators[0].error_code
                if hasattr(body, "coordinators")
                else body.error_code
            )
            if code == 0:
                return
            assert time.monotonic() < deadline, f"no coordinator for {key!r}: {code}"
            time.sleep(0.1)

    # -- setup steps ---------------------------------------------------------------------------

    def new_topic(self, partitions: int = 1, records: int = 0) -> str:
        name = self.unique("conformance-topic")
        self.client.create_topic(name, partitions)
        if records:
            result = self.client.produce(
                name, 0, encode_batch([(None, b"x")] * records, timestamp=int(time.time() * 1000))
            )
            assert result.error_code == 0, f"setup produce to {name}: {result}"
        return name

    def join(self, group: str) -> tuple[str, int]:
        """A member joins ``group`` alone and becomes its leader: (member_id, generation)."""
        overrides: dict[str, Any] = {
            "group_id": group,
            "session_timeout": datetime.timedelta(seconds=30),
            "rebalance_timeout": datetime.timedelta(seconds=30),
            "member_id": "",
            "protocol_type": "consumer",
            "protocols": [{"name": "range", "metadata": subscription([self.topic])}],
        }
        body = self.call(keys.JOIN_GROUP_KEY, overrides)
        if body.error_code == E.member_id_required:
            body = self.call(keys.JOIN_GROUP_KEY, {**overrides, "member_id": body.member_id})
        assert body.error_code == 0, f"setup JoinGroup {group}: {body}"
        return body.member_id, int(body.generation_id)

    def join_and_sync(self, group: str) -> tuple[str, int]:
        member, generation = self.join(group)
        body = self.call(
            keys.SYNC_GROUP_KEY,
            {
                "group_id": group,
                "generation_id": generation,
                "member_id": member,
                "protocol_type": "consumer",
                "protocol_name": "range",
                "assignments": [{"member_id": member, "assignment": assignment(self.topic, [0])}],
            },
        )
        assert body.error_code == 0, f"setup SyncGroup {group}: {body}"
        return member, generation

    def commit(self, group: str, offset: int) -> None:
        """A simple (group-less) commit of ``offset`` for the data topic's partition 0."""
        body = self.call(
            keys.OFFSET_COMMIT_KEY,
            {
                "group_id": group,
                "generation_id_or_member_epoch": -1,
                "member_id": "",
                "topics": [
                    {
                        "name": self.topic,
                        "partitions": [
                            {
                                "partition_index": 0,
                                "committed_offset": offset,
                                "committed_metadata": "",
                            }
                        ],
                    }
                ],
            },
        )
        assert all(p.error_code == 0 for t in body.topics for p in t.partitions), (
            f"setup OffsetCommit {group}: {body}"
        )

    def init_producer(self, transactional_id: str | None) -> tuple[int, int]:
        body = self.call(
            keys.INIT_PRODUCER_ID_KEY,
            {"transactional_id": transactional_id, "transaction_timeout": DEFAULT_TIMEOUT},
        )
        assert body.error_code == 0, f"setup InitProducerId {transactional_id}: {body}"
        return int(body.producer_id), int(body.producer_epoch)

    def add_partitions(self, txn: str, producer: tuple[int, int], topic: str) -> None:
        body = self.call(
            keys.ADD_PARTITIONS_TO_TXN_KEY, add_partitions_overrides(txn, producer, topic)
        )
        codes = [
            p.partition_error_code
            for t in body.results_by_topic_v3_and_below
            for p in t.results_by_partition
        ]
        assert codes == [0], f"setup AddPartitionsToTxn {txn}: {body}"

    def add_offsets(self, txn: str, producer: tuple[int, int], group: str) -> None:
        body = self.call(
            keys.ADD_OFFSETS_TO_TXN_KEY,
            {
                "transactional_id": txn,
                "producer_id": producer[0],
                "producer_epoch": producer[1],
                "group_id": group,
            },
        )
        assert body.error_code == 0, f"setup AddOffsetsToTxn {txn}: {body}"


def add_partitions_overrides(txn: str, producer: tuple[int, int], topic: str) -> dict[str, Any]:
    return {
        "v3_and_below_transactional_id": txn,
        "v3_and_below_producer_id": producer[0],
        "v3_and_below_producer_epoch": producer[1],
        "v3_and_below_topics": [{"name": topic, "partitions": [0]}],
    }


# -- plans ---------------------------------------------------------------------------------------


@dataclass
class Plan:
    """What one case sends and expects. ``then`` builds a follow-up request of the same API and
    version from the first answer (e.g. JoinGroup's second join with the assigned member id)."""

    overrides: Mapping[str, Any] = field(default_factory=dict)
    expect: Expect | None = field(default_factory=dict)  # None: error codes not checked
    check: Callable[[Any], None] | None = None
    then: Callable[[Any], Plan] | None = None


def expect(**codes: int | tuple[int, ...]) -> Expect:
    """``expect(error_code=79)``: path patterns (``__`` stands for ``*``) to allowed codes."""
    return {
        pattern.replace("__", "*"): frozenset(c if isinstance(c, tuple) else (c,))
        for pattern, c in codes.items()
    }


def produce(s: Setup, version: int) -> Plan:
    batch = encode_batch([(b"key", b"value")], timestamp=int(time.time() * 1000))

    def check(body: Any) -> None:
        partition = body.responses[0].partition_responses[0]
        assert partition.base_offset >= 1, f"base_offset {partition.base_offset}"

    return Plan(
        {
            "acks": 1,
            "timeout": DEFAULT_TIMEOUT,
            "topic_data": [{"name": s.topic, "partition_data": [{"index": 0, "records": batch}]}],
        },
        check=check,
    )


def fetch(s: Setup, version: int) -> Plan:
    def check(body: Any) -> None:
        partition = body.responses[0].partitions[0]
        assert partition.high_watermark >= 1, f"high_watermark {partition.high_watermark}"
        assert partition.records, "no records fetched from offset 0"

    return Plan(
        {
            "max_wait": datetime.timedelta(0),
            "min_bytes": 1,
            "max_bytes": PARTITION_MAX_BYTES,
            "isolation_level": 0,
            "session_id": 0,
            "session_epoch": -1,
            "topics": [
                {
                    "topic": s.topic,
                    "topic_id": s.topic_id,
                    "partitions": [
                        {
                            "partition": 0,
                            "fetch_offset": 0,
                            "partition_max_bytes": PARTITION_MAX_BYTES,
                        }
                    ],
                }
            ],
            "forgotten_topics_data": [],
            "rack_id": "",
        },
        check=check,
    )


def list_offsets(s: Setup, version: int) -> Plan:
    def check(body: Any) -> None:
        assert body.topics[0].partitions[0].offset == 0, body

    return Plan(
        {
            "replica_id": -1,
            "isolation_level": 0,
            "topics": [
                {"name": s.topic, "partitions": [{"partition_index": 0, "timestamp": EARLIEST}]}
            ],
        },
        check=check,
    )


def metadata(s: Setup, version: int) -> Plan:
    def check(body: Any) -> None:
        assert [t.name for t in body.topics] == [s.topic], body.topics
        assert [p.leader_id for p in body.topics[0].partitions] == [s.node_id], body.topics
        assert [b.node_id for b in body.brokers] == [s.node_id], body.brokers

    return Plan(
        {"topics": [{"name": s.topic, "topic_id": None}], "allow_auto_topic_creation": False},
        check=check,
    )


def offset_commit(s: Setup, version: int) -> Plan:
    return Plan(
        {
            "group_id": s.unique("conformance-commit"),
            "generation_id_or_member_epoch": -1,
            "member_id": "",
            "topics": [
                {
                    "name": s.topic,
                    "partitions": [
                        {"partition_index": 0, "committed_offset": 1, "committed_metadata": ""}
                    ],
                }
            ],
        }
    )


def offset_fetch(s: Setup, version: int) -> Plan:
    group = s.unique("conformance-fetch-offsets")
    s.commit(group, 7)
    topics = [{"name": s.topic, "partition_indexes": [0]}]

    def check(body: Any) -> None:
        groups = getattr(body, "groups", None)
        topic = groups[0].topics[0] if groups is not None else body.topics[0]
        assert topic.partitions[0].committed_offset == 7, body

    return Plan(
        {
            "group_id": group,
            "topics": topics,
            "require_stable": False,
            "groups": [
                {"group_id": group, "member_id": None, "member_epoch": -1, "topics": topics}
            ],
        },
        check=check,
    )


def find_coordinator(s: Setup, version: int) -> Plan:
    group = s.unique("conformance-find")

    def check(body: Any) -> None:
        node = body.coordinators[0].node_id if version >= 4 else body.node_id
        assert node == s.node_id, body

    return Plan({"key_type": 0, "key": group, "coordinator_keys": [group]}, check=check)


def join_group(s: Setup, version: int) -> Plan:
    overrides = {
        "group_id": s.unique("conformance-join"),
        "session_timeout": datetime.timedelta(seconds=30),
        "rebalance_timeout": datetime.timedelta(seconds=30),
        "member_id": "",
        "group_instance_id": None,
        "protocol_type": "consumer",
        "protocols": [{"name": "range", "metadata": subscription([s.topic])}],
    }

    def joined(body: Any) -> None:
        assert body.member_id and body.leader == body.member_id, body
        assert [m.member_id for m in body.members] == [body.member_id], body
        assert body.generation_id >= 1, body

    if version < 4:
        return Plan(overrides, check=joined)
    return Plan(
        overrides,
        expect(error_code=E.member_id_required),
        then=lambda first: Plan({**overrides, "member_id": first.member_id}, check=joined),
    )


def heartbeat(s: Setup, version: int) -> Plan:
    group = s.unique("conformance-heartbeat")
    member, generation = s.join_and_sync(group)
    return Plan({"group_id": group, "generation_id": generation, "member_id": member})


def leave_group(s: Setup, version: int) -> Plan:
    group = s.unique("conformance-leave")
    member, _ = s.join_and_sync(group)
    return Plan(
        {
            "group_id": group,
            "member_id": member,
            "members": [{"member_id": member, "group_instance_id": None}],
        }
    )


def sync_group(s: Setup, version: int) -> Plan:
    group = s.unique("conformance-sync")
    member, generation = s.join(group)
    mine = assignment(s.topic, [0])

    def check(body: Any) -> None:
        assert body.assignment == mine, body

    return Plan(
        {
            "group_id": group,
            "generation_id": generation,
            "member_id": member,
            "protocol_type": "consumer",
            "protocol_name": "range",
            "assignments": [{"member_id": member, "assignment": mine}],
        },
        check=check,
    )


def describe_groups(s: Setup, version: int) -> Plan:
    group = s.unique("conformance-describe")
    member, _ = s.join_and_sync(group)

    def check(body: Any) -> None:
        described = body.groups[0]
        assert described.group_id == group and described.group_state == "Stable", described
        assert [m.member_id for m in described.members] == [member], described

    return Plan({"groups": [group], "include_authorized_operations": False}, check=check)


def list_groups(s: Setup, version: int) -> Plan:
    group = s.unique("conformance-list")
    s.commit(group, 1)

    def check(body: Any) -> None:
        assert group in [g.group_id for g in body.groups], body

    return Plan({"states_filter": [], "types_filter": []}, check=check)


def api_versions(s: Setup, version: int) -> Plan:
    return Plan(CLIENT_SOFTWARE)


def create_topics(s: Setup, version: int) -> Plan:
    return Plan(
        {
            "topics": [
                {
                    "name": s.unique("conformance-created"),
                    "num_partitions": 1,
                    "replication_factor": 1,
                    "assignments": [],
                    "configs": [],
                }
            ],
            "timeout": DEFAULT_TIMEOUT,
            "validate_only": False,
        }
    )


def delete_topics(s: Setup, version: int) -> Plan:
    name = s.new_topic()
    return Plan(
        {
            "topic_names": [name],
            "topics": [{"name": name, "topic_id": None}],
            "timeout": DEFAULT_TIMEOUT,
        }
    )


def init_producer_id(s: Setup, version: int) -> Plan:
    def check(body: Any) -> None:
        assert body.producer_id >= 0 and body.producer_epoch >= 0, body

    return Plan({"transactional_id": None, "transaction_timeout": DEFAULT_TIMEOUT}, check=check)


def delete_groups(s: Setup, version: int) -> Plan:
    group = s.unique("conformance-delete-group")
    s.commit(group, 1)
    return Plan({"groups_names": [group]})


def offset_delete(s: Setup, version: int) -> Plan:
    group = s.unique("conformance-offset-delete")
    s.commit(group, 1)
    return Plan(
        {"group_id": group, "topics": [{"name": s.topic, "partitions": [{"partition_index": 0}]}]}
    )


def delete_records(s: Setup, version: int) -> Plan:
    topic = s.new_topic(records=2)

    def check(body: Any) -> None:
        assert body.topics[0].partitions[0].low_watermark == 1, body

    return Plan(
        {
            "topics": [{"name": topic, "partitions": [{"partition_index": 0, "offset": 1}]}],
            "timeout": DEFAULT_TIMEOUT,
        },
        check=check,
    )


def describe_configs(s: Setup, version: int) -> Plan:
    def check(body: Any) -> None:
        names = {c.name for c in body.results[0].configs}
        assert "retention.ms" in names, names

    return Plan(
        {
            "resources": [
                {
                    "resource_type": TOPIC_RESOURCE,
                    "resource_name": s.topic,
                    "configuration_keys": None,
                }
            ]
        },
        check=check,
    )


def alter_configs(s: Setup, version: int) -> Plan:
    return Plan(
        {
            "resources": [
                {
                    "resource_type": TOPIC_RESOURCE,
                    "resource_name": s.new_topic(),
                    "configs": [{"name": "retention.ms", "value": "86400000"}],
                }
            ],
            "validate_only": False,
        }
    )


def incremental_alter_configs(s: Setup, version: int) -> Plan:
    return Plan(
        {
            "resources": [
                {
                    "resource_type": TOPIC_RESOURCE,
                    "resource_name": s.new_topic(),
                    "configs": [
                        {"name": "retention.ms", "config_operation": 0, "value": "86400000"}
                    ],
                }
            ],
            "validate_only": False,
        }
    )


def describe_log_dirs(s: Setup, version: int) -> Plan:
    def check(body: Any) -> None:
        topics = {t.name for r in body.results for t in r.topics}
        assert s.topic in topics, topics

    return Plan({"topics": None}, check=check)


def create_partitions(s: Setup, version: int) -> Plan:
    return Plan(
        {
            "topics": [{"name": s.new_topic(), "count": 2, "assignments": None}],
            "timeout": DEFAULT_TIMEOUT,
            "validate_only": False,
        }
    )


def describe_cluster(s: Setup, version: int) -> Plan:
    def check(body: Any) -> None:
        assert [b.broker_id for b in body.brokers] == [s.node_id], body

    return Plan({"include_cluster_authorized_operations": False}, check=check)


def describe_topic_partitions(s: Setup, version: int) -> Plan:
    def check(body: Any) -> None:
        assert [t.name for t in body.topics] == [s.topic], body
        assert len(body.topics[0].partitions) == 1, body

    return Plan({"topics": [{"name": s.topic}], "cursor": None}, check=check)


def add_partitions_to_txn(s: Setup, version: int) -> Plan:
    txn = s.unique("conformance-add-partitions")
    producer = s.init_producer(txn)
    return Plan(add_partitions_overrides(txn, producer, s.new_topic()))


def add_offsets_to_txn(s: Setup, version: int) -> Plan:
    txn = s.unique("conformance-add-offsets")
    producer = s.init_producer(txn)
    return Plan(
        {
            "transactional_id": txn,
            "producer_id": producer[0],
            "producer_epoch": producer[1],
            "group_id": s.unique("conformance-txn-group"),
        }
    )


def end_txn(s: Setup, version: int) -> Plan:
    txn = s.unique("conformance-end-txn")
    producer = s.init_producer(txn)
    s.add_partitions(txn, producer, s.new_topic())
    return Plan(
        {
            "transactional_id": txn,
            "producer_id": producer[0],
            "producer_epoch": producer[1],
            "committed": False,
        }
    )


def write_txn_markers(s: Setup, version: int) -> Plan:
    producer = s.init_producer(None)
    return Plan(
        {
            "markers": [
                {
                    "producer_id": producer[0],
                    "producer_epoch": producer[1],
                    "transaction_result": False,
                    "coordinator_epoch": 0,
                    "topics": [{"name": s.new_topic(), "partition_indexes": [0]}],
                }
            ]
        }
    )


def txn_offset_commit(s: Setup, version: int) -> Plan:
    txn = s.unique("conformance-txn-commit")
    group = s.unique("conformance-txn-commit-group")
    producer = s.init_producer(txn)
    s.add_offsets(txn, producer, group)
    return Plan(
        {
            "transactional_id": txn,
            "group_id": group,
            "producer_id": producer[0],
            "producer_epoch": producer[1],
            "generation_id": -1,
            "member_id": "",
            "group_instance_id": None,
            "topics": [
                {
                    "name": s.topic,
                    "partitions": [
                        {"partition_index": 0, "committed_offset": 3, "committed_metadata": ""}
                    ],
                }
            ],
        }
    )


def describe_producers(s: Setup, version: int) -> Plan:
    return Plan({"topics": [{"name": s.topic, "partition_indexes": [0]}]})


def describe_transactions(s: Setup, version: int) -> Plan:
    txn = s.unique("conformance-describe-txn")
    producer = s.init_producer(txn)

    def check(body: Any) -> None:
        state = body.transaction_states[0]
        assert (state.transactional_id, state.producer_id) == (txn, producer[0]), state
        assert state.transaction_state == "Empty", state

    return Plan({"transactional_ids": [txn]}, check=check)


def list_transactions(s: Setup, version: int) -> Plan:
    txn = s.unique("conformance-list-txn")
    s.init_producer(txn)

    def check(body: Any) -> None:
        assert txn in [t.transactional_id for t in body.transaction_states], body

    return Plan(
        {"state_filters": [], "producer_id_filters": [], "duration_filter": -1}, check=check
    )


def elect_leaders(s: Setup, version: int) -> Plan:
    """A single node is every partition's preferred leader: nothing to elect."""
    return Plan(
        {
            "election_type": 0,
            "timeout": DEFAULT_TIMEOUT,
            "topic_partitions": [{"topic": s.topic, "partitions": [0]}],
        },
        expect=expect(replica_election_results__partition_result__error_code=84),
    )


def alter_partition_reassignments(s: Setup, version: int) -> Plan:
    return Plan(
        {
            "timeout": DEFAULT_TIMEOUT,
            "topics": [
                {"name": s.topic, "partitions": [{"partition_index": 0, "replicas": [s.node_id]}]}
            ],
        }
    )


def list_partition_reassignments(s: Setup, version: int) -> Plan:
    def check(body: Any) -> None:
        assert body.topics == (), body

    return Plan({"timeout": DEFAULT_TIMEOUT, "topics": None}, check=check)


PLANS: dict[int, Callable[[Setup, int], Plan]] = {
    keys.PRODUCE_KEY: produce,
    keys.FETCH_KEY: fetch,
    keys.LIST_OFFSETS_KEY: list_offsets,
    keys.METADATA_KEY: metadata,
    keys.OFFSET_COMMIT_KEY: offset_commit,
    keys.OFFSET_FETCH_KEY: offset_fetch,
    keys.FIND_COORDINATOR_KEY: find_coordinator,
    keys.JOIN_GROUP_KEY: join_group,
    keys.HEARTBEAT_KEY: heartbeat,
    keys.LEAVE_GROUP_KEY: leave_group,
    keys.SYNC_GROUP_KEY: sync_group,
    keys.DESCRIBE_GROUPS_KEY: describe_groups,
    keys.LIST_GROUPS_KEY: list_groups,
    keys.API_VERSIONS_KEY: api_versions,
    keys.CREATE_TOPICS_KEY: create_topics,
    keys.DELETE_TOPICS_KEY: delete_topics,
    keys.INIT_PRODUCER_ID_KEY: init_producer_id,
    keys.DELETE_GROUPS_KEY: delete_groups,
    keys.OFFSET_DELETE_KEY: offset_delete,
    keys.DELETE_RECORDS_KEY: delete_records,
    keys.DESCRIBE_CONFIGS_KEY: describe_configs,
    keys.ALTER_CONFIGS_KEY: alter_configs,
    keys.DESCRIBE_LOG_DIRS_KEY: describe_log_dirs,
    keys.CREATE_PARTITIONS_KEY: create_partitions,
    keys.INCREMENTAL_ALTER_CONFIGS_KEY: incremental_alter_configs,
    keys.DESCRIBE_CLUSTER_KEY: describe_cluster,
    keys.DESCRIBE_TOPIC_PARTITIONS_KEY: describe_topic_partitions,
    keys.ADD_PARTITIONS_TO_TXN_KEY: add_partitions_to_txn,
    keys.ADD_OFFSETS_TO_TXN_KEY: add_offsets_to_txn,
    keys.END_TXN_KEY: end_txn,
    keys.WRITE_TXN_MARKERS_KEY: write_txn_markers,
    keys.TXN_OFFSET_COMMIT_KEY: txn_offset_commit,
    keys.DESCRIBE_PRODUCERS_KEY: describe_producers,
    keys.DESCRIBE_TRANSACTIONS_KEY: describe_transactions,
    keys.LIST_TRANSACTIONS_KEY: list_transactions,
    keys.ELECT_LEADERS_KEY: elect_leaders,
    keys.ALTER_PARTITION_REASSIGNMENTS_KEY: alter_partition_reassignments,
    keys.LIST_PARTITION_REASSIGNMENTS_KEY: list_partition_reassignments,
}


def generic(s: Setup, version: int) -> Plan:
    """An API without a plan: the generic request; any error code is accepted."""
    return Plan({}, expect=None)


# Cases that fail because of a broker bug: (api_key, version) -> reason. They stay strict.
KNOWN_BUGS: dict[tuple[int, int], str] = {}


def _cases() -> Iterator[Any]:
    for api_key, (low, high) in sorted(SUPPORTED_APIS.items()):
        for version in range(low, high + 1):
            marks = []
            if is_legacy_version(api_key, version):
                marks.append(
                    pytest.mark.skip(
                        reason="kio has no schema for this version; "
                        "see test_old_clients.py, test_legacy_codec.py"
                    )
                )
            if (api_key, version) in KNOWN_BUGS:
                marks.append(pytest.mark.xfail(strict=True, reason=KNOWN_BUGS[(api_key, version)]))
            yield pytest.param(api_key, version, marks=marks, id=f"{api_name(api_key)}-v{version}")


# -- fixtures --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def conformance_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    broker = BrokerProcess(
        tmp_path_factory.mktemp("conformance") / "data",
        overrides={"group.initial.rebalance.delay.ms": "0"},
    ).start()
    yield broker
    broker.kill()


@pytest.fixture(scope="module")
def conformance(conformance_broker: BrokerProcess) -> Iterator[Setup]:
    s = Setup(conformance_broker)
    yield s
    s.close()


# -- the sweep -----------------------------------------------------------------------------------


def _describe(answer: Answer) -> str:
    messages = "".join(f"\n  {path}: {text}" for path, text in error_messages(answer.body))
    return f"response: {answer.body!r}{messages}"


def _run_case(client: RawClient, api_key: int, version: int, plan: Plan, names: Names) -> None:
    while True:
        request = build_request(api_key, version, plan.overrides, names)
        answer = exchange(client, request)
        assert encode(answer.body) == answer.raw_body, (
            "re-encoding the decoded response does not reproduce the bytes received "
            f"(stray or default-valued tagged fields?): {_describe(answer)}"
        )
        if plan.expect is not None:
            problems = unexpected_errors(answer.body, plan.expect)
            assert not problems, f"{'; '.join(problems)}\nrequest: {request!r}\n{_describe(answer)}"
        if plan.check is not None:
            try:
                plan.check(answer.body)
            except AssertionError as exc:
                raise AssertionError(f"{exc}\nrequest: {request!r}") from exc
        if plan.then is None:
            return
        plan = plan.then(answer.body)


@pytest.mark.parametrize(("api_key", "version"), list(_cases()))
def test_api_version(conformance: Setup, api_key: int, version: int) -> None:
    plan = PLANS.get(api_key, generic)(conformance, version)
    log_path = conformance.broker.log_path
    mark = log_size(log_path)
    try:
        with RawClient.to(conformance.broker.bootstrap) as client:
            _run_case(client, api_key, version, plan, conformance.names)
            follow_up = client.api_versions(0)
            assert follow_up.error_code == 0, f"ApiVersions after the case: {follow_up}"
    except (AssertionError, ConnectionClosedError, OSError) as exc:
        time.sleep(0.05)
        raise AssertionError(
            f"{api_name(api_key)} v{version}: {exc}\n--- broker log ---\n"
            f"{log_since(log_path, mark)}"
        ) from exc
    log = log_since(log_path, mark)
    problems = [line for line in log.splitlines() if any(p in line for p in LOG_PROBLEMS)]
    assert not problems, f"{api_name(api_key)} v{version}: broker log:\n{log}"


# -- the bare generic requests ---------------------------------------------------------------------

# Only what a generic request cannot do without: acks=0 would get no answer at all.
GENERIC_OVERRIDES: dict[int, dict[str, Any]] = {keys.PRODUCE_KEY: {"acks": 1}}


@pytest.mark.parametrize(("api_key", "version"), list(_cases()))
def test_generic_request_is_answered(conformance: Setup, api_key: int, version: int) -> None:
    """The bare generic request, with one-element arrays and then with empty arrays, aimed at a
    scratch topic and fresh group/transactional ids: whatever the error codes, it is answered
    with a well-formed response, the connection stays usable and the broker log stays clean."""
    created = conformance.client.create_topic(conformance.unique("conformance-scratch"))
    names = Names(
        topic=created.topics[0].name,
        topic_id=created.topics[0].topic_id,
        group=conformance.unique("conformance-scratch-group"),
        transactional_id=conformance.unique("conformance-scratch-txn"),
    )
    overrides = GENERIC_OVERRIDES.get(api_key, {})
    log_path = conformance.broker.log_path
    for one in (True, False):
        variant = "one-element arrays" if one else "empty arrays"
        mark = log_size(log_path)
        request = build_request(api_key, version, overrides, names, one)
        try:
            with RawClient.to(conformance.broker.bootstrap) as client:
                answer = exchange(client, request)
                assert encode(answer.body) == answer.raw_body, (
                    f"re-encoding the response does not reproduce its bytes: {answer.body!r}"
                )
                follow_up = client.api_versions(0)
                assert follow_up.error_code == 0, f"ApiVersions after the case: {follow_up}"
        except (AssertionError, ConnectionClosedError, OSError) as exc:
            time.sleep(0.05)
            raise AssertionError(
                f"{api_name(api_key)} v{version} ({variant}): {exc}\nrequest: {request!r}\n"
                f"--- broker log ---\n{log_since(log_path, mark)}"
            ) from exc
        log = log_since(log_path, mark)
        problems = [line for line in log.splitlines() if any(p in line for p in LOG_PROBLEMS)]
        assert not problems, (
            f"{api_name(api_key)} v{version} ({variant}): request {request!r}\nbroker log:\n{log}"
        )


# -- ApiVersions lists exactly what is supported ---------------------------------------------------


@pytest.mark.parametrize(
    "version",
    range(SUPPORTED_APIS[keys.API_VERSIONS_KEY][0], SUPPORTED_APIS[keys.API_VERSIONS_KEY][1] + 1),
)
def test_api_versions_lists_supported_apis(conformance: Setup, version: int) -> None:
    with RawClient.to(conformance.broker.bootstrap) as client:
        request = build_request(keys.API_VERSIONS_KEY, version, CLIENT_SOFTWARE)
        answer = exchange(client, request)
    body = answer.body
    assert body.error_code == 0, body
    listed = [(k.api_key, k.min_version, k.max_version) for k in body.api_keys]
    assert len(listed) == len({k for k, _, _ in listed}), f"duplicate api keys: {listed}"
    assert {k: (lo, hi) for k, lo, hi in listed} == dict(SUPPORTED_APIS)
    for api_key, _, high in listed:  # kio must know every advertised version
        request_class(api_key, high)
    if version >= 3:
        defaulted = default_valued_api_versions_tags(answer.raw_body, body)
        assert not defaulted, (
            f"ApiVersions v{version} carries default-valued or stray tagged fields {defaulted} "
            "(librdkafka 2.0.2, as in Debian's kcat, cannot parse them)"
        )
        assert encode(body) == answer.raw_body


def test_default_valued_tag_detector() -> None:
    """The check above does see a default-valued tagged field (finalized_features_epoch=-1)."""
    response = response_class(keys.API_VERSIONS_KEY, 3)(
        error_code=E.none, api_keys=(), throttle_time=datetime.timedelta(0)
    )
    canonical = encode(response)
    assert canonical.endswith(b"\x00")
    assert default_valued_api_versions_tags(canonical, response) == []
    with_default = canonical[:-1] + bytes([1, 1, 8]) + b"\xff" * 8
    assert default_valued_api_versions_tags(with_default, response) == ["tag 1 = ffffffffffffffff"]


# -- DescribeConfigs reports time configs in their own unit --------------------------------------


@pytest.mark.parametrize(
    "version",
    range(
        SUPPORTED_APIS[keys.DESCRIBE_CONFIGS_KEY][0],
        SUPPORTED_APIS[keys.DESCRIBE_CONFIGS_KEY][1] + 1,
    ),
)
def test_describe_time_configs_in_ms(conformance: Setup, version: int) -> None:
    """log.retention.ms / log.roll.ms of a broker are milliseconds: Kafka answers null when they
    are unset (or their value in ms would do) -- never the hours of their synonym, which odradek
    once did ('168'). The topic view (retention.ms, segment.ms) holds the effective value."""
    broker_wanted = {"log.retention.ms": "604800000", "log.roll.ms": "604800000"}
    topic_wanted = {"retention.ms": "604800000", "segment.ms": "604800000"}
    body = conformance.call(
        keys.DESCRIBE_CONFIGS_KEY,
        {
            "resources": [
                {
                    "resource_type": BROKER_RESOURCE,
                    "resource_name": str(conformance.node_id),
                    "configuration_keys": sorted(broker_wanted),
                },
                {
                    "resource_type": TOPIC_RESOURCE,
                    "resource_name": conformance.topic,
                    "configuration_keys": sorted(topic_wanted),
                },
            ]
        },
        version,
    )
    assert [r.error_code for r in body.results] == [0, 0], body
    broker_got = {c.name: c.value for c in body.results[0].configs}
    topic_got = {c.name: c.value for c in body.results[1].configs}
    assert set(broker_got) == set(broker_wanted), broker_got
    wrong = {
        name: value
        for name, value in broker_got.items()
        if value not in (None, broker_wanted[name])
    }
    assert not wrong, f"DescribeConfigs v{version} broker {conformance.node_id}: {wrong}"
    assert topic_got == topic_wanted, f"DescribeConfigs v{version} topic: {topic_got}"
