//! Kafka client settings and topics, Kafka-protocol generic (Apache Kafka, Tansu, …).
//!
//! A deployment passes librdkafka settings through the environment: `OXBOW_KAFKA_<NAME>` sets
//! `<name>` with `_` read as `.` (`OXBOW_KAFKA_SECURITY_PROTOCOL=SASL_SSL` sets
//! `security.protocol`). Oxbow's defaults come first and the deployment's win, except for what
//! correctness rests on ([`RESERVED`]).

use std::time::Duration;

use anyhow::Context;
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::types::RDKafkaErrorCode;

/// Settings a deployment may not change: the producer's idempotence and acks keep every
/// event, in order; consumers commit only what they handled, in their own group.
pub const RESERVED: [&str; 6] =
    ["bootstrap.servers", "enable.idempotence", "acks", "group.id", "enable.auto.commit", "transactional.id"];

/// How Oxbow reaches the brokers: their addresses and the deployment's librdkafka settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KafkaSettings {
    pub brokers: String,
    /// librdkafka properties (`security.protocol`, `sasl.username`, `client.id`, …).
    pub client: Vec<(String, String)>,
}

impl KafkaSettings {
    /// The settings named by `OXBOW_KAFKA_*` variables among `variables`; a reserved one is
    /// refused.
    pub fn from_variables(
        brokers: impl Into<String>,
        variables: impl IntoIterator<Item = (String, String)>,
    ) -> anyhow::Result<KafkaSettings> {
        let mut client = Vec::new();
        for (name, value) in variables {
            let Some(property) = name.strip_prefix("OXBOW_KAFKA_") else { continue };
            let property = property.to_ascii_lowercase().replace('_', ".");
            anyhow::ensure!(
                !RESERVED.contains(&property.as_str()),
                "{name} would set {property}, which Oxbow sets itself (KAFKA_BROKERS names the brokers)"
            );
            client.push((property, value));
        }
        client.sort();
        Ok(KafkaSettings { brokers: brokers.into(), client })
    }

    /// A client's configuration: the brokers, `defaults`, then the deployment's settings.
    fn config(&self, defaults: &[(&str, &str)]) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.brokers);
        for (key, value) in defaults {
            config.set(*key, *value);
        }
        for (key, value) in &self.client {
            config.set(key, value);
        }
        config
    }
}

/// An idempotent producer: acks from all in-sync replicas, order kept per partition.
pub fn producer_config(kafka: &KafkaSettings) -> ClientConfig {
    let mut config = kafka.config(&[("linger.ms", "2"), ("message.timeout.ms", "30000"), ("compression.type", "none")]);
    config.set("enable.idempotence", "true").set("acks", "all");
    config
}

/// A consumer in `group` that commits offsets only when told: the read models hold the truth
/// about what was applied, offsets only save re-reading.
pub fn consumer_config(kafka: &KafkaSettings, group: &str) -> ClientConfig {
    let mut config = kafka.config(&[
        ("auto.offset.reset", "earliest"),
        ("session.timeout.ms", "6000"),
        ("heartbeat.interval.ms", "1000"),
        ("fetch.wait.max.ms", "10"),
        ("enable.partition.eof", "false"),
        // Prefetch what a few batches need, not librdkafka's default of up to 64 MB and 100,000
        // messages a partition: a consumer starting behind a long topic held all of that in memory.
        ("queued.max.messages.kbytes", "8192"),
        ("queued.min.messages", "5000"),
    ]);
    config.set("group.id", group).set("enable.auto.commit", "false");
    config
}

/// Any other client (an admin client, a readiness probe).
pub fn client_config(kafka: &KafkaSettings) -> ClientConfig {
    kafka.config(&[])
}

/// What Oxbow's topics must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopicSettings {
    pub partitions: i32,
    pub replication_factor: i32,
    /// Create missing topics; without it (no CreateTopics permission) they must exist.
    pub create: bool,
}

