//! GraphQL over the runs: a run with its steps, a workspace's runs by status, and usage by
//! agent over a period, read through `projections::runs`.

use async_graphql::connection::Connection;
use async_graphql::{Context, Enum, ID, Json, Object, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};
use events::RunId;
use projections::runs::{ArtifactRow, RunRow, StepRow};
use sqlx::PgPool;

use crate::guard::{PageRequest, coded, if_member, internal, parse_id, role_in, services, viewer};

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

/// How a list of runs is ordered. Run ids are chosen by clients, so id order is not time order.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug, Default)]
pub enum RunOrder {
    /// By id (the order of before, kept as the default).
    #[default]
    Id,
    /// By the time each run was requested, newest first.
    NewestFirst,
    /// By the time each run was requested, oldest first.
    OldestFirst,
}

/// A cursor of a list in time order: `<requested_at in microseconds>.<id>`.
fn time_cursor(run: &Run) -> String {
    format!("{}.{}", run.0.requested_at.timestamp_micros(), run.0.id)
}

fn parse_time_cursor(cursor: &str) -> async_graphql::Result<(DateTime<Utc>, uuid::Uuid)> {
    let bad = || coded("BAD_USER_INPUT", "after is not a cursor of this list");
    let (micros, id) = cursor.split_once('.').ok_or_else(bad)?;
    let at = micros.parse().ok().and_then(DateTime::from_timestamp_micros).ok_or_else(bad)?;
    Ok((at, id.parse().map_err(|_| bad())?))
}

/// A step's status, as the runs read model defines it.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "projections::runs::StepStatus")]
pub enum StepStatus {
    /// Waiting for its dependencies, or for its next attempt.
    Pending,
    Scheduled,
    Running,
    /// An approval or signal step, waiting for its answer.
    Waiting,
    Succeeded,
    Failed,
    TimedOut,
    Cancelled,
}

#[derive(Clone)]
pub struct Run(RunRow);

