"""Log compaction (Kafka's LogCleaner): choose the dirtiest log, build a bounded key -> offset
map over its dirty part, rewrite the clean part keeping the latest record of each key, swap
the result in crash-safely."""
