"""A fetch's records go from the segment file to the socket (``sendfile``; TLS: read in bounded
steps), and a connection whose response is unsent is not read further: the broker's memory
grows neither with a fetch's ``max_bytes`` nor with clients that stop reading, and other
clients are served meanwhile. The probe is ``benchmarks/fetch_memory.py`` (1 GiB there)."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from benchmarks.fetch_memory import probe, produce, rss_bytes, whole_partition_fetch
from kio.schema.response_header.v1.header import ResponseHeader as ResponseHeaderV1
from kio.serial import entity_reader

from tests.support.broker_process import BrokerProcess
from tests.support.raw_client import FETCH, response_class
from tests.support.security import make_tls_files, start_secure_broker

pytestmark = pytest.mark.integration

TOPIC = "fetch-memory"
PRODUCE_BYTES = 200 * 10**6
RSS_LIMIT = 200 * 10**6


@pytest.fixture(scope="module")
def loaded_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[BrokerProcess, int]]:
    """A broker with about 200 MB in one partition (one segment), and how many bytes."""
    broker = BrokerProcess(tmp_path_factory.mktemp("fetch-memory") / "data").start()
    try:
        yield broker, produce(broker.bootstrap, TOPIC, PRODUCE_BYTES)
    finally:
        broker.kill()


def segment_bytes(broker: BrokerProcess, topic: str) -> bytes:
    return (broker.data_dir / f"{topic}-0" / "00000000000000000000.log").read_bytes()


class RssSampler:
    """The highest VmRSS of a process, sampled every 20 ms while in the ``with`` block."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = rss_bytes(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample)

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, rss_bytes(self.pid))

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def receive_records(read: Callable[[int], bytes]) -> bytes:
    """Read one Fetch v12 response with ``read(n)`` (exactly n bytes); its records."""
    payload = read(int.from_bytes(read(4), "big"))
    _, offset = entity_reader(ResponseHeaderV1)(payload, 0)
    body, _ = entity_reader(response_class(FETCH, 12))(payload, offset)
    partition = body.responses[0].partitions[0]
    assert partition.error_code == 0
    return bytes(partition.records)


def read_exactly(sock: socket.socket | ssl.SSLSocket) -> Callable[[int], bytes]:
    def read(count: int) -> bytes:
        parts, left = [], count
        while left:
            chunk = sock.recv(min(left, 1 << 20))
            assert chunk, "connection closed"
            parts.append(chunk)
            left -= len(chunk)
        return b"".join(parts)

    return read


def test_unread_whole_partition_fetches_hold_no_memory(
    loaded_broker: tuple[BrokerProcess, int],
) -> None:
    """10 clients fetch the whole 200 MB partition (max_bytes = partition_max_bytes =
    2^31-1) and never read: the broker stays under 200 MB RSS (reading the segment into
    memory held 2 GB here) and another client's fetches take under 50 ms."""
    broker, produced = loaded_broker
    result = probe(broker.pid, broker.bootstrap, TOPIC, produced, clients=10, seconds=3)
    assert result.rss_peak_mb * 10**6 < RSS_LIMIT, result
    assert result.round_trips > 100, result
    assert result.rtt_p99_ms < 50, result


def test_a_whole_partition_arrives_in_one_fetch(loaded_broker: tuple[BrokerProcess, int]) -> None:
    """The bytes sent from the file are the segment's, all of them, in order."""
    broker, _ = loaded_broker
    expected = segment_bytes(broker, TOPIC)
    host, port = broker.bootstrap.rsplit(":", 1)
    with RssSampler(broker.pid) as rss, socket.create_connection((host, int(port))) as sock:
        sock.sendall(whole_partition_fetch(TOPIC, 7))
        records = receive_records(read_exactly(sock))
    assert len(records) == len(expected)
    assert records == expected
    assert rss.peak < RSS_LIMIT


def test_tls_fetches_are_sent_in_bounded_steps(tmp_path: Path) -> None:
    """TLS cannot use sendfile: the records are read and encrypted a step at a time, so
    unread TLS fetches hold no more memory, and a reading client gets every byte."""
    tls = make_tls_files(tmp_path / "tls")
    secure = start_secure_broker(tmp_path / "data", tls)
    try:
        produce(secure.plaintext, TOPIC, PRODUCE_BYTES // 2)
        expected = segment_bytes(secure.process, TOPIC)
        context = ssl.create_default_context(cafile=str(tls.ca))
        context.load_cert_chain(str(tls.client_cert), str(tls.client_key))

        def connect() -> ssl.SSLSocket:
            sock = socket.create_connection(("127.0.0.1", secure.ssl_port))
            return context.wrap_socket(sock, server_hostname="127.0.0.1")

        with RssSampler(secure.process.pid) as rss:
            unread = [connect() for _ in range(10)]
            for sock in unread:
                sock.sendall(whole_partition_fetch(TOPIC, 1))
            time.sleep(1)
            with connect() as reader:
                reader.sendall(whole_partition_fetch(TOPIC, 2))
                records = receive_records(read_exactly(reader))
            for sock in unread:
                sock.close()
        assert records == expected
        assert rss.peak < RSS_LIMIT
    finally:
        secure.process.kill()
