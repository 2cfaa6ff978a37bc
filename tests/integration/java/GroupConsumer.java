import java.time.Duration;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.Properties;

import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;

/**
 * GroupConsumer BOOTSTRAP TOPIC GROUP MAX_RECORDS IDLE_MS
 *
 * <p>Seed 003's consumer: enable.auto.commit=false, subscribe, poll, per-partition processing
 * and {@code commitSync(Collections.singletonMap(partition, new OffsetAndMetadata(lastOffset +
 * 1)))}. Stops once MAX_RECORDS were processed (at a partition boundary, after its commit) or
 * when no record arrived for IDLE_MS after the first assignment. Prints {@code ASSIGNED p,...},
 * one {@code Partition: p, Offset: o, Key: k, Value: v} line per record, {@code COMMITTED p o}
 * per commit and {@code OK n}.
 */
public final class GroupConsumer {
    public static void main(String[] args) {
        Harness.main("GroupConsumer", () -> run(args));
    }

    static void run(String[] args) throws Exception {
        if (args.length < 5) {
            throw new IllegalArgumentException(
                    "usage: GroupConsumer BOOTSTRAP TOPIC GROUP MAX_RECORDS IDLE_MS");
        }
        String topic = args[1];
        int maxRecords = Integer.parseInt(args[3]);
        long idleMs = Long.parseLong(args[4]);

        Properties props = new Properties();
        props.put("bootstrap.servers", args[0]);
        props.put("group.id", args[2]);
        props.put("enable.auto.commit", "false");
        props.put("auto.offset.reset", "earliest");
        props.put("session.timeout.ms", "30000");
        props.put("heartbeat.interval.ms", "10000");
        props.put("max.poll.interval.ms", "300000");
        props.put("key.deserializer",
                "org.apache.kafka.common.serialization.StringDeserializer");
        props.put("value.deserializer",
                "org.apache.kafka.common.serialization.StringDeserializer");
        props.put("default.api.timeout.ms", "30000");

        KafkaConsumer<String, String> consumer = new KafkaConsumer<>(props);
        long[] lastActivity = {0L};
        int processed = 0;
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        try {
            consumer.subscribe(Arrays.asList(topic), new ConsumerRebalanceListener() {
                @Override
                public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
                    System.out.println("REVOKED " + partitions);
                }

                @Override
                public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
                    StringBuilder line = new StringBuilder("ASSIGNED");
                    partitions.stream().map(TopicPartition::partition).sorted()
                            .forEach(p -> line.append(' ').append(p));
                    System.out.println(line);
                    lastActivity[0] = System.nanoTime();
                }
            });
            while (processed < maxRecords) {
                Harness.check(System.nanoTime() < deadline, "no end after 60 s");
                ConsumerRecords<String, String> records = consumer.poll(Duration.ofMillis(100));
                if (records.isEmpty()) {
                    if (lastActivity[0] != 0L
                            && System.nanoTime() - lastActivity[0] > idleMs * 1_000_000L) {
                        break;
                    }
                    continue;
                }
                lastActivity[0] = System.nanoTime();
                // Per-partition processing, then a commit of that partition only.
                for (TopicPartition partition : records.partitions()) {
                    List<ConsumerRecord<String, String>> partitionRecords =
                            records.records(partition);
                    for (ConsumerRecord<String, String> record : partitionRecords) {
                        System.out.printf("Partition: %d, Offset: %d, Key: %s, Value: %s%n",
                                record.partition(), record.offset(), record.key(),
                                record.value());
                        processed++;
                    }
                    long lastOffset = partitionRecords.get(partitionRecords.size() - 1).offset();
                    consumer.commitSync(Collections.singletonMap(
                            partition, new OffsetAndMetadata(lastOffset + 1)));
                    System.out.println("COMMITTED " + partition.partition() + " "
                            + (lastOffset + 1));
                    if (processed >= maxRecords) {
                        break;
                    }
                }
            }
        } finally {
            consumer.close(Harness.CLOSE_TIMEOUT);
        }
        System.out.println("OK " + processed);
    }
}
