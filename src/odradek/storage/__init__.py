"""The log on disk, in Kafka's layout and formats. Synchronous file I/O only."""
