//! What a command answers: the events it appended, or, for a request made before under the same
//! idempotency key, the first answer read back from the log.

use serde::Serialize;
use serde_json::Value;
use store::{AppendOutcome, EventLog, IdempotencyClaim, KeyStore};
use uuid::Uuid;

use crate::error::CommandError;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AcceptedEvent {
    #[serde(rename = "type")]
    pub event_type: String,
    pub id: Uuid,
    pub position: i64,
    pub payload: Value,
}

/// What a command appended: the stream's new version, and the global position clients pass
/// to the read API for read-your-writes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Accepted {
    pub stream: String,
    pub version: i64,
    pub position: i64,
    pub events: Vec<AcceptedEvent>,
    /// The credential an `IssueWorkerCredential` made, shown this once: the log keeps only
    /// its secret's hash, and a retry under the same idempotency key does not show it again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worker_credential: Option<String>,
    /// The secret a `RegisterAgent` of a webhook agent or a `RotateWebhookSecret` made, as
    /// `whsec_…`, shown this once: the log keeps it sealed, and no read path opens it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
}

/// The answer `claim`'s key gave before, if it was used: a retry must get the first answer
/// even though the state has moved on since. The same key with another request is refused.
pub(crate) async fn earlier_answer<L>(log: &L, claim: &IdempotencyClaim) -> Result<Option<Accepted>, CommandError>
where
    L: EventLog + KeyStore,
{
    let Some(record) = log.find_idempotency_key(&claim.scope, &claim.key).await.map_err(CommandError::unavailable)?
    else {
        return Ok(None);
    };
    if record.request_hash != claim.request_hash {
        return Err(CommandError::IdempotencyKeyReused);
    }
    let outcome = AppendOutcome {
        stream_id: record.stream_id,
        stream_version: record.stream_version,
        first_position: record.first_position,
        last_position: record.last_position,
        events: Vec::new(),
        replayed: true,
    };
    replayed(log, &outcome).await.map(Some)
}

/// The answer to a request whose events were appended before: read back from the log, with
/// personal data revealed as the first answer showed it.
pub(crate) async fn replayed<L>(log: &L, outcome: &AppendOutcome) -> Result<Accepted, CommandError>
where
    L: EventLog + KeyStore,
{
    let mut events = match (outcome.first_position, outcome.last_position) {
        (Some(first), Some(last)) => log.read_range(first, last).await.map_err(CommandError::unavailable)?,
        _ => Vec::new(),
    };
    log.reveal(&mut events).await.map_err(CommandError::unavailable)?;
    let position = match outcome.last_position {
        Some(position) => position,
        None => log
            .read_stream(&outcome.stream_id, outcome.stream_version - 1)
            .await
            .map_err(CommandError::unavailable)?
            .last()
            .map_or(0, |e| e.position),
    };
    Ok(Accepted {
        worker_credential: None,
        webhook_secret: None,
        stream: outcome.stream_id.clone(),
        version: outcome.stream_version,
        position,
        events: events
            .into_iter()
            .map(|e| AcceptedEvent {
                event_type: e.event_type,
                id: e.event_id,
                position: e.position,
                payload: e.payload,
            })
            .collect(),
    })
}
