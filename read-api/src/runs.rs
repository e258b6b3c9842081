//! GraphQL over the runs: a run with its steps, a workspace's runs by status, usage by agent
//! over a period, and the `runUpdated` subscription.

use async_graphql::connection::Connection;
use async_graphql::{ComplexObject, Context, Enum, ID, Json, Object, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::guard::{coded, if_member, internal, page, parse_id, role_in, services};

/// A run's status, as the runs read model defines it.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "projections::runs::RunStatus")]
pub enum RunStatus {
    Requested,
    Rejected,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

/// A step's status, as the runs read model defines it.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "projections::runs::StepStatus")]
pub enum StepStatus {
    /// Waiting for its dependencies, or for its next attempt.
    Pending,
    Scheduled,
    Running,
    Succeeded,
    Failed,
    TimedOut,
    Cancelled,
}

#[derive(Clone, sqlx::FromRow)]
pub struct Run {
    id: Uuid,
    workspace_id: Uuid,
    workflow_id: Uuid,
    workflow_version: i32,
    #[sqlx(try_from = "String")]
    status: projections::runs::RunStatus,
    budget: i64,
    credits_used: i64,
    reason: Option<String>,
    input: serde_json::Value,
    started_by: String,
    requested_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
    updated_at: DateTime<Utc>,
}

#[Object]
impl Run {
    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }
    async fn workspace_id(&self) -> ID {
        ID(self.workspace_id.to_string())
    }
    async fn workflow_id(&self) -> ID {
        ID(self.workflow_id.to_string())
    }
    /// The workflow version the run follows.
    async fn workflow_version(&self) -> i32 {
        self.workflow_version
    }
    async fn status(&self) -> RunStatus {
        self.status.into()
    }
    /// The most credits the run may use.
    async fn budget(&self) -> i64 {
        self.budget
    }
    async fn credits_used(&self) -> i64 {
        self.credits_used
    }
    /// Why the run was rejected, failed (`step_failed`, `step_timed_out`, `budget_exhausted`)
    /// or was cancelled.
    async fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }
    async fn input(&self) -> Json<serde_json::Value> {
        Json(self.input.clone())
    }
    /// The user who started the run.
    async fn started_by(&self) -> &str {
        &self.started_by
    }
    async fn requested_at(&self) -> DateTime<Utc> {
        self.requested_at
    }
    async fn finished_at(&self) -> Option<DateTime<Utc>> {
        self.finished_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.updated_at
    }
    /// The steps in the workflow's order.
    async fn steps(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<RunStep>> {
        sqlx::query_as(
            "select step_id, agent_id, depends_on, status, attempts, output, error, tokens, duration_ms, cost \
               from rm_run_steps where run_id = $1 order by ordinal",
        )
        .bind(self.id)
        .fetch_all(&services(ctx).pool)
        .await
        .map_err(internal)
    }
}

#[derive(SimpleObject, Clone)]
pub struct StepUsage {
    pub tokens: i64,
    pub duration_ms: i64,
}

#[derive(SimpleObject, Clone, sqlx::FromRow)]
#[graphql(complex)]
pub struct RunStep {
    #[graphql(skip)]
    step_id: String,
    #[graphql(skip)]
    agent_id: Uuid,
    pub depends_on: Vec<String>,
    #[graphql(skip)]
    #[sqlx(try_from = "String")]
    status: projections::runs::StepStatus,
    /// Attempts made so far.
    pub attempts: i32,
    #[graphql(skip)]
    output: Option<serde_json::Value>,
    /// The last failed attempt's error.
    pub error: Option<String>,
    #[graphql(skip)]
    tokens: i64,
    #[graphql(skip)]
    duration_ms: i64,
    /// Credits the step's attempts cost.
    pub cost: i64,
}

#[ComplexObject]
impl RunStep {
    async fn id(&self) -> &str {
        &self.step_id
    }
    async fn agent_id(&self) -> ID {
        ID(self.agent_id.to_string())
    }
    async fn status(&self) -> StepStatus {
        self.status.into()
    }
    async fn output(&self) -> Option<Json<serde_json::Value>> {
        self.output.clone().map(Json)
    }
    /// Summed over the step's attempts.
    async fn usage(&self) -> StepUsage {
        StepUsage { tokens: self.tokens, duration_ms: self.duration_ms }
    }
}

/// What one agent used in a period.
#[derive(SimpleObject, Clone, sqlx::FromRow)]
#[graphql(complex)]
pub struct AgentUsage {
    #[graphql(skip)]
    agent_id: Uuid,
    pub attempts: i64,
    pub tokens: i64,
    pub credits: i64,
}

#[ComplexObject]
impl AgentUsage {
    async fn agent_id(&self) -> ID {
        ID(self.agent_id.to_string())
    }
}

#[derive(Default)]
pub struct RunsQuery;

#[Object]
impl RunsQuery {
    /// A run of a workspace the caller is a member of; null otherwise.
    async fn run(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Run>> {
        let id = parse_id(&id, "id")?;
        let run = load(&services(ctx).pool, id).await?;
        if_member(ctx, run, |run: &Run| run.workspace_id).await
    }

    /// A workspace's runs, oldest first, of one status when given.
    async fn runs(
        &self,
        ctx: &Context<'_>,
        workspace_id: ID,
        status: Option<RunStatus>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, Run>> {
        let sql = "select * from rm_runs where workspace_id = $1 and id > $2 and ($3::text is null or status = $3) \
                   order by id limit $4";
        page(
            ctx,
            &workspace_id,
            sql,
            status.map(|status| projections::runs::RunStatus::from(status).as_str()),
            first,
            after,
            |run: &Run| run.id,
        )
        .await
    }

    /// What each agent used from `from` up to and excluding `to` (UTC days), most credits first.
    async fn usage(
        &self,
        ctx: &Context<'_>,
        workspace_id: ID,
        from: NaiveDate,
        to: NaiveDate,
    ) -> async_graphql::Result<Vec<AgentUsage>> {
        let workspace_id = parse_id(&workspace_id, "workspaceId")?;
        if to < from {
            return Err(coded("BAD_USER_INPUT", "`to` must not be before `from`"));
        }
        let pool = &services(ctx).pool;
        if role_in(ctx, workspace_id).await?.is_none() {
            return Ok(Vec::new());
        }
        sqlx::query_as(
            "select agent_id, sum(attempts)::bigint as attempts, sum(tokens)::bigint as tokens, \
                    sum(credits)::bigint as credits \
               from rm_usage where workspace_id = $1 and day >= $2 and day < $3 \
              group by agent_id order by credits desc, agent_id",
        )
        .bind(workspace_id)
        .bind(from)
        .bind(to)
        .fetch_all(pool)
        .await
        .map_err(internal)
    }
}

pub(crate) async fn load(pool: &PgPool, id: Uuid) -> async_graphql::Result<Option<Run>> {
    sqlx::query_as("select * from rm_runs where id = $1").bind(id).fetch_optional(pool).await.map_err(internal)
}
