"""ApiVersions, including KIP-511's answer to a version this broker does not know."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from kio.schema.errors import ErrorCode

from odradek.protocol.api_versions import API_VERSIONS_KEY, SUPPORTED_APIS
from odradek.protocol.codec import build, response_module

if TYPE_CHECKING:
    from odradek.server.broker import BrokerServer
    from odradek.server.request_context import RequestContext


def _response(version: int, error: ErrorCode) -> Any:
    module = response_module(API_VERSIONS_KEY, version)
    keys = tuple(
        build(module.ApiVersion, api_key=key, min_version=low, max_version=high)
        for key, (low, high) in sorted(SUPPORTED_APIS.items())
    )
    return build(
        module.ApiVersionsResponse, error_code=error, api_keys=keys, throttle_time=timedelta(0)
    )


def handle_api_versions(broker: BrokerServer, ctx: RequestContext, request: Any) -> Any:
    header = ctx.header
    return _response(header.api_version, ErrorCode.none)


def unsupported_version_response() -> Any:
    """KIP-511: an ApiVersions request of an unknown version gets a v0 response carrying
    UNSUPPORTED_VERSION and the supported ranges, so the client can retry with one we know."""
    return _response(0, ErrorCode.unsupported_version)
