"""A full device does not stop metadata writes: the log's space is reserved up front, so
topics can be deleted and configs changed with no free byte left, and a write that finds the
reservation used up raises ENOSPC to its caller without changing the cache. Runs on a small
tmpfs mounted for the test (as root; skipped where mounting is not possible)."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from odradek.cluster.metadata import LocalMetadataStore, TopicMetadata
from odradek.cluster.metadata_log import MetadataLog
from odradek.cluster.metadata_records import MetadataRecord
from odradek.common.ids import new_topic_id

RESERVED = 64 * 1024


@pytest.fixture
def device(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs, unmounted afterwards."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root and mount(8)")
    mount_point = tmp_path / "device"
    mount_point.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(directory: Path) -> Path:
    """Write a file until the device has no free byte left; returns it."""
    path = directory / "filler"
    with open(path, "wb", buffering=0) as handle:
        chunk = 64 * 1024
        while chunk:
            try:
                handle.write(bytes(chunk))
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                chunk //= 2
    assert os.statvfs(directory).f_bavail == 0
    return path


def topic(name: str) -> TopicMetadata:
    return TopicMetadata(name, new_topic_id(), 1, 1, {"retention.ms": "86400000"})


def opened(directory: Path) -> LocalMetadataStore:
    store = LocalMetadataStore(directory, min_log_bytes=RESERVED)
    store.load()
    return store


async def test_deletes_and_config_changes_are_recorded_on_a_full_device(device: Path) -> None:
    store = opened(device)
    for i in range(40):
        await store.create_topic_async(topic(f"t{i}"))
    filler = fill(device)
    for i in range(0, 40, 2):
        await store.delete_topic_async(f"t{i}")
    await store.set_entity_configs_async("users/alice", {"producer_byte_rate": "1024"})
    await store.set_broker_configs_async("", {"log.retention.ms": "1000"})
    assert os.statvfs(device).f_bavail == 0

    made = 0
    with pytest.raises(OSError) as failure:  # until the reservation is used up
        while True:
            await store.create_topic_async(topic(f"more-{made}"))
            made += 1
    assert failure.value.errno == errno.ENOSPC
    assert made > 0 and f"more-{made}" not in store.topics
    expected = {name: t.topic_id for name, t in store.topics.items()}
    assert len(expected) == 20 + made
    store.close()
    reloaded = opened(device)
    assert {name: t.topic_id for name, t in reloaded.topics.items()} == expected
    assert reloaded.entity_configs == {"users/alice": {"producer_byte_rate": "1024"}}

    filler.unlink()  # space again: writes go on, and the log is compacted
    for i in range(200):
        await reloaded.create_topic_async(topic(f"after-{i}"))
    assert len(reloaded.topics) == 20 + made + 200
    reloaded.close()
    again = opened(device)
    assert len(again.topics) == 20 + made + 200
    again.close()


def test_a_full_device_at_compaction_leaves_no_temp_file(device: Path) -> None:
    log = MetadataLog(device, RESERVED)
    log.create({})
    fill(device)
    log.append(MetadataRecord.of("topics", "a", {"n": 1}))
    with pytest.raises(OSError) as failure:
        log.compact()
    assert failure.value.errno == errno.ENOSPC
    assert sorted(p.name for p in device.iterdir()) == [
        "filler",
        "odradek-metadata.log",
        "odradek-metadata.snapshot",
    ]
    log.append(MetadataRecord.of("topics", "b", {"n": 2}))
    log.close()
    again = MetadataLog(device, RESERVED)
    assert again.recover() == {"topics": {"a": {"n": 1}, "b": {"n": 2}}}
    again.close()
