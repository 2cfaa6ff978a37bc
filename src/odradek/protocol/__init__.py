"""Sans-IO Kafka protocol: framing, request/response codecs (kio), record batches."""
