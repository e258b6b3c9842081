//! The catalog projection: workspaces with their members, agents, workflows, billing
//! accounts, and runs with their steps and usage. One checkpoint and watermark for all of
//! them, so a read that waits for a position sees every one.

use events::{Category, RecordedEvent};
use sqlx::PgConnection;

use crate::Touched;

pub const NAME: &str = "catalog";

/// Applies one event to whichever read model its stream feeds.
pub async fn apply(connection: &mut PgConnection, event: &RecordedEvent) -> anyhow::Result<Option<Touched>> {
    match event.stream().map(|stream| stream.category) {
        Some(Category::Workspace) => {
            Ok(crate::workspaces::apply(connection, event).await?.map(|id| Touched::Workspace(id.into())))
        }
        Some(Category::Agent) => crate::agents::apply(connection, event).await.map(|()| None),
        Some(Category::Workflow) => crate::workflows::apply(connection, event).await.map(|()| None),
        Some(Category::Billing) => crate::billing::apply(connection, event).await.map(|_| None),
        Some(Category::Run) => crate::runs::apply(connection, event).await,
        None => Ok(None),
    }
}
