//! The catalog projection: workspaces with their members, agents, workflows, billing
//! accounts, and runs with their steps and usage. One checkpoint and watermark for all of
//! them, so a read that waits for a position sees every one.

use events::RecordedEvent;
use sqlx::PgConnection;

use crate::Touched;

pub const NAME: &str = "catalog";

/// Applies one event to whichever read model its stream feeds.
pub async fn apply(connection: &mut PgConnection, event: &RecordedEvent) -> anyhow::Result<Option<Touched>> {
    match event.stream_id.split_once('-').map(|(category, _)| category) {
        Some("workspace") => Ok(crate::workspaces::apply(connection, event).await?.map(Touched::Workspace)),
        Some("agent") => crate::agents::apply(connection, event).await.map(|()| None),
        Some("workflow") => crate::workflows::apply(connection, event).await.map(|()| None),
        Some("billing") => crate::billing::apply(connection, event).await.map(|_| None),
        Some("run") => crate::runs::apply(connection, event).await,
        _ => Ok(None),
    }
}
