//! The GraphQL schema: queries over the Workspaces read models, the audit trail, projection
//! status, and the `workspaceActivity` subscription. Every field is scoped by the caller's
//! membership.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_graphql::connection::{Connection, Edge};
use async_graphql::futures_util::Stream;
use async_graphql::{
    Context, EmptyMutation, Enum, ErrorExtensions, ID, Json, MergedObject, Object, Schema, SimpleObject, Subscription,
};
use chrono::{DateTime, Utc};
use platform::auth::{AuthError, Claims};
use platform::redis::Keys;
use redis::aio::ConnectionManager;
use sqlx::PgPool;
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

use futures::StreamExt;

use crate::activity::{Activity, ActivityFeed};
use crate::progress::Progress;

pub type OxbowSchema = Schema<Query, EmptyMutation, SubscriptionRoot>;

/// Every query: the workspace core and the catalog of agents and workflows.
#[derive(MergedObject, Default)]
pub struct Query(CoreQuery, crate::catalog::CatalogQuery, crate::catalog::BillingQuery, crate::runs::RunsQuery);

/// The caller, as their token says; an error when the token is missing or invalid.
#[derive(Clone)]
pub struct Viewer(pub Result<Claims, AuthError>);

/// Whether `minPosition` could be honoured, reported in the response's extensions.
#[derive(Clone, Default)]
pub struct MinPositionReport(pub Arc<Mutex<Option<serde_json::Value>>>);

/// What resolvers share.
#[derive(Clone)]
pub struct Services {
    pub pool: PgPool,
    pub redis: ConnectionManager,
    pub keys: Keys,
    pub progress: Progress,
    pub activity: ActivityFeed,
    pub min_position_timeout: Duration,
}

pub fn build_schema(services: Services) -> OxbowSchema {
    Schema::build(Query::default(), EmptyMutation, SubscriptionRoot)
        .data(services)
        .limit_depth(12)
        .limit_complexity(2_000)
        .finish()
}

pub(crate) fn coded(code: &'static str, message: impl Into<String>) -> async_graphql::Error {
    async_graphql::Error::new(message.into()).extend_with(|_, extensions| extensions.set("code", code))
}

pub(crate) fn internal(error: impl std::fmt::Display) -> async_graphql::Error {
    tracing::error!(%error, "a read failed");
    coded("INTERNAL", "the read failed; try again")
}

pub(crate) fn services<'a>(ctx: &Context<'a>) -> &'a Services {
    ctx.data_unchecked::<Services>()
}

pub(crate) fn viewer<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Claims> {
    match ctx.data_opt::<Viewer>() {
        Some(Viewer(Ok(claims))) => Ok(claims),
        Some(Viewer(Err(error))) => Err(coded("UNAUTHENTICATED", error.to_string())),
        None => Err(coded("UNAUTHENTICATED", "a bearer token is required")),
    }
}

/// Waits for the projection to reach `min_position`, bounded; records it when it could not.
pub(crate) async fn await_position(services: &Services, report: Option<&MinPositionReport>, min_position: i64) {
    if let Err(reached) = services.progress.wait_for(min_position, services.min_position_timeout).await
        && let Some(report) = report
    {
        *report.0.lock().expect("report lock") = Some(serde_json::json!({
            "requested": min_position,
            "reached": reached,
            "satisfied": false,
            "detail": "the read models had not reached minPosition in time; this response may not show your writes",
        }));
    }
}

async fn wait_if_asked(ctx: &Context<'_>, min_position: Option<i64>) {
    if let Some(min_position) = min_position {
        await_position(services(ctx), ctx.data_opt::<MinPositionReport>(), min_position).await;
    }
}

pub(crate) async fn role_of(pool: &PgPool, workspace_id: Uuid, user_id: &str) -> async_graphql::Result<Option<Role>> {
    let row: Option<(String,)> =
        sqlx::query_as("select role from rm_workspace_members where workspace_id = $1 and user_id = $2")
            .bind(workspace_id)
            .bind(user_id)
            .fetch_optional(pool)
            .await
            .map_err(internal)?;
    Ok(row.and_then(|(role,)| Role::parse(&role)))
}

pub(crate) fn parse_id(id: &ID, what: &str) -> async_graphql::Result<Uuid> {
    id.parse().map_err(|_| coded("BAD_USER_INPUT", format!("{what} must be a UUID")))
}

