//! The Workflows read model: each workflow's current definition and every version of it.

use events::workflows::WorkflowEvent;
use events::{Category, DomainEvent, RecordedEvent, WorkflowId, WorkspaceId};
use sqlx::PgConnection;
use uuid::Uuid;

/// A version of a workflow as the read model stores it.
#[derive(Debug, Clone, PartialEq)]
pub struct Version {
    pub version: i32,
    pub name: String,
    pub steps: serde_json::Value,
    pub output: Option<serde_json::Value>,
}

/// One change to the Workflows read model.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// A new workflow at its first version.
    Define {
        workspace_id: Uuid,
        first: Version,
    },
    /// The workflow at a later version, when the row is older; every version is kept.
    Revise(Version),
    Archive,
}

/// The workflow an event is about, and what it changes. Events of other contexts change nothing.
pub fn change(event: &RecordedEvent) -> Result<Option<(Uuid, Change)>, events::Error> {
    let Some(id) = event.aggregate_id(Category::Workflow) else {
        return Ok(None);
    };
    let steps = |steps| serde_json::to_value(steps).expect("workflow steps serialize");
    let change = match WorkflowEvent::from_recorded(event)? {
        WorkflowEvent::WorkflowDefined(e) => Change::Define {
            workspace_id: e.workspace_id,
            first: Version { version: 1, name: e.name, steps: steps(e.steps), output: e.output },
        },
        WorkflowEvent::WorkflowRevised(e) => {
            Change::Revise(Version { version: e.version as i32, name: e.name, steps: steps(e.steps), output: e.output })
        }
        WorkflowEvent::WorkflowArchived(_) => Change::Archive,
    };
    Ok(Some((id, change)))
}

/// Writes one workflow event. Every write sets state, so a replay changes nothing.
pub async fn apply(connection: &mut PgConnection, event: &RecordedEvent) -> anyhow::Result<()> {
    let Some((id, change)) = change(event)? else {
        return Ok(());
    };
    let version = match change {
        Change::Define { workspace_id, first } => {
            sqlx::query(
                "insert into rm_workflows (id, workspace_id, name, version, steps, output, updated_at) \
                 values ($1, $2, $3, $4, $5, $6, $7) on conflict (id) do nothing",
            )
            .bind(id)
            .bind(workspace_id)
            .bind(&first.name)
            .bind(first.version)
            .bind(&first.steps)
            .bind(&first.output)
            .bind(event.recorded_at)
            .execute(&mut *connection)
            .await?;
            first
        }
        Change::Revise(revised) => {
            sqlx::query(
                "update rm_workflows set name = $2, version = $3, steps = $4, output = $5, updated_at = $6 \
                  where id = $1 and version < $3",
            )
            .bind(id)
            .bind(&revised.name)
            .bind(revised.version)
            .bind(&revised.steps)
            .bind(&revised.output)
            .bind(event.recorded_at)
            .execute(&mut *connection)
            .await?;
            revised
        }
        Change::Archive => {
            sqlx::query("update rm_workflows set archived = true, updated_at = $2 where id = $1")
                .bind(id)
                .bind(event.recorded_at)
                .execute(&mut *connection)
                .await?;
            return Ok(());
        }
    };
    sqlx::query(
        "insert into rm_workflow_versions (workflow_id, version, name, steps, output) \
         values ($1, $2, $3, $4, $5) on conflict do nothing",
    )
    .bind(id)
    .bind(version.version)
    .bind(version.name)
    .bind(version.steps)
    .bind(version.output)
    .execute(connection)
    .await?;
    Ok(())
}

/// One `rm_workflows` row: the workflow at its current version.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct WorkflowRow {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub name: String,
    pub version: i32,
    pub steps: serde_json::Value,
    pub output: Option<serde_json::Value>,
    pub archived: bool,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

pub async fn workflow(executor: impl sqlx::PgExecutor<'_>, id: WorkflowId) -> sqlx::Result<Option<WorkflowRow>> {
    sqlx::query_as("select * from rm_workflows where id = $1").bind(id.uuid()).fetch_optional(executor).await
}

/// Up to `limit` of a workspace's workflows after `after` (by id, oldest first); archived ones
/// only when asked.
pub async fn page(
    executor: impl sqlx::PgExecutor<'_>,
    workspace_id: WorkspaceId,
    include_archived: bool,
    after: Uuid,
    limit: i64,
) -> sqlx::Result<Vec<WorkflowRow>> {
    sqlx::query_as(
        "select * from rm_workflows where workspace_id = $1 and id > $2 and ($3 or not archived) order by id limit $4",
    )
    .bind(workspace_id.uuid())
    .bind(after)
    .bind(include_archived)
    .bind(limit)
    .fetch_all(executor)
    .await
}

/// Every version of a workflow, oldest first.
pub async fn versions(
    executor: impl sqlx::PgExecutor<'_>,
    id: WorkflowId,
    after_version: i32,
    limit: i64,
) -> sqlx::Result<Vec<Version>> {
    let rows: Vec<(i32, String, serde_json::Value, Option<serde_json::Value>)> = sqlx::query_as(
        "select version, name, steps, output from rm_workflow_versions where workflow_id = $1 and version > $2 \
          order by version limit $3",
    )
    .bind(id.uuid())
    .bind(after_version)
    .bind(limit)
    .fetch_all(executor)
    .await?;
    Ok(rows.into_iter().map(|(version, name, steps, output)| Version { version, name, steps, output }).collect())
}
