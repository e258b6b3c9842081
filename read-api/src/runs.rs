//! GraphQL over the runs: a run with its steps, a workspace's runs by status, usage by agent
//! over a period, and the `runUpdated` subscription.

use async_graphql::connection::Connection;
use async_graphql::{ComplexObject, Context, Enum, ID, Json, Object, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};
use futures::{Stream, StreamExt};
use sqlx::PgPool;
use uuid::Uuid;

use crate::catalog::{if_member, member, page};
use crate::schema::{coded, internal, parse_id, services, viewer};

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum RunStatus {
    Requested,
    Rejected,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
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

/// The read model stores the enums' GraphQL names.
fn run_status(text: &str) -> RunStatus {
    match text {
        "REJECTED" => RunStatus::Rejected,
        "RUNNING" => RunStatus::Running,
        "SUCCEEDED" => RunStatus::Succeeded,
        "FAILED" => RunStatus::Failed,
        "CANCELLED" => RunStatus::Cancelled,
        _ => RunStatus::Requested,
    }
}

fn step_status(text: &str) -> StepStatus {
    match text {
        "SCHEDULED" => StepStatus::Scheduled,
        "RUNNING" => StepStatus::Running,
        "SUCCEEDED" => StepStatus::Succeeded,
        "FAILED" => StepStatus::Failed,
        "TIMED_OUT" => StepStatus::TimedOut,
        "CANCELLED" => StepStatus::Cancelled,
        _ => StepStatus::Pending,
    }
}

fn status_name(status: RunStatus) -> &'static str {
    match status {
        RunStatus::Requested => "REQUESTED",
        RunStatus::Rejected => "REJECTED",
        RunStatus::Running => "RUNNING",
        RunStatus::Succeeded => "SUCCEEDED",
        RunStatus::Failed => "FAILED",
        RunStatus::Cancelled => "CANCELLED",
    }
}

#[derive(Clone, sqlx::FromRow)]
pub struct Run {
    id: Uuid,
    workspace_id: Uuid,
    workflow_id: Uuid,
    workflow_version: i32,
    status: String,
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
        run_status(&self.status)
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
    status: String,
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
        step_status(&self.status)
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
        page(ctx, &workspace_id, sql, status.map(status_name), first, after, |run: &Run| run.id).await
    }

    /// What each agent used from `from` up to and excluding `to` (UTC days), most credits first.
    async fn usage(
        &self,
        ctx: &Context<'_>,
        workspace_id: ID,
        from: NaiveDate,
        to: NaiveDate,
    ) -> async_graphql::Result<Vec<AgentUsage>> {
        let claims = viewer(ctx)?;
        let workspace_id = parse_id(&workspace_id, "workspaceId")?;
        if to < from {
            return Err(coded("BAD_USER_INPUT", "`to` must not be before `from`"));
        }
        let pool = &services(ctx).pool;
        if !member(pool, workspace_id, &claims.sub).await? {
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

async fn load(pool: &PgPool, id: Uuid) -> async_graphql::Result<Option<Run>> {
    sqlx::query_as("select * from rm_runs where id = $1").bind(id).fetch_optional(pool).await.map_err(internal)
}

/// A change of a run, with the run as the read model shows it when the update is sent.
#[derive(SimpleObject, Clone)]
pub struct RunUpdate {
    /// The event's global position.
    pub position: i64,
    pub event_type: String,
    pub payload: Json<serde_json::Value>,
    pub run: Option<Run>,
}

/// Every event of the run, from its first, for members of its workspace: what is logged so
/// far, then each new event as the read models pass it.
pub(crate) async fn run_updated(
    ctx: &Context<'_>,
    run_id: &ID,
) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<RunUpdate>> + use<>> {
    let id = parse_id(run_id, "runId")?;
    let services = services(ctx);
    let pool = services.pool.clone();
    let stream_id = format!("run-{id}");
    // The log knows the run as soon as StartRun is answered; the read models a moment later,
    // and the membership check reads them: wait for them to know the run.
    let mut logged = store::read_stream(&pool, &stream_id, 0).await.map_err(internal)?;
    let first = logged.first().ok_or_else(|| coded("NOT_FOUND", "no run has this id"))?;
    let workspace_id = first.workspace_id().ok_or_else(|| coded("NOT_FOUND", "no run has this id"))?;
    crate::schema::await_position(services, None, first.position).await;
    let (_, _, feed) = crate::schema::member_feed(ctx, &ID(workspace_id.to_string())).await?;
    // The feed is subscribed: what the read models have passed comes from the log (what was
    // read above, and what came since), the rest from the feed, each event once.
    let passed = services.progress.current();
    let version = logged.last().map_or(0, |event| event.stream_version);
    logged.extend(store::read_stream(&pool, &stream_id, version).await.map_err(internal)?);
    store::present(&pool, &mut logged).await.map_err(internal)?;
    let history: Vec<async_graphql::Result<std::sync::Arc<crate::Activity>>> = logged
        .into_iter()
        .filter(|event| event.position <= passed)
        .map(|event| Ok(std::sync::Arc::new(crate::Activity::from(event))))
        .collect();
    let live = feed.filter(move |activity| {
        futures::future::ready(activity.as_ref().map_or(true, |a| a.stream_id == stream_id && a.position > passed))
    });
    Ok(futures::stream::iter(history).chain(live).then(move |activity| {
        let pool = pool.clone();
        async move {
            let activity = activity?;
            Ok(RunUpdate {
                position: activity.position,
                event_type: activity.event_type.clone(),
                payload: Json(activity.payload.clone()),
                run: load(&pool, id).await?,
            })
        }
    }))
}
