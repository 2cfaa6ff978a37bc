import java.util.Properties;

import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.errors.ProducerFencedException;

/**
 * TxnFencing BOOTSTRAP TOPIC TRANSACTIONAL_ID
 *
 * <p>Two transactional producers with the same transactional.id. The first begins a
 * transaction and sends {@code zombie} (acknowledged); the second's initTransactions fences it.
 * The first's commitTransaction must throw ProducerFencedException ({@code FENCED <class>});
 * the second then commits {@code winner} ({@code COMMITTED}). Ends with {@code OK}.
 */
public final class TxnFencing {
    public static void main(String[] args) {
        Harness.main("TxnFencing", () -> run(args));
    }

    static void run(String[] args) throws Exception {
        if (args.length < 3) {
            throw new IllegalArgumentException("usage: TxnFencing BOOTSTRAP TOPIC TRANSACTIONAL_ID");
        }
        String topic = args[1];
        Properties props = TxnSeed003.seedProps(args[0]);
        props.put("transactional.id", args[2]);
        props.put("transaction.timeout.ms", 20000);

        Producer<String, String> first = new KafkaProducer<>(props);
        Producer<String, String> second = new KafkaProducer<>(props);
        try {
            first.initTransactions();
            first.beginTransaction();
            first.send(new ProducerRecord<>(topic, "k", "zombie")).get();
            System.out.println("SENT zombie");

            second.initTransactions();
            System.out.println("SECOND INITIALISED");
            try {
                first.commitTransaction();
                System.out.println("FIRST COMMITTED");
                throw new Harness.CheckFailed("the fenced producer committed");
            } catch (ProducerFencedException e) {
                System.out.println("FENCED " + e.getClass().getName());
            }

            second.beginTransaction();
            second.send(new ProducerRecord<>(topic, "k", "winner"));
            second.commitTransaction();
            System.out.println("COMMITTED");
        } finally {
            first.close(Harness.CLOSE_TIMEOUT);
            second.close(Harness.CLOSE_TIMEOUT);
        }
        System.out.println("OK");
    }
}
