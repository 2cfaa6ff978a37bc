"""One broker per log dir: a second ``odradek serve`` on a live broker's data dir exits at once,
naming the lock, and leaves the dir as it found it (no recovery, no meta.properties rewrite,
no clean-shutdown marker), so that a later SIGKILL of the first broker is still followed by
crash recovery. In process, a refused broker that is then stopped writes nothing either."""

from __future__ import annotations

from pathlib import Path

import pytest

from odradek import Broker
from odradek.protocol.records.codec import decode_batches, encode_batch
from odradek.storage.file_lock import LOCK_FILE, LogDirLockedError
from odradek.storage.files import CLEAN_SHUTDOWN_FILE, META_PROPERTIES
from tests.support.broker_process import BrokerProcess
from tests.support.raw_client import RawClient

pytestmark = pytest.mark.integration

TOPIC = "locked"
SENTINEL = "gone-0.0123456789abcdef-delete"  # a broker's startup removes such a dir


def refusal(data: Path, pid: int) -> str:
    return (
        f"odradek: cannot start: Failed to acquire lock on file .lock in {data.resolve()}: "
        "another broker (in this or another process) is using this log directory. "
        f"The lock file names pid {pid}."
    )


def produce(bootstrap: str, start: int, count: int) -> None:
    with RawClient.to(bootstrap) as client:
        for n in range(start, start + count):
            batch = encode_batch([(f"k{n}".encode(), f"v{n}".encode())])
            assert client.produce(TOPIC, 0, batch).error_code == 0


def values(bootstrap: str) -> list[bytes | None]:
    with RawClient.to(bootstrap) as client:
        records = client.fetch(TOPIC, 0, 0).records
    return [r.value for batch in decode_batches(bytes(records or b"")) for r in batch.records]


def partition_files(data: Path) -> dict[str, int]:
    return {p.name: p.stat().st_size for p in sorted((data / f"{TOPIC}-0").iterdir())}


def test_a_second_broker_on_a_live_data_dir_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = BrokerProcess(data).start()
    second = BrokerProcess(data)
    try:
        with RawClient.to(first.bootstrap) as client:
            client.create_topic(TOPIC)
        produce(first.bootstrap, 0, 5)
        (data / SENTINEL).mkdir()
        meta = (data / META_PROPERTIES).stat()
        files = partition_files(data)

        with pytest.raises(RuntimeError, match="broker exited with 1"):
            second.start()
        assert second.proc is not None and second.proc.returncode == 1
        output = second.log()
        assert refusal(data, first.pid) in output.splitlines(), output
        assert "Traceback" not in output and "recovered" not in output, output

        assert (data / SENTINEL).is_dir()  # no startup ran
        assert not (data / CLEAN_SHUTDOWN_FILE).exists()
        assert (data / META_PROPERTIES).stat().st_mtime_ns == meta.st_mtime_ns
        assert partition_files(data) == files
        assert (data / LOCK_FILE).read_text() == f"{first.pid}\n"

        produce(first.bootstrap, 5, 5)  # the first broker serves on
        assert values(first.bootstrap) == [f"v{n}".encode() for n in range(10)]

        first.kill()  # a crash: the refused broker left no marker, so recovery runs
        mark = first.log_path.stat().st_size
        first.start()
        with open(first.log_path, "rb") as log_file:
            log_file.seek(mark)
            restart = log_file.read().decode(errors="replace")
        assert f"{TOPIC}-0: recovered to log end offset 10" in restart, restart
        assert values(first.bootstrap) == [f"v{n}".encode() for n in range(10)]
    finally:
        second.kill()
        first.kill()


async def test_a_refused_in_process_broker_stopped_after_all_writes_nothing(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    async with Broker(data_dir=data):
        (data / SENTINEL).mkdir()
        before = {str(p.relative_to(data)): p.stat().st_mtime_ns for p in data.iterdir()}
        refused = Broker(data_dir=data)
        with pytest.raises(LogDirLockedError, match=r"Failed to acquire lock on file \.lock"):
            await refused.start()
        await refused.stop()  # as a harness stops a broker whatever its start did
        after = {str(p.relative_to(data)): p.stat().st_mtime_ns for p in data.iterdir()}
        assert after == before
    assert (data / CLEAN_SHUTDOWN_FILE).exists()  # the running broker's own clean shutdown
