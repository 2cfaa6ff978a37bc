import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.RecordTooLargeException;

/**
 * LargeRecord BOOTSTRAP TOPIC
 *
 * <p>With one producer (max.request.size = 3 MiB, no compression) on a fresh TOPIC whose
 * max.message.bytes is the default 1048588: a 900 KiB record must be accepted at offset 0,
 * a 2 MiB record must be rejected by the broker (MESSAGE_TOO_LARGE, surfaced as
 * RecordTooLargeException), and a small record sent afterwards must land at offset 1. A
 * consumer then reads exactly those two records back. Prints one line per step and
 * {@code OK}.
 */
public final class LargeRecord {
    static final int LARGE = 900 * 1024;
    static final int TOO_LARGE = 2 * 1024 * 1024;
    static final int MAX_REQUEST = 3 * 1024 * 1024;

    public static void main(String[] args) {
        Harness.main("LargeRecord", () -> run(args));
    }

    static byte[] filled(int size, byte b) {
        byte[] out = new byte[size];
        Arrays.fill(out, b);
        // Make it non-uniform so nothing along the way can cheat by compressing it.
        for (int i = 0; i < size; i += 7) {
            out[i] = (byte) (i * 31);
        }
        return out;
    }

    static void run(String[] args) throws Exception {
        String bootstrap = args[0];
        String topic = args[1];
        byte[] large = filled(LARGE, (byte) 'L');
        byte[] tooLarge = filled(TOO_LARGE, (byte) 'X');
        byte[] small = "small".getBytes();

        Properties pp = Harness.producerProps(bootstrap, "large-producer");
        pp.put(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, Integer.toString(MAX_REQUEST));
        pp.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, "none");
        // No retries needed: MESSAGE_TOO_LARGE on a single-record batch is final anyway.
        KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(pp);
        try {
            RecordMetadata md = producer.send(new ProducerRecord<>(topic, 0, null, large))
                    .get(30, TimeUnit.SECONDS);
            System.out.println("LARGE offset=" + md.offset() + " size=" + LARGE);
            Harness.checkEquals(0L, md.offset(), "offset of the 900 KiB record");

            try {
                RecordMetadata bad = producer
                        .send(new ProducerRecord<>(topic, 0, null, tooLarge))
                        .get(30, TimeUnit.SECONDS);
                throw new Harness.CheckFailed(
                        "2 MiB record was accepted at offset " + bad.offset()
                                + "; expected RecordTooLargeException");
            } catch (ExecutionException e) {
                Throwable cause = e.getCause();
                System.out.println("TOO_LARGE rejected " + cause.getClass().getName()
                        + ": " + cause.getMessage());
                Harness.check(cause instanceof RecordTooLargeException,
                        "2 MiB record failed with " + Harness.describe(cause)
                                + "; expected RecordTooLargeException");
            }

            RecordMetadata after = producer.send(new ProducerRecord<>(topic, 0, null, small))
                    .get(30, TimeUnit.SECONDS);
            System.out.println("SMALL offset=" + after.offset());
            Harness.checkEquals(1L, after.offset(), "offset of the small record after rejection");
        } finally {
            producer.close(Harness.CLOSE_TIMEOUT);
        }

        TopicPartition tp = new TopicPartition(topic, 0);
        Properties cp = Harness.consumerProps(bootstrap, "large-consumer");
        cp.put(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, Integer.toString(MAX_REQUEST));
        KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(cp);
        try {
            consumer.assign(List.of(tp));
            consumer.seekToBeginning(List.of(tp));
            List<ConsumerRecord<byte[], byte[]>> records =
                    Harness.pollAtLeast(consumer, 2, Duration.ofSeconds(30));
            Harness.checkEquals(2, records.size(), "number of records consumed");
            Harness.checkEquals(0L, records.get(0).offset(), "offset of first consumed record");
            Harness.check(Arrays.equals(large, records.get(0).value()),
                    "900 KiB record came back different (length "
                            + records.get(0).value().length + ")");
            Harness.checkEquals(1L, records.get(1).offset(), "offset of second consumed record");
            Harness.check(Arrays.equals(small, records.get(1).value()),
                    "small record came back different");
            Long end = consumer.endOffsets(List.of(tp), Harness.CALL_TIMEOUT).get(tp);
            Harness.checkEquals(2L, end, "endOffsets");
            System.out.println("CONSUMED " + records.size());
        } finally {
            consumer.close(Harness.CLOSE_TIMEOUT);
        }
        System.out.println("OK");
    }
}
