"""The console against a three-broker cluster (issue #18's cluster variant): after a broker is
killed with SIGKILL, the Overview counts the partition it alone held as offline and the one
it shared as under-replicated, lists two brokers, and the topic page shows the offline
partition without a leader. Over HTTP, and in headless Chromium when Debian's chromium is
installed."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import httpx
from selenium.webdriver.common.by import By

from tests.integration.console.support import (
    Browser,
    ConsoleProcess,
    chromium_available,
)
from tests.support.cluster import Cluster, wait_until

OVERRIDES = {"zookeeper.session.timeout.ms": "3000"}
# The console serves its metadata snapshot for 10 s, then refreshes it in the background;
# the controller notices the kill once the broker's ZooKeeper session expires (3 s).
TIMEOUT = 120.0
HTTP_TIMEOUT = 60.0


def figure(html: str, element_id: str) -> int | None:
    """The number in ``<span ... id="element_id">N</span>`` (or ``<dd id=...>``)."""
    match = re.search(rf'id="{element_id}">([0-9,]+)<', html)
    return None if match is None else int(match.group(1).replace(",", ""))


def overview(http: httpx.Client) -> dict[str, int | None]:
    response = http.get("/")
    assert response.status_code == 200, response.text[-2000:]
    return {
        name: figure(response.text, name)
        for name in ("broker-count", "partitions", "offline", "under-replicated")
    }


def partition_row(html: str, partition: int) -> tuple[str, list[str]] | None:
    """The topic page's row of ``partition``: its class and its cells' text."""
    for css, row in re.findall(r'<tr class="([^"]*)">(.*?)</tr>', html, re.S):
        cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td.*?</td>", row, re.S)]
        if cells and cells[0] == str(partition):
            return css, cells
    return None


def test_an_offline_partition_after_a_broker_sigkill(
    cluster: Callable[..., Cluster], tmp_path: Path
) -> None:
    c = cluster(3, overrides=OVERRIDES)
    controller = c.controller_id()
    victim = next(i for i in c.ids if i != controller)  # a controller failover is not the point
    c.create_topic("alone", assignment=[[victim]])
    c.create_topic("shared", assignment=[[victim, *[i for i in c.ids if i != victim]]])

    console = ConsoleProcess(c.bootstrap, tmp_path / "console.log").start()
    try:
        with httpx.Client(base_url=console.url, timeout=HTTP_TIMEOUT) as http:
            before = overview(http)
            assert before["broker-count"] == 3 and before["offline"] == 0, before

            c.kill(victim)
            after = wait_until(
                lambda: (lambda o: o if o["offline"] == 1 else None)(overview(http)),
                TIMEOUT,
                lambda: f"the Overview shows no offline partition: {overview(http)}",
                interval=1.0,
                context=lambda: c.logs() + "\n--- console ---\n" + console.log(),
            )
            assert after["broker-count"] == 2, after
            # shared's ISR lost the victim; alone's ISR stays [victim], as long as its replicas
            assert after["under-replicated"] == 1, after

            page = http.get("/topics/alone")
            assert page.status_code == 200, page.text[-2000:]
            # Offline: no leader, the ISR left at the last replica that was in sync.
            alone = partition_row(page.text, 0)
            assert alone is not None, page.text[-3000:]
            assert (alone[0], alone[1][:4]) == ("bad", ["0", "none", f"{victim}", f"{victim}"])
            shared = partition_row(http.get("/topics/shared").text, 0)
            assert shared is not None and shared[0] == "warn", shared
            leader, isr = shared[1][1], shared[1][3]
            assert leader != "none" and str(victim) not in isr.split(", "), shared

        if chromium_available():
            browser = Browser()
            try:
                browser.driver.get(console.url + "/")
                offline = browser.driver.find_element(By.ID, "offline")
                assert offline.text == "1"
                card = offline.find_element(By.XPATH, "..")
                assert "bad" in (card.get_attribute("class") or "").split()
                browser.driver.get(console.url + "/topics/alone")
                rows = browser.driver.find_elements(By.CSS_SELECTOR, "tr.bad")
                assert [r.find_elements(By.TAG_NAME, "td")[1].text for r in rows] == ["none"]
            finally:
                browser.close()
    finally:
        console.stop()
