//! GraphQL over the log itself: a stream's audit trail, and the projections' progress.

use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, ID, Json, Object, SimpleObject};
use chrono::{DateTime, Utc};

use crate::guard::{coded, internal, page_size, role_in, services, viewer};

/// One event of the audit trail.
#[derive(SimpleObject, Clone)]
pub struct LoggedEvent {
    pub position: i64,
    pub stream_id: String,
    pub stream_version: i64,
    pub event_id: ID,
    pub event_type: String,
    pub schema_version: i32,
    #[graphql(complexity = "crate::guard::JSON_WEIGHT")]
    pub payload: Json<serde_json::Value>,
    pub actor: Option<String>,
    pub correlation_id: Option<String>,
    pub causation_id: Option<String>,
    pub recorded_at: DateTime<Utc>,
}

impl From<events::RecordedEvent> for LoggedEvent {
    fn from(event: events::RecordedEvent) -> LoggedEvent {
        let metadata = |key: &str| event.metadata.get(key).and_then(|v| v.as_str()).map(str::to_owned);
        LoggedEvent {
            actor: metadata("actor"),
            correlation_id: metadata("correlation_id"),
            causation_id: metadata("causation_id"),
            position: event.position,
            event_id: ID(event.event_id.to_string()),
            stream_version: event.stream_version,
            event_type: event.event_type,
            schema_version: event.schema_version,
            stream_id: event.stream_id,
            payload: Json(event.payload),
            recorded_at: event.recorded_at,
        }
    }
}

#[derive(SimpleObject, Clone)]
pub struct ProjectionStatus {
    pub name: String,
    /// Every event at or below this position is applied; parked events count as handled.
    pub position: i64,
    /// Events logged but not applied yet.
    pub lag: i64,
    /// Why the last try failed. Operators only: null for everyone else.
    pub last_error: Option<String>,
    pub updated_at: DateTime<Utc>,
    /// The projection's dead letter: events it failed on, and those waiting behind them.
    /// Operators only (they name other tenants' streams): empty for everyone else.
    #[graphql(complexity = "50 * child_complexity")]
    pub parked: Vec<ParkedEvent>,
}

/// An event the projection set aside.
#[derive(SimpleObject, Clone)]
pub struct ParkedEvent {
    pub position: i64,
    pub stream_id: String,
    pub event_type: String,
    /// Why it failed; null when it waits behind an earlier event of its stream.
    pub error: Option<String>,
    pub tries: i32,
    pub parked_at: DateTime<Utc>,
}

#[derive(Default)]
pub struct AuditQuery;

#[Object]
impl AuditQuery {
    /// The audit trail of a stream, in order. Members of the stream's workspace only.
    #[graphql(complexity = "crate::guard::page_weight(first) * child_complexity")]
    async fn events(
        &self,
        ctx: &Context<'_>,
        stream: String,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, LoggedEvent>> {
        viewer(ctx)?;
        let limit = page_size(first)?;
        let after_version: i64 = match after {
            None => 0,
            Some(cursor) => {
                cursor.parse().map_err(|_| coded("BAD_USER_INPUT", "after is not a cursor of this list"))?
            }
        };
        let services = services(ctx);
        // Membership first, from the stream's first event: nothing more of another tenant's
        // stream is read, let alone decrypted.
        let first_event = store::read_stream_page(&services.pool, &stream, 0, 1).await.map_err(internal)?;
        let role = match first_event.first().and_then(|event| event.workspace_id()) {
            Some(workspace) => role_in(ctx, workspace.into()).await?,
            None => None,
        };
        let Some(role) = role else {
            // Unknown and forbidden look the same, so nothing leaks about other tenants.
            return Ok(Connection::new(false, false));
        };
        let mut events =
            store::read_stream_page(&services.pool, &stream, after_version, limit + 1).await.map_err(internal)?;
        store::present(&services.pool, &mut events).await.map_err(internal)?;
        if !events::sees_personal_data(role) {
            for event in &mut events {
                events::hide_personal_fields(&event.event_type, &mut event.payload);
            }
        }
        let has_next = events.len() as i64 > limit;
        let mut connection = Connection::new(after_version > 0, has_next);
        for event in events.into_iter().take(limit as usize) {
            connection.edges.push(Edge::new(event.stream_version.to_string(), LoggedEvent::from(event)));
        }
        Ok(connection)
    }

    /// Each projection's position and lag behind the log; its errors and dead letter for
    /// operators.
    async fn projections(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ProjectionStatus>> {
        let operator = services(ctx).operators.includes(viewer(ctx)?);
        let pool = &services(ctx).pool;
        let statuses = projections::status::all(pool).await.map_err(internal)?;
        let parked = if operator { store::parked::list(pool, None).await.map_err(internal)? } else { Vec::new() };
        Ok(statuses
            .into_iter()
            .map(|s| ProjectionStatus {
                parked: parked
                    .iter()
                    .filter(|parked| parked.consumer == s.name)
                    .map(|parked| ParkedEvent {
                        position: parked.position,
                        stream_id: parked.stream_id.clone(),
                        event_type: parked.event_type.clone(),
                        error: parked.error.clone(),
                        tries: parked.tries,
                        parked_at: parked.parked_at,
                    })
                    .collect(),
                name: s.name,
                position: s.position,
                lag: s.lag,
                last_error: s.last_error.filter(|_| operator),
                updated_at: s.updated_at,
            })
            .collect())
    }
}
