"""The console's browser suite (issue #18's acceptance), driven in a real headless Chromium:
the Overview names the brokers and their versions, create a topic, produce a message from the
UI and find it by key, watch a group's lag rise and fall, reset its offsets, edit a topic
config, tail a partition live. Each scenario takes a ``Stage`` (what it runs against), so the
same suite runs against one broker (tests/integration/console/test_console_browser.py) and
against a three-broker cluster with ZooKeeper (tests/cluster/test_console_cluster.py)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, Producer
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.integration.console.support import Browser, ConsoleProcess, wait_for

TIMEOUT = 60.0


@dataclass(frozen=True)
class Stage:
    """What a scenario runs against: the browser, the console, the cluster's bootstrap
    servers, the replication factor of the topics it creates, and the version the Overview
    must show for each broker id ("unknown" where the console has no endpoint to read)."""

    browser: Browser
    console: ConsoleProcess
    bootstrap: str
    replication: int
    versions: Mapping[int, str]


def client(stage: Stage) -> dict[str, Any]:
    """Client settings for the test's own clients (librdkafka's log: critical only)."""
    return {"bootstrap.servers": stage.bootstrap, "log_level": 2}


def open_page(stage: Stage, path: str) -> Any:
    stage.browser.driver.get(stage.console.url + path)
    return stage.browser.driver


def text_of(driver: Any, css: str) -> str:
    return str(driver.find_element(By.CSS_SELECTOR, css).text)


def click_to_load(driver: Any, css: str) -> None:
    """Click what loads a new page (a form's button) and wait for that page: chromedriver's
    click returns before the navigation it starts, so the old page would still be read. The
    old page's window carries a mark; the new page's does not."""
    driver.execute_script("window.odradekOldPage = true;")
    driver.find_element(By.CSS_SELECTOR, css).click()

    def new_page_loaded(d: Any) -> bool:
        try:
            return bool(
                d.execute_script(
                    "return window.odradekOldPage === undefined"
                    " && document.readyState === 'complete';"
                )
            )
        except WebDriverException:  # between the two documents
            return False

    WebDriverWait(driver, TIMEOUT).until(new_page_loaded)


def submit_and_confirm(driver: Any, form_css: str) -> None:
    """Submit a form, then the confirmation page's Confirm button."""
    click_to_load(driver, f"{form_css} button[type=submit]")
    click_to_load(driver, "#confirm")
    wait_for(lambda: driver.find_elements(By.ID, "notice"), TIMEOUT, "notice after the change")


def create_topic(stage: Stage, name: str, partitions: int) -> None:
    driver = open_page(stage, "/topics-new")
    driver.find_element(By.NAME, "name").send_keys(name)
    for field_name, value in (("partitions", partitions), ("replication", stage.replication)):
        field = driver.find_element(By.NAME, field_name)
        field.clear()
        field.send_keys(str(value))
    submit_and_confirm(driver, "#create-topic")


def overview_names_the_brokers_and_their_versions(stage: Stage) -> None:
    def shown() -> dict[str, str] | None:
        driver = open_page(stage, "/")
        cells = {f"version-{b}": text_of(driver, f"#version-{b}") for b in stage.versions}
        expected = {f"version-{b}": version for b, version in stage.versions.items()}
        return cells if cells == expected else None

    # The versions come from the console's background scrape: the first may be under way.
    wait_for(shown, TIMEOUT, f"the brokers' versions {dict(stage.versions)}")
    driver = stage.browser.driver
    assert text_of(driver, "#broker-count") == str(len(stage.versions))
    known = sorted({v for v in stage.versions.values() if v != "unknown"})
    unknown = ["unknown"] if "unknown" in stage.versions.values() else []
    assert text_of(driver, "#versions") == ", ".join(known + unknown)
    assert text_of(driver, "#offline") == "0"
    assert text_of(driver, "#cluster-id") not in ("", "-")
    for broker_id, version in stage.versions.items():
        driver = open_page(stage, f"/brokers/{broker_id}")
        assert text_of(driver, "#broker-version") == version


def create_topic_and_produce_then_find_by_key(stage: Stage) -> None:
    create_topic(stage, "ui-orders", 2)
    driver = stage.browser.driver
    assert "Created topic ui-orders." in text_of(driver, "#notice")
    assert len(driver.find_elements(By.CSS_SELECTOR, "#partitions tbody tr")) == 2

    # Noise the filter must leave out, from an ordinary client.
    producer = Producer(client(stage))
    for i in range(30):
        producer.produce("ui-orders", key=f"other-{i}".encode(), value=b"x", partition=0)
    assert producer.flush(30) == 0

    driver = open_page(stage, "/topics/ui-orders/messages")
    Select(driver.find_element(By.CSS_SELECTOR, "#produce select[name=partition]")).select_by_value(
        "0"
    )
    driver.find_element(By.ID, "produce-key").send_keys("order-42")
    driver.find_element(By.ID, "produce-headers").send_keys("source=ui")
    driver.find_element(By.ID, "produce-value").send_keys(json.dumps({"id": 42, "item": "tea"}))
    click_to_load(driver, "#produce-button")
    notice = wait_for(lambda: text_of(driver, "#notice"), TIMEOUT, "produce notice")
    assert notice == "Produced to partition 0 at offset 30."

    driver = open_page(stage, "/topics/ui-orders/messages")
    Select(driver.find_element(By.ID, "mode")).select_by_value("beginning")
    driver.find_element(By.ID, "key-filter").send_keys("order-42")
    click_to_load(driver, "#read")
    # The page before the click shows rows too: wait for the filtered page's address first.
    rows = wait_for(
        lambda: (
            "key=order-42" in driver.current_url
            and driver.find_elements(By.CSS_SELECTOR, "#message-rows tr.record")
        ),
        TIMEOUT,
        "the record found by key",
    )
    assert len(rows) == 1
    row = rows[0]
    assert row.get_attribute("data-offset") == "30"
    assert row.find_element(By.CSS_SELECTOR, "td.key").text == "order-42"
    value = row.find_element(By.CSS_SELECTOR, "td.value")
    assert "json" in value.get_attribute("class")
    assert json.loads(value.text) == {"id": 42, "item": "tea"}
    assert '\n  "id": 42' in value.text  # pretty-printed
    assert row.find_element(By.CSS_SELECTOR, "td.headers").text == "source: ui"
    assert "read 31 record(s)" in text_of(driver, "#read-summary")


def edit_a_topic_config(stage: Stage) -> None:
    create_topic(stage, "ui-configs", 1)
    driver = stage.browser.driver
    row_css = "#config-table tr[data-config='retention.ms']"
    field = driver.find_element(By.CSS_SELECTOR, f"{row_css} input[name=value]")
    field.clear()
    field.send_keys("3600000")
    click_to_load(driver, f"{row_css} button[value=set]")
    click_to_load(driver, "#confirm")
    assert wait_for(lambda: text_of(driver, "#notice"), TIMEOUT, "notice") == (
        "retention.ms set to 3600000."
    )
    row = driver.find_element(By.CSS_SELECTOR, row_css)
    assert row.find_element(By.CSS_SELECTOR, "input[name=value]").get_attribute("value") == (
        "3600000"
    )
    assert row.find_element(By.CSS_SELECTOR, "td.source").text == "DYNAMIC_TOPIC_CONFIG"

    click_to_load(driver, f"{row_css} button[value=delete]")
    click_to_load(driver, "#confirm")
    wait_for(lambda: text_of(driver, "#notice"), TIMEOUT, "notice")
    row = driver.find_element(By.CSS_SELECTOR, row_css)
    assert row.find_element(By.CSS_SELECTOR, "td.source").text == "DEFAULT_CONFIG"


def group_page_lag(stage: Stage, group: str) -> int:
    driver = open_page(stage, f"/groups/{group}")
    return int(text_of(driver, "#total-lag"))


def wait_for_lag(stage: Stage, group: str, wanted: int, what: str) -> None:
    """Until the group's page shows a total lag of ``wanted``; the failure names the last."""
    seen: list[int] = []

    def shown() -> bool:
        seen.append(group_page_lag(stage, group))
        return seen[-1] == wanted

    wait_for(shown, TIMEOUT, lambda: f"{what}: lag {wanted} (last shown: {seen[-3:]})")


def consume_all(consumer: Consumer, topic_end: int, deadline_s: float = TIMEOUT) -> None:
    """Poll until the group's position reaches ``topic_end`` on the one partition, then
    commit synchronously."""
    deadline = time.monotonic() + deadline_s
    last = -1
    while last < topic_end - 1:
        assert time.monotonic() < deadline, f"consumed up to {last}, wanted {topic_end - 1}"
        message = consumer.poll(0.5)
        if message is not None and message.error() is None:
            last = message.offset() or 0
    consumer.commit(asynchronous=False)


def group_lag_rises_and_falls_then_offsets_reset(stage: Stage) -> None:
    create_topic(stage, "ui-lag", 1)
    producer = Producer(client(stage))

    def produce(count: int) -> None:
        for i in range(count):
            producer.produce("ui-lag", value=f"v{i}".encode())
        assert producer.flush(30) == 0

    produce(20)
    consumer = Consumer(
        {
            **client(stage),
            "group.id": "ui-lag-group",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    try:
        consumer.subscribe(["ui-lag"])
        consume_all(consumer, 20)
        wait_for_lag(stage, "ui-lag-group", 0, "all consumed")
        driver = stage.browser.driver
        assert text_of(driver, "#group-state") == "STABLE"
        assert "ui-lag-0" in text_of(driver, "#members")
        assert driver.find_elements(By.ID, "reset-unavailable")

        produce(15)
        wait_for_lag(stage, "ui-lag-group", 15, "rise")
        # The sampler saw the rise: the chart's y axis tops at 15 or more.
        wait_for(
            lambda: (
                "polyline" in (chart := chart_of(stage, "ui-lag-group"))
                and max_lag_label(chart) >= 15
            ),
            TIMEOUT,
            "the lag chart showing the rise",
        )
        consume_all(consumer, 35)
        wait_for_lag(stage, "ui-lag-group", 0, "fall")
    finally:
        consumer.close()

    driver = wait_for(
        lambda: (
            (d := open_page(stage, "/groups/ui-lag-group")).find_elements(By.ID, "reset-offsets")
            and d
        ),
        TIMEOUT,
        "the group empty (reset form shown)",
    )
    Select(driver.find_element(By.ID, "reset-target")).select_by_value("offset")
    driver.find_element(By.ID, "reset-value").send_keys("5")
    click_to_load(driver, "#reset-button")
    details = wait_for(lambda: text_of(driver, "ul.details"), TIMEOUT, "reset plan")
    assert details == "ui-lag-0: 35 \u2192 5"
    click_to_load(driver, "#confirm")
    assert wait_for(lambda: text_of(driver, "#notice"), TIMEOUT, "notice") == (
        "Offsets of 1 partition(s) reset."
    )
    assert text_of(driver, "#total-lag") == "30"
    assert text_of(driver, "#offsets tr[data-partition='ui-lag-0'] td.committed") == "5"


def chart_of(stage: Stage, group: str) -> str:
    driver = open_page(stage, f"/groups/{group}")
    return str(driver.find_element(By.ID, "lag-chart").get_attribute("innerHTML"))


def max_lag_label(svg: str) -> float:
    """The y axis' top label of a lag chart (the first text right-aligned at the axis)."""
    marker = 'text-anchor="end">'
    start = svg.index(marker) + len(marker)
    return float(svg[start : svg.index("<", start)].replace(",", ""))


def live_tail_shows_new_records(stage: Stage) -> None:
    create_topic(stage, "ui-tail", 1)
    driver = open_page(stage, "/topics/ui-tail/messages")
    driver.find_element(By.ID, "live-tail").click()
    producer = Producer(client(stage))
    producer.produce("ui-tail", key=b"tailed", value=b"\x00\x01binary")
    assert producer.flush(30) == 0
    row = wait_for(
        lambda: driver.find_element(By.CSS_SELECTOR, "#message-rows tr.record"),
        TIMEOUT,
        "the tailed record",
    )
    assert row.find_element(By.CSS_SELECTOR, "td.key").text == "tailed"
    assert row.find_element(By.CSS_SELECTOR, "td.value").text == "00 01 62 69 6e 61 72 79"


Scenario = Callable[[Stage], None]
SCENARIOS: tuple[Scenario, ...] = (
    overview_names_the_brokers_and_their_versions,
    create_topic_and_produce_then_find_by_key,
    edit_a_topic_config,
    group_lag_rises_and_falls_then_offsets_reset,
    live_tail_shows_new_records,
)


def scenario_id(scenario: Scenario) -> str:
    return scenario.__name__
