"""One request's context: what the connection knows about it (header, listener, peer,
principal) and the internal writes handling it made. Created by the connection for every
request and passed explicitly to its handler; nothing per-request lives on shared objects."""

from __future__ import annotations

from dataclasses import dataclass, field

from odradek.common.principal import ANONYMOUS, KafkaPrincipal
from odradek.common.writes import PendingWrites
from odradek.protocol.codec import RequestHeader


@dataclass(slots=True)
class ClientInformation:
    """The client software a connection's ApiVersions request (v3+) named (KIP-511), or
    empty; Kafka's ``ClientInformation``."""

    software_name: str = ""
    software_version: str = ""


@dataclass(frozen=True, slots=True)
class ConnectionInfo:
    """What a connection knows about its peer; one per connection, shared by its requests."""

    listener_name: str = "PLAINTEXT"
    peer_host: str = ""
    peer_port: int = -1
    principal: KafkaPrincipal = ANONYMOUS
    client: ClientInformation = field(default_factory=ClientInformation)


@dataclass(slots=True)
class RequestContext:
    header: RequestHeader
    connection: ConnectionInfo
    writes: PendingWrites = field(default_factory=PendingWrites)
    # Set by a client quota: the response says so and the connection is muted this long.
    throttle_ms: int = 0
    # Set by a handler whose response is large (Metadata for thousands of topics): the
    # response is encoded on a worker thread instead of holding the event loop.
    encode_off_loop: bool = False

    @property
    def principal(self) -> KafkaPrincipal:
        return self.connection.principal

    @property
    def listener_name(self) -> str:
        return self.connection.listener_name

    @property
    def client_host(self) -> str:
        """The client host as Kafka reports it for group members (``/127.0.0.1``)."""
        host = self.connection.peer_host
        return f"/{host}" if host else ""
