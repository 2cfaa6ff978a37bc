"""Short descriptions of configs, reported by DescribeConfigs when documentation is asked
for. Written for odradek; the semantics are Kafka's."""

from __future__ import annotations

from odradek.config.topic import TOPIC_TO_BROKER_SYNONYM

TOPIC_DOCS: dict[str, str] = {
    "cleanup.policy": "How old log segments are cleaned up: 'delete' removes them by time or "
    "size, 'compact' keeps the latest record of each key; both may be given.",
    "compression.type": "Codec the topic stores batches with: 'producer' keeps what the "
    "producer sent; a codec name makes the broker recompress to it.",
    "compression.gzip.level": "Compression level used when the topic codec is gzip.",
    "compression.lz4.level": "Compression level used when the topic codec is lz4.",
    "compression.zstd.level": "Compression level used when the topic codec is zstd.",
    "delete.retention.ms": "How long tombstones of a compacted topic are kept after the "
    "cleaning that first saw them, so slow consumers still see deletions.",
    "file.delete.delay.ms": "Delay between marking a segment deleted and removing its files.",
    "flush.messages": "Number of records after which the log is fsynced (by default the "
    "page cache and replication are relied on).",
    "flush.ms": "Time after which unflushed records are fsynced.",
    "follower.replication.throttled.replicas": "Replicas whose follower replication is throttled.",
    "index.interval.bytes": "Bytes of records between two entries of the sparse offset index.",
    "leader.replication.throttled.replicas": "Replicas whose leader-side replication is throttled.",
    "local.retention.bytes": "Local retention by size when tiered storage is on (-2: same as "
    "retention.bytes).",
    "local.retention.ms": "Local retention by time when tiered storage is on (-2: same as "
    "retention.ms).",
    "max.compaction.lag.ms": "Longest time a record may stay uncompacted.",
    "max.message.bytes": "Largest record batch the topic accepts, after compression.",
    "message.downconversion.enable": "Whether old fetch versions may get down-converted data.",
    "message.format.version": "Deprecated message format version; only v2 batches are used.",
    "message.timestamp.after.max.ms": "How far in the future a record timestamp may be.",
    "message.timestamp.before.max.ms": "How far in the past a record timestamp may be.",
    "message.timestamp.difference.max.ms": "Largest allowed difference between a record "
    "timestamp and the broker's clock (deprecated).",
    "message.timestamp.type": "CreateTime keeps the producer's timestamps; LogAppendTime "
    "stamps batches with the broker's time on append.",
    "min.cleanable.dirty.ratio": "Share of uncompacted bytes above which a log is cleaned.",
    "min.compaction.lag.ms": "Shortest time a record stays uncompacted.",
    "min.insync.replicas": "Fewest in-sync replicas an acks=all write needs.",
    "preallocate": "Whether segment files are preallocated.",
    "remote.storage.enable": "Whether tiered storage is on for the topic.",
    "remote.log.copy.disable": "Whether copying segments to remote storage is stopped.",
    "remote.log.delete.on.disable": "Whether remote data is deleted when tiered storage is "
    "turned off.",
    "retention.bytes": "Largest size a partition's log may grow to before old segments are "
    "deleted (-1: no limit).",
    "retention.ms": "How long records are kept before their segment is deleted (-1: forever).",
    "segment.bytes": "Size at which a new log segment is rolled.",
    "segment.index.bytes": "Largest size of a segment's offset index.",
    "segment.jitter.ms": "Random jitter subtracted from segment.ms.",
    "segment.ms": "Time after which a new log segment is rolled even if it is not full.",
    "unclean.leader.election.enable": "Whether an out-of-sync replica may become leader, "
    "at the risk of losing data.",
}

_BROKER_DOCS: dict[str, str] = {
    "log.retention.hours": "Default retention time in hours (see log.retention.ms).",
    "log.retention.minutes": "Default retention time in minutes (see log.retention.ms).",
    "log.roll.hours": "Default segment roll time in hours (see log.roll.ms).",
    "log.roll.jitter.hours": "Default segment roll jitter in hours.",
    "node.id": "This broker's id.",
    "broker.id": "This broker's id (ZooKeeper mode name of node.id).",
    "listeners": "Addresses the broker listens on, as NAME://host:port.",
    "advertised.listeners": "Addresses given to clients, if they differ from listeners.",
    "log.dirs": "Directories holding the partition logs.",
    "num.partitions": "Partitions of automatically created topics.",
    "auto.create.topics.enable": "Whether Metadata requests create unknown topics.",
    "socket.request.max.bytes": "Largest request the broker reads; larger ones close the "
    "connection.",
    "zookeeper.connect": "ZooKeeper ensemble (host:port[,host:port][/chroot]); unset runs a "
    "single-node broker.",
    "metrics.port": "HTTP port of the Prometheus and Jolokia-style metrics endpoint.",
}


def topic_doc(name: str) -> str | None:
    return TOPIC_DOCS.get(name)


def broker_doc(name: str) -> str | None:
    if name in _BROKER_DOCS:
        return _BROKER_DOCS[name]
    for topic_name, synonym in TOPIC_TO_BROKER_SYNONYM.items():
        if synonym == name and topic_name in TOPIC_DOCS:
            return f"Default of the topic config {topic_name}: {TOPIC_DOCS[topic_name]}"
    return None