/// Why the topics are not ready.
#[derive(Debug, thiserror::Error)]
pub enum TopicError {
    /// The brokers could not be asked: try again later.
    #[error(transparent)]
    Unreachable(#[from] anyhow::Error),
    /// The topics are not what the configuration says: trying again will not help.
    #[error("{0}")]
    Misconfigured(String),
}

/// Makes sure `topics` exist with `settings.partitions` partitions: creates the missing ones
/// when allowed, and refuses to go on when one is missing or has another partition count (a
/// stream's events keep their order only while its key maps to one partition).
pub async fn ensure_topics(kafka: &KafkaSettings, topics: &[&str], settings: TopicSettings) -> Result<(), TopicError> {
    if settings.create {
        let admin: AdminClient<DefaultClientContext> = client_config(kafka).create().map_err(invalid_settings)?;
        let replication = settings.replication_factor;
        let new_topics: Vec<NewTopic> = topics
            .iter()
            .map(|topic| NewTopic::new(topic, settings.partitions, TopicReplication::Fixed(replication)))
            .collect();
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
        let results = admin.create_topics(new_topics.iter(), &options).await.context("creating Kafka topics")?;
        for result in results {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((
                    topic,
                    RDKafkaErrorCode::TopicAuthorizationFailed | RDKafkaErrorCode::ClusterAuthorizationFailed,
                )) => {
                    return Err(TopicError::Misconfigured(format!(
                        "creating Kafka topic {topic} is not allowed: create the topics beforehand and set \
                         OXBOW_CREATE_TOPICS=false"
                    )));
                }
                Err((topic, code)) => return Err(anyhow::anyhow!("creating Kafka topic {topic}: {code}").into()),
            }
        }
    }
    let kafka = kafka.clone();
    let topics: Vec<String> = topics.iter().map(|topic| topic.to_string()).collect();
    tokio::task::spawn_blocking(move || check_partitions(&kafka, &topics, settings.partitions))
        .await
        .context("checking the Kafka topics")?
}

/// librdkafka refuses a client whose settings it does not know or cannot use.
fn invalid_settings(error: rdkafka::error::KafkaError) -> TopicError {
    TopicError::Misconfigured(format!("the Kafka settings (OXBOW_KAFKA_*) are not valid: {error}"))
}

fn check_partitions(kafka: &KafkaSettings, topics: &[String], partitions: i32) -> Result<(), TopicError> {
    let client: BaseConsumer = client_config(kafka).create().map_err(invalid_settings)?;
    for topic in topics {
        let metadata = client
            .fetch_metadata(Some(topic), Duration::from_secs(10))
            .with_context(|| format!("reading the metadata of Kafka topic {topic}"))?;
        let found = metadata.topics().iter().find(|found| found.name() == topic);
        let count = found.filter(|found| found.error().is_none()).map_or(0, |found| found.partitions().len() as i32);
        if count == 0 {
            return Err(TopicError::Misconfigured(format!(
                "Kafka topic {topic} does not exist (create it, or let Oxbow: OXBOW_CREATE_TOPICS=true)"
            )));
        }
        if count != partitions {
            return Err(TopicError::Misconfigured(format!(
                "Kafka topic {topic} has {count} partitions, and OXBOW_TOPIC_PARTITIONS says {partitions}: \
                 set it to {count}, or move the topic's events to one with {partitions}"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn variables(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(name, value)| (name.to_string(), value.to_string())).collect()
    }

    #[test]
    fn oxbow_kafka_variables_become_librdkafka_settings_and_reserved_ones_are_refused() {
        let settings = KafkaSettings::from_variables(
            "b:9092",
            variables(&[
                ("OXBOW_KAFKA_SECURITY_PROTOCOL", "SASL_SSL"),
                ("OXBOW_KAFKA_SASL_USERNAME", "oxbow"),
                ("OXBOW_KAFKA_LINGER_MS", "20"),
                ("PATH", "/usr/bin"),
            ]),
        )
        .unwrap();
        assert_eq!(
            settings.client,
            variables(&[("linger.ms", "20"), ("sasl.username", "oxbow"), ("security.protocol", "SASL_SSL")])
        );
        let producer = producer_config(&settings);
        assert_eq!(producer.get("linger.ms"), Some("20"), "the deployment's setting wins over Oxbow's default");
        assert_eq!(producer.get("acks"), Some("all"));
        for reserved in ["OXBOW_KAFKA_ACKS", "OXBOW_KAFKA_ENABLE_IDEMPOTENCE", "OXBOW_KAFKA_GROUP_ID"] {
            let error = KafkaSettings::from_variables("b:9092", variables(&[(reserved, "x")])).unwrap_err();
            assert!(error.to_string().contains(reserved), "{error}");
        }
    }
}
