"""AlterPartitionReassignments / ListPartitionReassignments as ``reassign-partitions`` sends
them: kio encoding round-trips, response reading, and the controller client against a canned
broker (controller discovery, NOT_CONTROLLER retries)."""

from __future__ import annotations

import struct
from datetime import timedelta
from typing import Any

import pytest
from kio.schema.errors import ErrorCode
from kio.schema.request_header.v2.header import RequestHeader as RequestHeaderV2
from kio.schema.response_header.v1.header import ResponseHeader as ResponseHeaderV1
from kio.serial import entity_reader
from kio.static.primitive import i32

from odradek.cli.tools.common import ToolError
from odradek.cli.tools.reassignment_api import (
    ALTER_PARTITION_REASSIGNMENTS as ALTER,
)
from odradek.cli.tools.reassignment_api import (
    LIST_PARTITION_REASSIGNMENTS as LIST,
)
from odradek.cli.tools.reassignment_api import (
    ControllerClient,
    OngoingReassignment,
    PartitionError,
    alter_errors,
    alter_request,
    list_request,
    list_results,
)
from odradek.protocol.client import (
    WireError,
    decode_response,
    request_class,
    request_frame,
    response_class,
    response_module,
)
from tests.unit.cli.fake_broker import FakeAdmin, FakeBroker, Node, encode

NO_ERROR = ErrorCode(0)


def decode_request(frame: bytes) -> tuple[Any, Any]:
    """What a broker reads from a frame: (header, body)."""
    (size,) = struct.unpack_from(">i", frame)
    assert size == len(frame) - 4
    payload = frame[4:]
    api_key, version = struct.unpack_from(">hh", payload)
    header, offset = entity_reader(RequestHeaderV2)(payload, 0)
    body, used = entity_reader(request_class(api_key, version))(payload, offset)
    assert offset + used == len(payload)
    return header, body


def response_payload(body: Any, correlation_id: int = 7) -> bytes:
    return encode(ResponseHeaderV1(correlation_id=i32(correlation_id))) + encode(body)


# -- requests ----------------------------------------------------------------------------------


@pytest.mark.parametrize("version", [0, 1])
def test_alter_request_round_trip(version: int) -> None:
    targets = {("foo", 1): [2, 3], ("bar", 0): [3, 1, 2], ("foo", 0): None}
    request = alter_request(version, targets, timeout_ms=15_000)
    header, body = decode_request(request_frame(request, 42, "tool"))
    assert (header.request_api_key, header.request_api_version) == (ALTER, version)
    assert (header.correlation_id, header.client_id) == (42, "tool")
    assert body == request
    assert body.timeout == timedelta(seconds=15)
    sent = {(t.name, p.partition_index): p.replicas for t in body.topics for p in t.partitions}
    assert sent == {("foo", 1): (2, 3), ("bar", 0): (3, 1, 2), ("foo", 0): None}
    assert [t.name for t in body.topics] == ["bar", "foo"]  # one entry per topic, sorted
    if version >= 1:
        assert body.allow_replication_factor_change is True


def test_list_request_round_trip() -> None:
    everything = list_request(0, None, timeout_ms=1000)
    _, body = decode_request(request_frame(everything, 1, "tool"))
    assert body.topics is None  # null: every ongoing reassignment
    some = list_request(0, [("foo", 2), ("bar", 0), ("foo", 0)], timeout_ms=1000)
    _, body = decode_request(request_frame(some, 2, "tool"))
    assert [(t.name, t.partition_indexes) for t in body.topics] == [("bar", (0,)), ("foo", (0, 2))]


# -- responses ---------------------------------------------------------------------------------


def alter_response(
    version: int, top: int = 0, partitions: dict[Any, tuple[int, str | None]] | None = None
) -> Any:
    module = response_module(ALTER, version)
    by_topic: dict[str, list[Any]] = {}
    for (topic, p), (code, message) in sorted((partitions or {}).items()):
        by_topic.setdefault(topic, []).append(
            module.ReassignablePartitionResponse(
                partition_index=p, error_code=ErrorCode(code), error_message=message
            )
        )
    return module.AlterPartitionReassignmentsResponse(
        throttle_time=timedelta(0),
        error_code=ErrorCode(top),
        error_message="top message" if top else None,
        responses=tuple(
            module.ReassignableTopicResponse(name=t, partitions=tuple(ps))
            for t, ps in by_topic.items()
        ),
    )


