"""The console over HTTP (no browser) against a real broker with its metrics endpoint: every
page answers, the topic lifecycle's writes happen only once confirmed, forms need the
console's token, the latency probe runs, throughput and the broker's version come from the
metrics endpoint (the version is "unknown" without one), and basic authentication guards
everything when an htpasswd file is given."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from odradek.common.version import __version__
from odradek.console.htpasswd import md5_crypt
from tests.integration.console.support import ConsoleProcess, wait_for
from tests.support.broker_process import BrokerProcess, free_port

pytestmark = pytest.mark.integration

TIMEOUT = 60.0
PAGES = (
    "/",
    "/topics",
    "/topics?internal=1",
    "/topics-new",
    "/groups",
    "/brokers",
    "/latency",
    "/acls",
    "/quotas",
)


@pytest.fixture(scope="module")
def metered_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    """A broker with its metrics endpoint on a free port."""
    overrides = {"metrics.port": str(free_port()), "group.initial.rebalance.delay.ms": "0"}
    broker = BrokerProcess(tmp_path_factory.mktemp("metered") / "data", overrides=overrides)
    yield broker.start()
    broker.kill()


@pytest.fixture(scope="module")
def http_console(
    metered_broker: BrokerProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ConsoleProcess]:
    metrics_url = f"http://127.0.0.1:{metered_broker.overrides['metrics.port']}/metrics"
    log = tmp_path_factory.mktemp("http-console") / "console.log"
    extra = ["--sample-interval", "1", "--metrics-url", metrics_url]
    process = ConsoleProcess(metered_broker.bootstrap, log, extra).start()
    yield process
    process.stop()


def token(http: httpx.Client) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', http.get("/topics-new").text)
    assert match is not None
    return match.group(1)


def post(http: httpx.Client, path: str, confirmed: bool, **fields: str) -> httpx.Response:
    data = {"csrf": token(http), **fields}
    if confirmed:
        data["confirmed"] = "yes"
    return http.post(path, data=data)


def admin(broker: BrokerProcess) -> AdminClient:
    return AdminClient({"bootstrap.servers": broker.bootstrap, "log_level": 2})


def test_one_line_at_start_and_exit_0_on_sigterm(
    metered_broker: BrokerProcess, tmp_path: Path
) -> None:
    console = ConsoleProcess(metered_broker.bootstrap, tmp_path / "console.log").start()
    with httpx.Client(base_url=console.url, timeout=TIMEOUT) as http:
        page = http.get("/")
        assert page.status_code == 200
        # No --metrics-url: the broker's version is not known, and not guessed.
        assert versions(page.text) == {"versions": "unknown", "version-0": "unknown"}
        assert broker_version(http.get("/brokers/0").text) == "unknown"
    assert console.stop() == 0
    listening = f"odradek console for {metered_broker.bootstrap} listening on {console.url}/"
    assert console.log().splitlines() == [listening]


def versions(overview: str) -> dict[str, str]:
    """The Overview's version fact and per-broker version cells, by element id."""
    cells = re.findall(r'<(?:dd|td) id="(versions|version-[0-9]+)"[^>]*>([^<]*)<', overview)
    return dict(cells)


def broker_version(page: str) -> str | None:
    match = re.search(r'<span id="broker-version">([^<]*)<', page)
    return None if match is None else match.group(1)


def test_the_brokers_version_from_its_metrics_endpoint(http_console: ConsoleProcess) -> None:
    with httpx.Client(base_url=http_console.url, timeout=TIMEOUT) as http:
        shown = wait_for(
            lambda: (v := versions(http.get("/").text)).get("versions") != "unknown" and v,
            TIMEOUT,
            "the version read from the metrics endpoint",
        )
        assert shown == {"versions": __version__, "version-0": __version__}
        assert broker_version(http.get("/brokers/0").text) == __version__


def test_every_page_answers(http_console: ConsoleProcess) -> None:
    with httpx.Client(base_url=http_console.url, timeout=TIMEOUT) as http:
        for page in PAGES:
            response = http.get(page)
            assert response.status_code == 200, (page, response.text[-2000:])
            assert "odradek console" in response.text
        assert http.get("/brokers/0").status_code == 200
        assert http.get("/static/console.css").status_code == 200
        missing = http.get("/topics/no-such-topic")
        assert missing.status_code == 404
        assert "no topic named no-such-topic" in missing.text
        assert http.get("/brokers/99").status_code == 404


