import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicBoolean;

import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;

/**
 * ConsumerProtocolMember BOOTSTRAP TOPIC GROUP
 *
 * <p>A KIP-848 group member ({@code group.protocol=consumer}): subscribes, polls, commits
 * synchronously after each batch, until a {@code close} line (or the end) on stdin, then
 * closes (leaving the group). Prints {@code ASSIGNED p,...} whenever its assignment changes,
 * {@code RECORD p o} per record, and {@code OK n} with the number of records at the end.
 * {@code POLL_RACE} reports a client-side race of kafka-clients 3.9.1 (see the loop).
 */
public final class ConsumerProtocolMember {
    public static void main(String[] args) {
        Harness.main("ConsumerProtocolMember", () -> run(args));
    }

    static void run(String[] args) throws Exception {
        if (args.length < 3) {
            throw new IllegalArgumentException("usage: ConsumerProtocolMember BOOTSTRAP TOPIC GROUP");
        }
        Properties props = new Properties();
        props.put("bootstrap.servers", args[0]);
        props.put("group.id", args[2]);
        props.put("group.protocol", "consumer");
        props.put("enable.auto.commit", "false");
        props.put("auto.offset.reset", "earliest");
        props.put("key.deserializer",
                "org.apache.kafka.common.serialization.ByteArrayDeserializer");
        props.put("value.deserializer",
                "org.apache.kafka.common.serialization.ByteArrayDeserializer");

        AtomicBoolean closing = new AtomicBoolean(false);
        Thread stdin = new Thread(() -> {
            try (BufferedReader in = new BufferedReader(
                    new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
                String line;
                while ((line = in.readLine()) != null && !line.trim().equals("close")) {
                    // only "close" means anything
                }
            } catch (Exception e) {
                // a closed stdin means close too
            }
            closing.set(true);
        });
        stdin.setDaemon(true);
        stdin.start();

        long deadline = System.nanoTime() + Duration.ofSeconds(240).toNanos();
        int count = 0;
        Set<Integer> last = null;
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(props)) {
            consumer.subscribe(Arrays.asList(args[1]));
            while (!closing.get()) {
                Harness.check(System.nanoTime() < deadline, "no close after 240 s");
                ConsumerRecords<byte[], byte[]> records;
                try {
                    records = consumer.poll(Duration.ofMillis(100));
                } catch (IllegalStateException e) {
                    // kafka-clients 3.9.1's AsyncKafkaConsumer: the background thread may
                    // revoke a partition between fetching and collecting its records, and
                    // poll() then throws "No current assignment for partition"; the next
                    // poll() goes on without it.
                    System.out.println("POLL_RACE " + e.getMessage());
                    continue;
                }
                Set<Integer> owned = new TreeSet<>();
                for (TopicPartition tp : consumer.assignment()) {
                    owned.add(tp.partition());
                }
                if (!owned.equals(last)) {
                    StringBuilder line = new StringBuilder("ASSIGNED ");
                    owned.forEach(p -> line.append(p).append(','));
                    System.out.println(line);
                    last = owned;
                }
                for (ConsumerRecord<byte[], byte[]> record : records) {
                    System.out.println("RECORD " + record.partition() + " " + record.offset());
                    count++;
                }
                if (!records.isEmpty()) {
                    try {
                        consumer.commitSync(Harness.CALL_TIMEOUT);
                    } catch (RuntimeException e) {
                        System.out.println("COMMIT_FAILED " + e);
                    }
                }
                System.out.flush();
            }
        }
        System.out.println("OK " + count);
    }
}
