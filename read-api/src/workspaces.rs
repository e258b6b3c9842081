//! GraphQL over the Workspaces read models: workspaces with their members, invitations, run
//! counters and summaries.

use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, Enum, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use projections::runs::RunStatus;
use projections::workspaces::WorkspaceRow;
use uuid::Uuid;

use crate::guard::{coded, internal, page_size, parse_id, role_in, services, viewer, wait_if_asked};

/// A member's role, as the domain defines it.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "events::workspace::Role")]
pub enum Role {
    Owner,
    Admin,
    Member,
    Viewer,
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

pub struct Workspace {
    row: WorkspaceRow,
    viewer_role: events::workspace::Role,
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
        self.viewer_role.into()
    }
    /// Its members in the order they joined: `first` of them (50 unless asked, at most 500)
    /// after the member `after` (a user id).
    #[graphql(complexity = "crate::guard::page_weight(first) * child_complexity")]
    async fn members(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Vec<Member>> {
        let limit = crate::guard::page_size(first)?;
        let members =
            projections::workspaces::members(&services(ctx).pool, self.row.id.into(), after.as_deref(), limit)
                .await
                .map_err(internal)?;
        Ok(members
            .into_iter()
            .map(|member| Member { user_id: member.user_id, role: member.role.into(), joined_at: member.joined_at })
            .collect())
    }
    /// The number of members, from the Redis summary when it is there.
    async fn member_count(&self, ctx: &Context<'_>) -> async_graphql::Result<i64> {
        let services = services(ctx);
        let mut redis = services.redis.clone();
        if let Some(count) = projections::live::member_count(&mut redis, &services.keys, self.row.id.into()).await {
            return Ok(count);
        }
        projections::workspaces::member_count(&services.pool, self.row.id.into()).await.map_err(internal)
    }
    /// How many of the workspace's runs are in each status, from Redis when it has them.
    async fn run_counts(&self, ctx: &Context<'_>) -> async_graphql::Result<RunCounts> {
        let services = services(ctx);
        let mut redis = services.redis.clone();
        let counts = match projections::live::run_counts(&mut redis, &services.keys, self.row.id.into()).await {
            Some(counts) => counts,
            None => projections::runs::counts(&services.pool, self.row.id.into()).await.map_err(internal)?,
        };
        Ok(RunCounts::from_pairs(&counts))
    }
    /// Invitations, pending and accepted, oldest first: `first` of them (50 unless asked, at
    /// most 500) after the invitation `after`; admins and owners only.
    #[graphql(complexity = "crate::guard::page_weight(first) * child_complexity")]
    async fn invitations(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<ID>,
    ) -> async_graphql::Result<Vec<Invitation>> {
        if !self.viewer_role.at_least(events::workspace::Role::Admin) {
            return Err(coded("FORBIDDEN", "only admins and owners see invitations"));
        }
        let limit = crate::guard::page_size(first)?;
        let after = after.as_ref().map(|after| crate::guard::parse_id(after, "after")).transpose()?;
        let pool = &services(ctx).pool;
        let mut rows =
            projections::workspaces::invitations(pool, self.row.id.into(), after, limit).await.map_err(internal)?;
        // The read model keeps emails sealed, as the log does.
        let emails = rows.iter_mut().map(|row| &mut row.email).collect();
        store::personal::reveal_texts(pool, emails).await.map_err(internal)?;
        Ok(rows
            .into_iter()
            .map(|row| Invitation {
                id: ID(row.invitation_id.to_string()),
                email: row.email,
                role: row.role.into(),
                invited_by: row.invited_by,
                invited_at: row.invited_at,
                accepted_by: row.accepted_by,
            })
            .collect())
    }
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
    fn from_pairs(pairs: &[(RunStatus, i64)]) -> RunCounts {
        let mut counts = RunCounts::default();
        for (status, count) in pairs {
            let slot = match status {
                RunStatus::Requested => &mut counts.requested,
                RunStatus::Rejected => &mut counts.rejected,
                RunStatus::Running => &mut counts.running,
                RunStatus::Succeeded => &mut counts.succeeded,
                RunStatus::Failed => &mut counts.failed,
                RunStatus::Cancelled => &mut counts.cancelled,
            };
            *slot = *count;
        }
        counts
    }
}

#[derive(Default)]
pub struct WorkspacesQuery;

#[Object]
impl WorkspacesQuery {
    /// A workspace the caller is a member of; null otherwise.
    async fn workspace(
        &self,
        ctx: &Context<'_>,
        id: ID,
        min_position: Option<i64>,
    ) -> async_graphql::Result<Option<Workspace>> {
        viewer(ctx)?;
        let id = parse_id(&id, "id")?;
        wait_if_asked(ctx, min_position).await;
        let Some(viewer_role) = role_in(ctx, id).await? else {
            return Ok(None);
        };
        let row = projections::workspaces::workspace(&services(ctx).pool, id).await.map_err(internal)?;
        Ok(row.map(|row| Workspace { row, viewer_role }))
    }

    /// The workspaces the caller is a member of, oldest first.
    #[graphql(complexity = "crate::guard::page_weight(first) * child_complexity")]
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
        let pool = &services(ctx).pool;
        let rows = projections::workspaces::memberships(pool, &claims.sub, after, limit + 1).await.map_err(internal)?;
        let has_next = rows.len() as i64 > limit;
        let mut connection = Connection::new(after != Uuid::nil(), has_next);
        for (viewer_role, row) in rows.into_iter().take(limit as usize) {
            connection.edges.push(Edge::new(row.id.to_string(), Workspace { row, viewer_role }));
        }
        Ok(connection)
    }
}
