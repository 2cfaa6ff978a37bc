"""Screenshots of every console page (PNG from headless Chromium) for docs/console/:

    python -m tests.integration.console.screenshots docs/console

Starts a broker (with its metrics endpoint) and a console, gives them a few topics, JSON
records, a consumer group whose lag rises and falls while it is sampled, and latency probe
runs; then saves one PNG per page. Every process it starts is stopped by PID at the end."""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import httpx
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import (  # type: ignore[attr-defined]  # the module has no __all__
    AdminClient,
    NewTopic,
)

from tests.integration.console.support import Browser, ConsoleProcess
from tests.support.broker_process import BrokerProcess, free_port

PAGES = {
    "overview": "/",
    "topics": "/topics",
    "topic": "/topics/orders",
    "messages": "/topics/orders/messages?partition=0&mode=end&limit=12",
    "groups": "/groups",
    "group": "/groups/billing",
    "brokers": "/brokers",
    "broker": "/brokers/0",
    "latency": "/latency",
    "acls": "/acls",
    "quotas": "/quotas",
}


def populate(bootstrap: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 2})
    topics = [
        NewTopic("orders", 3, 1, config={"retention.ms": "604800000"}),
        NewTopic("payments", 2, 1),
        NewTopic("audit-log", 1, 1),
    ]
    for future in admin.create_topics(topics, request_timeout=60).values():
        future.result(60)
    producer = Producer({"bootstrap.servers": bootstrap, "log_level": 2})
    for i in range(60):
        order = {"order_id": 1000 + i, "customer": f"c-{i % 7}", "total": round(9.5 + i, 2)}
        producer.produce(
            "orders",
            key=f"order-{1000 + i}",
            value=json.dumps(order),
            headers=[("source", b"web")],
            partition=i % 3,
        )
        producer.produce("payments", key=f"order-{1000 + i}", value=bytes([i, 0, 255, i]))
    producer.flush(60)


def lag_wave(bootstrap: str, seconds: float) -> Consumer:
    """A group ``billing`` reading ``orders`` slower, then faster, than it is written."""
    producer = Producer({"bootstrap.servers": bootstrap, "log_level": 2})
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "billing",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "log_level": 2,
        }
    )
    consumer.subscribe(["orders"])
    started = time.monotonic()
    step = 0
    while time.monotonic() - started < seconds:
        step += 1
        for i in range(30):
            producer.produce("orders", key=f"late-{step}-{i}", value=b'{"late": true}')
        producer.flush(30)
        wanted = 5 if step < 8 else 80
        for message in consumer.consume(num_messages=wanted, timeout=1.0):
            if message.error() is None:
                consumer.commit(message=message, asynchronous=False)
    return consumer


def main(out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="odradek-console-shots-") as tmp:
        metrics_port = free_port()
        broker = BrokerProcess(Path(tmp) / "data", overrides={"metrics.port": str(metrics_port)})
        broker.start()
        console = browser = consumer = None
        try:
            populate(broker.bootstrap)
            console = ConsoleProcess(
                broker.bootstrap,
                Path(tmp) / "console.log",
                [
                    "--sample-interval",
                    "1",
                    "--metrics-url",
                    f"http://127.0.0.1:{metrics_port}/metrics",
                ],
            ).start()
            with httpx.Client(base_url=console.url, timeout=120) as http:
                token = http.get("/topics-new").text.split('name="csrf" value="')[1].split('"')[0]
                consumer = lag_wave(broker.bootstrap, 16.0)
                for _ in range(5):
                    http.post("/latency/probe", data={"csrf": token})
                    time.sleep(1.0)
            browser = Browser()
            for name, path in PAGES.items():
                browser.driver.set_window_size(1400, 600)
                browser.driver.get(console.url + path)
                height = browser.driver.execute_script(
                    "return document.documentElement.scrollHeight"
                )
                browser.driver.set_window_size(1400, min(int(height) + 140, 2400))
                browser.driver.save_screenshot(str(out / f"{name}.png"))
                print(out / f"{name}.png")
        finally:
            if consumer is not None:
                consumer.close()
            if browser is not None:
                browser.close()
            if console is not None:
                console.stop()
            broker.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/console")))
