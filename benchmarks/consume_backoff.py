"""Why librdkafka's default consumer reads odradek slower than Tansu (#15): its fetch pauses.

librdkafka stops fetching a partition for ``fetch.queue.backoff.ms`` (1000 ms by default)
whenever, before a Fetch, its local queue holds ``queued.min.messages`` (100,000) records or
``queued.max.messages.kbytes`` (65,536 KiB) of them. A broker that delivers faster than the
application drains the queue fills it and the consumer then waits a second with an empty
queue; a broker slower than the application never fills it.

Per repeat, odradek and Tansu take turns (each started alone and empty, as in
``foundation.py``): ``--records`` 1 KiB records are written to a one-partition topic, then
read by fresh consumers, ``--passes`` times each with:

- ``default``: librdkafka's defaults;
- ``thresholds out of reach``: queued.min.messages and queued.max.messages.kbytes at their
  maxima, so the queue never trips the pause (everything else default).

Each pass counts, from librdkafka's ``fetch`` debug log, the pauses ("Fetch backoff ...
Queue full"), the Fetch responses and the records per response. Prints one JSON line per
pass and the medians per broker and setting.

    python benchmarks/consume_backoff.py [--records 600000] [--passes 3] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import foundation as fd
from confluent_kafka import Consumer, TopicPartition

SETTINGS: dict[str, dict[str, Any]] = {
    "default": {},
    "thresholds out of reach": {
        "queued.min.messages": 10_000_000,
        "queued.max.messages.kbytes": 2_097_151,
    },
}
PAUSE = re.compile(r"Fetch backoff for \d+ms: Local: Queue full")
ENQUEUE = re.compile(r"Enqueue (\d+) message\(s\)")


class FetchLog(logging.Handler):
    """Counts librdkafka's queue-full pauses and enqueued Fetch responses."""

    def __init__(self) -> None:
        super().__init__()
        self.pauses = 0
        self.responses: list[int] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if PAUSE.search(text):
            self.pauses += 1
        found = ENQUEUE.search(text)
        if found:
            self.responses.append(int(found.group(1)))


def one_pass(bootstrap: str, case: fd.Case, acked: int, extra: dict[str, Any]) -> dict[str, Any]:
    handler = FetchLog()
    logger = logging.getLogger(f"consume-backoff.{id(handler)}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    config = fd.consumer_config(bootstrap, fd.ClientLog("pass"))
    consumer = Consumer(config | extra | {"debug": "fetch,consumer", "logger": logger})
    try:
        starts, _ = fd.retained_window(consumer, case)
        began = time.perf_counter()
        consumer.assign([TopicPartition(case.topic, p, off) for p, off in starts.items()])
        errors: list[str] = []
        got, last = fd.read_records(consumer, acked, case.size, began + 120, errors)
    finally:
        fd.close_consumer(consumer)
    seconds = last - began
    return {
        "records": got,
        "seconds": round(seconds, 3),
        "mb_s": round(got * case.size / seconds / 1e6, 1),
        "pauses": handler.pauses,
        "responses": len(handler.responses),
        "records_per_response": round(statistics.fmean(handler.responses or [0])),
    }


def slot(name: str, args: argparse.Namespace, work: Path, repeat: int) -> list[dict[str, Any]]:
    case = fd.Case("consume", "backoff p=1", 1)
    rows = []
    with fd.slot_broker(name, case, work / f"{name}-r{repeat}") as broker:
        run = fd.CaseRun(case, name, broker.bootstrap, broker.pid, 5.0, args.records, 600.0)
        acked = fd.prefill(run)
        for setting, extra in SETTINGS.items():
            for n in range(args.passes):
                row = {"broker": name, "repeat": repeat, "setting": setting, "pass": n}
                row |= one_pass(broker.bootstrap, case, acked, extra)
                print(json.dumps(row), flush=True)
                rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=600_000)
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="consume-backoff-"))
    rows: list[dict[str, Any]] = []
    for repeat in range(args.repeats):
        for name in ("odradek", "tansu"):
            rows += slot(name, args, work, repeat)
    print("broker, setting: median MB/s (min-max), pauses per pass, records per response")
    for name in ("odradek", "tansu"):
        for setting in SETTINGS:
            mine = [r for r in rows if r["broker"] == name and r["setting"] == setting]
            rates = [r["mb_s"] for r in mine]
            print(
                f"{name}, {setting}: {statistics.median(rates):.0f} MB/s "
                f"({min(rates):.0f}-{max(rates):.0f}), "
                f"{statistics.median(r['pauses'] for r in mine):g} pauses, "
                f"{statistics.median(r['records_per_response'] for r in mine):.0f} records"
            )


if __name__ == "__main__":
    try:
        main()
    finally:
        fd.kill_all_live()
    sys.exit(0)
