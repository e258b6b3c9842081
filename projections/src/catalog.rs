//! The catalog projection: workspaces with their members, agents, workflows and billing
//! accounts. One checkpoint and watermark for all of them, so a read that waits for a position
//! sees every one.

use events::RecordedEvent;
use sqlx::PgConnection;
use uuid::Uuid;

pub const NAME: &str = "catalog";

/// Applies one event to whichever read model its stream feeds. Returns the workspace whose
/// Redis summary may need refreshing.
pub async fn apply(connection: &mut PgConnection, event: &RecordedEvent) -> anyhow::Result<Option<Uuid>> {
    match event.stream_id.split_once('-').map(|(category, _)| category) {
        Some("workspace") => crate::workspaces::apply(connection, event).await,
        Some("agent") => crate::agents::apply(connection, event).await.map(|()| None),
        Some("workflow") => crate::workflows::apply(connection, event).await.map(|()| None),
        // The Redis summary is about members, not money.
        Some("billing") => crate::billing::apply(connection, event).await.map(|_| None),
        _ => Ok(None),
    }
}
