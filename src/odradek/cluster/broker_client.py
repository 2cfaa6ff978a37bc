"""An asyncio Kafka client for broker-to-broker requests (replica fetches, transaction
markers): one TCP connection, one request in flight, kio entities in and out."""

from __future__ import annotations

import asyncio
import io
import struct
from functools import cache
from typing import Any

from kio.schema.request_header.v1.header import RequestHeader as RequestHeaderV1
from kio.schema.request_header.v2.header import RequestHeader as RequestHeaderV2
from kio.schema.response_header.v0.header import ResponseHeader as ResponseHeaderV0
from kio.schema.response_header.v1.header import ResponseHeader as ResponseHeaderV1
from kio.serial import entity_reader, entity_writer
from kio.static.primitive import i16, i32

from odradek.protocol.api_versions import API_VERSIONS_KEY
from odradek.protocol.codec import response_class

_SIZE = struct.Struct(">i")


class BrokerConnectionError(Exception):
    """The peer broker could not be reached, closed the connection or answered garbage."""


@cache
def _writer(entity_type: Any) -> Any:
    return entity_writer(entity_type)


@cache
def _reader(entity_type: Any) -> Any:
    return entity_reader(entity_type)


def _encode(entity: Any) -> bytes:
    buffer = io.BytesIO()
    _writer(type(entity))(buffer, entity)  # type: ignore[arg-type]
    return buffer.getvalue()


class BrokerClient:
    def __init__(self, host: str, port: int, client_id: str, timeout_s: float = 30.0) -> None:
        self.host = host
        self.port = port
        self.client_id = client_id
        self.timeout_s = timeout_s
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._correlation = 0
        self._lock = asyncio.Lock()

    async def _connect(self) -> None:
        try:
            self._reader, self._writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port), self.timeout_s
            )
        except (OSError, TimeoutError) as exc:
            raise BrokerConnectionError(
                f"cannot connect to {self.host}:{self.port}: {exc}"
            ) from exc

    async def request(self, entity: Any, timeout_s: float | None = None) -> Any:
        """Send ``entity`` (a kio request) and return the decoded response."""
        async with self._lock:
            try:
                return await asyncio.wait_for(self._request(entity), timeout_s or self.timeout_s)
            except (
                OSError,
                TimeoutError,
                asyncio.IncompleteReadError,
                ValueError,
                struct.error,
                AttributeError,
            ) as exc:  # AttributeError: closed meanwhile
                self.close()
                raise BrokerConnectionError(
                    f"request to {self.host}:{self.port} failed: {exc!r}"
                ) from exc

    async def _request(self, entity: Any) -> Any:
        if self._writer is None:
            await self._connect()
        reader, writer = self._reader, self._writer
        if reader is None or writer is None:
            raise ValueError("connection closed")
        self._correlation += 1
        flexible = bool(entity.__flexible__)
        header_class = RequestHeaderV2 if flexible else RequestHeaderV1
        header = header_class(
            request_api_key=i16(entity.__api_key__),
            request_api_version=i16(entity.__version__),
            correlation_id=i32(self._correlation),
            client_id=self.client_id,
        )
        payload = _encode(header) + _encode(entity)
        writer.write(_SIZE.pack(len(payload)) + payload)
        await writer.drain()
        (size,) = _SIZE.unpack(await reader.readexactly(4))
        frame = await reader.readexactly(size)
        flexible_header = flexible and entity.__api_key__ != API_VERSIONS_KEY
        response_header, offset = _reader(
            ResponseHeaderV1 if flexible_header else ResponseHeaderV0
        )(frame, 0)
        if response_header.correlation_id != self._correlation:
            raise ValueError("correlation id mismatch")
        body, _ = _reader(response_class(entity.__api_key__, entity.__version__))(frame, offset)
        return body

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None
