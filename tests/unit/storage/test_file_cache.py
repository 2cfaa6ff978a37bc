"""The broker's LRU of open segment files: at most ``capacity`` descriptors, reopened on use,
never cutting a fetch being sent short, pinned open across the cleaner's swap, making room on
EMFILE; and logs that hold many more segment files than that."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from odradek.common.clock import FakeClock
from odradek.common.ids import TopicPartition
from odradek.protocol.records.codec import encode_batch
from odradek.storage import swap
from odradek.storage.cleaner.job import clean
from odradek.storage.cleaner.manager import LogCleanerManager
from odradek.storage.file_cache import CachedFile, FileCache, capacity_for
from odradek.storage.file_records import FileRecords
from odradek.storage.log_manager import LogManager
from tests.unit.storage.helpers import T0, TOPIC_ID, append, log_config, make_batch, read_all


def open_fds() -> set[int]:
    return {int(name) for name in os.listdir("/proc/self/fd")}


def is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


@pytest.fixture
def files(tmp_path: Path) -> list[Path]:
    paths = [tmp_path / f"f{n}" for n in range(5)]
    for n, path in enumerate(paths):
        path.write_bytes(f"file {n}".encode())
    return paths


def test_at_most_capacity_files_are_open_the_least_recently_used_closed(
    files: list[Path],
) -> None:
    cache = FileCache(3)
    before = open_fds()
    cached = [CachedFile(cache, path) for path in files]
    assert [f.is_open for f in cached] == [False, False, True, True, True]
    assert len(open_fds() - before) == 3 and cache.open_files == 3
    cached[2].fd()  # used: now the most recent
    assert os.pread(cached[0].fd(), 6, 0) == b"file 0"  # reopened by its path...
    assert [f.is_open for f in cached] == [True, False, True, False, True]  # ...3 went
    assert len(open_fds() - before) == 3
    assert (cache.opens, cache.evictions) == (6, 3)
    for f in cached:
        f.close()
    assert open_fds() == before and cache.open_files == 0


def test_a_closed_file_is_never_reopened_nor_an_evicted_one_recreated(files: list[Path]) -> None:
    cache = FileCache(1)
    first, second = CachedFile(cache, files[0]), CachedFile(cache, files[1])
    second.close()
    with pytest.raises(OSError) as closed:
        second.fd()
    assert closed.value.errno == errno.EBADF
    CachedFile(cache, files[2]).close()  # evicts ``first``
    files[0].unlink()
    with pytest.raises(FileNotFoundError):
        first.fd()
    assert not files[0].exists()


def test_a_fetch_being_sent_keeps_its_descriptor_through_an_eviction(files: list[Path]) -> None:
    cache = FileCache(1)
    segment_file = CachedFile(cache, files[0])
    records = FileRecords(segment_file.shared(), 0, 6)
    fd = records._fd()
    other = CachedFile(cache, files[1])  # evicts the segment's file
    assert not segment_file.is_open and is_open(fd)
    assert records.read(0, 6) == b"file 0"
    records.close()
    assert not is_open(fd)
    other.close()


def test_pinned_files_stay_open(files: list[Path]) -> None:
    cache = FileCache(2)
    pinned = CachedFile(cache, files[0])
    pinned.pin()
    others = [CachedFile(cache, path) for path in files[1:]]
    assert pinned.is_open and cache.open_files == 2
    assert [f.is_open for f in others] == [False, False, False, True]
    pinned.close()
    assert not pinned.is_open
    for f in others:
        f.close()


EMFILE_SCENARIO = """
import os, resource, sys
from pathlib import Path
from odradek.storage.file_cache import CachedFile, FileCache

files = [Path(p) for p in sys.argv[1:]]
taken = {int(name) for name in os.listdir("/proc/self/fd")}
# the soft limit lowered so that exactly three more descriptors can be opened
limit = [n for n in range(max(taken) + 5) if n not in taken][3]
_, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))
cache = FileCache(100)  # more than the process may open: the kernel refuses first
cached = [CachedFile(cache, path) for path in files]  # EMFILE on the 4th, retried
assert cache.evictions >= 1, cache.evictions
for f in cached[-2:]:
    os.fstat(f.fd())
