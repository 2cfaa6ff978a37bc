"""deploy/ and the files people deploy with: every metric the Grafana dashboard and the
alert rules query is one a running broker exports (start a broker, drive traffic so every
family has series, scrape, compare); the alert rules' semantics (promtool's rule tests,
when promtool is installed); the compose files, the Dockerfile and the systemd unit, checked
as far as can be done without Docker or systemd running: they parse, what they reference
exists, and the configuration they give a broker is one it accepts."""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml  # PyYAML: a test dependency

from odradek.config.broker import load_broker_config
from odradek.config.properties import parse_properties
from odradek.testing import Broker
from tests.unit.observability.scrape import Samples, promql_metric_names, scrape

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"
DASHBOARD = DEPLOY / "grafana" / "odradek-dashboard.json"
ALERTS = DEPLOY / "alerts.yml"
ALERT_TESTS = DEPLOY / "alerts.test.yml"
SERVER_PROPERTIES = DEPLOY / "server.properties"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
COMPOSE = ROOT / "docker-compose.yml"
COMPOSE_CLUSTER = DEPLOY / "docker-compose.cluster.yml"
UNIT = DEPLOY / "odradek.service"
PROMETHEUS_SERIES = frozenset({"up"})  # made by Prometheus for every target, not exported


def dashboard_queries() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    queries = [
        target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])
    ]
    for variable in dashboard["templating"]["list"]:
        query = variable.get("query")
        if variable.get("type") == "query":
            queries.append(query["query"] if isinstance(query, dict) else query)
    return queries


def alert_expressions() -> list[str]:
    """The ``expr`` of every rule: one-line values and ``|`` block scalars."""
    lines = ALERTS.read_text().splitlines()
    expressions = []
    index = 0
    while index < len(lines):
        match = re.match(r"^(\s*)expr:\s*(.*)$", lines[index])
        index += 1
        if match is None:
            continue
        indent, value = len(match.group(1)), match.group(2).strip()
        if value not in ("|", ">", "|-", ">-"):
            expressions.append(value)
            continue
        block = []
        while index < len(lines) and (
            not lines[index].strip() or len(lines[index]) - len(lines[index].lstrip()) > indent
        ):
            block.append(lines[index].strip())
            index += 1
        expressions.append(" ".join(block))
    return expressions


def test_the_files_hold_queries() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    titles = " ".join(panel["title"] for panel in dashboard["panels"]).lower()
    for topic in ("throughput", "latency", "lag", "partition"):
        assert topic in titles
    expressions = alert_expressions()
    assert len(expressions) >= 4
    joined = " ".join(expressions)
    for metric in (
        "kafka_consumergroup_lag",
        "kafka_network_requestmetrics_totaltimems_bucket",
        "kafka_server_replicamanager_underreplicatedpartitions",
        "kafka_controller_kafkacontroller_offlinepartitionscount",
    ):
        assert metric in joined
    rules = yaml.safe_load(ALERTS.read_text())
    assert len([r for g in rules["groups"] for r in g["rules"]]) == len(expressions)
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    assert config["scrape_configs"][0]["metrics_path"] == "/metrics"


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Samples]:
    confluent_kafka = pytest.importorskip("confluent_kafka")
    overrides = {"metrics.port": "0", "group.initial.rebalance.delay.ms": "0"}
    with Broker(data_dir=tmp_path_factory.mktemp("deploy"), overrides=overrides) as broker:
        assert broker.server is not None and broker.server.metrics_endpoint is not None
        bootstrap = broker.bootstrap_servers
        producer = confluent_kafka.Producer({"bootstrap.servers": bootstrap, "linger.ms": 1})
        for index in range(200):
            producer.produce("deploy-topic", value=b"%d" % index)
        assert producer.flush(20) == 0
        consumer: Any = confluent_kafka.Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": "deploy-group",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
            }
        )
        consumer.subscribe(["deploy-topic"])
        received = 0
        deadline = time.monotonic() + 30
        while received < 100 and time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if message is not None and message.error() is None:
                received += 1
        consumer.commit(asynchronous=False)
        consumer.close()
        assert received >= 100
        yield scrape(broker.server.metrics_endpoint.port)


