"""Kafka's configuration vocabulary: definitions, defaults, validation and parsing."""
