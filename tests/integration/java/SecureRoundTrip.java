import java.io.FileReader;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.AuthenticationException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * SecureRoundTrip CONFIG TOPIC MODE COUNT
 *
 * <p>CONFIG is a properties file with the client settings every client shares
 * (bootstrap.servers, security.protocol, sasl.*, ssl.*).
 *
 * <p>MODE {@code round-trip}: creates TOPIC (one partition) through the Admin client, produces
 * COUNT records with acks=all, then consumes them back in a consumer group (subscribe) and
 * commits. Prints {@code CREATED topic}, {@code PRODUCED n}, {@code CONSUMED n},
 * {@code COMMITTED n} and {@code OK n}.
 *
 * <p>MODE {@code refused}: asks for TOPIC's partitions (producer.partitionsFor, max.block.ms
 * 15 s), which the broker must refuse. An authentication failure prints {@code REFUSED}
 * followed by the class names of the exception and its causes, outermost first, and exits 1;
 * any other outcome (an answer, a timeout) prints only {@code FAIL} and exits 1.
 */
public final class SecureRoundTrip {
    static final String BOUNDED_MS = "15000";

    public static void main(String[] args) {
        Harness.main("SecureRoundTrip", () -> run(args));
    }

    static void run(String[] args) throws Exception {
        if (args.length < 4) {
            throw new IllegalArgumentException(
                    "usage: SecureRoundTrip CONFIG TOPIC round-trip|refused COUNT");
        }
        Properties config = new Properties();
        try (Reader reader = new FileReader(args[0], StandardCharsets.UTF_8)) {
            config.load(reader);
        }
        String topic = args[1];
        int count = Integer.parseInt(args[3]);
        switch (args[2]) {
            case "round-trip":
                roundTrip(config, topic, count);
                break;
            case "refused":
                refused(config, topic);
                break;
            default:
                throw new IllegalArgumentException("unknown mode " + args[2]);
        }
    }

    static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static String text(byte[] b) {
        return b == null ? null : new String(b, StandardCharsets.UTF_8);
    }

    static Properties producerProps(Properties config) {
        Properties p = new Properties();
        p.putAll(config);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, BOUNDED_MS);
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, BOUNDED_MS);
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "30000");
        return p;
    }

    static void roundTrip(Properties config, String topic, int count) throws Exception {
        Properties ap = new Properties();
        ap.putAll(config);
        ap.put("default.api.timeout.ms", BOUNDED_MS);
        ap.put("request.timeout.ms", BOUNDED_MS);
        try (Admin admin = Admin.create(ap)) {
            admin.createTopics(List.of(new NewTopic(topic, 1, (short) 1))).all()
                    .get(30, TimeUnit.SECONDS);
        }
        System.out.println("CREATED " + topic);

        try (KafkaProducer<byte[], byte[]> producer =
                new KafkaProducer<>(producerProps(config))) {
            List<Future<RecordMetadata>> futures = new ArrayList<>(count);
            for (int i = 0; i < count; i++) {
                futures.add(producer.send(new ProducerRecord<>(topic, bytes("k" + i), bytes("v" + i))));
            }
            producer.flush();
            for (int i = 0; i < count; i++) {
                RecordMetadata md = futures.get(i).get(30, TimeUnit.SECONDS);
                Harness.checkEquals((long) i, md.offset(), "produced offset of record " + i);
            }
        }
        System.out.println("PRODUCED " + count);

        Properties cp = new Properties();
        cp.putAll(config);
        cp.put(ConsumerConfig.GROUP_ID_CONFIG, topic + "-group");
        cp.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        cp.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG,
                ByteArrayDeserializer.class.getName());
        cp.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        cp.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        cp.put(ConsumerConfig.REQUEST_TIMEOUT_MS_CONFIG, BOUNDED_MS);
        cp.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, BOUNDED_MS);
        TopicPartition tp = new TopicPartition(topic, 0);
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(cp)) {
            consumer.subscribe(List.of(topic));
            List<ConsumerRecord<byte[], byte[]>> records =
                    Harness.pollAtLeast(consumer, count, Duration.ofSeconds(60));
            Harness.checkEquals(count, records.size(), "number of records consumed");
            for (int i = 0; i < count; i++) {
                ConsumerRecord<byte[], byte[]> r = records.get(i);
                Harness.checkEquals((long) i, r.offset(), "offset of record " + i);
                Harness.checkEquals("k" + i, text(r.key()), "key of record " + i);
                Harness.checkEquals("v" + i, text(r.value()), "value of record " + i);
            }
            System.out.println("CONSUMED " + records.size());
            consumer.commitSync(Map.of(tp, new OffsetAndMetadata(count)));
            OffsetAndMetadata committed = consumer.committed(Set.of(tp)).get(tp);
            Harness.check(committed != null, "no committed offset for " + tp);
            Harness.checkEquals((long) count, committed.offset(), "committed offset");
            System.out.println("COMMITTED " + committed.offset());
        }
        System.out.println("OK " + count);
    }

    static void refused(Properties config, String topic) throws Exception {
        try (KafkaProducer<byte[], byte[]> producer =
                new KafkaProducer<>(producerProps(config))) {
            producer.partitionsFor(topic);
        } catch (AuthenticationException e) {
            StringBuilder line = new StringBuilder("REFUSED");
            for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
                line.append(' ').append(t.getClass().getName());
            }
            System.out.println(line);
            throw e;
        }
        throw new Harness.CheckFailed("the broker answered Metadata instead of refusing");
    }
}
