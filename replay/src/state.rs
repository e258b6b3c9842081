//! `oxbow log state`: an aggregate's state at a point in its history, folded by the same
//! deciders that decide commands, from events read back in today's shape.

use chrono::{DateTime, Utc};
use commands::Aggregate;
use commands::agents::Agent;
use commands::billing::Billing;
use commands::runs::RunAggregate;
use commands::workflows::Workflow;
use commands::workspace::Workspace;
use events::{Category, DomainEvent, RecordedEvent};
use serde_json::{Value, json};
use sqlx::PgPool;

/// Where in the stream's history to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// After the last event at or below this global position.
    Position(i64),
    /// After the last event recorded at or before this time.
    At(DateTime<Utc>),
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("`{0}` is not a stream of an aggregate (workspace-, agent-, workflow-, billing- or run- and an id)")]
    UnknownCategory(String),
    #[error("stream `{0}` has no events at or before that point")]
    Empty(String),
    #[error(transparent)]
    Unreadable(#[from] commands::Unreadable),
    #[error(transparent)]
    Store(#[from] store::Error),
}

/// The state of `stream_id` at `cut`, with where it stands: `stream`, `version`, `position`,
/// `recorded_at` of the last event applied, and `state`.
pub async fn state_at(pool: &PgPool, stream_id: &str, cut: Cut) -> Result<Value, Error> {
    let history = store::read_stream(pool, stream_id, 0).await?;
    let mut upto: Vec<RecordedEvent> = history
        .into_iter()
        .take_while(|event| match cut {
            Cut::Position(position) => event.position <= position,
            Cut::At(time) => event.recorded_at <= time,
        })
        .collect();
    store::personal::reveal(pool, &mut upto).await?;
    let Some(last) = upto.last() else {
        return Err(Error::Empty(stream_id.to_owned()));
    };
    let state = match last.stream().map(|stream| stream.category) {
        Some(Category::Workspace) => fold::<Workspace>(&upto)?,
        Some(Category::Agent) => fold::<Agent>(&upto)?,
        Some(Category::Workflow) => fold::<Workflow>(&upto)?,
        Some(Category::Billing) => fold::<Billing>(&upto)?,
        Some(Category::Run) => fold::<RunAggregate>(&upto)?,
        // Not an aggregate: its state is the decisions themselves.
        Some(Category::Operations) => Value::Array(upto.iter().map(|event| event.payload.clone()).collect()),
        None => return Err(Error::UnknownCategory(stream_id.to_owned())),
    };
    Ok(json!({
        "stream": stream_id,
        "version": last.stream_version,
        "position": last.position,
        "recorded_at": last.recorded_at,
        "state": state,
    }))
}

fn fold<A>(events: &[RecordedEvent]) -> Result<Value, Error>
where
    A: Aggregate,
    A::Event: DomainEvent,
{
    let state = A::fold_recorded(A::State::default(), events)?;
    Ok(serde_json::to_value(&state).expect("states serialize"))
}
