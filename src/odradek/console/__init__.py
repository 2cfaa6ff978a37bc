"""``odradek console``: a web console for any Kafka cluster, speaking only the Kafka protocol
(confluent-kafka's clients, plus a small kio client for the admin requests they lack) and,
when given, the broker's metrics endpoint."""
