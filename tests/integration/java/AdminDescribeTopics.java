import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.TopicCollection;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.Uuid;

/**
 * AdminDescribeTopics BOOTSTRAP TOPIC
 *
 * <p>Kafka 3.9 AdminClient describeTopics: creates TOPIC (4 partitions, RF 1), describes it by
 * name (the 3.9 client uses DescribeTopicPartitions for that when the broker offers it), by
 * topic id (Metadata v12 with ids), and describes a missing name. Lines:
 * <pre>
 * CREATED &lt;topic&gt; id=&lt;uuid&gt;
 * DESCRIBED &lt;topic&gt; partitions=&lt;n&gt; internal=&lt;bool&gt; id=&lt;uuid&gt;
 * PARTITION &lt;p&gt; leader=&lt;id&gt; replicas=&lt;n&gt; isr=&lt;n&gt;   (one per partition)
 * DESCRIBED_BY_ID &lt;topic&gt; partitions=&lt;n&gt;
 * MISSING rejected &lt;exception class&gt;
 * OK
 * </pre>
 */
public final class AdminDescribeTopics {
    public static void main(String[] args) {
        Harness.main("AdminDescribeTopics", () -> run(args));
    }

    static void run(String[] args) throws Exception {
        String topic = args[1];
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        p.put(AdminClientConfig.CLIENT_ID_CONFIG, "admin-describe-topics");
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "15000");
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "30000");
        Admin admin = Admin.create(p);
        try {
            Uuid id = admin.createTopics(List.of(new NewTopic(topic, 4, (short) 1)))
                    .topicId(topic).get(30, TimeUnit.SECONDS);
            System.out.println("CREATED " + topic + " id=" + id);

            Map<String, TopicDescription> byName = admin.describeTopics(List.of(topic))
                    .allTopicNames().get(30, TimeUnit.SECONDS);
            TopicDescription d = byName.get(topic);
            Harness.check(d != null, "describeTopics returned nothing for " + topic);
            System.out.println("DESCRIBED " + d.name() + " partitions=" + d.partitions().size()
                    + " internal=" + d.isInternal() + " id=" + d.topicId());
            for (TopicPartitionInfo info : d.partitions()) {
                System.out.println("PARTITION " + info.partition() + " leader="
                        + (info.leader() == null ? "none" : info.leader().id())
                        + " replicas=" + info.replicas().size() + " isr=" + info.isr().size());
            }

            TopicDescription byId = admin.describeTopics(TopicCollection.ofTopicIds(List.of(id)))
                    .allTopicIds().get(30, TimeUnit.SECONDS).get(id);
            Harness.check(byId != null, "describeTopics by id returned nothing for " + id);
            System.out.println("DESCRIBED_BY_ID " + byId.name() + " partitions="
                    + byId.partitions().size());

            try {
                admin.describeTopics(List.of(topic + "-missing")).allTopicNames()
                        .get(30, TimeUnit.SECONDS);
                System.out.println("MISSING accepted");
            } catch (ExecutionException e) {
                System.out.println("MISSING rejected " + e.getCause().getClass().getName());
            }
        } finally {
            admin.close(Harness.CLOSE_TIMEOUT);
        }
        System.out.println("OK");
    }
}
