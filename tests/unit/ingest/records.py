"""A stand-in for confluent-kafka's ``Message`` (the same methods), for sans-IO tests."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FakeRecord:
    value_: bytes | None
    offset_: int = 0
    partition_: int = 0
    topic_: str = "t"
    key_: bytes | None = None
    timestamp_: tuple[int, int] = (1, 1_700_000_000_123)
    headers_: list[tuple[str, str | bytes | None]] | None = field(default=None)

    def topic(self) -> str:
        return self.topic_

    def partition(self) -> int:
        return self.partition_

    def offset(self) -> int:
        return self.offset_

    def key(self) -> bytes | None:
        return self.key_

    def value(self) -> bytes | None:
        return self.value_

    def timestamp(self) -> tuple[int, int]:
        return self.timestamp_

    def headers(self) -> list[tuple[str, str | bytes | None]] | None:
        return self.headers_
