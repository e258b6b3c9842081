//! How far each projection is: its position, lag behind the log's head, and last error.

use sqlx::PgExecutor;

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ProjectionStatus {
    pub name: String,
    pub position: i64,
    pub lag: i64,
    pub last_error: Option<String>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

pub async fn all(executor: impl PgExecutor<'_>) -> sqlx::Result<Vec<ProjectionStatus>> {
    sqlx::query_as(concat!(
        "select c.name, c.position, ",
        store::head_position_sql!(),
        " - c.position as lag, c.last_error, c.updated_at from projection_checkpoints c order by c.name"
    ))
    .fetch_all(executor)
    .await
}

/// The position up to which `projection` has applied every event.
pub async fn position(executor: impl PgExecutor<'_>, projection: &str) -> sqlx::Result<i64> {
    let row: Option<(i64,)> = sqlx::query_as("select position from projection_checkpoints where name = $1")
        .bind(projection)
        .fetch_optional(executor)
        .await?;
    Ok(row.map_or(0, |(position,)| position))
}
