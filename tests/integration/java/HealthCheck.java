import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ConsumerGroupListing;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.common.Node;

/**
 * HealthCheck BOOTSTRAP
 *
 * <p>Seed 003's health checker as a Kafka 3.9 AdminClient program: describeCluster (cluster id,
 * controller, nodes), listTopics and listConsumerGroups. Prints machine-checkable lines:
 * <pre>
 * CLUSTER_ID &lt;id&gt;
 * CONTROLLER &lt;id&gt; &lt;host&gt;:&lt;port&gt;
 * NODE &lt;id&gt; &lt;host&gt;:&lt;port&gt;            (one per node)
 * TOPICS &lt;n&gt;
 * TOPIC &lt;name&gt;                        (sorted; internal topics are not listed)
 * GROUPS &lt;n&gt;
 * GROUP &lt;id&gt; simple=&lt;bool&gt;            (sorted)
 * HEALTHY nodes=&lt;n&gt; topics=&lt;n&gt; groups=&lt;n&gt;
 * OK
 * </pre>
 * It is unhealthy (FAIL) without a cluster id, without a controller, with no nodes, or when the
 * controller is not one of the nodes.
 */
public final class HealthCheck {
    public static void main(String[] args) {
        Harness.main("HealthCheck", () -> run(args));
    }

    static void run(String[] args) throws Exception {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        p.put(AdminClientConfig.CLIENT_ID_CONFIG, "seed003-health-check");
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "15000");
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "30000");
        Admin admin = Admin.create(p);
        try {
            DescribeClusterResult cluster = admin.describeCluster();
            String clusterId = cluster.clusterId().get(30, TimeUnit.SECONDS);
            Node controller = cluster.controller().get(30, TimeUnit.SECONDS);
            Collection<Node> nodes = cluster.nodes().get(30, TimeUnit.SECONDS);
            System.out.println("CLUSTER_ID " + clusterId);
            Harness.check(clusterId != null && !clusterId.isEmpty(), "no cluster id");
            Harness.check(controller != null && !controller.isEmpty(), "no controller");
            System.out.println("CONTROLLER " + controller.id() + " " + address(controller));
            List<Node> sorted = new ArrayList<>(nodes);
            sorted.sort((a, b) -> Integer.compare(a.id(), b.id()));
            for (Node node : sorted) {
                System.out.println("NODE " + node.id() + " " + address(node));
            }
            Harness.check(!nodes.isEmpty(), "describeCluster returned no nodes");
            Harness.check(nodes.stream().anyMatch(n -> n.id() == controller.id()),
                    "controller " + controller.id() + " is not among the nodes " + nodes);

            Set<String> topics = new TreeSet<>(admin.listTopics().names()
                    .get(30, TimeUnit.SECONDS));
            System.out.println("TOPICS " + topics.size());
            for (String topic : topics) {
                System.out.println("TOPIC " + topic);
            }

            Collection<ConsumerGroupListing> groups = admin.listConsumerGroups().all()
                    .get(30, TimeUnit.SECONDS);
            List<ConsumerGroupListing> byId = new ArrayList<>(groups);
            byId.sort((a, b) -> a.groupId().compareTo(b.groupId()));
            System.out.println("GROUPS " + byId.size());
            for (ConsumerGroupListing group : byId) {
                System.out.println("GROUP " + group.groupId() + " simple="
                        + group.isSimpleConsumerGroup());
            }
            System.out.println("HEALTHY nodes=" + nodes.size() + " topics=" + topics.size()
                    + " groups=" + byId.size());
        } finally {
            admin.close(Harness.CLOSE_TIMEOUT);
        }
        System.out.println("OK");
    }

    static String address(Node node) {
        return node.host() + ":" + node.port();
    }
}
