import java.util.Collections;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerGroupMetadata;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;

/**
 * TxnOffsets BOOTSTRAP SOURCE SINK GROUP TRANSACTIONAL_ID
 *
 * <p>sendOffsetsToTransaction with the Kafka 3.9 producer. Prints the group's committed offset
 * of SOURCE-0 as the AdminClient's listConsumerGroupOffsets sees it ({@code none} when unset):
 * {@code OPEN <o>} while the transaction with offset 10 is open, {@code AFTER_COMMIT <o>}
 * once it committed, {@code OPEN_ABORTED <o>} while a second transaction with offset 20 is
 * open and {@code AFTER_ABORT <o>} after it was aborted; then {@code CONSUMER_COMMITTED <o>}
 * from a read_committed consumer's committed() (OffsetFetch with require_stable). Ends with
 * {@code OK}.
 */
public final class TxnOffsets {
    public static void main(String[] args) {
        Harness.main("TxnOffsets", () -> run(args));
    }

    static void run(String[] args) throws Exception {
        if (args.length < 5) {
            throw new IllegalArgumentException(
                    "usage: TxnOffsets BOOTSTRAP SOURCE SINK GROUP TRANSACTIONAL_ID");
        }
        String bootstrap = args[0];
        TopicPartition source = new TopicPartition(args[1], 0);
        String sink = args[2];
        String group = args[3];
        Properties props = TxnSeed003.seedProps(bootstrap);
        props.put("transactional.id", args[4]);

        Properties adminProps = new Properties();
        adminProps.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        try (Producer<String, String> producer = new KafkaProducer<>(props);
             Admin admin = Admin.create(adminProps)) {
            ConsumerGroupMetadata metadata = new ConsumerGroupMetadata(group);
            producer.initTransactions();

            producer.beginTransaction();
            producer.send(new ProducerRecord<>(sink, "k", "out-1"));
            producer.sendOffsetsToTransaction(
                    Collections.singletonMap(source, new OffsetAndMetadata(10)), metadata);
            producer.flush();
            System.out.println("OPEN " + committed(admin, group, source));
            producer.commitTransaction();
            System.out.println("AFTER_COMMIT " + committed(admin, group, source));

            producer.beginTransaction();
            producer.send(new ProducerRecord<>(sink, "k", "out-2"));
            producer.sendOffsetsToTransaction(
                    Collections.singletonMap(source, new OffsetAndMetadata(20)), metadata);
            producer.flush();
            System.out.println("OPEN_ABORTED " + committed(admin, group, source));
            producer.abortTransaction();
            System.out.println("AFTER_ABORT " + committed(admin, group, source));
        }

        Properties consumerProps = Harness.consumerProps(bootstrap, "txn-offsets-reader");
        consumerProps.put("group.id", group);
        consumerProps.put("isolation.level", "read_committed");
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(consumerProps)) {
            Map<TopicPartition, OffsetAndMetadata> found =
                    consumer.committed(Set.of(source), Harness.CALL_TIMEOUT);
            OffsetAndMetadata offset = found.get(source);
            System.out.println("CONSUMER_COMMITTED " + (offset == null ? "none" : offset.offset()));
        }
        System.out.println("OK");
    }

    static String committed(Admin admin, String group, TopicPartition tp) throws Exception {
        Map<TopicPartition, OffsetAndMetadata> offsets = admin.listConsumerGroupOffsets(group)
                .partitionsToOffsetAndMetadata().get(30, TimeUnit.SECONDS);
        OffsetAndMetadata offset = offsets.get(tp);
        return offset == null ? "none" : Long.toString(offset.offset());
    }
}
