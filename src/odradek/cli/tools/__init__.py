"""Client command-line tools (``odradek topics``, ``console-producer``, ...) with the flags and
semantics of Kafka's ``bin/kafka-*.sh``. They use confluent-kafka, so they work against any
Kafka cluster, and import nothing from the broker."""

from __future__ import annotations

from odradek.cli.tools.parsers import add_parsers

__all__ = ["add_parsers"]
