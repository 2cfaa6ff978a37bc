"""The flags of the client tools, as Kafka's ``bin/kafka-*.sh`` spell them.

Standard library only: registering the sub-commands must not import confluent-kafka (an
optional dependency, and slow to import). Each tool's module is imported when it runs.
"""

from __future__ import annotations

from typing import Any

from odradek.cli.tools.parsers.acls import add_acls
from odradek.cli.tools.parsers.cluster import (
    add_cluster,
    add_leader_election,
    add_reassign_partitions,
)
from odradek.cli.tools.parsers.configs import add_configs
from odradek.cli.tools.parsers.console import add_console_consumer, add_console_producer
from odradek.cli.tools.parsers.groups import add_consumer_groups
from odradek.cli.tools.parsers.topics import add_delete_records, add_topics
from odradek.cli.tools.parsers.transactions import add_transactions

ALL = (
    add_topics,
    add_console_producer,
    add_console_consumer,
    add_configs,
    add_delete_records,
    add_cluster,
    add_consumer_groups,
    add_reassign_partitions,
    add_leader_election,
    add_transactions,
    add_acls,
)


def add_parsers(commands: Any) -> None:
    for add in ALL:
        add(commands)
