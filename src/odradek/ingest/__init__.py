"""``odradek ingest``: topics into database tables exactly once, as ClickHouse's Kafka table
engine does it. A Kafka client (confluent-kafka) above the broker: it imports nothing of the
broker's code and works against any Kafka cluster."""
