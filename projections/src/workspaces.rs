//! The Workspaces projection: workspaces, their members and invitations.

use chrono::{DateTime, Utc};
use events::workspace::{Role, WorkspaceEvent};
use events::{DomainEvent, RecordedEvent, WorkspaceId};
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

/// One change to the Workspaces read model.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Create { name: String, created_by: String },
    Rename { name: String },
    SetSuspended(bool),
    PutMember { user_id: String, role: Role },
    RemoveMember { user_id: String },
    Invite { invitation_id: Uuid, email: String, role: Role, invited_by: String },
    Accept { invitation_id: Uuid, user_id: String },
}

/// The workspace an event is about, and what it changes. Events of other contexts change nothing.
pub fn changes(event: &RecordedEvent) -> anyhow::Result<Option<(Uuid, Vec<Change>)>> {
    let Some(workspace_id) = event.aggregate_id(events::Category::Workspace) else {
        return Ok(None);
    };
    let changes = match WorkspaceEvent::from_recorded(event)? {
        WorkspaceEvent::WorkspaceCreated(e) => vec![
            Change::Create { name: e.name, created_by: e.owner_id.clone() },
            Change::PutMember { user_id: e.owner_id, role: Role::Owner },
        ],
        WorkspaceEvent::WorkspaceRenamed(e) => vec![Change::Rename { name: e.name }],
        WorkspaceEvent::MemberInvited(e) => vec![Change::Invite {
            invitation_id: e.invitation_id,
            email: e.email,
            role: e.role,
            invited_by: e.invited_by,
        }],
        WorkspaceEvent::InvitationAccepted(e) => vec![
            Change::Accept { invitation_id: e.invitation_id, user_id: e.user_id.clone() },
            Change::PutMember { user_id: e.user_id, role: e.role },
        ],
        WorkspaceEvent::MemberRoleChanged(e) => vec![Change::PutMember { user_id: e.user_id, role: e.role }],
        WorkspaceEvent::MemberRemoved(e) => vec![Change::RemoveMember { user_id: e.user_id }],
        WorkspaceEvent::WorkspaceSuspended(_) => vec![Change::SetSuspended(true)],
        WorkspaceEvent::WorkspaceReactivated(_) => vec![Change::SetSuspended(false)],
    };
    Ok(Some((workspace_id, changes)))
}

/// Writes one event's changes. Every write sets state rather than adding to it, so applying an
/// event twice leaves the same rows.
pub async fn apply(connection: &mut PgConnection, event: &RecordedEvent) -> anyhow::Result<Option<Uuid>> {
    let Some((workspace_id, changes)) = changes(event)? else {
        return Ok(None);
    };
    let at: DateTime<Utc> = event.recorded_at;
    for change in changes {
        match change {
            Change::Create { name, created_by } => {
                sqlx::query(
                    "insert into rm_workspaces (id, name, created_by, created_at, updated_at, version, position) \
                     values ($1, $2, $3, $4, $4, $5, $6) on conflict (id) do nothing",
                )
                .bind(workspace_id)
                .bind(name)
                .bind(created_by)
                .bind(at)
                .bind(event.stream_version)
                .bind(event.position)
                .execute(&mut *connection)
                .await?;
            }
            Change::Rename { name } => {
                sqlx::query("update rm_workspaces set name = $2 where id = $1")
                    .bind(workspace_id)
                    .bind(name)
                    .execute(&mut *connection)
                    .await?;
            }
            Change::SetSuspended(suspended) => {
                sqlx::query("update rm_workspaces set suspended = $2 where id = $1")
                    .bind(workspace_id)
                    .bind(suspended)
                    .execute(&mut *connection)
                    .await?;
            }
            Change::PutMember { user_id, role } => {
                sqlx::query(
                    "insert into rm_workspace_members (workspace_id, user_id, role, joined_at) values ($1, $2, $3, $4) \
                     on conflict (workspace_id, user_id) do update set role = excluded.role",
                )
                .bind(workspace_id)
                .bind(user_id)
                .bind(role.as_str())
                .bind(at)
                .execute(&mut *connection)
                .await?;
            }
            Change::RemoveMember { user_id } => {
                sqlx::query("delete from rm_workspace_members where workspace_id = $1 and user_id = $2")
                    .bind(workspace_id)
                    .bind(user_id)
                    .execute(&mut *connection)
                    .await?;
            }
            Change::Invite { invitation_id, email, role, invited_by } => {
                sqlx::query(
                    "insert into rm_workspace_invitations \
                       (invitation_id, workspace_id, email, role, invited_by, invited_at) \
                     values ($1, $2, $3, $4, $5, $6) on conflict (invitation_id) do nothing",
                )
                .bind(invitation_id)
                .bind(workspace_id)
                .bind(email)
                .bind(role.as_str())
                .bind(invited_by)
                .bind(at)
                .execute(&mut *connection)
                .await?;
            }
            Change::Accept { invitation_id, user_id } => {
                sqlx::query(
                    "update rm_workspace_invitations set accepted_by = $2, accepted_at = $3 where invitation_id = $1",
                )
                .bind(invitation_id)
                .bind(user_id)
                .bind(at)
                .execute(&mut *connection)
                .await?;
            }
        }
    }
    sqlx::query(
        "update rm_workspaces set version = greatest(version, $2), position = greatest(position, $3), \
         updated_at = greatest(updated_at, $4) where id = $1",
    )
    .bind(workspace_id)
    .bind(event.stream_version)
    .bind(event.position)
    .bind(at)
    .execute(&mut *connection)
    .await?;
    Ok(Some(workspace_id))
}

