"""The console against a three-broker cluster with ZooKeeper (issue #18's cluster variant), one
cluster for the module: the browser suite of tests/integration/console/scenarios.py (topics
replicated three times; the console reads the metrics endpoints of brokers 1 and 2, and broker
3's address answers nothing, so its version is "unknown"), then a broker killed with SIGKILL:
the Overview counts the partitions it alone held as offline and the ones it shared as
under-replicated, lists two brokers, and the topic page shows the offline partition without a
leader. Over HTTP, and in headless Chromium when Debian's chromium is installed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from selenium.webdriver.common.by import By

from odradek.common.version import __version__
from tests.integration.console.scenarios import SCENARIOS, Scenario, Stage, scenario_id
from tests.integration.console.support import (
    Browser,
    ConsoleProcess,
    browser_or_skip,
    chromium_available,
)
from tests.support.broker_process import free_port
from tests.support.cluster import Cluster, wait_until
from tests.support.zookeeper import ZooKeeperProcess

OVERRIDES = {"zookeeper.session.timeout.ms": "3000"}
METERED = (1, 2)  # the brokers with a metrics endpoint; broker 3 has none
# The console serves its metadata snapshot for 10 s, then refreshes it in the background;
# the controller notices the kill once the broker's ZooKeeper session expires (3 s).
TIMEOUT = 120.0
HTTP_TIMEOUT = 60.0


@dataclass
class ConsoleOnCluster:
    cluster: Cluster
    console: ConsoleProcess


@pytest.fixture(scope="module")
def on_cluster(
    zookeeper: ZooKeeperProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ConsoleOnCluster]:
    """Three brokers (ids 1..3) and a console scraping every second the metrics endpoints of
    brokers 1 and 2 and a port of broker 3's that nothing listens on."""
    root = tmp_path_factory.mktemp("console-cluster")
    cluster = Cluster(root / "cluster", f"{zookeeper.connect}/odradek-test-console", 3, OVERRIDES)
    urls: list[str] = []
    for broker_id in cluster.ids:
        port = str(free_port())
        if broker_id in METERED:
            cluster.broker(broker_id).overrides["metrics.port"] = port
        urls += ["--metrics-url", f"http://127.0.0.1:{port}/metrics"]
    console = ConsoleProcess(
        cluster.bootstrap, root / "console.log", ["--sample-interval", "1", *urls]
    )
    try:
        cluster.start()
        yield ConsoleOnCluster(cluster, console.start())
    finally:
        console.stop()
        # all at once, the last controlled shutdown cannot finish: a second SIGTERM skips it
        cluster.stop(grace=3.0, hurry_after=0.5)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from browser_or_skip()


@pytest.fixture(scope="module")
def stage(browser: Browser, on_cluster: ConsoleOnCluster) -> Stage:
    versions = {i: __version__ if i in METERED else "unknown" for i in on_cluster.cluster.ids}
    return Stage(browser, on_cluster.console, on_cluster.cluster.bootstrap, 3, versions)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=scenario_id)
def test_console_in_chromium(stage: Stage, scenario: Scenario) -> None:
    scenario(stage)


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


def after_the_kill(c: Cluster, victim: int) -> dict[str, int]:
    """What the Overview must count once ``victim`` is gone, from the partitions' replicas
    now (the browser suite's topics included): offline where it is the only replica,
    under-replicated where it is one of several."""
    metadata = c.admin().list_topics(timeout=30)
    replicas = [p.replicas for t in metadata.topics.values() for p in t.partitions.values()]
    return {
        "broker-count": len(c.ids) - 1,
        "offline": sum(r == [victim] for r in replicas),
        "under-replicated": sum(victim in r and len(r) > 1 for r in replicas),
    }


def test_an_offline_partition_after_a_broker_sigkill(
    on_cluster: ConsoleOnCluster, request: pytest.FixtureRequest
) -> None:
    c, console = on_cluster.cluster, on_cluster.console
    controller = c.controller_id()
    victim = next(i for i in c.ids if i != controller)  # a controller failover is not the point
    c.create_topic("alone", assignment=[[victim]])
    c.create_topic("shared", assignment=[[victim, *[i for i in c.ids if i != victim]]])
    expected = after_the_kill(c, victim)

    with httpx.Client(base_url=console.url, timeout=HTTP_TIMEOUT) as http:
        before = wait_until(
            lambda: (lambda o: o if o["broker-count"] == 3 and o["offline"] == 0 else None)(
                overview(http)
            ),
            TIMEOUT,
            lambda: f"the Overview before the kill: {overview(http)}",
            interval=1.0,
        )
        assert before["partitions"] is not None

        c.kill(victim)
        wait_until(
            lambda: (lambda o: o if {k: o[k] for k in expected} == expected else None)(
                overview(http)
            ),
            TIMEOUT,
            lambda: f"the Overview after the kill: {overview(http)}, wanted {expected}",
            interval=1.0,
            context=lambda: c.logs() + "\n--- console ---\n" + console.log(),
        )

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
        browser: Browser = request.getfixturevalue("browser")
        browser.driver.get(console.url + "/")
        offline = browser.driver.find_element(By.ID, "offline")
        assert offline.text == str(expected["offline"])
        card = offline.find_element(By.XPATH, "..")
        assert "bad" in (card.get_attribute("class") or "").split()
        browser.driver.get(console.url + "/topics/alone")
        rows = browser.driver.find_elements(By.CSS_SELECTOR, "tr.bad")
        assert [r.find_elements(By.TAG_NAME, "td")[1].text for r in rows] == ["none"]
