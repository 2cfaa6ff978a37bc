import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.errors.TopicExistsException;

/**
 * AdminCreateTopic BOOTSTRAP TOPIC
 *
 * <p>AdminClient createTopics(TOPIC, 3 partitions, RF 1); listTopics must contain it;
 * describeTopics must show partitions 0..2, each led by node 0 with replicas/ISR [0]; creating
 * it again must fail with TopicExistsException. Prints one line per step and {@code OK}.
 */
public final class AdminCreateTopic {
    public static void main(String[] args) {
        Harness.main("AdminCreateTopic", () -> run(args));
    }

    static void run(String[] args) throws Exception {
        String bootstrap = args[0];
        String topic = args[1];
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(AdminClientConfig.CLIENT_ID_CONFIG, "admin-create-topic");
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "15000");
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "30000");
        Admin admin = Admin.create(p);
        try {
            admin.createTopics(List.of(new NewTopic(topic, 3, (short) 1)))
                    .all().get(30, TimeUnit.SECONDS);
            System.out.println("CREATED " + topic);

            Set<String> names = admin.listTopics().names().get(30, TimeUnit.SECONDS);
            System.out.println("LISTED " + names.size() + " contains=" + names.contains(topic));
            Harness.check(names.contains(topic), "listTopics " + names + " lacks " + topic);

            TopicDescription d = admin.describeTopics(List.of(topic))
                    .allTopicNames().get(30, TimeUnit.SECONDS).get(topic);
            Harness.check(d != null, "describeTopics returned no description for " + topic);
            System.out.println("DESCRIBED " + d.name() + " partitions=" + d.partitions().size()
                    + " internal=" + d.isInternal());
            Harness.checkEquals(topic, d.name(), "described topic name");
            Harness.checkEquals(false, d.isInternal(), "described topic internal flag");
            Harness.checkEquals(3, d.partitions().size(), "described partition count");
            for (int i = 0; i < 3; i++) {
                TopicPartitionInfo info = d.partitions().get(i);
                String where = "partition " + i;
                System.out.println("PARTITION " + info.partition() + " leader="
                        + (info.leader() == null ? "none" : info.leader().id())
                        + " replicas=" + info.replicas().size() + " isr=" + info.isr().size());
                Harness.checkEquals(i, info.partition(), "index of " + where);
                Harness.check(info.leader() != null, where + " has no leader");
                Harness.checkEquals(0, info.leader().id(), "leader of " + where);
                Harness.checkEquals(1, info.replicas().size(), "replica count of " + where);
                Harness.checkEquals(0, info.replicas().get(0).id(), "replica of " + where);
                Harness.checkEquals(1, info.isr().size(), "ISR size of " + where);
            }

            try {
                admin.createTopics(List.of(new NewTopic(topic, 3, (short) 1)))
                        .all().get(30, TimeUnit.SECONDS);
                throw new Harness.CheckFailed(
                        "second createTopics succeeded; expected TopicExistsException");
            } catch (ExecutionException e) {
                Throwable cause = e.getCause();
                System.out.println("RECREATE rejected " + cause.getClass().getName());
                Harness.check(cause instanceof TopicExistsException,
                        "second createTopics failed with " + Harness.describe(cause)
                                + "; expected TopicExistsException");
            }
        } finally {
            admin.close(Harness.CLOSE_TIMEOUT);
        }
        System.out.println("OK");
    }
}