#[Object]
impl Run {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn workspace_id(&self) -> ID {
        ID(self.0.workspace_id.to_string())
    }
    async fn workflow_id(&self) -> ID {
        ID(self.0.workflow_id.to_string())
    }
    /// The workflow version the run follows.
    async fn workflow_version(&self) -> i32 {
        self.0.workflow_version
    }
    async fn status(&self) -> RunStatus {
        self.0.status.into()
    }
    /// The most credits the run may use.
    async fn budget(&self) -> i64 {
        self.0.budget
    }
    async fn credits_used(&self) -> i64 {
        self.0.credits_used
    }
    /// Why the run was rejected, failed (`step_failed`, `step_timed_out`, `budget_exhausted`,
    /// `output_invalid`) or was cancelled.
    async fn reason(&self) -> Option<&str> {
        self.0.reason.as_deref()
    }
    #[graphql(complexity = "crate::guard::JSON_WEIGHT")]
    async fn input(&self) -> Json<serde_json::Value> {
        Json(self.0.input.clone())
    }
    /// What the run produced: its workflow's `output` template resolved, once it succeeded
    /// (null for a workflow without one).
    #[graphql(complexity = "crate::guard::JSON_WEIGHT")]
    async fn output(&self) -> Option<Json<serde_json::Value>> {
        self.0.output.clone().map(Json)
    }
    /// The failed or cancelled run this one retries.
    async fn retry_of(&self) -> Option<ID> {
        self.0.retry_of.map(|id| ID(id.to_string()))
    }
    /// The runs that retry this one, oldest first: `first` of them (50 unless asked, at most
    /// 500) after the run `after`.
    #[graphql(complexity = "crate::guard::page_weight(first) * child_complexity")]
    async fn retries(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<ID>,
    ) -> async_graphql::Result<Vec<Run>> {
        let limit = crate::guard::page_size(first)?;
        let after = match after {
            Some(after) => parse_id(&after, "after")?,
            None => uuid::Uuid::nil(),
        };
        let retries =
            projections::runs::retries(&services(ctx).pool, self.0.id.into(), after, limit).await.map_err(internal)?;
        Ok(retries.into_iter().map(Run).collect())
    }
    /// The user who started the run.
    async fn started_by(&self) -> &str {
        &self.0.started_by
    }
    async fn requested_at(&self) -> DateTime<Utc> {
        self.0.requested_at
    }
    async fn finished_at(&self) -> Option<DateTime<Utc>> {
        self.0.finished_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// The steps in the workflow's order.
    #[graphql(complexity = "crate::guard::STEPS * child_complexity")]
    async fn steps(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<RunStep>> {
        let steps = projections::runs::steps(&services(ctx).pool, self.0.id.into()).await.map_err(internal)?;
        Ok(steps.into_iter().map(RunStep).collect())
    }
}

#[derive(SimpleObject, Clone)]
pub struct StepUsage {
    /// Input and output tokens together.
    pub tokens: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub duration_ms: i64,
}

#[derive(Clone)]
pub struct RunStep(StepRow);

#[Object]
impl RunStep {
    async fn id(&self) -> &str {
        &self.0.step_id
    }
    async fn kind(&self) -> async_graphql::Result<crate::catalog::StepKind> {
        let kind = events::workflows::StepKind::parse(&self.0.kind);
        Ok(kind.ok_or_else(|| internal(format!("a step of unknown kind `{}`", self.0.kind)))?.into())
    }
    /// The agent that does its work; null for a step a person answers.
    async fn agent_id(&self) -> Option<ID> {
        self.0.agent_id.map(|id| ID(id.to_string()))
    }
    /// For an approval or a signal, the least role that may answer it.
    async fn approvers(&self) -> Option<crate::workspaces::Role> {
        self.0.approvers.as_deref().and_then(events::workspace::Role::parse).map(Into::into)
    }
    async fn depends_on(&self) -> &[String] {
        &self.0.depends_on
    }
    async fn status(&self) -> StepStatus {
        self.0.status.into()
    }
    /// Attempts made so far.
    async fn attempts(&self) -> i32 {
        self.0.attempts
    }
    /// What its current attempt got: its input template resolved, once scheduled.
    #[graphql(complexity = "crate::guard::JSON_WEIGHT")]
    async fn input(&self) -> Option<Json<serde_json::Value>> {
        self.0.input.clone().map(Json)
    }
    /// When its current attempt times out.
    async fn deadline(&self) -> Option<DateTime<Utc>> {
        self.0.deadline
    }
    /// When its next attempt is due, while it waits for one.
    async fn retry_at(&self) -> Option<DateTime<Utc>> {
        self.0.retry_at
    }
    /// The run whose result this step took over, when a retry reused it (no attempt, no cost).
    async fn reused_from(&self) -> Option<ID> {
        self.0.reused_from.map(|id| ID(id.to_string()))
    }
    #[graphql(complexity = "crate::guard::JSON_WEIGHT")]
    async fn output(&self) -> Option<Json<serde_json::Value>> {
        self.0.output.clone().map(Json)
    }
    /// The last failed attempt's error.
    async fn error(&self) -> Option<&str> {
        self.0.error.as_deref()
    }
    /// Summed over the step's attempts.
    async fn usage(&self) -> StepUsage {
        let (input_tokens, output_tokens) = (self.0.input_tokens, self.0.output_tokens);
        StepUsage {
            tokens: input_tokens.saturating_add(output_tokens),
            input_tokens,
            output_tokens,
            duration_ms: self.0.duration_ms,
        }
    }
    /// The files it produced, in the order it listed them.
    #[graphql(complexity = "crate::guard::ARTIFACTS * child_complexity")]
    async fn artifacts(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Artifact>> {
        let rows = projections::runs::step_artifacts(&services(ctx).pool, self.0.run_id.into(), &self.0.step_id)
            .await
            .map_err(internal)?;
        Ok(rows.into_iter().map(Artifact).collect())
    }
    /// Credits the step's attempts cost.
    async fn cost(&self) -> i64 {
        self.0.cost
    }
}

/// What one agent used on one day.
#[derive(SimpleObject, Clone)]
pub struct DailyUsage {
    /// The UTC day.
    pub day: NaiveDate,
    pub agent_id: ID,
    pub attempts: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub credits: i64,
}

/// The longest period `usageByDay` answers for.
const USAGE_DAYS_MAX: i64 = 366;

/// What one agent used in a period.
#[derive(SimpleObject, Clone)]
pub struct AgentUsage {
    pub agent_id: ID,
    pub attempts: i64,
    /// Input and output tokens together.
    pub tokens: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub credits: i64,
}

#[derive(Default)]
pub struct RunsQuery;

#[Object]
impl RunsQuery {
    /// A run of a workspace the caller is a member of; null otherwise.
    async fn run(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Run>> {
        let id = parse_id(&id, "id")?;
        let run = load(&services(ctx).pool, id).await?;
        if_member(ctx, run, |run: &Run| run.0.workspace_id.into()).await
    }

    /// A workspace's runs: of one status, of one workflow, and requested in `[from, to)`, each
    /// when given; by id unless `order` says by time (`NEWEST_FIRST` for a console's list).
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "crate::guard::page_weight(first) * child_complexity")]
    async fn runs(
        &self,
        ctx: &Context<'_>,
        workspace_id: ID,
        status: Option<RunStatus>,
        workflow_id: Option<ID>,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        #[graphql(default)] order: RunOrder,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, Run>> {
        use projections::runs::{RunFilter, RunsAfter};
        let workflow_id = workflow_id.map(|id| parse_id::<uuid::Uuid>(&id, "workflowId")).transpose()?;
        let filter = RunFilter { status: status.map(Into::into), workflow_id, from, to };
        // A cursor in time order is not an id: read here, not by the page request.
        let (id_after, time_after) = match (order, after) {
            (RunOrder::Id, after) => (after, None),
            (_, Some(cursor)) => (None, Some(parse_time_cursor(&cursor)?)),
            (_, None) => (None, None),
        };
        let Some(request) = PageRequest::of(ctx, &workspace_id, first, id_after).await? else {
            return Ok(Connection::new(false, false));
        };
        let after = match order {
            RunOrder::Id => RunsAfter::Id(request.after),
            RunOrder::NewestFirst => RunsAfter::NewestFirst(time_after),
            RunOrder::OldestFirst => RunsAfter::OldestFirst(time_after),
        };
        let pool = &services(ctx).pool;
        let rows = projections::runs::page(pool, request.workspace_id, &filter, after, request.rows())
            .await
            .map_err(internal)?;
        let runs: Vec<Run> = rows.into_iter().map(Run).collect();
        Ok(match order {
            RunOrder::Id => request.connection(runs, |run: &Run| run.0.id),
            _ => request.connection_with(runs, time_after.is_some(), time_cursor),
        })
    }

    /// What each agent used on each day from `from` up to and excluding `to` (UTC days, at most
    /// 366 of them), by day then agent: a chart's series.
    #[graphql(complexity = "200 * child_complexity")]
    async fn usage_by_day(
        &self,
        ctx: &Context<'_>,
        workspace_id: ID,
        from: NaiveDate,
        to: NaiveDate,
    ) -> async_graphql::Result<Vec<DailyUsage>> {
        viewer(ctx)?;
        let workspace_id = parse_id(&workspace_id, "workspaceId")?;
        if to < from || (to - from).num_days() > USAGE_DAYS_MAX {
            return Err(coded("BAD_USER_INPUT", "`to` must be from `from` to 366 days after it"));
        }
        if role_in(ctx, workspace_id).await?.is_none() {
            return Ok(Vec::new());
        }
        let usage =
            projections::runs::usage_by_day(&services(ctx).pool, workspace_id, from, to).await.map_err(internal)?;
        Ok(usage
            .into_iter()
            .map(|(day, agent_id, usage)| DailyUsage {
                day,
                agent_id: ID(agent_id.to_string()),
                attempts: usage.attempts,
                input_tokens: usage.input_tokens,
                output_tokens: usage.output_tokens,
                credits: usage.credits,
            })
            .collect())
    }

    /// What each agent used from `from` up to and excluding `to` (UTC days), most credits first.
    #[graphql(complexity = "50 * child_complexity")]
    async fn usage(
        &self,
        ctx: &Context<'_>,
        workspace_id: ID,
        from: NaiveDate,
        to: NaiveDate,
    ) -> async_graphql::Result<Vec<AgentUsage>> {
        viewer(ctx)?;
        let workspace_id = parse_id(&workspace_id, "workspaceId")?;
        if to < from {
            return Err(coded("BAD_USER_INPUT", "`to` must not be before `from`"));
        }
        if role_in(ctx, workspace_id).await?.is_none() {
            return Ok(Vec::new());
        }
        let usage =
            projections::runs::usage_by_agent(&services(ctx).pool, workspace_id, from, to).await.map_err(internal)?;
        Ok(usage
            .into_iter()
            .map(|(agent_id, usage)| AgentUsage {
                agent_id: ID(agent_id.to_string()),
                attempts: usage.attempts,
                tokens: usage.input_tokens.saturating_add(usage.output_tokens),
                input_tokens: usage.input_tokens,
                output_tokens: usage.output_tokens,
                credits: usage.credits,
            })
            .collect())
    }
}

/// A file a step produced: its metadata, the `version`th of its name in the workspace. The
/// bytes are where `uri` says.
#[derive(Clone)]
pub struct Artifact(ArtifactRow);

#[Object]
impl Artifact {
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn version(&self) -> i32 {
        self.0.version
    }
    async fn media_type(&self) -> &str {
        &self.0.media_type
    }
    /// In bytes.
    async fn size(&self) -> i64 {
        self.0.size
    }
    async fn sha256(&self) -> &str {
        &self.0.sha256
    }
    async fn uri(&self) -> &str {
        &self.0.uri
    }
    async fn run_id(&self) -> ID {
        ID(self.0.run_id.to_string())
    }
    async fn step_id(&self) -> &str {
        &self.0.step_id
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// An artifacts page's cursor: the position of the event that recorded the row, and its place
/// in that event's list.
fn artifact_cursor(row: &ArtifactRow) -> String {
    format!("{}.{}", row.position, row.ordinal)
}

fn parse_artifact_cursor(after: Option<&str>) -> async_graphql::Result<(i64, i32)> {
    let Some(after) = after else { return Ok((i64::MAX, i32::MAX)) };
    let cursor =
        after.split_once('.').and_then(|(position, ordinal)| Some((position.parse().ok()?, ordinal.parse().ok()?)));
    cursor.ok_or_else(|| coded("BAD_USER_INPUT", "after is not a cursor of this list"))
}

#[derive(Default)]
pub struct ArtifactsQuery;

#[Object]
impl ArtifactsQuery {
    /// A workspace's artifacts, newest first: of one name (each version) when `name` is given,
    /// else of every name. Empty for a workspace the caller is not a member of.
    #[graphql(complexity = "crate::guard::page_weight(first) * child_complexity")]
    async fn artifacts(
        &self,
        ctx: &Context<'_>,
        workspace_id: ID,
        name: Option<String>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, Artifact>> {
        viewer(ctx)?;
        let workspace_id = parse_id(&workspace_id, "workspaceId")?;
        let (limit, before) = (crate::guard::page_size(first)?, parse_artifact_cursor(after.as_deref())?);
        if role_in(ctx, workspace_id).await?.is_none() {
            return Ok(Connection::new(false, false));
        }
        let rows =
            projections::runs::artifacts_page(&services(ctx).pool, workspace_id, name.as_deref(), before, limit + 1)
                .await
                .map_err(internal)?;
        let mut connection = Connection::new(after.is_some(), rows.len() as i64 > limit);
        for row in rows.into_iter().take(limit as usize) {
            connection.edges.push(async_graphql::connection::Edge::new(artifact_cursor(&row), Artifact(row)));
        }
        Ok(connection)
    }

    /// A workspace's artifact by name: `version`, or the latest. Null for a workspace the caller
    /// is not a member of.
    async fn artifact(
        &self,
        ctx: &Context<'_>,
        workspace_id: ID,
        name: String,
        version: Option<i32>,
    ) -> async_graphql::Result<Option<Artifact>> {
        viewer(ctx)?;
        let workspace_id = parse_id(&workspace_id, "workspaceId")?;
        if role_in(ctx, workspace_id).await?.is_none() {
            return Ok(None);
        }
        let row =
            projections::runs::artifact(&services(ctx).pool, workspace_id, &name, version).await.map_err(internal)?;
        Ok(row.map(Artifact))
    }
}

pub(crate) async fn load(pool: &PgPool, id: RunId) -> async_graphql::Result<Option<Run>> {
    Ok(projections::runs::run(pool, id).await.map_err(internal)?.map(Run))
}
