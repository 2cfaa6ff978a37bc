"""ApiVersions, including KIP-511's answer to a version this broker does not know and its
check of the client software name and version (v3+)."""

from __future__ import annotations

import re
import struct
from collections.abc import Mapping
from datetime import timedelta
from functools import cache
from typing import TYPE_CHECKING, Any, Protocol

from kio.schema.errors import ErrorCode

from odradek.protocol.api_versions import (
    API_VERSIONS_KEY,
    CONSUMER_GROUP_DESCRIBE_KEY,
    CONSUMER_GROUP_HEARTBEAT_KEY,
    SUPPORTED_APIS,
)
from odradek.protocol.codec import RequestHeader, build, encode_response, response_module
from odradek.server.collaborators import HasConfig

if TYPE_CHECKING:
    from odradek.server.request_context import RequestContext


class ApiVersionsCollaborators(HasConfig, Protocol):
    """What ApiVersions reads from the broker: the config that hides APIs it has turned off."""


# KIP-511: a client software name or version is letters, digits, '-' and '.', beginning and
# ending with a letter or digit.
_INT32 = struct.Struct(">i")
CLIENT_SOFTWARE_PATTERN = re.compile(r"[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?")


def _response(
    version: int, error: ErrorCode, apis: Mapping[int, tuple[int, int]] = SUPPORTED_APIS
) -> Any:
    module = response_module(API_VERSIONS_KEY, version)
    keys = tuple(
        build(module.ApiVersion, api_key=key, min_version=low, max_version=high)
        for key, (low, high) in sorted(apis.items())
    )
    return build(
        module.ApiVersionsResponse, error_code=error, api_keys=keys, throttle_time=timedelta(0)
    )


def is_valid_client_software(request: Any, version: int) -> bool:
    """Whether the request's client software name and version are valid (always, before v3,
    which has neither)."""
    if version < 3:
        return True
    return all(
        CLIENT_SOFTWARE_PATTERN.fullmatch(value) is not None
        for value in (request.client_software_name, request.client_software_version)
    )


CONSUMER_PROTOCOL_APIS = frozenset({CONSUMER_GROUP_HEARTBEAT_KEY, CONSUMER_GROUP_DESCRIBE_KEY})
"""KIP-848's APIs: advertised only while ``group.coordinator.rebalance.protocols`` has
``consumer`` (as Kafka does)."""

NOT_HIDDEN: frozenset[int] = frozenset()


@cache
def _supported(version: int, hidden: frozenset[int] = NOT_HIDDEN) -> Any:
    """The answer every client gets first on every connection: built once per version and
    set of APIs this broker's config turns off (kio entities are immutable)."""
    apis = {key: span for key, span in SUPPORTED_APIS.items() if key not in hidden}
    return _response(version, ErrorCode.none, apis)


@cache
def _encoded_supported(version: int, hidden: frozenset[int]) -> bytes:
    """``_supported(version, hidden)`` encoded, without the size and correlation id."""
    header = RequestHeader(API_VERSIONS_KEY, version, 0, None)
    chunks = encode_response(header, _supported(version, hidden))
    return b"".join(bytes(chunk) for chunk in chunks)[8:]  # past the size and correlation id


def encoded_api_versions(
    header: RequestHeader, body: Any
) -> list[bytes | bytearray | memoryview] | None:
    """The response chunks of a supported-ranges answer from the encoding cache (encoding
    its 50 ranges cost more than a whole PLAINTEXT connection); None for another body."""
    for hidden in (NOT_HIDDEN, CONSUMER_PROTOCOL_APIS):
        if body is _supported(header.api_version, hidden):
            encoded = _encoded_supported(header.api_version, hidden)
            return [_INT32.pack(4 + len(encoded)), _INT32.pack(header.correlation_id), encoded]
    return None


def hidden_apis(broker: ApiVersionsCollaborators) -> frozenset[int]:
    """The APIs this broker's config turns off."""
    protocols = broker.config.get("group.coordinator.rebalance.protocols") or ()
    return NOT_HIDDEN if "consumer" in protocols else CONSUMER_PROTOCOL_APIS


def handle_api_versions(broker: ApiVersionsCollaborators, ctx: RequestContext, request: Any) -> Any:
    """The supported version ranges; INVALID_REQUEST with no ranges, as Kafka answers, for an
    invalid client software name or version (the connection stays open). A valid one is kept
    as the connection's client information."""
    version = ctx.header.api_version
    if not is_valid_client_software(request, version):
        return _response(version, ErrorCode.invalid_request, apis={})
    if version >= 3:  # what the connection's client is, for client metrics' selectors
        ctx.connection.client.software_name = request.client_software_name
        ctx.connection.client.software_version = request.client_software_version
    return _supported(version, hidden_apis(broker))


def unsupported_version_response() -> Any:
    """KIP-511: an ApiVersions request of an unknown version gets a v0 response carrying
    UNSUPPORTED_VERSION and the supported ranges, so the client can retry with one we know."""
    return _response(0, ErrorCode.unsupported_version)
