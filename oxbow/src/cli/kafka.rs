//! `oxbow kafka`: the topics, from the log.

use std::process::ExitCode;

use anyhow::Context;

use super::database;

pub async fn republish(from: i64, to: Option<i64>) -> anyhow::Result<ExitCode> {
    if from < 1 {
        anyhow::bail!("--from must be a position, 1 or more");
    }
    if let Some(to) = to
        && to < from
    {
        anyhow::bail!("--from {from} is after --to {to}");
    }
    let (config, pool) = database::connect(2).await?;
    let head = store::read_head(&pool).await?.position;
    let to = to.unwrap_or(head).min(head);
    let producer: rdkafka::producer::FutureProducer = platform::kafka::producer_config(&config.kafka())
        .create()
        .context("creating the Kafka producer (KAFKA_BROKERS)")?;
    let mut after = from - 1;
    let mut published = 0u64;
    while after < to {
        let batch = store::read_range(&pool, after + 1, to.min(after + 2_000)).await?;
        let Some(last) = batch.last().map(|e| e.position) else {
            break;
        };
        relay::publish(&producer, &config.events_topic, &batch, &Default::default()).await?;
        published += batch.len() as u64;
        after = last;
    }
    eprintln!("republished {published} events, positions {from}..={to}, to {}", config.events_topic);
    Ok(ExitCode::SUCCESS)
}
