"""Leaf layer: ids, errors mapped to Kafka error codes, clocks."""
