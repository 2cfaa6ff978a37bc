"""``odradek consumer-groups`` with both kinds of group: a KIP-848 consumer group
(``group.protocol=consumer``) and a classic one, listed with their types (Kafka 4.0's
``--list --type``) and described (members and assignments through ConsumerGroupDescribe)."""

from __future__ import annotations

from typing import Any

import pytest
from confluent_kafka.admin import (  # type: ignore[attr-defined]  # the module has no __all__
    AdminClient,
    NewTopic,
)

from tests.integration.test_cli_common import ok, ok_json, table, usage_error
from tests.integration.test_consumer_group_protocol import (
    FAST,
    PARTITIONS,
    Member,
    produce,
    uid,
    wait_until,
)
from tests.support.broker_process import BrokerProcess

pytestmark = pytest.mark.integration


def test_list_and_describe_show_consumer_and_classic_groups(
    broker_factory: Any,
) -> None:
    broker: BrokerProcess = broker_factory(overrides=FAST)
    topic, modern, classic = uid("cli-kip848"), uid("modern"), uid("classic")
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic(topic, PARTITIONS, 1)])[topic].result(15)
    placed = produce(broker.bootstrap, topic, range(120))
    member = Member(broker.bootstrap, modern, topic)
    old = Member(broker.bootstrap, classic, topic, protocol="classic")
    try:
        why = lambda: f"{member.describe()}\n{old.describe()}\n{broker.log()}"  # noqa: E731
        wait_until(lambda: member.records() >= placed, 60, "the consumer group's records", why)
        wait_until(lambda: old.records() >= placed, 60, "the classic group's records", why)
        bootstrap = ("--bootstrap-server", broker.bootstrap)

        rows = {
            r["GROUP"]: r
            for r in table(ok("consumer-groups", *bootstrap, "--list", "--type", "--state"))
        }
        assert (rows[modern]["TYPE"], rows[modern]["STATE"]) == ("Consumer", "Stable")
        assert (rows[classic]["TYPE"], rows[classic]["STATE"]) == ("Classic", "Stable")
        only = ok_json("consumer-groups", *bootstrap, "--list", "--type", "consumer")
        assert modern in {g["group"] for g in only}
        assert classic not in {g["group"] for g in only}

        for group in (modern, classic):
            described = ok_json("consumer-groups", *bootstrap, "--describe", "--group", group)
            report = described[0]
            assert report["state"] == "Stable"
            owned = {(r["topic"], r["partition"]) for r in report["offsets"]}
            assert owned == {(topic, p) for p in range(PARTITIONS)}
            members = ok_json(
                "consumer-groups", *bootstrap, "--describe", "--group", group, "--members"
            )[0]["members"]
            assert [m["partitions"] for m in members] == [PARTITIONS]
        state = ok_json("consumer-groups", *bootstrap, "--describe", "--group", modern, "--state")
        assert state[0]["assignment_strategy"] == "uniform"
        assert "--type is only valid with --list" in usage_error(
            "consumer-groups", *bootstrap, "--describe", "--group", modern, "--type"
        )
    finally:
        for m in (member, old):
            if m.is_alive():
                m.close()
