//! The read side's figures while the command path is busy: how soon a subscriber hears of a
//! command (freshness), and how far the projection trails the log (lag).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use uuid::Uuid;

use crate::{Caller, percentile};

/// When a probe's answer and its subscription message arrived, by log position: whichever
/// comes second closes the probe.
#[derive(Default)]
struct Probes {
    answered: HashMap<i64, Instant>,
    heard: HashMap<i64, Instant>,
    latencies: Vec<Duration>,
}

impl Probes {
    fn answered(&mut self, position: i64, at: Instant) {
        match self.heard.remove(&position) {
            // Heard before the answer was read: as fresh as it gets.
            Some(_) => self.latencies.push(Duration::ZERO),
            None => {
                self.answered.insert(position, at);
            }
        }
    }

    fn heard(&mut self, position: i64, at: Instant) {
        match self.answered.remove(&position) {
            Some(answered) => self.latencies.push(at.saturating_duration_since(answered)),
            None => {
                self.heard.insert(position, at);
            }
        }
    }
}

/// Open loop: `rate` CreateWorkspace commands a second from many callers, for `seconds`; beside
/// them a probe renames a workspace of its own every `probe_every` and times its answer to the
/// matching `workspaceActivity` message on a graphql-transport-ws subscription.
pub async fn freshness(
    base: &str,
    load: Vec<Arc<Caller>>,
    probe: Caller,
    token: &str,
    rate: u64,
    seconds: u64,
    probe_every: Duration,
) -> anyhow::Result<Value> {
    let workspace = Uuid::now_v7();
    let created = probe.ok(json!({"type": "CreateWorkspace", "id": workspace, "payload": {"name": "Probe"}})).await?;
    // Subscribing needs the membership in the read model: read it first, as its writer.
    let read: Value = probe
        .http
        .post(format!("{}/graphql", base.trim_end_matches('/')))
        .bearer_auth(token)
        .header("X-Oxbow-Min-Position", created["position"].to_string())
        .json(&json!({"query": format!("{{ workspace(id: \"{workspace}\") {{ id }} }}")}))
        .send()
        .await?
        .json()
        .await?;
    anyhow::ensure!(read["data"]["workspace"]["id"].is_string(), "the probe's workspace cannot be read: {read}");
    let mut socket = subscribe(
        base,
        token,
        &format!("subscription {{ workspaceActivity(workspaceId: \"{workspace}\") {{ position }} }}"),
    )
    .await?;
    let probes = Arc::new(Mutex::new(Probes::default()));
    let listener = {
        let probes = probes.clone();
        tokio::spawn(async move {
            while let Some(Ok(message)) = socket.next().await {
                let Message::Text(text) = message else { continue };
                let Ok(value) = serde_json::from_str::<Value>(&text) else { continue };
                if value["type"] == "ping" {
                    let _ = socket.send(Message::text(json!({"type": "pong"}).to_string())).await;
                }
                if let Some(position) = value["payload"]["data"]["workspaceActivity"]["position"].as_i64() {
                    probes.lock().expect("probes").heard(position, Instant::now());
                } else if value["type"] == "error" || value["type"] == "complete" {
                    anyhow::bail!("the subscription ended: {value}");
                }
            }
            anyhow::Ok(())
        })
    };
    let started = Instant::now();
    let loader = tokio::spawn(async move { crate::open_loop(&load, rate, seconds).await });
    let mut sent = 0u64;
    let mut ticker = tokio::time::interval(probe_every);
    while started.elapsed() < Duration::from_secs(seconds) {
        ticker.tick().await;
        let rename = json!({"type": "RenameWorkspace", "id": workspace, "payload": {"name": format!("Probe {sent}")}});
        let answer = probe.ok(rename).await?;
        let at = Instant::now();
        let position = answer["position"].as_i64().context("an answer without a position")?;
        probes.lock().expect("probes").answered(position, at);
        sent += 1;
    }
    let (accepted, errors) = loader.await??;
    let load_seconds = started.elapsed().as_secs_f64();
    // Whatever has not arrived 15 s after the last probe is missing.
    for _ in 0..150 {
        if probes.lock().expect("probes").answered.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    listener.abort();
    match listener.await {
        Ok(ended) => ended?,
        Err(error) if error.is_cancelled() => {}
        Err(error) => return Err(error.into()),
    }
    let probes = Arc::try_unwrap(probes).ok().context("the listener still holds the probes")?;
    let Probes { answered, mut latencies, .. } = probes.into_inner().expect("probes");
    // A probe never heard of counts as at least as late as it has waited: it fails the figure
    // instead of leaving it.
    latencies.extend(answered.values().map(|answered| answered.elapsed()));
    latencies.sort_unstable();
    Ok(json!({
        "probes": sent,
        "missing": answered.len(),
        "load_due_rate": rate,
        "load_rate": accepted.len() as f64 / load_seconds,
        "load_errors": errors,
        "p50_ms": percentile(&latencies, 0.50),
        "p99_ms": percentile(&latencies, 0.99),
        "max_ms": latencies.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0),
    }))
}

