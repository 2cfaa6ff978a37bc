import java.util.Collection;
import java.util.Map;
import java.util.Properties;
import java.util.Set;

import org.apache.kafka.clients.admin.AdminClient;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.ConsumerGroupListing;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.clients.admin.ListConsumerGroupsResult;
import org.apache.kafka.clients.admin.ListTopicsResult;
import org.apache.kafka.clients.admin.MemberDescription;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;

/**
 * GroupHealthCheck BOOTSTRAP GROUP
 *
 * <p>Seed 003's KafkaHealthChecker (describeCluster, listTopics, listConsumerGroups), plus
 * describeConsumerGroups and listConsumerGroupOffsets of GROUP. Prints {@code GROUP id state},
 * {@code DESCRIBED id state members}, {@code MEMBER client-id partitions} and
 * {@code OFFSET partition offset} lines, then {@code OK}.
 */
public final class GroupHealthCheck {
    public static void main(String[] args) {
        Harness.main("GroupHealthCheck", () -> run(args));
    }

    static void run(String[] args) throws Exception {
        Properties props = new Properties();
        props.put("bootstrap.servers", args[0]);
        String group = args[1];
        try (AdminClient adminClient = AdminClient.create(props)) {
            DescribeClusterResult clusterResult = adminClient.describeCluster();
            System.out.println("Cluster ID: " + clusterResult.clusterId().get());
            System.out.println("Controller: " + clusterResult.controller().get());
            Collection<Node> nodes = clusterResult.nodes().get();
            System.out.println("Active Brokers: " + nodes.size());
            ListTopicsResult topicsResult = adminClient.listTopics();
            Set<String> topics = topicsResult.names().get();
            System.out.println("Total Topics: " + topics.size());
            ListConsumerGroupsResult groupsResult = adminClient.listConsumerGroups();
            Collection<ConsumerGroupListing> groups = groupsResult.all().get();
            System.out.println("Active Consumer Groups: " + groups.size());
            for (ConsumerGroupListing listing : groups) {
                System.out.println("GROUP " + listing.groupId() + " "
                        + listing.state().map(Object::toString).orElse("?"));
            }
            ConsumerGroupDescription description =
                    adminClient.describeConsumerGroups(java.util.List.of(group))
                            .describedGroups().get(group).get();
            System.out.println("DESCRIBED " + description.groupId() + " "
                    + description.state() + " " + description.members().size());
            for (MemberDescription member : description.members()) {
                StringBuilder line = new StringBuilder("MEMBER " + member.clientId());
                member.assignment().topicPartitions().stream()
                        .map(TopicPartition::partition).sorted()
                        .forEach(p -> line.append(' ').append(p));
                System.out.println(line);
            }
            Map<TopicPartition, OffsetAndMetadata> offsets = adminClient
                    .listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
            offsets.entrySet().stream()
                    .sorted((a, b) -> Integer.compare(a.getKey().partition(),
                            b.getKey().partition()))
                    .forEach(e -> System.out.println("OFFSET " + e.getKey().partition() + " "
                            + e.getValue().offset()));
        }
        System.out.println("OK");
    }
}
