//! The Workspaces projection: workspaces, their members and invitations.

use std::collections::HashMap;

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

/// The adapter of [`changes`]: a batch's workspace events folded into a statement per kind of
/// change, so that catching up on a backlog of new workspaces is not bounded by round trips.
/// Every write sets state (the last name, suspension and role win; a member removed and added
/// again in one batch joins anew), so the rows are those of applying each event in turn.
#[derive(Default)]
pub struct Batch {
    created: Vec<(Uuid, String, String, DateTime<Utc>, i64, i64)>,
    moved: HashMap<Uuid, Moved>,
    members: HashMap<MemberKey, Membership>,
    invited: Vec<(Uuid, Uuid, String, Role, String, DateTime<Utc>)>,
    accepted: Vec<(Uuid, String, DateTime<Utc>)>,
}

/// What a batch moved of a workspace row: its latest name and suspension, if set, and the
/// newest version, position and time it has seen.
struct Moved {
    name: Option<String>,
    suspended: Option<bool>,
    version: i64,
    position: i64,
    at: DateTime<Utc>,
}

/// A workspace's member.
type MemberKey = (Uuid, String);

/// A member's role, and when they joined.
type Joined = (Role, DateTime<Utc>);

/// A member's changes in a batch: removed at some point, and the role (with the time it was
/// first put after the last removal, which is when the row's member joined) put last.
#[derive(Default)]
struct Membership {
    removed: bool,
    put: Option<Joined>,
}

impl Batch {
    /// Folds one event in; returns the workspace it changed.
    pub fn add(&mut self, event: &RecordedEvent) -> anyhow::Result<Option<WorkspaceId>> {
        let Some((workspace_id, changes)) = changes(event)? else {
            return Ok(None);
        };
        let at = event.recorded_at;
        let moved = self.moved.entry(workspace_id).or_insert(Moved {
            name: None,
            suspended: None,
            version: event.stream_version,
            position: event.position,
            at,
        });
        moved.version = moved.version.max(event.stream_version);
        moved.position = moved.position.max(event.position);
        moved.at = moved.at.max(at);
        for change in changes {
            match change {
                Change::Create { name, created_by } => {
                    self.created.push((workspace_id, name, created_by, at, event.stream_version, event.position))
                }
                Change::Rename { name } => moved.name = Some(name),
                Change::SetSuspended(suspended) => moved.suspended = Some(suspended),
                Change::PutMember { user_id, role } => {
                    let member = self.members.entry((workspace_id, user_id)).or_default();
                    let joined_at = member.put.map_or(at, |(_, joined_at)| joined_at);
                    member.put = Some((role, joined_at));
                }
                Change::RemoveMember { user_id } => {
                    *self.members.entry((workspace_id, user_id)).or_default() = Membership { removed: true, put: None }
                }
                Change::Invite { invitation_id, email, role, invited_by } => {
                    self.invited.push((invitation_id, workspace_id, email, role, invited_by, at))
                }
                Change::Accept { invitation_id, user_id } => self.accepted.push((invitation_id, user_id, at)),
            }
        }
        Ok(Some(workspace_id.into()))
    }