/// The user's role in the workspace; `None` when they are not a member. Every read of a
/// workspace's data is scoped by this.
pub async fn role_of(
    executor: impl PgExecutor<'_>,
    workspace_id: WorkspaceId,
    user_id: &str,
) -> sqlx::Result<Option<Role>> {
    let row: Option<(String,)> =
        sqlx::query_as("select role from rm_workspace_members where workspace_id = $1 and user_id = $2")
            .bind(workspace_id.uuid())
            .bind(user_id)
            .fetch_optional(executor)
            .await?;
    Ok(row.and_then(|(role,)| Role::parse(&role)))
}

/// One `rm_workspaces` row.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct WorkspaceRow {
    pub id: Uuid,
    pub name: String,
    pub suspended: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The version of the workspace's stream the row shows.
    pub version: i64,
    /// The global position of the last event the row shows.
    pub position: i64,
}

/// A member of a workspace.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberRow {
    pub user_id: String,
    pub role: Role,
    pub joined_at: DateTime<Utc>,
}

/// An invitation, its email sealed as the log keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct InvitationRow {
    pub invitation_id: Uuid,
    pub email: String,
    pub role: Role,
    pub invited_by: String,
    pub invited_at: DateTime<Utc>,
    pub accepted_by: Option<String>,
}

pub async fn workspace(executor: impl PgExecutor<'_>, workspace_id: WorkspaceId) -> sqlx::Result<Option<WorkspaceRow>> {
    sqlx::query_as(
        "select id, name, suspended, created_at, updated_at, version, position from rm_workspaces where id = $1",
    )
    .bind(workspace_id.uuid())
    .fetch_optional(executor)
    .await
}

/// Up to `limit` of the workspaces `user_id` is a member of after `after` (by id), with the
/// user's role in each.
pub async fn memberships(
    executor: impl PgExecutor<'_>,
    user_id: &str,
    after: Uuid,
    limit: i64,
) -> sqlx::Result<Vec<(Role, WorkspaceRow)>> {
    #[derive(sqlx::FromRow)]
    struct Membership {
        role: String,
        #[sqlx(flatten)]
        workspace: WorkspaceRow,
    }
    let rows: Vec<Membership> = sqlx::query_as(
        "select m.role, w.id, w.name, w.suspended, w.created_at, w.updated_at, w.version, w.position \
           from rm_workspace_members m join rm_workspaces w on w.id = m.workspace_id \
          where m.user_id = $1 and w.id > $2 order by w.id limit $3",
    )
    .bind(user_id)
    .bind(after)
    .bind(limit)
    .fetch_all(executor)
    .await?;
    Ok(rows.into_iter().filter_map(|row| Some((Role::parse(&row.role)?, row.workspace))).collect())
}

