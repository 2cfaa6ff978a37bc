import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Properties;

import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;

/**
 * TxnSeed003 BOOTSTRAP TOPIC1 TOPIC2 TRANSACTIONAL_ID
 *
 * <p>Seed 003's reliable producer and transactional producer, with the seed's settings: acks=all,
 * retries=Integer.MAX_VALUE, retry.backoff.ms=100, max.in.flight.requests.per.connection=1,
 * enable.idempotence=true, delivery.timeout.ms=120000.
 * <ol>
 *   <li>The idempotent producer sends {@code idem-0..9} to TOPIC1 (prints {@code IDEMPOTENT
 *       <offset>} per record).</li>
 *   <li>The transactional producer (the same props plus transactional.id): initTransactions,
 *       beginTransaction, send key1/value1 to TOPIC1 and key2/value2 to TOPIC2,
 *       commitTransaction; abortTransaction on error, as in the seed ({@code COMMITTED}).</li>
 *   <li>A second transaction sends {@code aborted-1}/{@code aborted-2}, flushes, and is
 *       aborted ({@code ABORTED}).</li>
 *   <li>A read_committed consumer reads both topics to their end offsets (which are last stable
 *       offsets for it) and prints {@code RECORD <topic> <offset> <key> <value>}.</li>
 * </ol>
 * Ends with {@code OK <records consumed>}.
 */
public final class TxnSeed003 {
    public static void main(String[] args) {
        Harness.main("TxnSeed003", () -> run(args));
    }

    static Properties seedProps(String bootstrap) {
        Properties props = new Properties();
        props.put("bootstrap.servers", bootstrap);
        props.put("acks", "all");
        props.put("retries", Integer.MAX_VALUE);
        props.put("retry.backoff.ms", 100);
        props.put("max.in.flight.requests.per.connection", 1);
        props.put("enable.idempotence", true);
        props.put("delivery.timeout.ms", 120000);
        props.put("key.serializer", "org.apache.kafka.common.serialization.StringSerializer");
        props.put("value.serializer", "org.apache.kafka.common.serialization.StringSerializer");
        props.put("max.block.ms", 30000);
        return props;
    }

    static void run(String[] args) throws Exception {
        if (args.length < 4) {
            throw new IllegalArgumentException(
                    "usage: TxnSeed003 BOOTSTRAP TOPIC1 TOPIC2 TRANSACTIONAL_ID");
        }
        String topic1 = args[1];
        String topic2 = args[2];
        Properties props = seedProps(args[0]);

        try (Producer<String, String> producer = new KafkaProducer<>(props)) {
            for (int i = 0; i < 10; i++) {
                RecordMetadata md = producer.send(
                        new ProducerRecord<>(topic1, "idem-" + i, "idem-" + i)).get();
                System.out.println("IDEMPOTENT " + md.offset());
            }
        }

        props.put("transactional.id", args[3]);
        Producer<String, String> transactionalProducer = new KafkaProducer<>(props);
        try {
            transactionalProducer.initTransactions();
            try {
                transactionalProducer.beginTransaction();
                transactionalProducer.send(new ProducerRecord<>(topic1, "key1", "value1"));
                transactionalProducer.send(new ProducerRecord<>(topic2, "key2", "value2"));
                transactionalProducer.commitTransaction();
            } catch (Exception e) {
                transactionalProducer.abortTransaction();
                throw e;
            }
            System.out.println("COMMITTED");

            transactionalProducer.beginTransaction();
            transactionalProducer.send(new ProducerRecord<>(topic1, "key1", "aborted-1"));
            transactionalProducer.send(new ProducerRecord<>(topic2, "key2", "aborted-2"));
            transactionalProducer.flush();
            transactionalProducer.abortTransaction();
            System.out.println("ABORTED");
        } finally {
            transactionalProducer.close(Harness.CLOSE_TIMEOUT);
        }

        int consumed = readCommitted(args[0], Arrays.asList(topic1, topic2));
        System.out.println("OK " + consumed);
    }

    static int readCommitted(String bootstrap, List<String> topics) {
        Properties props = Harness.consumerProps(bootstrap, "txn-seed003-reader");
        props.put("isolation.level", "read_committed");
        List<TopicPartition> partitions = new ArrayList<>();
        for (String topic : topics) {
            partitions.add(new TopicPartition(topic, 0));
        }
        int count = 0;
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(props)) {
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> end = consumer.endOffsets(partitions);
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (!atEnd(consumer, end)) {
                Harness.check(System.nanoTime() < deadline, "end offsets not reached: " + end);
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    System.out.println("RECORD " + r.topic() + " " + r.offset() + " "
                            + new String(r.key()) + " " + new String(r.value()));
                    count++;
                }
            }
            for (TopicPartition tp : partitions) {
                System.out.println("END " + tp.topic() + " " + end.get(tp));
            }
        }
        return count;
    }

    static boolean atEnd(KafkaConsumer<byte[], byte[]> consumer, Map<TopicPartition, Long> end) {
        for (Map.Entry<TopicPartition, Long> e : end.entrySet()) {
            if (consumer.position(e.getKey()) < e.getValue()) {
                return false;
            }
        }
        return true;
    }
}
