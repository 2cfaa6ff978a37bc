"""The console driven in a real headless Chromium against a real broker: create a topic,
produce a message from the UI and find it by key, watch a group's lag rise and fall, reset
its offsets, edit a topic config, tail a partition live."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.integration.console.support import Browser, ConsoleProcess, wait_for
from tests.support.broker_process import BrokerProcess

pytestmark = pytest.mark.integration

TIMEOUT = 60.0


def client(broker: BrokerProcess) -> dict[str, Any]:
    """Client settings for the test's own clients (librdkafka's log: critical only)."""
    return {"bootstrap.servers": broker.bootstrap, "log_level": 2}


def open_page(browser: Browser, console: ConsoleProcess, path: str) -> Any:
    browser.driver.get(console.url + path)
    return browser.driver


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


def create_topic(browser: Browser, console: ConsoleProcess, name: str, partitions: int) -> None:
    driver = open_page(browser, console, "/topics-new")
    driver.find_element(By.NAME, "name").send_keys(name)
    field = driver.find_element(By.NAME, "partitions")
    field.clear()
    field.send_keys(str(partitions))
    submit_and_confirm(driver, "#create-topic")


def test_overview_names_the_broker(browser: Browser, console: ConsoleProcess) -> None:
    driver = open_page(browser, console, "/")
    assert text_of(driver, "#broker-count") == "1"
    assert text_of(driver, "#offline") == "0"
    assert text_of(driver, "#cluster-id") not in ("", "-")


def test_create_topic_and_produce_then_find_by_key(
    browser: Browser, console: ConsoleProcess, shared_broker: BrokerProcess
) -> None:
    create_topic(browser, console, "ui-orders", 2)
    driver = browser.driver
    assert "Created topic ui-orders." in text_of(driver, "#notice")
    assert len(driver.find_elements(By.CSS_SELECTOR, "#partitions tbody tr")) == 2

    # Noise the filter must leave out, from an ordinary client.
    producer = Producer(client(shared_broker))
    for i in range(30):
        producer.produce("ui-orders", key=f"other-{i}".encode(), value=b"x", partition=0)
    producer.flush(30)

    driver = open_page(browser, console, "/topics/ui-orders/messages")
    Select(driver.find_element(By.CSS_SELECTOR, "#produce select[name=partition]")).select_by_value(
        "0"
    )
    driver.find_element(By.ID, "produce-key").send_keys("order-42")
    driver.find_element(By.ID, "produce-headers").send_keys("source=ui")
    driver.find_element(By.ID, "produce-value").send_keys(json.dumps({"id": 42, "item": "tea"}))
    click_to_load(driver, "#produce-button")
    notice = wait_for(lambda: text_of(driver, "#notice"), TIMEOUT, "produce notice")
    assert notice == "Produced to partition 0 at offset 30."

    driver = open_page(browser, console, "/topics/ui-orders/messages")
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


def test_edit_a_topic_config(browser: Browser, console: ConsoleProcess) -> None:
    create_topic(browser, console, "ui-configs", 1)
    driver = browser.driver
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


def group_page_lag(browser: Browser, console: ConsoleProcess, group: str) -> int:
    driver = open_page(browser, console, f"/groups/{group}")
    return int(text_of(driver, "#total-lag"))


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


def test_group_lag_rises_and_falls_then_offsets_reset(
    browser: Browser, console: ConsoleProcess, shared_broker: BrokerProcess
) -> None:
    create_topic(browser, console, "ui-lag", 1)
    producer = Producer(client(shared_broker))

    def produce(count: int) -> None:
        for i in range(count):
            producer.produce("ui-lag", value=f"v{i}".encode())
        producer.flush(30)

    produce(20)
    consumer = Consumer(
        {
            **client(shared_broker),
            "group.id": "ui-lag-group",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    try:
        consumer.subscribe(["ui-lag"])
        consume_all(consumer, 20)
        wait_for(lambda: group_page_lag(browser, console, "ui-lag-group") == 0, TIMEOUT, "lag 0")
        assert text_of(browser.driver, "#group-state") == "STABLE"
        assert "ui-lag-0" in text_of(browser.driver, "#members")
        assert browser.driver.find_elements(By.ID, "reset-unavailable")

        produce(15)
        wait_for(lambda: group_page_lag(browser, console, "ui-lag-group") == 15, TIMEOUT, "rise")
        # The sampler saw the rise: the chart's y axis tops at 15 or more.
        wait_for(
            lambda: (
                "polyline" in chart_of(browser, console, "ui-lag-group")
                and max_lag_label(chart_of(browser, console, "ui-lag-group")) >= 15
            ),
            TIMEOUT,
            "the lag chart showing the rise",
        )
        consume_all(consumer, 35)
        wait_for(lambda: group_page_lag(browser, console, "ui-lag-group") == 0, TIMEOUT, "fall")
    finally:
        consumer.close()

    driver = wait_for(
        lambda: (
            (d := open_page(browser, console, "/groups/ui-lag-group")).find_elements(
                By.ID, "reset-offsets"
            )
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


def chart_of(browser: Browser, console: ConsoleProcess, group: str) -> str:
    driver = open_page(browser, console, f"/groups/{group}")
    return str(driver.find_element(By.ID, "lag-chart").get_attribute("innerHTML"))


def max_lag_label(svg: str) -> float:
    """The y axis' top label of a lag chart (the first text right-aligned at the axis)."""
    marker = 'text-anchor="end">'
    start = svg.index(marker) + len(marker)
    return float(svg[start : svg.index("<", start)].replace(",", ""))


def test_live_tail_shows_new_records(
    browser: Browser, console: ConsoleProcess, shared_broker: BrokerProcess
) -> None:
    create_topic(browser, console, "ui-tail", 1)
    driver = open_page(browser, console, "/topics/ui-tail/messages")
    driver.find_element(By.ID, "live-tail").click()
    producer = Producer(client(shared_broker))
    producer.produce("ui-tail", key=b"tailed", value=b"\x00\x01binary")
    producer.flush(30)
    row = wait_for(
        lambda: driver.find_element(By.CSS_SELECTOR, "#message-rows tr.record"),
        TIMEOUT,
        "the tailed record",
    )
    assert row.find_element(By.CSS_SELECTOR, "td.key").text == "tailed"
    assert row.find_element(By.CSS_SELECTOR, "td.value").text == "00 01 62 69 6e 61 72 79"
