import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.record.TimestampType;

/**
 * RoundTrip BOOTSTRAP TOPIC COMPRESSION COUNT [IDEMPOTENCE]
 *
 * <p>Produces COUNT records (keys, values, two headers, explicit CreateTime timestamps) to
 * partition 0 of a fresh TOPIC with acks=all and the given compression.type, then reads them
 * back with an assigned consumer from the beginning and checks every field and that offsets
 * are 0..COUNT-1. Prints {@code PRODUCED n}, {@code CONSUMED n} and {@code OK n}.
 */
public final class RoundTrip {
    /**
     * Explicit timestamps start ten minutes in the past: recent enough not to trigger
     * segment.ms rolls or retention (which look at record timestamps), old enough to differ
     * from any broker-assigned LogAppendTime.
     */
    static final long BASE_TS = System.currentTimeMillis() / 1000 * 1000 - 600_000L;

    public static void main(String[] args) {
        Harness.main("RoundTrip", () -> run(args));
    }

    static byte[] key(int i) {
        return ("key-" + i).getBytes(StandardCharsets.UTF_8);
    }

    static byte[] value(int i) {
        // Compressible, variable-length values so batches really get compressed.
        return ("value-" + i + "-" + "abcdefgh".repeat(1 + i % 17))
                .getBytes(StandardCharsets.UTF_8);
    }

    static byte[] header1(int i) {
        return ("h1-" + i).getBytes(StandardCharsets.UTF_8);
    }

    static byte[] header2(int i) {
        return new byte[] {(byte) (i >>> 24), (byte) (i >>> 16), (byte) (i >>> 8), (byte) i};
    }

    static void run(String[] args) throws Exception {
        if (args.length < 4) {
            throw new IllegalArgumentException(
                    "usage: RoundTrip BOOTSTRAP TOPIC COMPRESSION COUNT [IDEMPOTENCE]");
        }
        String bootstrap = args[0];
        String topic = args[1];
        String compression = args[2];
        int count = Integer.parseInt(args[3]);
        boolean idempotence = args.length > 4 && Boolean.parseBoolean(args[4]);

        Properties pp = Harness.producerProps(bootstrap, "roundtrip-producer");
        pp.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, compression);
        pp.put(ProducerConfig.LINGER_MS_CONFIG, "5");
        pp.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, Boolean.toString(idempotence));
        KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(pp);
        try {
            List<Future<RecordMetadata>> futures = new ArrayList<>(count);
            for (int i = 0; i < count; i++) {
                RecordHeaders headers = new RecordHeaders();
                headers.add("h1", header1(i));
                headers.add("h2", header2(i));
                futures.add(producer.send(new ProducerRecord<>(
                        topic, 0, BASE_TS + i, key(i), value(i), headers)));
            }
            producer.flush();
            for (int i = 0; i < count; i++) {
                RecordMetadata md = futures.get(i).get(30, TimeUnit.SECONDS);
                Harness.checkEquals(0, md.partition(), "partition of record " + i);
                Harness.checkEquals((long) i, md.offset(), "produced offset of record " + i);
                Harness.checkEquals(BASE_TS + i, md.timestamp(), "ack timestamp of record " + i);
            }
            System.out.println("PRODUCED " + count);
        } finally {
            producer.close(Harness.CLOSE_TIMEOUT);
        }

        TopicPartition tp = new TopicPartition(topic, 0);
        KafkaConsumer<byte[], byte[]> consumer =
                new KafkaConsumer<>(Harness.consumerProps(bootstrap, "roundtrip-consumer"));
        try {
            consumer.assign(List.of(tp));
            consumer.seekToBeginning(List.of(tp));
            List<ConsumerRecord<byte[], byte[]>> records =
                    Harness.pollAtLeast(consumer, count, Duration.ofSeconds(60));
            Harness.checkEquals(count, records.size(), "number of records consumed");
            for (int i = 0; i < count; i++) {
                ConsumerRecord<byte[], byte[]> r = records.get(i);
                String where = "record " + i;
                Harness.checkEquals(0, r.partition(), "partition of " + where);
                Harness.checkEquals((long) i, r.offset(), "offset of " + where);
                Harness.check(Arrays.equals(key(i), r.key()), "key mismatch at " + where);
                Harness.check(Arrays.equals(value(i), r.value()), "value mismatch at " + where);
                Harness.checkEquals(TimestampType.CREATE_TIME, r.timestampType(),
                        "timestamp type of " + where);
                Harness.checkEquals(BASE_TS + i, r.timestamp(), "timestamp of " + where);
                Header[] hs = r.headers().toArray();
                Harness.checkEquals(2, hs.length, "header count of " + where);
                Harness.checkEquals("h1", hs[0].key(), "first header key of " + where);
                Harness.check(Arrays.equals(header1(i), hs[0].value()),
                        "first header value mismatch at " + where);
                Harness.checkEquals("h2", hs[1].key(), "second header key of " + where);
                Harness.check(Arrays.equals(header2(i), hs[1].value()),
                        "second header value mismatch at " + where);
            }
            System.out.println("CONSUMED " + records.size());
            long position = consumer.position(tp);
            Harness.checkEquals((long) count, position, "consumer position after all records");
        } finally {
            consumer.close(Harness.CLOSE_TIMEOUT);
        }
        System.out.println("OK " + count);
    }
}