def test_topic_lifecycle_needs_confirmation(
    http_console: ConsoleProcess, metered_broker: BrokerProcess
) -> None:
    with httpx.Client(base_url=http_console.url, timeout=TIMEOUT) as http:
        fields = {
            "name": "http-life",
            "partitions": "1",
            "replication": "1",
            "configs": "cleanup.policy=delete",
        }
        page = post(http, "/topics", confirmed=False, **fields)
        assert page.status_code == 200 and "Create topic http-life?" in page.text
        assert "http-life" not in admin(metered_broker).list_topics(timeout=30).topics
        done = post(http, "/topics", confirmed=True, **fields)
        assert done.status_code == 303
        assert done.headers["location"] == "/topics/http-life?notice=Created+topic+http-life."

        page = post(http, "/topics/http-life/partitions", confirmed=False, total="3")
        assert "Grow http-life to 3 partitions?" in page.text
        assert (
            post(http, "/topics/http-life/partitions", confirmed=True, total="3").status_code == 303
        )
        topics = admin(metered_broker).list_topics(timeout=30).topics
        assert len(topics["http-life"].partitions) == 3

        producer = Producer({"bootstrap.servers": metered_broker.bootstrap, "log_level": 2})
        for _ in range(5):
            producer.produce("http-life", value=b"x", partition=1)
        producer.flush(30)
        page = post(
            http, "/topics/http-life/delete-records", confirmed=False, partition="1", offset=""
        )
        assert "partition 1: records before offset 5 are deleted" in page.text
        done = post(
            http, "/topics/http-life/delete-records", confirmed=True, partition="1", offset=""
        )
        assert "partition+1+starts+at+5" in done.headers["location"]
        detail = http.get("/topics/http-life").text
        assert "0 messages" in detail

        assert post(http, "/topics/http-life/delete", confirmed=False).status_code == 200
        assert post(http, "/topics/http-life/delete", confirmed=True).status_code == 303
        wait_for(
            lambda: "http-life" not in admin(metered_broker).list_topics(timeout=30).topics,
            TIMEOUT,
            "topic deleted",
        )


def test_forms_need_the_console_token(http_console: ConsoleProcess) -> None:
    with httpx.Client(base_url=http_console.url, timeout=TIMEOUT) as http:
        response = http.post(
            "/topics",
            data={
                "csrf": "forged",
                "name": "x",
                "partitions": "1",
                "replication": "1",
                "confirmed": "yes",
            },
        )
        assert response.status_code == 400
        assert "the form is stale or not from this console" in response.text


def test_refused_writes_show_the_brokers_error(http_console: ConsoleProcess) -> None:
    with httpx.Client(base_url=http_console.url, timeout=TIMEOUT) as http:
        response = post(
            http, "/topics", confirmed=True, name="http-bad", partitions="1", replication="3"
        )
        assert response.status_code == 502
        assert "replication factor" in response.text.lower()


def test_latency_probe_and_throughput(
    http_console: ConsoleProcess, metered_broker: BrokerProcess
) -> None:
    with httpx.Client(base_url=http_console.url, timeout=TIMEOUT) as http:
        done = post(http, "/latency/probe", confirmed=False)
        assert done.status_code == 303
        assert re.search(r"p50\+[0-9.]+\+ms%2C\+p99\+[0-9.]+\+ms", done.headers["location"])
        page = http.get("/latency").text
        assert page.count("<polyline") == 2  # p50 and p99
        # The probe's records went through the broker: the overview's throughput, read from
        # the metrics endpoint, shows bytes in once two scrapes saw them.
        wait_for(
            lambda: re.search(r"<th>Bytes in</th><td>[0-9.]+ (B|KiB)/s</td>", http.get("/").text),
            TIMEOUT,
            "throughput on the overview",
        )


def test_basic_auth_guards_every_page(metered_broker: BrokerProcess, tmp_path: Path) -> None:
    users = tmp_path / "users.htpasswd"
    users.write_text(f"admin:{md5_crypt('open sesame', 'Z9y8x7w6')}\n")
    console = ConsoleProcess(
        metered_broker.bootstrap, tmp_path / "console.log", ["--basic-auth-file", str(users)]
    ).start(auth=("admin", "open sesame"))
    try:
        with httpx.Client(base_url=console.url, timeout=TIMEOUT) as http:
            for page in ("/", "/topics", "/static/console.js"):
                response = http.get(page)
                assert response.status_code == 401
                assert response.headers["www-authenticate"].startswith("Basic ")
                assert http.get(page, auth=("admin", "wrong")).status_code == 401
                assert http.get(page, auth=("admin", "open sesame")).status_code == 200
    finally:
        console.stop()
