"""The tools' clients on the kio wire client, against a canned broker: the transactions tool's
``txn_client`` (DescribeTransactions read with kio, a -1 start time included) and
``consumer-groups --delete-offsets`` (``wire``: FindCoordinator and OffsetDelete)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from kio.schema.describe_transactions.v0.response import TopicData
from kio.schema.errors import ErrorCode
from kio.schema.types import TopicName
from kio.static.primitive import i32

from odradek.cli.tools import wire
from odradek.cli.tools.txn_client import (
    DESCRIBE_TRANSACTIONS,
    METADATA,
    ClientError,
    Cluster,
    DescribeTransactionsResponseV0,
    DescribeTransactionsStateV0,
    TransactionDescription,
)
from odradek.protocol.client import response_module
from tests.unit.cli.fake_broker import FakeBroker

NO_ERROR = ErrorCode(0)


def metadata_response(port: int) -> Any:
    module = response_module(METADATA, 12)
    return module.MetadataResponse(
        throttle_time=timedelta(0),
        brokers=(module.MetadataResponseBroker(node_id=0, host="127.0.0.1", port=port),),
        cluster_id="c",
        controller_id=0,
        topics=(),
    )


def describe_transactions_response(_request: Any) -> Any:
    def state(tid: str, start: int, topics: tuple[Any, ...]) -> Any:
        return DescribeTransactionsStateV0(
            error_code=NO_ERROR,
            transactional_id=tid,
            transaction_state="Ongoing" if topics else "Empty",
            transaction_timeout=60_000,
            transaction_start_time=start,
            producer_id=7,
            producer_epoch=2,
            topics=topics,
        )

    return DescribeTransactionsResponseV0(
        throttle_time=timedelta(0),
        transaction_states=(
            state("empty", -1, ()),
            state(
                "open",
                1_700_000_000_000,
                (TopicData(topic=TopicName("t"), partitions=(i32(0), i32(2))),),
            ),
        ),
    )


@pytest.fixture
def txn_broker() -> Iterator[FakeBroker]:
    broker = FakeBroker({METADATA: (0, 12), DESCRIBE_TRANSACTIONS: (0, 0)}, {})
    broker.handlers[METADATA] = lambda _request: metadata_response(broker.port)
    broker.handlers[DESCRIBE_TRANSACTIONS] = describe_transactions_response
    yield broker
    broker.close()


def test_describe_transactions_reads_a_negative_start_time(txn_broker: FakeBroker) -> None:
    with Cluster(f"127.0.0.1:{txn_broker.port}", timeout=5) as cluster:
        assert sorted(cluster.brokers) == [0]
        found = cluster.describe_transactions(0, ["empty", "open"])
    assert found == [
        TransactionDescription(0, "empty", "Empty", 60_000, -1, 7, 2, ()),
        TransactionDescription(
            0, "open", "Ongoing", 60_000, 1_700_000_000_000, 7, 2, (("t", 0), ("t", 2))
        ),
    ]
    api_versions_header, api_versions = txn_broker.received[0]
    assert int(api_versions_header.request_api_version) == 3
    assert api_versions.client_software_name == "odradek-transactions"
    describe_header, describe = txn_broker.received[-1]
    assert describe_header.client_id == "odradek-transactions"
    assert describe.transactional_ids == ("empty", "open")


def test_unreachable_bootstrap_is_a_client_error() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
    with pytest.raises(
        ClientError, match=f"no bootstrap server reachable: cannot connect to 127.0.0.1:{port}"
    ):
        Cluster(f"127.0.0.1:{port}", timeout=5)


def test_a_closed_connection_is_a_client_error() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]

        def accept_and_close() -> None:
            conn, _ = server.accept()
            with conn:
                conn.recv(65536)  # the ApiVersions request, left unanswered

        thread = threading.Thread(target=accept_and_close, daemon=True)
        thread.start()
        with pytest.raises(ClientError, match=f"127.0.0.1:{port} closed the connection"):
            Cluster(f"127.0.0.1:{port}", timeout=5)
        thread.join(5)


# -- consumer-groups --delete-offsets -----------------------------------------------------------


def find_coordinator_response(port: int) -> Any:
    module = response_module(wire.FIND_COORDINATOR, 2)
    return module.FindCoordinatorResponse(
        throttle_time=timedelta(0),
        error_code=NO_ERROR,
        error_message=None,
        node_id=0,
        host="127.0.0.1",
        port=port,
    )


def offset_delete_response(request: Any) -> Any:
    module = response_module(wire.OFFSET_DELETE, 0)
    return module.OffsetDeleteResponse(
        error_code=NO_ERROR,
        throttle_time=timedelta(0),
        topics=tuple(
            module.OffsetDeleteResponseTopic(
                name=topic.name,
                partitions=tuple(
                    module.OffsetDeleteResponsePartition(
                        partition_index=p.partition_index,
                        error_code=ErrorCode(0 if topic.name == "a" else 3),
                    )
                    for p in topic.partitions
                ),
            )
            for topic in request.topics
        ),
    )


def test_delete_offsets_at_the_coordinator() -> None:
    broker = FakeBroker({wire.FIND_COORDINATOR: (0, 4), wire.OFFSET_DELETE: (0, 0)}, {})
    broker.handlers[wire.FIND_COORDINATOR] = lambda _request: find_coordinator_response(broker.port)
    broker.handlers[wire.OFFSET_DELETE] = offset_delete_response
    try:
        code, results = wire.delete_offsets(
            f"127.0.0.1:{broker.port}", "g", {"b": [1], "a": [2, 0]}, timeout=5
        )
    finally:
        broker.close()
    assert (code, results) == (0, {("a", 0): 0, ("a", 2): 0, ("b", 1): 3})
    bodies = [body for _header, body in broker.received]
    find = next(b for b in bodies if int(b.__api_key__) == wire.FIND_COORDINATOR)
    assert (find.key, int(find.key_type), int(find.__version__)) == ("g", 0, 2)
    delete = next(b for b in bodies if int(b.__api_key__) == wire.OFFSET_DELETE)
    assert delete.group_id == "g"
    assert [(t.name, [int(p.partition_index) for p in t.partitions]) for t in delete.topics] == [
        ("a", [0, 2]),
        ("b", [1]),
    ]
    assert {h.client_id for h, _body in broker.received} == {"odradek-consumer-groups"}


def test_error_texts_are_confluent_kafkas() -> None:
    assert wire.error_name(69) == "GROUP_ID_NOT_FOUND"
    assert wire.error_text(3) == "Unknown topic or partition"
