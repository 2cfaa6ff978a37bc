from __future__ import annotations

import pytest

from odradek.common.errors import InvalidConfigError, InvalidRequestError
from odradek.telemetry import configs as cm


def test_subscription_from_kafka_keys() -> None:
    sub = cm.subscription(
        "s",
        {
            "metrics": "org.apache.kafka.producer., org.apache.kafka.consumer.",
            "interval.ms": "1000",
            "match": r"client_id=app-.*,client_software_name=apache-kafka-java",
        },
    )
    assert sub.metrics == ("org.apache.kafka.producer.", "org.apache.kafka.consumer.")
    assert sub.interval_ms == 1000
    assert sub.matches({"client_id": "app-1", "client_software_name": "apache-kafka-java"})
    # A regex matches the whole attribute, not a part of it.
    assert not sub.matches({"client_id": "my-app-1", "client_software_name": "apache-kafka-java"})
    assert not sub.matches({"client_id": "app-1"})


def test_defaults_match_every_client_with_no_metrics() -> None:
    sub = cm.subscription("s", {})
    assert sub.metrics == ()
    assert sub.interval_ms == cm.DEFAULT_INTERVAL_MS
    assert sub.matches({})


@pytest.mark.parametrize(
    ("configs", "error"),
    [
        ({"interval.ms": "99"}, InvalidConfigError),
        ({"interval.ms": "3600001"}, InvalidConfigError),
        ({"interval.ms": "soon"}, InvalidConfigError),
        ({"match": "client_rack=a"}, InvalidConfigError),
        ({"match": "client_id"}, InvalidConfigError),
        ({"match": "client_id=("}, InvalidConfigError),
        ({"retention.ms": "1"}, InvalidRequestError),
    ],
)
def test_invalid_configs_are_refused(configs: dict[str, str], error: type[Exception]) -> None:
    with pytest.raises(error):
        cm.subscription("s", configs)


def test_incremental_alteration_appends_and_subtracts_list_items() -> None:
    configs = cm.altered({"metrics": "a.,b."}, [("metrics", cm.APPEND, "c.,a.")], True)
    assert configs == {"metrics": "a.,b.,c."}
    configs = cm.altered(configs, [("metrics", cm.SUBTRACT, "b.")], True)
    assert configs == {"metrics": "a.,c."}
    configs = cm.altered(configs, [("interval.ms", cm.SET, "500")], True)
    assert configs == {"metrics": "a.,c.", "interval.ms": "500"}
    assert cm.altered(configs, [("metrics", cm.DELETE, None)], True) == {"interval.ms": "500"}
    with pytest.raises(InvalidConfigError):
        cm.altered(configs, [("interval.ms", cm.APPEND, "1")], True)


def test_alter_configs_replaces_every_key() -> None:
    configs = cm.altered(
        {"metrics": "a.", "interval.ms": "500"}, [("match", cm.SET, "client_id=x")], False
    )
    assert configs == {"match": "client_id=x"}


@pytest.mark.parametrize("name", ["", "a/b", ".."])
def test_resource_names_must_be_znode_names(name: str) -> None:
    with pytest.raises(InvalidRequestError):
        cm.check_name(name)
