import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.CreateTopicsResult;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.Uuid;

/**
 * Seed003Topics BOOTSTRAP SIZED_TOPIC ASSIGNED_TOPIC
 *
 * <p>Seed 003's topic creation with the Kafka 3.9 AdminClient: SIZED_TOPIC with 3 partitions
 * and replication factor 1, and ASSIGNED_TOPIC with an explicit replica assignment on the
 * broker's id ({@code Map.of(0, List.of(0), 1, List.of(0))}), in one createTopics call. Then
 * describeTopics of both. Prints
 * <ul>
 *   <li>{@code CREATED <topic> id=<uuid> partitions=<n> rf=<n>} per topic (from the
 *       CreateTopics response),</li>
 *   <li>{@code DESCRIBED <topic> partitions=<n> internal=<bool> id=<uuid>},</li>
 *   <li>{@code PARTITION <topic> <p> leader=<id> replicas=<ids> isr=<ids>} per partition,</li>
 * </ul>
 * and {@code OK}.
 */
public final class Seed003Topics {
    public static void main(String[] args) {
        Harness.main("Seed003Topics", () -> run(args));
    }

    static void run(String[] args) throws Exception {
        String bootstrap = args[0];
        String sized = args[1];
        String assigned = args[2];
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(AdminClientConfig.CLIENT_ID_CONFIG, "seed003-topics");
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "15000");
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "30000");
        Admin admin = Admin.create(p);
        try {
            CreateTopicsResult created = admin.createTopics(List.of(
                    new NewTopic(sized, 3, (short) 1),
                    new NewTopic(assigned, Map.of(0, List.of(0), 1, List.of(0)))));
            created.all().get(30, TimeUnit.SECONDS);
            for (String topic : List.of(sized, assigned)) {
                Uuid id = created.topicId(topic).get(30, TimeUnit.SECONDS);
                int partitions = created.numPartitions(topic).get(30, TimeUnit.SECONDS);
                int rf = created.replicationFactor(topic).get(30, TimeUnit.SECONDS);
                System.out.println("CREATED " + topic + " id=" + id + " partitions=" + partitions
                        + " rf=" + rf);
            }

            Map<String, TopicDescription> described = admin.describeTopics(List.of(sized, assigned))
                    .allTopicNames().get(30, TimeUnit.SECONDS);
            for (String topic : List.of(sized, assigned)) {
                TopicDescription d = described.get(topic);
                Harness.check(d != null, "describeTopics returned nothing for " + topic);
                System.out.println("DESCRIBED " + d.name() + " partitions=" + d.partitions().size()
                        + " internal=" + d.isInternal() + " id=" + d.topicId());
                for (TopicPartitionInfo info : d.partitions()) {
                    System.out.println("PARTITION " + topic + " " + info.partition() + " leader="
                            + (info.leader() == null ? "none" : info.leader().id())
                            + " replicas=" + ids(info.replicas()) + " isr=" + ids(info.isr()));
                }
            }
        } finally {
            admin.close(Harness.CLOSE_TIMEOUT);
        }
        System.out.println("OK");
    }

    static String ids(List<Node> nodes) {
        StringBuilder out = new StringBuilder("[");
        for (Node node : nodes) {
            if (out.length() > 1) {
                out.append(',');
            }
            out.append(node.id());
        }
        return out.append(']').toString();
    }
}
