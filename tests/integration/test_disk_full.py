"""A full disk, handled as Kafka does (KIP-112), against a real broker whose log dir is a small
tmpfs (mounted as root for the test; skipped where that is not possible).

Producing until the disk is full ends in KAFKA_STORAGE_ERROR and one ERROR line naming the log
dir; the dir goes offline (the OfflineLogDirectoryCount metric, DescribeLogDirs' error), its
partitions answer KAFKA_STORAGE_ERROR and the coordinators of its internal partitions
COORDINATOR_NOT_AVAILABLE, while another log dir serves on. With no log dir left the broker
stops with status 1 and one line saying why. Every acknowledged record is there after a
restart, DeleteTopics frees the space, and produce works again."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from odradek.coordinator.group.records import partition_for
from odradek.protocol.records.codec import decode_batches, encode_batch
from tests.support.broker_process import BrokerProcess, free_port
from tests.support.raw_client import RawClient, request_module
from tests.unit.observability.scrape import scrape, wait_for_endpoint

pytestmark = pytest.mark.integration

KAFKA_STORAGE_ERROR = 56
LEADER_NOT_AVAILABLE = 5
COORDINATOR_NOT_AVAILABLE = 15
FIND_COORDINATOR, DELETE_TOPICS, DESCRIBE_LOG_DIRS = 10, 20, 35
OFFSETS_PARTITIONS = 4
VALUE_SIZE = 50_000
DEADLINE_S = 60.0


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 20 MiB tmpfs, unmounted after the test (its brokers are killed before)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root and mount(8)")
    mount_point = tmp_path / "tmpfs"
    mount_point.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=20m", "tmpfs", str(mount_point)],
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


@pytest.fixture
def brokers() -> Iterator[list[BrokerProcess]]:
    """Brokers a test starts, killed afterwards (before the tmpfs is unmounted)."""
    started: list[BrokerProcess] = []
    yield started
    for broker in started:
        broker.kill()


def broker_on(tmp_path: Path, log_dirs: list[Path], metrics_port: int = -1) -> BrokerProcess:
    """A broker on ``log_dirs``; its own log file stays off the tmpfs."""
    return BrokerProcess(
        tmp_path / "unused",
        overrides={
            "log.dirs": ",".join(str(d) for d in log_dirs),
            "metrics.port": str(metrics_port),
            "offsets.topic.num.partitions": str(OFFSETS_PARTITIONS),
        },
    )


def wait_for(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {DEADLINE_S}s: {what}")
        time.sleep(0.05)


def fill(client: RawClient, topic: str) -> list[bytes]:
    """Produce distinct records until the broker refuses one; the values acknowledged."""
    acked: list[bytes] = []
    while True:
        value = f"{len(acked):08d}".encode() + os.urandom(VALUE_SIZE)
        result = client.produce(topic, 0, encode_batch([(b"k", value)]))
        if result.error_code:
            assert result.error_code == KAFKA_STORAGE_ERROR, result
            return acked
        assert result.base_offset == len(acked)
        acked.append(value)
        assert len(acked) < 1000, "the 20 MiB tmpfs never filled"


def values(client: RawClient, topic: str) -> list[bytes | None]:
    """Every record value of partition 0, fetched from offset 0 to the end."""
    end = client.latest_offset(topic)
    found: list[bytes | None] = []
    while len(found) < end:
        data = client.fetch(topic, 0, len(found))
        assert data.error_code == 0, data
        found += [
            r.value
            for batch in decode_batches(bytes(data.records or b""))
            for r in batch.records
            if r.offset >= len(found)
        ]
    return found


def describe_log_dirs(client: RawClient) -> dict[str, Any]:
    mod = request_module(DESCRIBE_LOG_DIRS, 4)
    response = client.call(mod.DescribeLogDirsRequest(topics=None))
    return {result.log_dir: result for result in response.results}


def placement(client: RawClient) -> dict[tuple[str, int], str]:
    """(topic, partition) -> the log dir DescribeLogDirs puts it in."""
    return {
        (topic.name, partition.partition_index): log_dir
        for log_dir, result in describe_log_dirs(client).items()
        for topic in result.topics
        for partition in topic.partitions
    }


def find_coordinator(client: RawClient, group: str) -> Any:
    mod = request_module(FIND_COORDINATOR, 4)
    response = client.call(mod.FindCoordinatorRequest(key_type=0, coordinator_keys=(group,)))
    return response.coordinators[0]


def delete_topic(client: RawClient, name: str) -> int:
    mod = request_module(DELETE_TOPICS, 6)
    response = client.call(
        mod.DeleteTopicsRequest(
            topics=(mod.DeleteTopicState(name=name, topic_id=None),),
            timeout=timedelta(seconds=30),
        )
    )
    return int(response.responses[0].error_code)


def free_bytes(directory: Path) -> int:
    stat = os.statvfs(directory)
    return stat.f_bavail * stat.f_frsize


def storage_error_line(log_dir: Path) -> str:
    return f"No space left on device; log dir {log_dir} is now offline"


def group_on(partition: int) -> str:
    """A group id whose offsets go to ``__consumer_offsets-<partition>``."""
    return next(
        f"group-{n}"
        for n in range(1000)
        if partition_for(f"group-{n}", OFFSETS_PARTITIONS) == partition
    )


def test_a_full_log_dir_goes_offline_while_another_serves(
    tmp_path: Path, tmpfs: Path, brokers: list[BrokerProcess]
) -> None:
    disk, full = tmp_path / "disk", tmpfs / "data"
    metrics_port = free_port()
    broker = broker_on(tmp_path, [disk, full], metrics_port)
    brokers.append(broker.start())
    wait_for_endpoint(metrics_port)
    with RawClient.to(broker.bootstrap) as client:
        client.create_topic("steady")
        client.create_topic("fill", configs={"segment.bytes": str(1 << 20)})
        assert find_coordinator(client, "warm-up").error_code == 0  # __consumer_offsets
        where = placement(client)
        assert where[("steady", 0)] == str(disk) and where[("fill", 0)] == str(full)
        offline_group = group_on(
            next(
                p
                for p in range(OFFSETS_PARTITIONS)
                if where[("__consumer_offsets", p)] == str(full)
            )
        )
        online_group = group_on(
            next(
                p
                for p in range(OFFSETS_PARTITIONS)
                if where[("__consumer_offsets", p)] == str(disk)
            )
        )

        acked = fill(client, "fill")
        assert len(acked) > 100
        wait_for(lambda: storage_error_line(full) in broker.log(), "the ERROR line")
        assert broker.log().count(storage_error_line(full)) == 1

        samples = scrape(metrics_port)
        assert samples.get("kafka_log_logmanager_offlinelogdirectorycount") == 1
        assert samples.get("kafka_log_logmanager_logdirectoryoffline", logdirectory=str(full)) == 1
        assert samples.get("kafka_log_logmanager_logdirectoryoffline", logdirectory=str(disk)) == 0
        dirs = describe_log_dirs(client)
        assert dirs[str(full)].error_code == KAFKA_STORAGE_ERROR
        assert dirs[str(full)].topics == ()
        assert dirs[str(disk)].error_code == 0

        assert client.fetch("fill", 0, 0).error_code == KAFKA_STORAGE_ERROR
        (fill_meta,) = client.metadata(["fill"]).topics[0].partitions
        assert fill_meta.error_code == LEADER_NOT_AVAILABLE and fill_meta.leader_id == -1
        assert list(fill_meta.offline_replicas) == [0]
        # The other dir serves on, its coordinators too; the offline one's are unavailable.
        assert client.produce("steady", 0, encode_batch([(b"k", b"on")])).error_code == 0
        assert values(client, "steady") == [b"on"]
        assert find_coordinator(client, offline_group).error_code == COORDINATOR_NOT_AVAILABLE
        assert find_coordinator(client, online_group).error_code == 0
    assert broker.proc is not None and broker.proc.poll() is None

    assert broker.stop() == 0  # one dir was still online: a clean shutdown
    broker.start()  # on the still full tmpfs: the dir is back, its log recovered
    wait_for_endpoint(metrics_port)
    assert scrape(metrics_port).get("kafka_log_logmanager_offlinelogdirectorycount") == 0
    with RawClient.to(broker.bootstrap) as client:
        assert values(client, "fill") == acked  # every acknowledged record, nothing else
        before = free_bytes(tmpfs)
        assert delete_topic(client, "fill") == 0
        assert free_bytes(tmpfs) - before >= len(acked) * VALUE_SIZE
    assert broker.stop() == 0
    broker.start()
    with RawClient.to(broker.bootstrap) as client:
        client.create_topic("refill")
        assert placement(client)[("refill", 0)] == str(full)
        assert client.produce("refill", 0, encode_batch([(b"k", b"again")])).error_code == 0
        assert values(client, "refill") == [b"again"]
        assert values(client, "steady") == [b"on"]
    assert broker.stop() == 0
    assert "Traceback" not in broker.log()


def test_with_no_log_dir_left_the_broker_stops_and_deleting_frees_the_disk(
    tmp_path: Path, tmpfs: Path, brokers: list[BrokerProcess]
) -> None:
    full = tmpfs / "data"
    broker = broker_on(tmp_path, [full])
    brokers.append(broker.start())
    with RawClient.to(broker.bootstrap) as client:
        client.create_topic("fill", configs={"segment.bytes": str(1 << 20)})
        acked = fill(client, "fill")
    assert broker.proc is not None
    broker.proc.wait(DEADLINE_S)
    assert broker.proc.returncode == 1
    output = broker.log()
    assert output.count(storage_error_line(full)) == 1, output
    fatal = f"Shutdown broker because all log dirs in {full} have failed"
    assert [line for line in output.splitlines() if "Shutdown broker" in line] == [
        line
        for line in output.splitlines()
        if line.endswith(f"CRITICAL odradek.server.broker: {fatal}")
    ]
    assert output.count(fatal) == 1
    assert "Traceback" not in output and "cannot start" not in output, output

    broker.start()  # on the full disk
    with RawClient.to(broker.bootstrap) as client:
        assert values(client, "fill") == acked
        # The files go first: then the metadata store has the space it needs.
        assert delete_topic(client, "fill") == 0
        assert free_bytes(tmpfs) >= len(acked) * VALUE_SIZE
        client.create_topic("refill")
        assert client.produce("refill", 0, encode_batch([(b"k", b"again")])).error_code == 0
    assert broker.stop() == 0
    broker.start()
    with RawClient.to(broker.bootstrap) as client:
        assert [t.name for t in client.metadata().topics] == ["refill"]
        assert client.produce("refill", 0, encode_batch([(b"k", b"more")])).error_code == 0
        assert values(client, "refill") == [b"again", b"more"]
    assert broker.stop() == 0