def test_every_queried_metric_is_exported(exported: Samples) -> None:
    names = exported.names()
    referenced: dict[str, set[str]] = {}
    for source, expressions in (
        ("dashboard", dashboard_queries()),
        ("alerts", alert_expressions()),
    ):
        for expression in expressions:
            for name in promql_metric_names(expression):
                referenced.setdefault(name, set()).add(source)
    assert len(referenced) > 20
    missing = {
        name: sorted(sources)
        for name, sources in referenced.items()
        if name not in names and name not in PROMETHEUS_SERIES
    }
    assert not missing, f"queried but not exported: {missing}"
    assert (
        exported.get(
            "kafka_consumergroup_lag",
            consumergroup="deploy-group",
            topic="deploy-topic",
            partition="0",
        )
        == 100
    )


# -- alert rules -----------------------------------------------------------------------------


def alert_rules() -> dict[str, dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    by_name = {rule["alert"]: rule for rule in rules}
    assert len(by_name) == len(rules), "alert names must be unique"
    return by_name


def squeeze(expression: str) -> str:
    return " ".join(expression.split())


def test_alerts_cover_down_brokers_min_isr_and_isr_shrinks() -> None:
    rules = alert_rules()
    expressions = {name: squeeze(rule["expr"]) for name, rule in rules.items()}
    assert expressions["OdradekBrokerDown"] == 'up{job="odradek"} == 0'
    assert (
        "kafka_server_replicamanager_underminisrpartitioncount"
        in expressions["OdradekUnderMinIsrPartitions"]
    )
    assert expressions["OdradekUnderMinIsrPartitions"].endswith("> 0")
    assert "rate(kafka_server_replicamanager_isrshrinks_total[" in expressions["OdradekIsrShrinks"]
    assert expressions["OdradekIsrShrinks"].endswith("> 0")
    for name, rule in rules.items():
        assert rule["labels"]["severity"] in ("critical", "warning", "info"), name
        assert rule["annotations"]["summary"], name


def test_lag_alerts_only_for_groups_with_members() -> None:
    lag_rules = {
        name: squeeze(rule["expr"])
        for name, rule in alert_rules().items()
        if "kafka_consumergroup_lag" in rule["expr"]
    }
    assert len(lag_rules) >= 2
    for name, expression in lag_rules.items():
        assert expression.endswith(
            "and on (consumergroup) (max by (consumergroup) (kafka_consumergroup_members) > 0)"
        ), name


def test_prometheus_job_matches_the_down_alert() -> None:
    for config_file in (
        DEPLOY / "prometheus.yml",
        DEPLOY / "compose" / "prometheus.yml",
        DEPLOY / "compose" / "prometheus-cluster.yml",
    ):
        config = yaml.safe_load(config_file.read_text())
        assert [job["job_name"] for job in config["scrape_configs"]] == ["odradek"], config_file
        assert config["rule_files"] == ["alerts.yml"]


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")
def test_promtool_checks_and_unit_tests_the_rules() -> None:
    for command in (["check", "rules", str(ALERTS)], ["test", "rules", str(ALERT_TESTS)]):
        result = subprocess.run(["promtool", *command], capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr


# -- compose files ---------------------------------------------------------------------------


def load_compose(path: Path) -> dict[str, Any]:
    compose = yaml.safe_load(path.read_text())
    assert isinstance(compose, dict)
    return compose


def bind_mounts(compose: dict[str, Any], service: str) -> dict[str, str]:
    """Container path -> host path of a service's bind mounts (``./x:/y[:ro]``)."""
    mounts = {}
    for volume in compose["services"][service].get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith((".", "/")):
            mounts[target] = source
    return mounts


def broker_config_of(compose: dict[str, Any], service: str) -> Any:
    """The config the image's serve command builds for this service: the image's
    server.properties under the service's environment."""
    environment = compose["services"][service].get("environment", {})
    return load_broker_config(
        SERVER_PROPERTIES, environ={k: str(v) for k, v in environment.items()}
    )


@pytest.mark.parametrize("path", [COMPOSE, COMPOSE_CLUSTER], ids=lambda p: p.name)
def test_compose_file_references_exist(path: Path) -> None:
    compose = load_compose(path)
    services = compose["services"]
    declared_volumes = set(compose.get("volumes") or {})
    for name, service in services.items():
        if "build" in service:
            assert (path.parent / service["build"] / "Dockerfile").resolve() == DOCKERFILE
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith((".", "/")):
                assert (path.parent / source).exists(), f"{name}: {source} does not exist"
            else:
                assert source in declared_volumes, f"{name}: volume {source} not declared"
        depends = service.get("depends_on", [])
        assert set(depends) <= set(services), name
    prometheus = bind_mounts(compose, "prometheus")
    config_path = path.parent / prometheus["/etc/prometheus/prometheus.yml"]
    assert (path.parent / prometheus["/etc/prometheus/alerts.yml"]).resolve() == ALERTS
    config = load_compose(config_path)  # plain YAML
    targets = [
        target
        for job in config["scrape_configs"]
        for group in job["static_configs"]
        for target in group["targets"]
    ]
    metrics_port = parse_properties(SERVER_PROPERTIES.read_text())["metrics.port"]
    brokers = sorted(
        name
        for name, service in services.items()
        if "build" in service
        or (service.get("image") == "odradek:latest" and "entrypoint" not in service)
    )
    assert sorted(targets) == [f"{broker}:{metrics_port}" for broker in brokers]
    grafana = bind_mounts(compose, "grafana")
    provisioning = load_compose(
        path.parent / grafana["/etc/grafana/provisioning/dashboards/odradek.yml"]
    )
    dashboards_dir = provisioning["providers"][0]["options"]["path"]
    dashboard_mounts = [
        host for container, host in grafana.items() if container.startswith(dashboards_dir + "/")
    ]
    assert [(path.parent / host).resolve() for host in dashboard_mounts] == [DASHBOARD]
    datasources = load_compose(
        path.parent / grafana["/etc/grafana/provisioning/datasources/prometheus.yml"]
    )
    assert datasources["datasources"][0]["url"] == "http://prometheus:9090"


def test_compose_broker_gets_a_valid_config() -> None:
    compose = load_compose(COMPOSE)
    broker = compose["services"]["broker"]
    config = broker_config_of(compose, "broker")
    assert [str(listener) for listener in config.advertised_listeners] == [
        "PLAINTEXT://localhost:9092"
    ]
    assert [str(d) for d in config.log_dirs] == ["/var/lib/odradek"]
    published = {port.split(":")[1] for port in broker["ports"]}
    assert published == {"9092", str(config.get("metrics.port"))}
    assert "broker-data:/var/lib/odradek" in broker["volumes"]


def test_cluster_compose_brokers_form_a_cluster() -> None:
    compose = load_compose(COMPOSE_CLUSTER)
    configs = {name: broker_config_of(compose, name) for name in ("broker1", "broker2", "broker3")}
    assert sorted(config.node_id for config in configs.values()) == [1, 2, 3]
    for name, config in configs.items():
        assert config.get("zookeeper.connect") == "zookeeper:2181/odradek"
        assert [str(listener) for listener in config.advertised_listeners] == [
            f"PLAINTEXT://{name}:9092"
        ]
        assert config.get("offsets.topic.replication.factor") == 3
        assert config.get("default.replication.factor") == 3
        assert config.get("min.insync.replicas") == 2
        assert config.unknown_valid == {}
    volumes = {compose["services"][name]["volumes"][0] for name in configs}
    assert len(volumes) == 3  # one data volume each


# -- Dockerfile ------------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    instructions = []
    pending = ""
    for line in DOCKERFILE.read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        keyword, _, arguments = full.partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
    assert not pending
    return instructions


def dockerignored(path: str) -> bool:
    """Docker's rule: the last matching pattern decides; ``!`` re-includes; a pattern
    matching a directory matches what is under it."""
    ignored = False
    for raw in DOCKERIGNORE.read_text().splitlines():
        pattern = raw.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").strip("/")
        candidates = [path] + [
            str(Path(*Path(path).parts[:i])) for i in range(1, len(Path(path).parts))
        ]
        if any(
            fnmatch.fnmatchcase(candidate, pattern)
            or fnmatch.fnmatchcase(candidate, pattern.replace("**/", ""))
            or fnmatch.fnmatchcase(candidate, pattern.replace("**/", "*/"))
            for candidate in candidates
        ):
            ignored = not negate
    return ignored


def test_dockerfile_copies_only_what_exists_and_is_in_the_context() -> None:
    copies = [
        arguments.split()
        for keyword, arguments in dockerfile_instructions()
        if keyword in ("COPY", "ADD")
    ]
    assert copies
    for arguments in copies:
        if any(argument.startswith("--from") for argument in arguments):
            continue
        sources = [a for a in arguments[:-1] if not a.startswith("--")]
        for source in sources:
            assert (ROOT / source).exists(), f"COPY source {source} does not exist"
            assert not dockerignored(source.rstrip("/")), f"{source} is in .dockerignore"
    # what the package build reads is in the context; the rest of the repository is not
    for needed in (
        "pyproject.toml",
        "README.md",
        "src/odradek/__init__.py",
        "deploy/server.properties",
    ):
        assert not dockerignored(needed), needed
    for left_out in (
        "tests/conftest.py",
        ".git/HEAD",
        "docs/observability.md",
        "src/odradek/__pycache__/x.pyc",
        "deploy/alerts.yml",
    ):
        assert dockerignored(left_out), left_out


def test_dockerfile_runs_the_broker_as_deployed() -> None:
    instructions = dockerfile_instructions()
    keywords = [keyword for keyword, _ in instructions]
    final = instructions[len(keywords) - 1 - keywords[::-1].index("FROM") :]
    values = dict(final)
    assert values["FROM"].startswith("python:3.12-slim")
    assert values["USER"].split(":")[0] not in ("root", "0")
    assert values["EXPOSE"].split() == ["9092", "9404"]
    properties = parse_properties(SERVER_PROPERTIES.read_text())
    assert json.loads(values["VOLUME"]) == [properties["log.dirs"]]
    assert json.loads(values["ENTRYPOINT"]) == ["odradek", "serve"]
    config_path = json.loads(values["CMD"])[0]
    assert "COPY" in values and values["COPY"].split() == ["deploy/server.properties", config_path]
    healthcheck = values["HEALTHCHECK"]
    assert "curl" not in healthcheck and "wget" not in healthcheck
    assert f"http://127.0.0.1:{properties['metrics.port']}/ready" in healthcheck
    assert "--start-period=" in healthcheck


def healthcheck_command(port: int) -> list[str]:
    """The image's HEALTHCHECK command, aimed at ``port``, run with this interpreter."""
    arguments = dict(dockerfile_instructions())["HEALTHCHECK"]
    command = json.loads(arguments[arguments.index("CMD") + 3 :].strip())
    assert command[0] == "python"
    metrics_port = parse_properties(SERVER_PROPERTIES.read_text())["metrics.port"]
    return [sys.executable] + [
        part.replace(f":{metrics_port}/", f":{port}/") for part in command[1:]
    ]


def test_dockerfile_healthcheck_passes_only_when_ready(tmp_path: Path) -> None:
    with Broker(data_dir=tmp_path / "data", overrides={"metrics.port": "0"}) as broker:
        assert broker.server is not None and broker.server.metrics_endpoint is not None
        port = broker.server.metrics_endpoint.port
        ready = subprocess.run(healthcheck_command(port), capture_output=True, timeout=60)
        assert ready.returncode == 0, ready.stderr
    stopped = subprocess.run(healthcheck_command(port), capture_output=True, timeout=60)
    assert stopped.returncode != 0


# -- systemd unit ----------------------------------------------------------------------------


def unit_settings() -> dict[str, dict[str, str]]:
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] = {}
    for line in UNIT.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        key, sep, value = line.partition("=")
        assert sep, f"not key=value: {line!r}"
        current[key.strip()] = value.strip()
    return sections


def test_systemd_unit_settings() -> None:
    unit = unit_settings()
    assert set(unit) == {"Unit", "Service", "Install"}
    service = unit["Service"]
    assert service["Type"] == "simple"
    assert service["User"] not in ("root", "0") and service["Group"] not in ("root", "0")
    assert service["KillSignal"] == "SIGTERM"
    assert int(service["LimitNOFILE"]) >= 100_000
    assert 30 <= int(service["TimeoutStopSec"]) <= 600
    command = shlex.split(service["ExecStart"])
    assert command[1:] == ["serve", "/etc/odradek/server.properties"]
    assert Path(command[0]).name == "odradek"
    properties = parse_properties(SERVER_PROPERTIES.read_text())
    assert properties["log.dirs"] == f"/var/lib/{service['StateDirectory']}"
    assert unit["Install"]["WantedBy"] == "multi-user.target"


@pytest.mark.skipif(
    shutil.which("systemd-analyze") is None or shutil.which("odradek") is None,
    reason="systemd-analyze or the odradek command is not installed",
)
def test_systemd_analyze_verifies_the_unit(tmp_path: Path) -> None:
    """systemd's own checks, with ExecStart pointed at this machine's odradek command (the
    unit's path is the venv its comments install)."""
    text = UNIT.read_text()
    executable = shlex.split(unit_settings()["Service"]["ExecStart"])[0]
    local = tmp_path / "odradek.service"
    local.write_text(text.replace(executable, str(shutil.which("odradek"))))
    result = subprocess.run(
        ["systemd-analyze", "verify", str(local)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and not result.stdout.strip() and not result.stderr.strip(), (
        result.stdout + result.stderr
    )