def test_alter_response_round_trip_and_errors() -> None:
    response = alter_response(
        0,
        partitions={("foo", 0): (0, None), ("foo", 1): (3, None), ("bar", 0): (37, "bad replicas")},
    )
    correlation, decoded = decode_response(response_payload(response, 9), ALTER, 0)
    assert (correlation, decoded) == (9, response)
    errors = alter_errors(decoded, [("foo", 0), ("foo", 1), ("bar", 0), ("baz", 0)])
    assert set(errors) == {("foo", 1), ("bar", 0), ("baz", 0)}
    assert errors[("bar", 0)] == PartitionError(37, "bad replicas")
    assert errors[("bar", 0)].text() == "bad replicas"
    assert errors[("foo", 1)].text() == "Unknown topic or partition"  # the default message
    assert "did not answer" in errors[("baz", 0)].text()


def test_top_level_alter_error_applies_to_every_partition() -> None:
    errors = alter_errors(alter_response(1, top=29), [("foo", 0), ("bar", 1)])
    assert errors == {
        ("foo", 0): PartitionError(29, "top message"),
        ("bar", 1): PartitionError(29, "top message"),
    }


def list_response(top: int = 0) -> Any:
    module = response_module(LIST, 0)
    return module.ListPartitionReassignmentsResponse(
        throttle_time=timedelta(0),
        error_code=ErrorCode(top),
        error_message=None,
        topics=(
            module.OngoingTopicReassignment(
                name="foo",
                partitions=(
                    module.OngoingPartitionReassignment(
                        partition_index=0,
                        replicas=(1, 2, 3),
                        adding_replicas=(3,),
                        removing_replicas=(1,),
                    ),
                    module.OngoingPartitionReassignment(partition_index=4, replicas=(2, 3)),
                ),
            ),
        ),
    )


def test_list_response_round_trip() -> None:
    _, decoded = decode_response(response_payload(list_response()), LIST, 0)
    assert list_results(decoded) == {
        ("foo", 0): OngoingReassignment("foo", 0, (1, 2, 3), (3,), (1,)),
        ("foo", 4): OngoingReassignment("foo", 4, (2, 3), (), ()),
    }
    with pytest.raises(ToolError, match="cannot list partition reassignments"):
        list_results(list_response(top=31))


def test_trailing_bytes_are_refused() -> None:
    with pytest.raises(WireError, match="trailing"):
        decode_response(response_payload(list_response()) + b"\0", LIST, 0)


def test_response_classes_are_the_top_level_entities() -> None:
    assert response_class(ALTER, 1).__name__ == "AlterPartitionReassignmentsResponse"
    assert request_class(LIST, 0).__name__ == "ListPartitionReassignmentsRequest"


# -- the controller client ---------------------------------------------------------------------


def test_controller_client_talks_to_the_controller() -> None:
    broker = FakeBroker(
        {ALTER: (0, 1), LIST: (0, 0)},
        {
            ALTER: lambda body: alter_response(
                1,
                partitions={
                    (t.name, p.partition_index): (0, None)
                    for t in body.topics
                    for p in t.partitions
                },
            ),
            LIST: lambda body: list_response(),
        },
    )
    try:
        admin = FakeAdmin(controllers=[Node(2, port=broker.port)])
        client = ControllerClient(admin)  # type: ignore[arg-type]
        assert client.alter({("foo", 0): [2, 3], ("foo", 1): None}) == {}
        ongoing = client.list_ongoing([("foo", 0)])
        assert ongoing[("foo", 0)].adding == (3,)
        requests = [(h.request_api_key, h.request_api_version) for h, _ in broker.received]
        assert requests == [(18, 0), (ALTER, 1), (18, 0), (LIST, 0)]  # the highest versions
    finally:
        broker.close()


def test_controller_client_retries_not_controller() -> None:
    stale = FakeBroker({LIST: (0, 0)}, {LIST: lambda body: list_response(top=41)})
    active = FakeBroker({LIST: (0, 0)}, {LIST: lambda body: list_response()})
    try:
        admin = FakeAdmin(controllers=[None, Node(1, port=stale.port), Node(2, port=active.port)])
        assert set(ControllerClient(admin).list_ongoing()) == {("foo", 0), ("foo", 4)}  # type: ignore[arg-type]
        assert admin.describe_calls == 3
    finally:
        stale.close()
        active.close()


def test_controller_client_gives_up_after_the_timeout() -> None:
    stale = FakeBroker({LIST: (0, 0)}, {LIST: lambda body: list_response(top=41)})
    try:
        admin = FakeAdmin(controllers=[Node(1, port=stale.port)], timeout=0.5)
        with pytest.raises(ToolError, match="no longer the controller"):
            ControllerClient(admin).list_ongoing()  # type: ignore[arg-type]
    finally:
        stale.close()


def test_unsupported_api_is_reported() -> None:
    broker = FakeBroker({}, {})
    try:
        admin = FakeAdmin(controllers=[Node(1, port=broker.port)])
        with pytest.raises(WireError, match="does not support ListPartitionReassignments"):
            ControllerClient(admin).list_ongoing()  # type: ignore[arg-type]
    finally:
        broker.close()