async fn subscribe(
    base: &str,
    token: &str,
    query: &str,
) -> anyhow::Result<tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>> {
    let url = format!("{}/graphql/ws", base.trim_end_matches('/').replace("http://", "ws://"));
    let mut request = url.into_client_request()?;
    request.headers_mut().insert("Sec-WebSocket-Protocol", "graphql-transport-ws".parse()?);
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.context("opening the WebSocket")?;
    let init = json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {token}")}});
    socket.send(Message::text(init.to_string())).await?;
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .context("no connection_ack")?
            .context("the WebSocket closed")??;
        if let Message::Text(text) = message {
            let value: Value = serde_json::from_str(&text)?;
            anyhow::ensure!(value["type"] == "connection_ack", "connection refused: {value}");
            break;
        }
    }
    let subscribe = json!({"id": "1", "type": "subscribe", "payload": {"query": query}});
    socket.send(Message::text(subscribe.to_string())).await?;
    Ok(socket)
}

/// Samples, ten times a second for `seconds`, how long the oldest event the catalog projection
/// has not applied has waited (0 when it has applied the whole log).
pub async fn lag(pool: &sqlx::PgPool, seconds: u64) -> anyhow::Result<Value> {
    let started = Instant::now();
    let mut samples = Vec::new();
    let mut behind = Vec::new();
    let mut ticker = tokio::time::interval(Duration::from_millis(100));
    while started.elapsed() < Duration::from_secs(seconds) {
        ticker.tick().await;
        let (waited, events): (f64, i64) = sqlx::query_as(
            "select coalesce(extract(epoch from clock_timestamp() - e.recorded_at)::float8, 0), \
                    h.position - coalesce(c.position, 0) \
               from log_head h \
               left join projection_checkpoints c on c.name = 'catalog' \
               left join events e on e.position = coalesce(c.position, 0) + 1",
        )
        .fetch_one(pool)
        .await?;
        samples.push(Duration::from_secs_f64(waited.max(0.0)));
        behind.push(events);
    }
    samples.sort_unstable();
    behind.sort_unstable();
    let events_p99 = behind.get(((behind.len() as f64 - 1.0) * 0.99).round() as usize).copied().unwrap_or(0);
    Ok(json!({
        "samples": samples.len(),
        "p50_s": percentile(&samples, 0.50) / 1000.0,
        "p99_s": percentile(&samples, 0.99) / 1000.0,
        "max_s": samples.last().map_or(0.0, |d| d.as_secs_f64()),
        "events_behind_p99": events_p99,
    }))
}

/// Appends an event the catalog projection cannot apply and waits (at most a minute) until the
/// projector has parked it. Returns its position and how long parking took.
pub async fn poison(database_url: &str) -> anyhow::Result<serde_json::Value> {
    let pool = sqlx::postgres::PgPoolOptions::new().max_connections(2).connect(database_url).await?;
    let store = store::EventStore::new(pool.clone(), store::CommitterConfig::default());
    let workspace = uuid::Uuid::now_v7();
    let metadata = serde_json::json!({"actor": "bench", "workspace_id": workspace,
        "correlation_id": uuid::Uuid::now_v7(), "causation_id": uuid::Uuid::now_v7()});
    let appended = store
        .append(store::AppendRequest::to_stream(
            format!("workspace-{workspace}"),
            store::ExpectedVersion::Any,
            vec![events::NewEvent {
                event_id: uuid::Uuid::now_v7(),
                event_type: "WorkspaceRenamed".into(),
                schema_version: 1,
                payload: serde_json::json!({"name": 42}),
                metadata,
            }],
        ))
        .await
        .map_err(|error| anyhow::anyhow!("appending the poisoned event: {error}"))?;
    let position = appended.last_position.context("the poisoned event was not appended")?;
    let started = Instant::now();
    while !store::parked::list(&pool, Some("catalog")).await?.iter().any(|parked| parked.position == position) {
        anyhow::ensure!(started.elapsed() < Duration::from_secs(60), "the projector did not park position {position}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(serde_json::json!({"position": position, "parked_after_s": started.elapsed().as_secs_f64()}))
}
