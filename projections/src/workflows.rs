//! The Workflows read model: each workflow's current definition and every version of it.

use events::DomainEvent;
use events::RecordedEvent;
use events::workflows::WorkflowEvent;
use sqlx::PgConnection;

/// Writes one workflow event. Every write sets state, so a replay changes nothing.
pub async fn apply(connection: &mut PgConnection, event: &RecordedEvent) -> anyhow::Result<()> {
    let Some(id) = event.aggregate_id(events::Category::Workflow) else {
        return Ok(());
    };
    let (version, name, steps) = match WorkflowEvent::from_recorded(event)? {
        WorkflowEvent::WorkflowDefined(e) => {
            sqlx::query(
                "insert into rm_workflows (id, workspace_id, name, version, steps, updated_at) \
                 values ($1, $2, $3, 1, $4, $5) on conflict (id) do nothing",
            )
            .bind(id)
            .bind(e.workspace_id)
            .bind(&e.name)
            .bind(serde_json::to_value(&e.steps)?)
            .bind(event.recorded_at)
            .execute(&mut *connection)
            .await?;
            (1, e.name, e.steps)
        }
        WorkflowEvent::WorkflowRevised(e) => {
            sqlx::query(
                "update rm_workflows set name = $2, version = $3, steps = $4, updated_at = $5 \
                  where id = $1 and version < $3",
            )
            .bind(id)
            .bind(&e.name)
            .bind(e.version as i32)
            .bind(serde_json::to_value(&e.steps)?)
            .bind(event.recorded_at)
            .execute(&mut *connection)
            .await?;
            (e.version, e.name, e.steps)
        }
        WorkflowEvent::WorkflowArchived(_) => {
            sqlx::query("update rm_workflows set archived = true, updated_at = $2 where id = $1")
                .bind(id)
                .bind(event.recorded_at)
                .execute(&mut *connection)
                .await?;
            return Ok(());
        }
    };
    sqlx::query(
        "insert into rm_workflow_versions (workflow_id, version, name, steps) values ($1, $2, $3, $4) \
         on conflict do nothing",
    )
    .bind(id)
    .bind(version as i32)
    .bind(name)
    .bind(serde_json::to_value(&steps)?)
    .execute(&mut *connection)
    .await?;
    Ok(())
}
