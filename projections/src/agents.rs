//! The Agents read model: each agent's current definition.

use events::DomainEvent;
use events::RecordedEvent;
use events::agents::AgentEvent;
use sqlx::PgConnection;

/// Writes one agent event. Every write sets state, so a replay changes nothing.
pub async fn apply(connection: &mut PgConnection, event: &RecordedEvent) -> anyhow::Result<()> {
    let Some(id) = event.aggregate_id(events::Category::Agent) else {
        return Ok(());
    };
    match AgentEvent::from_recorded(event)? {
        AgentEvent::AgentRegistered(e) => {
            sqlx::query(
                "insert into rm_agents (id, workspace_id, name, kind, executor, per_call, per_1k_tokens, version, updated_at) \
                 values ($1, $2, $3, $4, $5, $6, $7, 1, $8) on conflict (id) do nothing",
            )
            .bind(id)
            .bind(e.workspace_id)
            .bind(&e.name)
            .bind(serde_json::to_value(e.kind)?.as_str().unwrap_or_default())
            .bind(serde_json::to_value(&e.executor)?)
            .bind(e.price.per_call as i64)
            .bind(e.price.per_1k_tokens as i64)
            .bind(event.recorded_at)
            .execute(&mut *connection)
            .await?;
        }
        AgentEvent::AgentUpdated(e) => {
            sqlx::query(
                "update rm_agents set name = $2, kind = $3, executor = $4, per_call = $5, per_1k_tokens = $6, \
                   version = $7, updated_at = $8 where id = $1 and version < $7",
            )
            .bind(id)
            .bind(&e.name)
            .bind(serde_json::to_value(e.kind)?.as_str().unwrap_or_default())
            .bind(serde_json::to_value(&e.executor)?)
            .bind(e.price.per_call as i64)
            .bind(e.price.per_1k_tokens as i64)
            .bind(e.version as i32)
            .bind(event.recorded_at)
            .execute(&mut *connection)
            .await?;
        }
        AgentEvent::AgentRetired(_) => {
            sqlx::query("update rm_agents set retired = true, updated_at = $2 where id = $1")
                .bind(id)
                .bind(event.recorded_at)
                .execute(&mut *connection)
                .await?;
        }
    }
    Ok(())
}
