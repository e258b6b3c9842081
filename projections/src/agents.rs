//! The Agents read model: each agent's current definition.

use events::agents::{AgentEvent, AgentKind, Executor, Price};
use events::{AgentId, Category, DomainEvent, RecordedEvent, WorkspaceId};
use sqlx::PgConnection;
use uuid::Uuid;

/// An agent's definition as the read model stores it.
#[derive(Debug, Clone, PartialEq)]
pub struct Definition {
    pub name: String,
    pub kind: String,
    pub executor: serde_json::Value,
    pub per_call: i64,
    pub per_1k_input_tokens: i64,
    pub per_1k_output_tokens: i64,
}

impl Definition {
    fn new(name: String, kind: AgentKind, executor: &Executor, price: Price) -> Definition {
        let kind = serde_json::to_value(kind).expect("agent kinds serialize");
        Definition {
            name,
            kind: kind.as_str().unwrap_or_default().to_owned(),
            executor: serde_json::to_value(executor).expect("executors serialize"),
            per_call: price.per_call as i64,
            per_1k_input_tokens: i64::try_from(price.per_1k_input_tokens).unwrap_or(i64::MAX),
            per_1k_output_tokens: i64::try_from(price.per_1k_output_tokens).unwrap_or(i64::MAX),
        }
    }
}

/// One change to the Agents read model.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Register {
        workspace_id: Uuid,
        definition: Definition,
    },
    /// The definition at `version`, when the row is older.
    Update {
        version: i32,
        definition: Definition,
    },
    Retire,
}

/// The agent an event is about, and what it changes. Events of other contexts change nothing.
pub fn change(event: &RecordedEvent) -> Result<Option<(Uuid, Change)>, events::Error> {
    let Some(id) = event.aggregate_id(Category::Agent) else {
        return Ok(None);
    };
    let change = match AgentEvent::from_recorded(event)? {
        AgentEvent::AgentRegistered(e) => Change::Register {
            workspace_id: e.workspace_id,
            definition: Definition::new(e.name, e.kind, &e.executor, e.price),
        },
        AgentEvent::AgentUpdated(e) => Change::Update {
            version: e.version as i32,
            definition: Definition::new(e.name, e.kind, &e.executor, e.price),
        },
        AgentEvent::AgentRetired(_) => Change::Retire,
        // Credentials are listed from the agent's own stream, to its admins only.
        AgentEvent::WorkerCredentialIssued(_) | AgentEvent::WorkerCredentialRevoked(_) => return Ok(None),
        // A webhook's signing secret is for the executor that signs; no read model holds it.
        AgentEvent::WebhookSecretIssued(_) => return Ok(None),
    };
    Ok(Some((id, change)))
}

/// Writes one agent event. Every write sets state, so a replay changes nothing.
pub async fn apply(connection: &mut PgConnection, event: &RecordedEvent) -> anyhow::Result<()> {
    let Some((id, change)) = change(event)? else {
        return Ok(());
    };
    match change {
        Change::Register { workspace_id, definition: d } => {
            sqlx::query(
                "insert into rm_agents (id, workspace_id, name, kind, executor, per_call, per_1k_input_tokens, \
                                        per_1k_output_tokens, version, updated_at) \
                 values ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9) on conflict (id) do nothing",
            )
            .bind(id)
            .bind(workspace_id)
            .bind(d.name)
            .bind(d.kind)
            .bind(d.executor)
            .bind(d.per_call)
            .bind(d.per_1k_input_tokens)
            .bind(d.per_1k_output_tokens)
            .bind(event.recorded_at)
            .execute(connection)
            .await?;
        }
        Change::Update { version, definition: d } => {
            sqlx::query(
                "update rm_agents set name = $2, kind = $3, executor = $4, per_call = $5, per_1k_input_tokens = $6, \
                   per_1k_output_tokens = $7, version = $8, updated_at = $9 where id = $1 and version < $8",
            )
            .bind(id)
            .bind(d.name)
            .bind(d.kind)
            .bind(d.executor)
            .bind(d.per_call)
            .bind(d.per_1k_input_tokens)
            .bind(d.per_1k_output_tokens)
            .bind(version)
            .bind(event.recorded_at)
            .execute(connection)
            .await?;
        }
        Change::Retire => {
            sqlx::query("update rm_agents set retired = true, updated_at = $2 where id = $1")
                .bind(id)
                .bind(event.recorded_at)
                .execute(connection)
                .await?;
        }
    }
    Ok(())
}

/// One `rm_agents` row.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct AgentRow {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub name: String,
    pub kind: String,
    pub executor: serde_json::Value,
    pub per_call: i64,
    pub per_1k_input_tokens: i64,
    pub per_1k_output_tokens: i64,
    pub version: i32,
    pub retired: bool,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

pub async fn agent(executor: impl sqlx::PgExecutor<'_>, id: AgentId) -> sqlx::Result<Option<AgentRow>> {
    sqlx::query_as("select * from rm_agents where id = $1").bind(id.uuid()).fetch_optional(executor).await
}

/// Up to `limit` of a workspace's agents after `after` (by id, oldest first); retired ones
/// only when asked.
pub async fn page(
    executor: impl sqlx::PgExecutor<'_>,
    workspace_id: WorkspaceId,
    include_retired: bool,
    after: Uuid,
    limit: i64,
) -> sqlx::Result<Vec<AgentRow>> {
    sqlx::query_as(
        "select * from rm_agents where workspace_id = $1 and id > $2 and ($3 or not retired) order by id limit $4",
    )
    .bind(workspace_id.uuid())
    .bind(after)
    .bind(include_retired)
    .bind(limit)
    .fetch_all(executor)
    .await
}

/// A credential in force for an agent's worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerCredentialRow {
    pub id: Uuid,
    pub issued_at: chrono::DateTime<chrono::Utc>,
    /// Who issued it, as the event's metadata says.
    pub issued_by: String,
}

/// The credentials in force for the agent's worker, oldest first. Folded from the agent's
/// stream: the read model keeps no credentials, and a revocation counts the moment it is
/// appended.
pub async fn worker_credentials(
    executor: impl sqlx::PgExecutor<'_>,
    id: AgentId,
) -> anyhow::Result<Vec<WorkerCredentialRow>> {
    let history = store::read_stream(executor, &id.stream().to_string(), 0).await?;
    let mut credentials: Vec<WorkerCredentialRow> = Vec::new();
    for event in &history {
        match AgentEvent::from_recorded(event)? {
            AgentEvent::WorkerCredentialIssued(issued) => credentials.push(WorkerCredentialRow {
                id: issued.credential_id,
                issued_at: event.recorded_at,
                issued_by: event.actor().unwrap_or_default().to_owned(),
            }),
            AgentEvent::WorkerCredentialRevoked(revoked) => {
                credentials.retain(|credential| credential.id != revoked.credential_id)
            }
            AgentEvent::AgentRetired(_) => credentials.clear(),
            _ => {}
        }
    }
    Ok(credentials)
}
