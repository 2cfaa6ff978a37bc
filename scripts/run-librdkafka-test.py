#!/usr/bin/env python3
"""Run one of librdkafka's own tests (tests/test-runner) against a fresh odradek broker.

Uses an existing librdkafka build: it neither downloads nor builds librdkafka. Build it first in
your checkout (``./configure && make && make -C tests build``) so that ``tests/test-runner``
and ``src/librdkafka.so`` exist, then e.g.::

    scripts/run-librdkafka-test.py /path/to/librdkafka 0081 \\
        --override authorizer.class.name=kafka.security.authorizer.AclAuthorizer \\
        --override super.users=User:ANONYMOUS

The broker runs in a temporary data directory on a free loopback port and is killed by its PID
when the test ends; the test's configuration goes to a temporary file (RDKAFKA_TEST_CONF), so
the checkout is left as it was. ``--brokers N`` (N > 1) runs a ZooKeeper-mode cluster of N
brokers instead (tests/support/cluster.py; needs Debian's zookeeper package and Java), so that
the tests create topics with replication factor N. ``--sasl-plain USER:PASSWORD`` adds a
SASL_PLAINTEXT listener with that PLAIN user and points the test at it (the tests that check
ACLs and authorized operations skip over PLAINTEXT). The exit status is the test-runner's.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.broker_process import BrokerProcess, free_port
from tests.support.cluster import Cluster
from tests.support.zookeeper import ZooKeeperProcess

# The Kafka release whose API versions odradek advertises (Fetch v17); tests gate sub-tests on it.
DEFAULT_KAFKA_VERSION = "3.9.0"


def _parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("librdkafka", type=Path, help="a librdkafka checkout with a built tests/")
    parser.add_argument("test", help="the test number or name, as TESTS= takes it (e.g. 0081)")
    parser.add_argument(
        "--override", action="append", default=[], metavar="KEY=VALUE", help="a broker setting"
    )
    parser.add_argument("--brokers", type=int, default=1, help="cluster size (default 1)")
    parser.add_argument(
        "--sasl-plain", metavar="USER:PASSWORD", help="connect over SASL_PLAINTEXT as this user"
    )
    parser.add_argument("--kafka-version", default=DEFAULT_KAFKA_VERSION)
    parser.add_argument("--test-level", default="2", help="TEST_LEVEL (verbosity)")
    parser.add_argument("--quick", action="store_true", help="test-runner -Q (quick mode)")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds")
    parser.add_argument(
        "--keep",
        type=Path,
        metavar="DIR",
        help="keep the broker's data and log in DIR",
    )
    return parser.parse_args(argv)


def _overrides(pairs: list[str]) -> dict[str, str]:
    result: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--override wants KEY=VALUE, got {pair!r}")
        result[key] = value
    return result


SASL_LISTENER = "SASL_PLAINTEXT"


def _sasl_overrides(user: str, password: str) -> dict[str, str]:
    """Broker settings for a SASL_PLAINTEXT listener that knows one PLAIN user."""
    module = "org.apache.kafka.common.security.plain.PlainLoginModule"
    return {
        "sasl.enabled.mechanisms": "PLAIN",
        "listener.name.sasl_plaintext.plain.sasl.jaas.config": (
            f'{module} required user_{user}="{password}";'
        ),
    }


def _client_conf(bootstrap: str, sasl: tuple[str, str] | None) -> str:
    lines = [f"bootstrap.servers={bootstrap}"]
    if sasl is not None:
        lines += [
            f"security.protocol={SASL_LISTENER}",
            "sasl.mechanism=PLAIN",
            f"sasl.username={sasl[0]}",
            f"sasl.password={sasl[1]}",
        ]
    return "\n".join(lines) + "\n"


@contextmanager
def _brokers(
    count: int, overrides: dict[str, str], sasl: tuple[str, str] | None, work: Path
) -> Iterator[str]:
    """Fresh brokers for one run; yields the bootstrap list the test is to use (the SASL
    listener's with ``sasl``) and kills them by PID after."""
    if sasl is not None:
        overrides = {**_sasl_overrides(*sasl), **overrides}
    if count == 1:
        broker = BrokerProcess(work / "data", overrides=overrides)
        bootstrap = broker.bootstrap
        if sasl is not None:
            bootstrap = f"127.0.0.1:{free_port()}"
            listeners = f"PLAINTEXT://{broker.bootstrap},{SASL_LISTENER}://{bootstrap}"
            broker.overrides["listeners"] = listeners
        broker.start()
        print(f"broker pid {broker.pid} on {bootstrap}, log {broker.log_path}", flush=True)
        try:
            yield bootstrap
        finally:
            broker.kill()
        return
    zookeeper = ZooKeeperProcess(work / "zookeeper").start()
    replication = str(min(count, 3))
    sized = {
        "offsets.topic.replication.factor": replication,
        "transaction.state.log.replication.factor": replication,
        "transaction.state.log.min.isr": str(min(count, 2)),
    }
    extra = {SASL_LISTENER: SASL_LISTENER} if sasl is not None else None
    cluster = Cluster(
        work / "cluster", zookeeper.connect, count, {**sized, **overrides}, listeners=extra
    )
    try:
        cluster.start()
        bootstrap = cluster.bootstrap if sasl is None else cluster.bootstrap_of(SASL_LISTENER)
        print(f"{count} brokers on {bootstrap}, logs in {work / 'cluster'}", flush=True)
        yield bootstrap
    finally:
        cluster.stop()
        zookeeper.stop()


def _run(args: argparse.Namespace, work: Path) -> int:
    tests_dir = args.librdkafka / "tests"
    if not (tests_dir / "test-runner").exists():
        raise SystemExit(f"{tests_dir / 'test-runner'} missing: build librdkafka's tests first")
    sasl = None
    if args.sasl_plain is not None:
        user, sep, password = args.sasl_plain.partition(":")
        if not sep or not user:
            raise SystemExit("--sasl-plain wants USER:PASSWORD")
        sasl = user, password
    with _brokers(args.brokers, _overrides(args.override), sasl, work) as bootstrap:
        conf = work / "test.conf"
        conf.write_text(_client_conf(bootstrap, sasl))
        env = dict(
            os.environ,
            LD_LIBRARY_PATH=f"{args.librdkafka / 'src'}:{args.librdkafka / 'src-cpp'}",
            RDKAFKA_TEST_CONF=str(conf),
            TESTS=args.test,
            TEST_LEVEL=args.test_level,
            TEST_KAFKA_VERSION=args.kafka_version,
        )
        cmd = ["./test-runner"] + (["-Q"] if args.quick else [])
        proc = subprocess.run(cmd, cwd=tests_dir, env=env, timeout=args.timeout, check=False)
        return proc.returncode


def main(argv: list[str]) -> int:
    args = _parse_args(argv)
    args.librdkafka = args.librdkafka.resolve()
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        return _run(args, args.keep.resolve())
    with tempfile.TemporaryDirectory(prefix="odradek-librdkafka-") as tmp:
        code = _run(args, Path(tmp))
        if code != 0:
            for path in sorted(Path(tmp).glob("**/broker-*.log")):
                print(f"--- {path.name} (tail) ---\n{path.read_text(errors='replace')[-4000:]}")
        return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
