//! The catalog projection: workspaces with their members, agents, workflows, billing
//! accounts, and runs with their steps and usage. One checkpoint and watermark for all of
//! them, so a read that waits for a position sees every one.

use events::{Category, RecordedEvent};
use sqlx::PgConnection;

use crate::distinct;

use crate::Touched;
use crate::runs::bulk::Runs;

pub const NAME: &str = "catalog";

/// Applies events the projection has not applied, in log order: runs, workspaces and billing,
/// the bulk of any log, folded in memory and written once per batch; agents and workflows event
/// by event. Returns what Redis needs to hear of, each once.
pub async fn apply_new(connection: &mut PgConnection, new: &[RecordedEvent]) -> anyhow::Result<Vec<Touched>> {
    let mut runs = Runs::default();
    let run_ids = distinct(new.iter().filter_map(crate::runs::view::run_of).collect());
    runs.load(connection, &run_ids).await?;
    let mut workspaces = crate::workspaces::Batch::default();
    let mut billing = crate::billing::Batch::default();
    let mut touched = Vec::new();
    for event in new {
        let changed = match event.stream().map(|stream| stream.category) {
            Some(Category::Run) => runs.apply(event)?,
            Some(Category::Workspace) => workspaces.add(event)?.map(Touched::Workspace),
            Some(Category::Billing) => billing.add(event).map(|()| None)?,
            _ => apply(connection, event).await?,
        };
        touched.extend(changed);
    }
    workspaces.write(connection).await?;
    billing.write(connection).await?;
    runs.write(connection).await?;
    Ok(distinct(touched))
}

/// Applies one event of an agent or a workflow to its read model.
pub async fn apply(connection: &mut PgConnection, event: &RecordedEvent) -> anyhow::Result<Option<Touched>> {
    match event.stream().map(|stream| stream.category) {
        Some(Category::Agent) => crate::agents::apply(connection, event).await.map(|()| None),
        Some(Category::Workflow) => crate::workflows::apply(connection, event).await.map(|()| None),
        // Folded by the batch (see `apply_new`).
        Some(Category::Workspace | Category::Run | Category::Billing) => Ok(None),
        // Operators' decisions and foreign streams have no read model here.
        Some(Category::Operations) | None => Ok(None),
    }
}
