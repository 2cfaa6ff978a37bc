import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.DescribeConfigsOptions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.TopicCollection;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.config.ConfigResource;

/**
 * AdminTopicConfigs BOOTSTRAP TOPIC
 *
 * <p>The Kafka 3.9 AdminClient on one topic's configs: createTopics (2 partitions, RF 1,
 * retention.ms=3600000, cleanup.policy=compact); describeConfigs of the topic and of broker 0
 * with synonyms and documentation; describeConfigs of a missing topic; incrementalAlterConfigs
 * (SET, APPEND, DELETE); deleteTopics by topic id, and once more for the id that is gone. Lines:
 * <pre>
 * CREATED &lt;topic&gt; id=&lt;uuid&gt;
 * CONFIG &lt;name&gt; value=&lt;v&gt; source=&lt;S&gt; readOnly=&lt;b&gt; sensitive=&lt;b&gt;
 *     default=&lt;b&gt; type=&lt;T&gt; doc=&lt;yes|no&gt; synonyms=&lt;SOURCE:name=value,...&gt;
 *     (all on one line; the topic's cleanup.policy, max.message.bytes, retention.ms and
 *     segment.bytes)
 * BROKER_CONFIG ...      (same format: broker 0's log.dirs, log.retention.ms,
 *     log.segment.bytes, num.partitions)
 * MISSING_TOPIC_CONFIGS rejected &lt;exception class&gt;
 * ALTERED max.message.bytes=&lt;v&gt; cleanup.policy=&lt;v&gt; retention.ms=&lt;v&gt;
 * DELETED_BY_ID &lt;uuid&gt; listed=&lt;bool&gt;
 * REDELETE_BY_ID rejected &lt;exception class&gt;
 * OK
 * </pre>
 */
public final class AdminTopicConfigs {
    static final List<String> TOPIC_CONFIGS =
            List.of("cleanup.policy", "max.message.bytes", "retention.ms", "segment.bytes");
    static final List<String> BROKER_CONFIGS =
            List.of("log.dirs", "log.retention.ms", "log.segment.bytes", "num.partitions");

    public static void main(String[] args) {
        Harness.main("AdminTopicConfigs", () -> run(args));
    }

    static void run(String[] args) throws Exception {
        String bootstrap = args[0];
        String topic = args[1];
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(AdminClientConfig.CLIENT_ID_CONFIG, "admin-topic-configs");
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "15000");
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "30000");
        Admin admin = Admin.create(p);
        try {
            NewTopic newTopic = new NewTopic(topic, 2, (short) 1)
                    .configs(Map.of("retention.ms", "3600000", "cleanup.policy", "compact"));
            Uuid id = admin.createTopics(List.of(newTopic)).topicId(topic)
                    .get(30, TimeUnit.SECONDS);
            System.out.println("CREATED " + topic + " id=" + id);

            DescribeConfigsOptions options = new DescribeConfigsOptions()
                    .includeSynonyms(true).includeDocumentation(true);
            ConfigResource topicResource = new ConfigResource(ConfigResource.Type.TOPIC, topic);
            ConfigResource broker = new ConfigResource(ConfigResource.Type.BROKER, "0");
            Map<ConfigResource, Config> configs = admin
                    .describeConfigs(List.of(topicResource, broker), options)
                    .all().get(30, TimeUnit.SECONDS);
            print("CONFIG", configs.get(topicResource), TOPIC_CONFIGS);
            print("BROKER_CONFIG", configs.get(broker), BROKER_CONFIGS);

            ConfigResource missing = new ConfigResource(ConfigResource.Type.TOPIC, topic + "-none");
            try {
                admin.describeConfigs(List.of(missing)).all().get(30, TimeUnit.SECONDS);
                System.out.println("MISSING_TOPIC_CONFIGS accepted");
            } catch (ExecutionException e) {
                System.out.println("MISSING_TOPIC_CONFIGS rejected " + e.getCause().getClass()
                        .getName());
            }

            Map<ConfigResource, Collection<AlterConfigOp>> ops = Map.of(topicResource, List.of(
                    new AlterConfigOp(new ConfigEntry("max.message.bytes", "2048"),
                            AlterConfigOp.OpType.SET),
                    new AlterConfigOp(new ConfigEntry("cleanup.policy", "delete"),
                            AlterConfigOp.OpType.APPEND),
                    new AlterConfigOp(new ConfigEntry("retention.ms", null),
                            AlterConfigOp.OpType.DELETE)));
            admin.incrementalAlterConfigs(ops).all().get(30, TimeUnit.SECONDS);
            Config altered = admin.describeConfigs(List.of(topicResource)).all()
                    .get(30, TimeUnit.SECONDS).get(topicResource);
            System.out.println("ALTERED max.message.bytes="
                    + altered.get("max.message.bytes").value()
                    + " cleanup.policy=" + altered.get("cleanup.policy").value()
                    + " retention.ms=" + altered.get("retention.ms").value());

            admin.deleteTopics(TopicCollection.ofTopicIds(List.of(id))).all()
                    .get(30, TimeUnit.SECONDS);
            boolean listed = admin.listTopics().names().get(30, TimeUnit.SECONDS).contains(topic);
            System.out.println("DELETED_BY_ID " + id + " listed=" + listed);
            try {
                admin.deleteTopics(TopicCollection.ofTopicIds(List.of(id))).all()
                        .get(30, TimeUnit.SECONDS);
                System.out.println("REDELETE_BY_ID accepted");
            } catch (ExecutionException e) {
                System.out.println("REDELETE_BY_ID rejected " + e.getCause().getClass().getName());
            }
        } finally {
            admin.close(Harness.CLOSE_TIMEOUT);
        }
        System.out.println("OK");
    }

    static void print(String prefix, Config config, List<String> names) {
        Harness.check(config != null, "describeConfigs returned no config for " + prefix);
        for (String name : names) {
            ConfigEntry e = config.get(name);
            if (e == null) {
                System.out.println(prefix + " " + name + " absent");
                continue;
            }
            StringBuilder synonyms = new StringBuilder();
            for (ConfigEntry.ConfigSynonym s : e.synonyms()) {
                if (synonyms.length() > 0) {
                    synonyms.append(',');
                }
                synonyms.append(s.source()).append(':').append(s.name()).append('=')
                        .append(s.value());
            }
            String doc = e.documentation();
            System.out.println(prefix + " " + name + " value=" + e.value() + " source="
                    + e.source() + " readOnly=" + e.isReadOnly() + " sensitive=" + e.isSensitive()
                    + " default=" + e.isDefault() + " type=" + e.type()
                    + " doc=" + (doc != null && !doc.isBlank() ? "yes" : "no")
                    + " synonyms=" + synonyms);
        }
    }
}
