import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;

/**
 * FetchSessionConsumer BOOTSTRAP TOPIC PARTITIONS PER_PARTITION TIMEOUT_S CLIENT_ID
 *
 * <p>Reads partitions 0..PARTITIONS-1 of TOPIC from the beginning (assign, no group) with
 * short fetch waits, so it sends many fetches (within a fetch session, KIP-227), until
 * PER_PARTITION records came from each. Every record must be the next offset of its
 * partition (nothing lost, repeated or out of order) and carry the value "PARTITION:OFFSET".
 * After the last one it keeps polling for a second: nothing more may come. Prints
 * {@code CONSUMED n} and {@code OK n}.
 */
public final class FetchSessionConsumer {
    public static void main(String[] args) {
        Harness.main("FetchSessionConsumer", () -> run(args));
    }

    static void run(String[] args) throws Exception {
        if (args.length < 6) {
            throw new IllegalArgumentException(
                    "usage: FetchSessionConsumer BOOTSTRAP TOPIC PARTITIONS PER_PARTITION"
                            + " TIMEOUT_S CLIENT_ID");
        }
        String topic = args[1];
        int partitions = Integer.parseInt(args[2]);
        long perPartition = Long.parseLong(args[3]);
        long deadline = System.nanoTime() + Duration.ofSeconds(Long.parseLong(args[4])).toNanos();
        Properties props = Harness.consumerProps(args[0], args[5]);
        props.put(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, "100");
        props.put(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, "2048");
        long[] next = new long[partitions];
        long total = perPartition * partitions;
        long consumed = 0;
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(props)) {
            List<TopicPartition> assigned = new ArrayList<>();
            for (int p = 0; p < partitions; p++) {
                assigned.add(new TopicPartition(topic, p));
            }
            consumer.assign(assigned);
            consumer.seekToBeginning(assigned);
            long quietUntil = Long.MAX_VALUE;
            while (System.nanoTime() < Math.min(deadline, quietUntil)) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    int p = r.partition();
                    Harness.checkEquals(next[p], r.offset(), "offset in partition " + p);
                    Harness.checkEquals(
                            p + ":" + r.offset(),
                            new String(r.value(), StandardCharsets.UTF_8),
                            "value at " + p + "@" + r.offset());
                    next[p]++;
                    consumed++;
                }
                if (consumed == total && quietUntil == Long.MAX_VALUE) {
                    quietUntil = System.nanoTime() + Duration.ofSeconds(1).toNanos();
                }
            }
        }
        System.out.println("CONSUMED " + consumed);
        Harness.checkEquals(total, consumed, "records consumed");
        System.out.println("OK " + consumed);
    }
}