pub(crate) fn page_size(first: Option<i32>) -> async_graphql::Result<i64> {
    match first {
        None => Ok(50),
        Some(n) if (0..=500).contains(&n) => Ok(n as i64),
        Some(_) => Err(coded("BAD_USER_INPUT", "first must be between 0 and 500")),
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum Role {
    Owner,
    Admin,
    Member,
    Viewer,
}

impl Role {
    fn parse(role: &str) -> Option<Role> {
        match role {
            "owner" => Some(Role::Owner),
            "admin" => Some(Role::Admin),
            "member" => Some(Role::Member),
            "viewer" => Some(Role::Viewer),
            _ => None,
        }
    }

    fn at_least_admin(self) -> bool {
        matches!(self, Role::Owner | Role::Admin)
    }
}

#[derive(SimpleObject, Clone)]
pub struct Member {
    pub user_id: String,
    pub role: Role,
    pub joined_at: DateTime<Utc>,
}

#[derive(SimpleObject, Clone)]
pub struct Invitation {
    pub id: ID,
    pub email: String,
    pub role: Role,
    pub invited_by: String,
    pub invited_at: DateTime<Utc>,
    pub accepted_by: Option<String>,
}

#[derive(sqlx::FromRow)]
struct InvitationRow {
    invitation_id: Uuid,
    email: String,
    role: String,
    invited_by: String,
    invited_at: DateTime<Utc>,
    accepted_by: Option<String>,
}

/// A workspace with the caller's role in it.
#[derive(sqlx::FromRow)]
struct MembershipRow {
    role: String,
    #[sqlx(flatten)]
    workspace: WorkspaceRow,
}

#[derive(Clone, sqlx::FromRow)]
struct WorkspaceRow {
    id: Uuid,
    name: String,
    suspended: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    version: i64,
    position: i64,
}

pub struct Workspace {
    row: WorkspaceRow,
    viewer_role: Role,
}

#[Object]
impl Workspace {
    async fn id(&self) -> ID {
        ID(self.row.id.to_string())
    }
    async fn name(&self) -> &str {
        &self.row.name
    }
    async fn suspended(&self) -> bool {
        self.row.suspended
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.row.updated_at
    }
    /// The version of the workspace's stream the read model shows.
    async fn version(&self) -> i64 {
        self.row.version
    }
    /// The global position of the last event the read model shows.
    async fn position(&self) -> i64 {
        self.row.position
    }
    /// The caller's own role.
    async fn my_role(&self) -> Role {
        self.viewer_role
    }
    async fn members(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Member>> {
        let rows: Vec<(String, String, DateTime<Utc>)> = sqlx::query_as(
            "select user_id, role, joined_at from rm_workspace_members where workspace_id = $1 order by joined_at, user_id",
        )
        .bind(self.row.id)
        .fetch_all(&services(ctx).pool)
        .await
        .map_err(internal)?;
        Ok(rows
            .into_iter()
            .filter_map(|(user_id, role, joined_at)| Some(Member { user_id, role: Role::parse(&role)?, joined_at }))
            .collect())
    }
    /// The number of members, from the Redis summary when it is there.
    async fn member_count(&self, ctx: &Context<'_>) -> async_graphql::Result<i64> {
        let services = services(ctx);
        let mut redis = services.redis.clone();
        let cached: redis::RedisResult<Option<i64>> = redis::cmd("HGET")
            .arg(services.keys.key(&format!("workspace:{}", self.row.id)))
            .arg("member_count")
            .query_async(&mut redis)
            .await;
        if let Ok(Some(count)) = cached {
            return Ok(count);
        }
        let (count,): (i64,) = sqlx::query_as("select count(*) from rm_workspace_members where workspace_id = $1")
            .bind(self.row.id)
            .fetch_one(&services.pool)
            .await
            .map_err(internal)?;
        Ok(count)
    }
    /// How many of the workspace's runs are in each status, from Redis when it has them.
    async fn run_counts(&self, ctx: &Context<'_>) -> async_graphql::Result<RunCounts> {
        let services = services(ctx);
        let mut redis = services.redis.clone();
        let cached: redis::RedisResult<Vec<(String, i64)>> = redis::cmd("HGETALL")
            .arg(services.keys.key(&format!("workspace:{}:runs", self.row.id)))
            .query_async(&mut redis)
            .await;
        let counts = match cached {
            Ok(counts) if !counts.is_empty() => counts,
            _ => sqlx::query_as("select status, count(*) from rm_runs where workspace_id = $1 group by status")
                .bind(self.row.id)
                .fetch_all(&services.pool)
                .await
                .map_err(internal)?,
        };
        Ok(RunCounts::from_pairs(&counts))
    }
    /// Invitations, pending and accepted; admins and owners only.
    async fn invitations(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Invitation>> {
        if !self.viewer_role.at_least_admin() {
            return Err(coded("FORBIDDEN", "only admins and owners see invitations"));
        }
        let rows: Vec<InvitationRow> = sqlx::query_as(
            "select invitation_id, email, role, invited_by, invited_at, accepted_by from rm_workspace_invitations \
              where workspace_id = $1 order by invited_at",
        )
        .bind(self.row.id)
        .fetch_all(&services(ctx).pool)
        .await
        .map_err(internal)?;
        let mut rows = rows;
        // The read model keeps emails sealed, as the log does.
        let emails = rows.iter_mut().map(|row| &mut row.email).collect();
        store::personal::reveal_texts(&services(ctx).pool, emails).await.map_err(internal)?;
        Ok(rows
            .into_iter()
            .filter_map(|row| {
                Some(Invitation {
                    id: ID(row.invitation_id.to_string()),
                    email: row.email,
                    role: Role::parse(&row.role)?,
                    invited_by: row.invited_by,
                    invited_at: row.invited_at,
                    accepted_by: row.accepted_by,
                })
            })
            .collect())
    }
}

/// One event of the audit trail.
#[derive(SimpleObject, Clone)]
pub struct LoggedEvent {
    pub position: i64,
    pub stream_id: String,
    pub stream_version: i64,
    pub event_id: ID,
    pub event_type: String,
    pub schema_version: i32,
    pub payload: Json<serde_json::Value>,
    pub actor: Option<String>,
    pub correlation_id: Option<String>,
    pub causation_id: Option<String>,
    pub recorded_at: DateTime<Utc>,
}

impl From<events::RecordedEvent> for LoggedEvent {
    fn from(event: events::RecordedEvent) -> LoggedEvent {
        let metadata = |key: &str| event.metadata.get(key).and_then(|v| v.as_str()).map(str::to_owned);
        LoggedEvent {
            actor: metadata("actor"),
            correlation_id: metadata("correlation_id"),
            causation_id: metadata("causation_id"),
            position: event.position,
            event_id: ID(event.event_id.to_string()),
            stream_version: event.stream_version,
            event_type: event.event_type,
            schema_version: event.schema_version,
            stream_id: event.stream_id,
            payload: Json(event.payload),
            recorded_at: event.recorded_at,
        }
    }
}

#[derive(SimpleObject, Clone)]
pub struct ProjectionStatus {
    pub name: String,
    /// Every event at or below this position is applied.
    pub position: i64,
    /// Events logged but not applied yet.
    pub lag: i64,
    pub last_error: Option<String>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Default)]
pub struct CoreQuery;

#[Object]
impl CoreQuery {
    /// A workspace the caller is a member of; null otherwise.
    async fn workspace(
        &self,
        ctx: &Context<'_>,
        id: ID,
        min_position: Option<i64>,
    ) -> async_graphql::Result<Option<Workspace>> {
        let claims = viewer(ctx)?;
        let id = parse_id(&id, "id")?;
        wait_if_asked(ctx, min_position).await;
        let services = services(ctx);
        let Some(viewer_role) = role_of(&services.pool, id, &claims.sub).await? else {
            return Ok(None);
        };
        let row: Option<WorkspaceRow> = sqlx::query_as(
            "select id, name, suspended, created_at, updated_at, version, position from rm_workspaces where id = $1",
        )
        .bind(id)
        .fetch_optional(&services.pool)
        .await
        .map_err(internal)?;
        Ok(row.map(|row| Workspace { row, viewer_role }))
    }

    /// The workspaces the caller is a member of, oldest first.
    async fn workspaces(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        min_position: Option<i64>,
    ) -> async_graphql::Result<Connection<String, Workspace>> {
        let claims = viewer(ctx)?;
        let limit = page_size(first)?;
        let after = match after {
            None => Uuid::nil(),
            Some(cursor) => {
                cursor.parse().map_err(|_| coded("BAD_USER_INPUT", "after is not a cursor of this list"))?
            }
        };
        wait_if_asked(ctx, min_position).await;
        let rows: Vec<MembershipRow> = sqlx::query_as(
            "select m.role, w.id, w.name, w.suspended, w.created_at, w.updated_at, w.version, w.position \
               from rm_workspace_members m join rm_workspaces w on w.id = m.workspace_id \
              where m.user_id = $1 and w.id > $2 order by w.id limit $3",
        )
        .bind(&claims.sub)
        .bind(after)
        .bind(limit + 1)
        .fetch_all(&services(ctx).pool)
        .await
        .map_err(internal)?;
        let has_next = rows.len() as i64 > limit;
        let mut connection = Connection::new(after != Uuid::nil(), has_next);
        for MembershipRow { role, workspace: row } in rows.into_iter().take(limit as usize) {
            let Some(viewer_role) = Role::parse(&role) else {
                continue;
            };
            connection.edges.push(Edge::new(row.id.to_string(), Workspace { row, viewer_role }));
        }
        Ok(connection)
    }

    /// The audit trail of a stream, in order. Members of the stream's workspace only.
    async fn events(
        &self,
        ctx: &Context<'_>,
        stream: String,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, LoggedEvent>> {
        let claims = viewer(ctx)?;
        let limit = page_size(first)?;
        let after_version: i64 = match after {
            None => 0,
            Some(cursor) => {
                cursor.parse().map_err(|_| coded("BAD_USER_INPUT", "after is not a cursor of this list"))?
            }
        };
        let services = services(ctx);
        let mut events = store::read_stream(&services.pool, &stream, after_version).await.map_err(internal)?;
        store::present(&services.pool, &mut events).await.map_err(internal)?;
        let workspace = match events.first() {
            Some(event) => event.workspace_id(),
            None => store::read_stream(&services.pool, &stream, 0)
                .await
                .map_err(internal)?
                .first()
                .and_then(|e| e.workspace_id()),
        };
        let member = match workspace {
            Some(workspace) => role_of(&services.pool, workspace, &claims.sub).await?.is_some(),
            None => false,
        };
        if !member {
            // Unknown and forbidden look the same, so nothing leaks about other tenants.
            return Ok(Connection::new(false, false));
        }
        let has_next = events.len() as i64 > limit;
        let mut connection = Connection::new(after_version > 0, has_next);
        for event in events.into_iter().take(limit as usize) {
            connection.edges.push(Edge::new(event.stream_version.to_string(), LoggedEvent::from(event)));
        }
        Ok(connection)
    }

    /// Each projection's position and lag behind the log.
    async fn projections(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ProjectionStatus>> {
        viewer(ctx)?;
        let statuses = projections::status::all(&services(ctx).pool).await.map_err(internal)?;
        Ok(statuses
            .into_iter()
            .map(|s| ProjectionStatus {
                name: s.name,
                position: s.position,
                lag: s.lag,
                last_error: s.last_error,
                updated_at: s.updated_at,
            })
            .collect())
    }
}

/// A change in a workspace, pushed once the read models show it.
#[derive(SimpleObject, Clone)]
pub struct ActivityEvent {
    /// The event's global position.
    pub position: i64,
    pub event_type: String,
    pub stream_id: String,
    pub workspace_id: ID,
    pub actor: Option<String>,
    pub recorded_at: DateTime<Utc>,
    pub payload: Json<serde_json::Value>,
}

pub struct SubscriptionRoot;

#[Subscription]
impl SubscriptionRoot {
    /// Every event of a workspace, in log order, from now on. Members only. Ends after the
    /// caller is removed from the workspace.
    async fn workspace_activity(
        &self,
        ctx: &Context<'_>,
        workspace_id: ID,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<ActivityEvent>>> {
        let (viewer, id, feed) = member_feed(ctx, &workspace_id).await?;
        // Ends right after the caller's own removal is delivered, without waiting for more.
        let stream = futures::stream::unfold((feed.boxed(), false), move |(mut feed, ended)| {
            let viewer = viewer.clone();
            async move {
                if ended {
                    return None;
                }
                let activity = feed.next().await?;
                let mut removed = false;
                let item = activity.map(|activity| {
                    removed = activity.event_type == "MemberRemoved"
                        && activity.payload.get("user_id").and_then(|v| v.as_str()) == Some(viewer.as_str());
                    ActivityEvent {
                        position: activity.position,
                        event_type: activity.event_type.clone(),
                        stream_id: activity.stream_id.clone(),
                        workspace_id: ID(id.to_string()),
                        actor: activity.actor.clone(),
                        recorded_at: activity.recorded_at,
                        payload: Json(activity.payload.clone()),
                    }
                });
                Some((item, (feed, removed)))
            }
        });
        Ok(stream)
    }

    /// Every change of a run (its steps' progress, its end) in log order: those logged so far,
    /// then each new one, with the run as a query shows it. Members of the run's workspace only.
    async fn run_updated(
        &self,
        ctx: &Context<'_>,
        run_id: ID,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<crate::runs::RunUpdate>>> {
        crate::runs::run_updated(ctx, &run_id).await
    }

    /// Every change of a workspace's credits, in log order, from now on. Members only.
    async fn balance_changed(
        &self,
        ctx: &Context<'_>,
        workspace_id: ID,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<BalanceChange>>> {
        let (_, id, feed) = member_feed(ctx, &workspace_id).await?;
        let pool = services(ctx).pool.clone();
        let billing_stream = format!("billing-{id}");
        let stream = feed
            .filter(move |activity| {
                futures::future::ready(activity.as_ref().map_or(true, |a| a.stream_id == billing_stream))
            })
            .then(move |activity| {
                let pool = pool.clone();
                async move {
                    let activity = activity?;
                    Ok(BalanceChange {
                        position: activity.position,
                        event_type: activity.event_type.clone(),
                        payload: Json(activity.payload.clone()),
                        account: crate::catalog::billing_account(&pool, id).await?,
                    })
                }
            });
        Ok(stream)
    }
}

/// The caller, the workspace and its events from now on, once the caller is known to be a
/// member. A subscriber that falls behind gets a LAGGED error and its stream ends.
pub(crate) async fn member_feed(
    ctx: &Context<'_>,
    workspace_id: &ID,
) -> async_graphql::Result<(String, Uuid, impl Stream<Item = async_graphql::Result<Arc<Activity>>> + use<>)> {
    let viewer = viewer(ctx)?.sub.clone();
    let id = parse_id(workspace_id, "workspaceId")?;
    let services = services(ctx);
    // Subscribe before checking, so nothing between the check and the first event is lost.
    let receiver = services.activity.subscribe();
    if role_of(&services.pool, id, &viewer).await?.is_none() {
        return Err(coded("FORBIDDEN", "not a member of this workspace"));
    }
    let feed = futures::stream::unfold(Some(receiver), move |receiver| async move {
        let mut receiver = receiver?;
        loop {
            match receiver.recv().await {
                Ok(activity) if activity.workspace_id == Some(id) => return Some((Ok(activity), Some(receiver))),
                Ok(_) => continue,
                Err(RecvError::Lagged(missed)) => {
                    let error = coded("LAGGED", format!("fell {missed} events behind; subscribe again"));
                    return Some((Err(error), None));
                }
                Err(RecvError::Closed) => return None,
            }
        }
    });
    Ok((viewer, id, feed))
}

/// A workspace's runs by status.
#[derive(SimpleObject, Clone, Default)]
pub struct RunCounts {
    pub requested: i64,
    pub rejected: i64,
    pub running: i64,
    pub succeeded: i64,
    pub failed: i64,
    pub cancelled: i64,
}

impl RunCounts {
    fn from_pairs(pairs: &[(String, i64)]) -> RunCounts {
        let mut counts = RunCounts::default();
        for (status, count) in pairs {
            let slot = match status.as_str() {
                "REQUESTED" => &mut counts.requested,
                "REJECTED" => &mut counts.rejected,
                "RUNNING" => &mut counts.running,
                "SUCCEEDED" => &mut counts.succeeded,
                "FAILED" => &mut counts.failed,
                "CANCELLED" => &mut counts.cancelled,
                _ => continue,
            };
            *slot = *count;
        }
        counts
    }
}

/// A change of a workspace's credits, with the account as the read model shows it then.
#[derive(SimpleObject, Clone)]
pub struct BalanceChange {
    /// The event's global position.
    pub position: i64,
    pub event_type: String,
    /// What the event moved, as logged.
    pub payload: Json<serde_json::Value>,
    pub account: Option<crate::catalog::BillingAccount>,
}
