"""SaslHandshake and SaslAuthenticate outside an authentication exchange: on a listener
without SASL, or out of order on an authenticated connection, Kafka answers
ILLEGAL_SASL_STATE. The exchange itself is the connection's (server/sasl_authenticator.py);
these answers read nothing from the broker."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kio.schema.errors import ErrorCode

from odradek.protocol.api_versions import SASL_AUTHENTICATE_KEY, SASL_HANDSHAKE_KEY
from odradek.protocol.codec import build, response_module

if TYPE_CHECKING:
    from odradek.server.request_context import RequestContext


def handle_sasl_handshake(broker: object, ctx: RequestContext, request: Any) -> Any:
    module = response_module(SASL_HANDSHAKE_KEY, ctx.header.api_version)
    return build(
        module.SaslHandshakeResponse, error_code=ErrorCode.illegal_sasl_state, mechanisms=()
    )


def handle_sasl_authenticate(broker: object, ctx: RequestContext, request: Any) -> Any:
    module = response_module(SASL_AUTHENTICATE_KEY, ctx.header.api_version)
    return build(
        module.SaslAuthenticateResponse,
        error_code=ErrorCode.illegal_sasl_state,
        error_message=f"Unexpected SaslAuthenticate request on listener {ctx.listener_name}",
        auth_bytes=b"",
    )
