import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndTimestamp;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;

/**
 * OffsetsForTimes BOOTSTRAP TOPIC
 *
 * <p>Produces three records with CreateTime timestamps 1000, 2000, 3000 to partition 0 of a
 * fresh TOPIC, then checks ListOffsets through the consumer API: offsetsForTimes(0) = 0@1000,
 * (1500) = 1@2000, (2000) = 1@2000, (3000) = 2@3000, (3001) = null, beginningOffsets = 0,
 * endOffsets = 3. Prints one line per lookup and {@code OK}.
 */
public final class OffsetsForTimes {
    public static void main(String[] args) {
        Harness.main("OffsetsForTimes", () -> run(args));
    }

    static void run(String[] args) throws Exception {
        String bootstrap = args[0];
        String topic = args[1];
        TopicPartition tp = new TopicPartition(topic, 0);

        KafkaProducer<byte[], byte[]> producer =
                new KafkaProducer<>(Harness.producerProps(bootstrap, "oft-producer"));
        try {
            long[] stamps = {1000L, 2000L, 3000L};
            for (int i = 0; i < stamps.length; i++) {
                byte[] value = ("v" + i).getBytes(StandardCharsets.UTF_8);
                RecordMetadata md = producer
                        .send(new ProducerRecord<>(topic, 0, stamps[i], null, value))
                        .get(30, TimeUnit.SECONDS);
                Harness.checkEquals((long) i, md.offset(), "produced offset of record " + i);
                System.out.println("PRODUCED offset=" + md.offset() + " timestamp=" + stamps[i]);
            }
        } finally {
            producer.close(Harness.CLOSE_TIMEOUT);
        }

        KafkaConsumer<byte[], byte[]> consumer =
                new KafkaConsumer<>(Harness.consumerProps(bootstrap, "oft-consumer"));
        try {
            consumer.assign(List.of(tp));
            long[][] expected = {
                {0L, 0L, 1000L},
                {1500L, 1L, 2000L},
                {2000L, 1L, 2000L},
                {3000L, 2L, 3000L},
                {3001L, -1L, -1L},
            };
            for (long[] row : expected) {
                long query = row[0];
                Map<TopicPartition, Long> q = new HashMap<>();
                q.put(tp, query);
                Map<TopicPartition, OffsetAndTimestamp> result =
                        consumer.offsetsForTimes(q, Harness.CALL_TIMEOUT);
                Harness.check(result.containsKey(tp),
                        "offsetsForTimes(" + query + ") result has no entry for " + tp);
                OffsetAndTimestamp got = result.get(tp);
                if (got == null) {
                    System.out.println("offsetsForTimes " + query + " null");
                } else {
                    System.out.println("offsetsForTimes " + query + " offset=" + got.offset()
                            + " timestamp=" + got.timestamp());
                }
                if (row[1] < 0) {
                    Harness.check(got == null,
                            "offsetsForTimes(" + query + "): expected null but got " + got);
                } else {
                    Harness.check(got != null,
                            "offsetsForTimes(" + query + "): expected offset " + row[1]
                                    + " but got null");
                    Harness.checkEquals(row[1], got.offset(),
                            "offsetsForTimes(" + query + ") offset");
                    Harness.checkEquals(row[2], got.timestamp(),
                            "offsetsForTimes(" + query + ") timestamp");
                }
            }
            Long beginning =
                    consumer.beginningOffsets(List.of(tp), Harness.CALL_TIMEOUT).get(tp);
            System.out.println("beginningOffsets " + beginning);
            Harness.checkEquals(0L, beginning, "beginningOffsets");
            Long end = consumer.endOffsets(List.of(tp), Harness.CALL_TIMEOUT).get(tp);
            System.out.println("endOffsets " + end);
            Harness.checkEquals(3L, end, "endOffsets");
        } finally {
            consumer.close(Harness.CLOSE_TIMEOUT);
        }
        System.out.println("OK");
    }
}
