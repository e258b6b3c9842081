//! Who is asking, and what they may see: the one membership guard every resolver goes
//! through, and the helpers resolvers share (errors with codes, ids, pages, read-your-writes).

use std::sync::{Arc, Mutex};

use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, ErrorExtensions, ID};
use events::WorkspaceId;
use events::workspace::Role;
use platform::auth::{AuthError, Claims};
use uuid::Uuid;

use crate::services::Services;

/// The caller, as their token says; an error when the token is missing or invalid.
#[derive(Clone)]
pub struct Viewer(pub Result<Claims, AuthError>);

/// Whether `minPosition` could be honoured, reported in the response's extensions.
#[derive(Clone, Default)]
pub struct MinPositionReport(pub Arc<Mutex<Option<serde_json::Value>>>);

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

pub(crate) async fn wait_if_asked(ctx: &Context<'_>, min_position: Option<i64>) {
    if let Some(min_position) = min_position {
        await_position(services(ctx), ctx.data_opt::<MinPositionReport>(), min_position).await;
    }
}

/// An id argument as the kind of id it names.
pub(crate) fn parse_id<T: std::str::FromStr>(id: &ID, what: &str) -> async_graphql::Result<T> {
    id.parse().map_err(|_| coded("BAD_USER_INPUT", format!("{what} must be a UUID")))
}

/// What a page weighs in a query's complexity: the rows it may return, so that `first: 500`
/// or ten aliases of a page cannot pass for one field.
pub(crate) fn page_weight(first: Option<i32>) -> usize {
    first.unwrap_or(50).clamp(1, 500) as usize
}

/// What a JSON field (a step's input or output, an event's payload) weighs in a query's
/// complexity: it may hold up to 256 KiB, where a plain field holds a few bytes.
pub(crate) const JSON_WEIGHT: usize = 64;

/// What a workflow's or run's steps weigh: the most steps a workflow has (the Workflow
/// decider's `MAX_STEPS`).
pub(crate) const STEPS: usize = 100;
/// What a step's artifacts weigh. A step records at most 100 (`commands::validate::ARTIFACTS_MAX`),
/// but weighing each step of a run's hundred at that would refuse every query of a run's
/// artifacts; the response byte cap bounds the rare run whose steps all record that many.
pub(crate) const ARTIFACTS: usize = 10;

pub(crate) fn page_size(first: Option<i32>) -> async_graphql::Result<i64> {
    match first {
        None => Ok(50),
        Some(n) if (0..=500).contains(&n) => Ok(n as i64),
        Some(_) => Err(coded("BAD_USER_INPUT", "first must be between 0 and 500")),
    }
}

/// The caller's role in `workspace_id`; `None` when they are not a member, who may see
/// nothing of it. The one membership check of the read API.
pub(crate) async fn role_in(ctx: &Context<'_>, workspace_id: WorkspaceId) -> async_graphql::Result<Option<Role>> {
    let claims = viewer(ctx)?;
    projections::workspaces::role_of(&services(ctx).pool, workspace_id, &claims.sub).await.map_err(internal)
}

pub(crate) fn cursor_after(after: Option<String>) -> async_graphql::Result<Uuid> {
    match after {
        None => Ok(Uuid::nil()),
        Some(cursor) => cursor.parse().map_err(|_| coded("BAD_USER_INPUT", "after is not a cursor of this list")),
    }
}

/// `row`, when the caller is a member of the workspace it belongs to.
pub(crate) async fn if_member<T>(
    ctx: &Context<'_>,
    row: Option<T>,
    workspace_of: fn(&T) -> WorkspaceId,
) -> async_graphql::Result<Option<T>> {
    viewer(ctx)?;
    match row {
        Some(row) if role_in(ctx, workspace_of(&row)).await?.is_some() => Ok(Some(row)),
        _ => Ok(None),
    }
}

/// A page of a workspace's rows that a member asked for: those after `after`, oldest first.
pub(crate) struct PageRequest {
    pub workspace_id: WorkspaceId,
    pub after: Uuid,
    pub limit: i64,
}

impl PageRequest {
    /// The page asked for; `None` when the caller is not a member, who gets an empty page.
    pub async fn of(
        ctx: &Context<'_>,
        workspace_id: &ID,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Option<PageRequest>> {
        viewer(ctx)?;
        let workspace_id = parse_id(workspace_id, "workspaceId")?;
        let (limit, after) = (page_size(first)?, cursor_after(after)?);
        if role_in(ctx, workspace_id).await?.is_none() {
            return Ok(None);
        }
        Ok(Some(PageRequest { workspace_id, after, limit }))
    }

    /// How many rows to read: one more than the page, to know whether another follows.
    pub fn rows(&self) -> i64 {
        self.limit + 1
    }

    /// The connection of `rows`, read with [`PageRequest::rows`], each row's cursor its id.
    pub fn connection<T: async_graphql::OutputType>(
        &self,
        rows: Vec<T>,
        id_of: fn(&T) -> Uuid,
    ) -> Connection<String, T> {
        self.connection_with(rows, self.after != Uuid::nil(), |row| id_of(row).to_string())
    }

    /// The connection of `rows`, read with [`PageRequest::rows`], each row's cursor as
    /// `cursor_of` writes it; `after_a_cursor` when the page started after one.
    pub fn connection_with<T: async_graphql::OutputType>(
        &self,
        rows: Vec<T>,
        after_a_cursor: bool,
        cursor_of: impl Fn(&T) -> String,
    ) -> Connection<String, T> {
        let mut connection = Connection::new(after_a_cursor, rows.len() as i64 > self.limit);
        for row in rows.into_iter().take(self.limit as usize) {
            connection.edges.push(Edge::new(cursor_of(&row), row));
        }
        connection
    }
}