/// A workspace's members, longest-standing first.
pub async fn members(executor: impl PgExecutor<'_>, workspace_id: WorkspaceId) -> sqlx::Result<Vec<MemberRow>> {
    let rows: Vec<(String, String, DateTime<Utc>)> = sqlx::query_as(
        "select user_id, role, joined_at from rm_workspace_members where workspace_id = $1 order by joined_at, user_id",
    )
    .bind(workspace_id.uuid())
    .fetch_all(executor)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(user_id, role, joined_at)| Some(MemberRow { user_id, role: Role::parse(&role)?, joined_at }))
        .collect())
}

pub async fn member_count(executor: impl PgExecutor<'_>, workspace_id: WorkspaceId) -> sqlx::Result<i64> {
    let (count,): (i64,) = sqlx::query_as("select count(*) from rm_workspace_members where workspace_id = $1")
        .bind(workspace_id.uuid())
        .fetch_one(executor)
        .await?;
    Ok(count)
}

/// A workspace's invitations, pending and accepted, oldest first.
pub async fn invitations(executor: impl PgExecutor<'_>, workspace_id: WorkspaceId) -> sqlx::Result<Vec<InvitationRow>> {
    #[allow(clippy::type_complexity)]
    let rows: Vec<(Uuid, String, String, String, DateTime<Utc>, Option<String>)> = sqlx::query_as(
        "select invitation_id, email, role, invited_by, invited_at, accepted_by from rm_workspace_invitations \
          where workspace_id = $1 order by invited_at",
    )
    .bind(workspace_id.uuid())
    .fetch_all(executor)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(invitation_id, email, role, invited_by, invited_at, accepted_by)| {
            Some(InvitationRow { invitation_id, email, role: Role::parse(&role)?, invited_by, invited_at, accepted_by })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use events::workspace::{InvitationAccepted, WorkspaceCreated};
    use serde_json::json;

    fn recorded(event: WorkspaceEvent, workspace_id: Uuid) -> RecordedEvent {
        RecordedEvent {
            position: 1,
            stream_id: events::workspace::stream_id(workspace_id),
            stream_version: 1,
            event_id: Uuid::nil(),
            event_type: event.event_type().into(),
            schema_version: 1,
            payload: event.to_payload(),
            metadata: json!({}),
            recorded_at: Utc::now(),
            hash: events::GENESIS_HASH,
        }
    }

    #[test]
    fn creating_a_workspace_makes_its_creator_an_owning_member() {
        let id = Uuid::now_v7();
        let event =
            recorded(WorkspaceCreated { workspace_id: id, name: "R".into(), owner_id: "alice".into() }.into(), id);
        let (workspace, changes) = changes(&event).unwrap().unwrap();
        assert_eq!(workspace, id);
        assert_eq!(
            changes,
            vec![
                Change::Create { name: "R".into(), created_by: "alice".into() },
                Change::PutMember { user_id: "alice".into(), role: Role::Owner },
            ]
        );
    }

    #[test]
    fn an_accepted_invitation_adds_the_member() {
        let id = Uuid::now_v7();
        let invitation_id = Uuid::now_v7();
        let event = recorded(InvitationAccepted { invitation_id, user_id: "cy".into(), role: Role::Viewer }.into(), id);
        let (_, changes) = changes(&event).unwrap().unwrap();
        assert!(changes.contains(&Change::PutMember { user_id: "cy".into(), role: Role::Viewer }));
    }

    #[test]
    fn events_of_other_streams_change_nothing() {
        let mut event = recorded(WorkspaceEvent::from(events::workspace::WorkspaceReactivated {}), Uuid::nil());
        event.stream_id = "run-1".into();
        assert_eq!(changes(&event).unwrap(), None);
    }
}