assert os.pread(cached[0].fd(), 6, 0) == b"file 0"
for f in cached:
    f.close()
print("ok")
"""


def test_too_many_open_files_closes_cached_ones_and_retries(files: list[Path]) -> None:
    """In a process of its own: with a limit three descriptors above what is open, a thread
    left running by another test in this process could take those three first."""
    done = subprocess.run(
        [sys.executable, "-c", EMFILE_SCENARIO, *map(str, files)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_capacity_leaves_a_quarter_of_the_limit() -> None:
    assert capacity_for(20_000) == 15_000
    assert capacity_for(1024) == 768


def test_many_more_partitions_than_open_files(tmp_path: Path) -> None:
    cache = FileCache(12)  # four segments' files
    manager = LogManager([tmp_path / "data"], FakeClock(T0), file_cache=cache)
    manager.startup(node_id=0, cluster_id="MkU3OEVBNTcwNTJENDM2Qk")
    before = open_fds()
    tps = [TopicPartition("many", p) for p in range(40)]
    logs = [manager.get_or_create_log(tp, TOPIC_ID, log_config()) for tp in tps]
    for round_ in range(3):
        for log in logs:
            append(log, make_batch(2, tag=f"{log.tp.partition}-{round_}"))
    assert len(open_fds() - before) <= 12
    for log in logs:
        values = [r.value for r in read_all(log)]
        assert len(values) == 6 and values[0] is not None
        assert values[0].startswith(f"{log.tp.partition}-0".encode())
    manager.shutdown()  # flushes and snapshots every log, reopening files as it goes
    assert open_fds() <= before
    again = LogManager([tmp_path / "data"], FakeClock(T0), file_cache=FileCache(12))
    again.startup(node_id=0, cluster_id=None)
    assert again.clean_shutdown
    assert all(
        again.get_or_create_log(tp, TOPIC_ID, log_config()).log_end_offset == 6 for tp in tps
    )
    again.shutdown()


def test_segments_being_swapped_keep_reading_their_own_files(tmp_path: Path) -> None:
    """The cleaner's install renames the new files to the old segments' names: evicted and
    reopened by name meanwhile, an old segment would read the new file."""
    cache = FileCache(3)
    config = log_config(
        cleanup_policy=["compact"], min_cleanable_dirty_ratio=0.01, segment_bytes=300
    )
    manager = LogManager([tmp_path / "data"], FakeClock(T0), file_cache=cache)
    manager.startup(node_id=0, cluster_id="MkU3OEVBNTcwNTJENDM2Qk")
    log = manager.get_or_create_log(TopicPartition("compacted", 0), TOPIC_ID, log_config())
    log.update_config(config)
    for n in range(12):
        append(log, encode_batch([(b"same-key", f"value-{n}".encode())], timestamp=T0))
    assert len(log.segments) > 3
    before = [r.value for r in read_all(log)]
    cleaner = LogCleanerManager(manager.log_dirs)
    candidate = cleaner.candidate(log.tp, log, T0)
    assert candidate is not None
    result = clean(cleaner.job_for(candidate, 100_000, T0))
    valid = log.installable_groups(result.groups)  # pins the replaced segments open
    for base, replaced in valid:
        swap.install(log.dir, base, replaced)
    others = [
        manager.get_or_create_log(TopicPartition("other", p), TOPIC_ID, config) for p in range(4)
    ]
    for other in others:
        append(other, make_batch(1))  # their files take the cache's every slot
    assert [r.value for r in read_all(log)] == before  # still the old segments' bytes
    log.swap_in(valid)
    assert [r.value for r in read_all(log)][-1] == b"value-11"
    assert len(read_all(log)) < len(before)
    manager.shutdown()