    /// Writes what was folded in, a statement per kind of change, and forgets it.
    pub async fn write(&mut self, connection: &mut PgConnection) -> sqlx::Result<()> {
        let Batch { created, moved, members, invited, accepted } = std::mem::take(self);
        if !created.is_empty() {
            sqlx::query(
                "insert into rm_workspaces (id, name, created_by, created_at, updated_at, version, position) \
                 select id, name, created_by, at, at, version, position \
                   from unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[], $5::bigint[], $6::bigint[]) \
                     as c(id, name, created_by, at, version, position) \
                 on conflict (id) do nothing",
            )
            .bind(created.iter().map(|c| c.0).collect::<Vec<_>>())
            .bind(created.iter().map(|c| c.1.as_str()).collect::<Vec<_>>())
            .bind(created.iter().map(|c| c.2.as_str()).collect::<Vec<_>>())
            .bind(created.iter().map(|c| c.3).collect::<Vec<_>>())
            .bind(created.iter().map(|c| c.4).collect::<Vec<_>>())
            .bind(created.iter().map(|c| c.5).collect::<Vec<_>>())
            .execute(&mut *connection)
            .await?;
        }
        let removed: Vec<(&MemberKey, &Membership)> = members.iter().filter(|(_, m)| m.removed).collect();
        if !removed.is_empty() {
            sqlx::query(
                "delete from rm_workspace_members m using unnest($1::uuid[], $2::text[]) as r(workspace_id, user_id) \
                  where m.workspace_id = r.workspace_id and m.user_id = r.user_id",
            )
            .bind(removed.iter().map(|((workspace, _), _)| *workspace).collect::<Vec<_>>())
            .bind(removed.iter().map(|((_, user), _)| user.as_str()).collect::<Vec<_>>())
            .execute(&mut *connection)
            .await?;
        }
        let put: Vec<(&MemberKey, Joined)> = members.iter().filter_map(|(key, m)| Some((key, m.put?))).collect();
        if !put.is_empty() {
            sqlx::query(
                "insert into rm_workspace_members (workspace_id, user_id, role, joined_at) \
                 select * from unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[]) \
                 on conflict (workspace_id, user_id) do update set role = excluded.role",
            )
            .bind(put.iter().map(|((workspace, _), _)| *workspace).collect::<Vec<_>>())
            .bind(put.iter().map(|((_, user), _)| user.as_str()).collect::<Vec<_>>())
            .bind(put.iter().map(|(_, (role, _))| role.as_str()).collect::<Vec<_>>())
            .bind(put.iter().map(|(_, (_, joined_at))| *joined_at).collect::<Vec<_>>())
            .execute(&mut *connection)
            .await?;
        }
        if !invited.is_empty() {
            sqlx::query(
                "insert into rm_workspace_invitations \
                   (invitation_id, workspace_id, email, role, invited_by, invited_at) \
                 select * from unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::timestamptz[]) \
                 on conflict (invitation_id) do nothing",
            )
            .bind(invited.iter().map(|i| i.0).collect::<Vec<_>>())
            .bind(invited.iter().map(|i| i.1).collect::<Vec<_>>())
            .bind(invited.iter().map(|i| i.2.as_str()).collect::<Vec<_>>())
            .bind(invited.iter().map(|i| i.3.as_str()).collect::<Vec<_>>())
            .bind(invited.iter().map(|i| i.4.as_str()).collect::<Vec<_>>())
            .bind(invited.iter().map(|i| i.5).collect::<Vec<_>>())
            .execute(&mut *connection)
            .await?;
        }
        if !accepted.is_empty() {
            sqlx::query(
                "update rm_workspace_invitations i set accepted_by = a.user_id, accepted_at = a.at \
                   from unnest($1::uuid[], $2::text[], $3::timestamptz[]) as a(invitation_id, user_id, at) \
                  where i.invitation_id = a.invitation_id",
            )
            .bind(accepted.iter().map(|a| a.0).collect::<Vec<_>>())
            .bind(accepted.iter().map(|a| a.1.as_str()).collect::<Vec<_>>())
            .bind(accepted.iter().map(|a| a.2).collect::<Vec<_>>())
            .execute(&mut *connection)
            .await?;
        }
        // Rows created above already say all this unless the batch moved them on.
        let created: HashMap<Uuid, i64> = created.iter().map(|c| (c.0, c.4)).collect();
        let moved: Vec<(Uuid, Moved)> = moved
            .into_iter()
            .filter(|(id, m)| created.get(id) != Some(&m.version) || m.name.is_some() || m.suspended.is_some())
            .collect();
        if !moved.is_empty() {
            sqlx::query(
                "update rm_workspaces w set name = coalesce(m.name, w.name), \
                        suspended = coalesce(m.suspended, w.suspended), \
                        version = greatest(w.version, m.version), position = greatest(w.position, m.position), \
                        updated_at = greatest(w.updated_at, m.at) \
                   from unnest($1::uuid[], $2::text[], $3::boolean[], $4::bigint[], $5::bigint[], $6::timestamptz[]) \
                     as m(id, name, suspended, version, position, at) \
                  where w.id = m.id",
            )
            .bind(moved.iter().map(|(id, _)| *id).collect::<Vec<_>>())
            .bind(moved.iter().map(|(_, m)| m.name.as_deref()).collect::<Vec<_>>())
            .bind(moved.iter().map(|(_, m)| m.suspended).collect::<Vec<_>>())
            .bind(moved.iter().map(|(_, m)| m.version).collect::<Vec<_>>())
            .bind(moved.iter().map(|(_, m)| m.position).collect::<Vec<_>>())
            .bind(moved.iter().map(|(_, m)| m.at).collect::<Vec<_>>())
            .execute(&mut *connection)
            .await?;
        }
        Ok(())
    }
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
/// Up to `limit` of a workspace's members, in the order they joined, after the member `after`
/// (the first ones when `None`).
pub async fn members(
    executor: impl PgExecutor<'_>,
    workspace_id: WorkspaceId,
    after: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<MemberRow>> {
    let rows: Vec<(String, String, DateTime<Utc>)> = sqlx::query_as(
        "select user_id, role, joined_at from rm_workspace_members m where workspace_id = $1 \
            and ($2::text is null or (joined_at, user_id) > \
                 (select joined_at, user_id from rm_workspace_members where workspace_id = $1 and user_id = $2)) \
          order by joined_at, user_id limit $3",
    )
    .bind(workspace_id.uuid())
    .bind(after)
    .bind(limit)
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

/// Up to `limit` of a workspace's invitations, pending and accepted, oldest first, after the
/// invitation `after` (the first ones when `None`).
pub async fn invitations(
    executor: impl PgExecutor<'_>,
    workspace_id: WorkspaceId,
    after: Option<Uuid>,
    limit: i64,
) -> sqlx::Result<Vec<InvitationRow>> {
    #[allow(clippy::type_complexity)]
    let rows: Vec<(Uuid, String, String, String, DateTime<Utc>, Option<String>)> = sqlx::query_as(
        "select invitation_id, email, role, invited_by, invited_at, accepted_by from rm_workspace_invitations \
          where workspace_id = $1 \
            and ($2::uuid is null or (invited_at, invitation_id) > \
                 (select invited_at, invitation_id from rm_workspace_invitations \
                   where workspace_id = $1 and invitation_id = $2)) \
          order by invited_at, invitation_id limit $3",
    )
    .bind(workspace_id.uuid())
    .bind(after)
    .bind(limit)
    .fetch_all(executor)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(invitation_id, email, role, invited_by, invited_at, accepted_by)| {
            Some(InvitationRow { invitation_id, email, role: Role::parse(&role)?, invited_by, invited_at, accepted_by })
        })
        .collect())
}

/// The emails of the invitations `user_id` accepted, sealed as the read model keeps them: the
/// emails a person is known by, for forgetting them.
pub async fn accepted_emails(executor: impl PgExecutor<'_>, user_id: &str) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar("select email from rm_workspace_invitations where accepted_by = $1")
        .bind(user_id)
        .fetch_all(executor)
        .await
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

    #[test]
    fn a_batch_keeps_the_last_word_on_each_member_and_when_they_joined() {
        use chrono::Duration;
        use events::workspace::{MemberRemoved, MemberRoleChanged};
        let id = Uuid::now_v7();
        let start = Utc::now();
        let mut batch = Batch::default();
        let mut add = |version: i64, event: WorkspaceEvent| {
            let mut event = recorded(event, id);
            event.stream_version = version;
            event.position = version;
            event.recorded_at = start + Duration::seconds(version);
            batch.add(&event).unwrap();
        };
        add(1, WorkspaceCreated { workspace_id: id, name: "R".into(), owner_id: "alice".into() }.into());
        add(2, MemberRoleChanged { user_id: "bo".into(), role: Role::Member }.into());
        add(3, MemberRoleChanged { user_id: "bo".into(), role: Role::Admin }.into());
        add(4, MemberRoleChanged { user_id: "cy".into(), role: Role::Member }.into());
        add(5, MemberRemoved { user_id: "cy".into() }.into());
        add(6, MemberRoleChanged { user_id: "cy".into(), role: Role::Viewer }.into());
        add(7, MemberRemoved { user_id: "dee".into() }.into());
        let member = |user: &str| &batch.members[&(id, user.to_owned())];
        // Bo joined when first added, with the role set last.
        assert_eq!(member("bo").put, Some((Role::Admin, start + Duration::seconds(2))));
        assert!(!member("bo").removed);
        // Cy was removed, then joined anew.
        assert!(member("cy").removed);
        assert_eq!(member("cy").put, Some((Role::Viewer, start + Duration::seconds(6))));
        assert!(member("dee").removed && member("dee").put.is_none());
        let moved = &batch.moved[&id];
        assert_eq!((moved.version, moved.position), (7, 7));
        assert_eq!(batch.created.len(), 1);
    }
}
