"""A response's chunks made fit for one write: a response encoded field by field can be over a
million small chunks (Metadata for 100,000 partitions), which uvloop refuses to write (more
than 2^20 buffers: EINVAL, and the connection is dropped) and the kernel would take only
IOV_MAX (1024) at a time anyway. Runs of small in-memory chunks are joined; large ones (record
data) and records left in a segment file stay as they are, uncopied."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

WRITE_CHUNKS = 1024
"""A response of up to this many chunks is written as it is."""
JOIN_BELOW = 64 * 1024
"""In-memory chunks smaller than this are joined with their small neighbours."""

InMemory = bytes | bytearray | memoryview
C = TypeVar("C")


def coalesced(chunks: Sequence[C]) -> list[C | bytes]:
    """``chunks`` with runs of small in-memory chunks joined (in order) when there are more
    than WRITE_CHUNKS of them; a response of more than 2^20 chunks then has at most one chunk
    per JOIN_BELOW bytes."""
    if len(chunks) <= WRITE_CHUNKS:
        return list(chunks)
    out: list[C | bytes] = []
    run: list[InMemory] = []
    for chunk in chunks:
        if isinstance(chunk, InMemory) and len(chunk) < JOIN_BELOW:
            run.append(chunk)
            continue
        if run:
            out.append(b"".join(run))
            run = []
        out.append(chunk)
    if run:
        out.append(b"".join(run))
    return out
