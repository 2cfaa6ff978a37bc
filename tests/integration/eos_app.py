"""A consume-transform-produce application (confluent-kafka), run as a child process by
``test_transactions_eos.py``, which kills it with SIGKILL at random points and restarts it.

    python eos_app.py BOOTSTRAP INPUT OUTPUT GROUP TRANSACTIONAL_ID

Each transaction takes up to ``--batch`` records from INPUT, writes ``key -> value.upper()`` to
OUTPUT and commits the consumer's positions with send_offsets_to_transaction; ``--pause-ms``
is spent inside every transaction, so that a kill lands mid-transaction most of the time.
The producer initialises first: InitProducerId with the same transactional id fences the previous
incarnation and aborts its open transaction, so the consumer then reads only stable offsets.
The consumer is a static group member (group.instance.id), so a restarted incarnation takes
its predecessor's place without waiting for its session to time out.

Prints ``READY`` once initialised and ``COMMITTED <n>`` after each transaction. Any client
error ends the process with status 2 (the test restarts it like a killed one).
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from types import FrameType

from confluent_kafka import Consumer, KafkaException, Producer

CALL_TIMEOUT = 20.0
stopping = False


def _stop(signum: int, frame: FrameType | None) -> None:
    global stopping
    stopping = True


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    for name in ("bootstrap", "input", "output", "group", "transactional_id"):
        parser.add_argument(name)
    parser.add_argument("--batch", type=int, default=25)
    parser.add_argument("--transaction-timeout-ms", type=int, default=10_000)
    parser.add_argument(
        "--pause-ms",
        type=int,
        default=0,
        help="time spent inside each transaction (widens the kill window)",
    )
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> int:
    producer = Producer(
        {
            "bootstrap.servers": args.bootstrap,
            "transactional.id": args.transactional_id,
            "transaction.timeout.ms": args.transaction_timeout_ms,
            "linger.ms": 2,
        }
    )
    producer.init_transactions(CALL_TIMEOUT)
    consumer = Consumer(
        {
            "bootstrap.servers": args.bootstrap,
            "group.id": args.group,
            "group.instance.id": f"{args.transactional_id}-member",
            "isolation.level": "read_committed",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 30_000,
        }
    )
    consumer.subscribe([args.input])
    print("READY", flush=True)
    committed = 0
    try:
        while not stopping:
            messages = consumer.consume(num_messages=args.batch, timeout=0.2)
            records = [m for m in messages if m.error() is None]
            if not records:
                continue
            producer.begin_transaction()
            for message in records:
                producer.produce(
                    args.output, key=message.key(), value=(message.value() or b"").upper()
                )
            time.sleep(args.pause_ms / 2000)
            positions = [tp for tp in consumer.position(consumer.assignment()) if tp.offset >= 0]
            producer.send_offsets_to_transaction(
                positions, consumer.consumer_group_metadata(), CALL_TIMEOUT
            )
            time.sleep(args.pause_ms / 2000)
            producer.commit_transaction(CALL_TIMEOUT)
            committed += len(records)
            print(f"COMMITTED {committed}", flush=True)
    finally:
        consumer.close()
    return 0


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGTERM, _stop)
    args = parse(argv)
    try:
        return run(args)
    except KafkaException as exc:
        print(f"ERROR {exc}", flush=True)
        time.sleep(0.1)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
