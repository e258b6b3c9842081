//! The subscriptions: a workspace's activity, a run's updates, a workspace's balance. Each is
//! fed by the activity feed, so a subscriber never hears of a change before a query shows it.

use std::sync::Arc;

use async_graphql::futures_util::Stream;
use async_graphql::{Context, ID, Json, SimpleObject, Subscription};
use chrono::{DateTime, Utc};
use events::workspace::Role;
use events::{RunId, WorkspaceId};
use futures::StreamExt;
use tokio::sync::broadcast::error::RecvError;

use crate::activity::Activity;
use crate::guard::{coded, internal, parse_id, role_in, services, viewer};

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
    #[graphql(complexity = "crate::guard::JSON_WEIGHT")]
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
        let (_, role, id, feed) = member_feed(ctx, &workspace_id).await?;
        // The feed ends right after the caller's own removal is delivered.
        let stream = feed.map(move |activity| {
            activity.map(|activity| ActivityEvent {
                position: activity.position,
                event_type: activity.event_type.clone(),
                stream_id: activity.stream_id.clone(),
                workspace_id: ID(id.to_string()),
                actor: activity.actor.clone(),
                recorded_at: activity.recorded_at,
                payload: Json({
                    let mut payload = activity.payload.clone();
                    if !events::sees_personal_data(role) {
                        events::hide_personal_fields(&activity.event_type, &mut payload);
                    }
                    payload
                }),
            })
        });
        Ok(stream)
    }

    /// Every change of a run (its steps' progress, its end) in log order: those logged so far,
    /// then each new one, with the run as a query shows it. Members of the run's workspace only.
    async fn run_updated(
        &self,
        ctx: &Context<'_>,
        run_id: ID,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<RunUpdate>>> {
        run_updated(ctx, &run_id).await
    }

    /// Every change of any run of a workspace (a new run, a step's progress, an end), in log
    /// order, from now on, each with its run's row: what a live list of runs needs. Members
    /// only; ends after the caller is removed from the workspace.
    async fn workspace_run_updated(
        &self,
        ctx: &Context<'_>,
        workspace_id: ID,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<RunUpdate>>> {
        let (_, _, _, feed) = member_feed(ctx, &workspace_id).await?;
        let pool = services(ctx).pool.clone();
        // Runs' events, each with its run's id; an end of the feed (a removal) passes as it is.
        let of_runs = feed.filter_map(|activity| {
            futures::future::ready(match activity {
                Ok(activity) => events::StreamId::id_of(&activity.stream_id, events::Category::Run)
                    .map(|run_id| Ok((activity, run_id))),
                Err(error) => Some(Err(error)),
            })
        });
        Ok(of_runs.then(move |activity| {
            let pool = pool.clone();
            async move {
                let (activity, run_id) = activity?;
                Ok(RunUpdate {
                    position: activity.position,
                    event_type: activity.event_type.clone(),
                    payload: Json(activity.payload.clone()),
                    run: crate::runs::load(&pool, RunId(run_id)).await?,
                })
            }
        }))
    }

    /// Every change of a workspace's credits, in log order, from now on. Members only. Ends
    /// after the caller is removed from the workspace.
    async fn balance_changed(
        &self,
        ctx: &Context<'_>,
        workspace_id: ID,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<BalanceChange>>> {
        let (_, _, id, feed) = member_feed(ctx, &workspace_id).await?;
        let pool = services(ctx).pool.clone();
        let billing_stream = id.billing_stream().to_string();
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
) -> async_graphql::Result<(String, Role, WorkspaceId, impl Stream<Item = async_graphql::Result<Arc<Activity>>> + use<>)>
{
    let viewer = viewer(ctx)?.sub.clone();
    let id: WorkspaceId = parse_id(workspace_id, "workspaceId")?;
    let services = services(ctx);
    // What a query could already see is not news: the feed may still be sending it (it lags
    // the watermark), and the subscriber hears only what comes after. Read before subscribing,
    // so nothing newer is taken for old.
    let seen = services.progress.current();
    // Subscribe before checking, so nothing between the check and the first event is lost.
    let receiver = services.activity.subscribe();
    let Some(role) = role_in(ctx, id).await? else {
        return Err(coded("FORBIDDEN", "not a member of this workspace"));
    };
    let removed_user = viewer.clone();
    let feed = futures::stream::unfold(Some(receiver), move |receiver| {
        let removed_user = removed_user.clone();
        async move {
            let mut receiver = receiver?;
            loop {
                match receiver.recv().await {
                    // The caller's own removal, or a change of their role, is the last thing any of
                    // its feeds of the workspace delivers: every subscription built on it ends
                    // there, and what the caller may see is decided again when they subscribe
                    // again (a demoted admin no longer sees invitations' emails).
                    Ok(activity) if activity.workspace_id == Some(id.uuid()) && activity.position > seen => {
                        let about_caller =
                            matches!(activity.event_type.as_str(), "MemberRemoved" | "MemberRoleChanged")
                                && activity.payload.get("user_id").and_then(|v| v.as_str())
                                    == Some(removed_user.as_str());
                        return Some((Ok(activity), (!about_caller).then_some(receiver)));
                    }
                    Ok(_) => continue,
                    Err(RecvError::Lagged(missed)) => {
                        let error = coded("LAGGED", format!("fell {missed} events behind; subscribe again"));
                        return Some((Err(error), None));
                    }
                    Err(RecvError::Closed) => return None,
                }
            }
        }
    });
    Ok((viewer, role, id, feed))
}

/// A change of a workspace's credits, with the account as the read model shows it then.
#[derive(SimpleObject, Clone)]
pub struct BalanceChange {
    /// The event's global position.
    pub position: i64,
    pub event_type: String,
    /// What the event moved, as logged.
    #[graphql(complexity = "crate::guard::JSON_WEIGHT")]
    pub payload: Json<serde_json::Value>,
    pub account: Option<crate::catalog::BillingAccount>,
}

/// A change of a run, with the run as the read model shows it when the update is sent.
#[derive(SimpleObject, Clone)]
pub struct RunUpdate {
    /// The event's global position.
    pub position: i64,
    pub event_type: String,
    #[graphql(complexity = "crate::guard::JSON_WEIGHT")]
    pub payload: Json<serde_json::Value>,
    pub run: Option<crate::runs::Run>,
}

/// Every event of the run, from its first, for members of its workspace: what is logged so
/// far, then each new event as the read models pass it.
pub(crate) async fn run_updated(
    ctx: &Context<'_>,
    run_id: &ID,
) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<RunUpdate>> + use<>> {
    let id: RunId = parse_id(run_id, "runId")?;
    let services = services(ctx);
    let pool = services.pool.clone();
    let stream_id = id.stream().to_string();
    // Only the run's first event is read before the membership check, and a run of another
    // workspace answers as one that does not exist: nothing tells a stranger which runs exist.
    viewer(ctx)?;
    let not_found = || coded("NOT_FOUND", "no run has this id");
    let first = store::read_stream_page(&pool, &stream_id, 0, 1).await.map_err(internal)?;
    let first = first.into_iter().next().ok_or_else(not_found)?;
    let workspace_id: WorkspaceId = first.workspace_id().ok_or_else(not_found)?.into();
    // The log knows the run as soon as StartRun is answered; the read models a moment later,
    // and the membership check reads them: wait for them to know the run.
    crate::guard::await_position(services, None, first.position).await;
    if role_in(ctx, workspace_id).await?.is_none() {
        return Err(not_found());
    }
    let (_, _, _, feed) = member_feed(ctx, &ID(workspace_id.to_string())).await?;
    // The feed is subscribed: what the read models have passed comes from the log, the rest
    // from the feed, each event once.
    let passed = services.progress.current();
    let mut logged = vec![first];
    logged.extend(store::read_stream(&pool, &stream_id, 1).await.map_err(internal)?);
    store::present(&pool, &mut logged).await.map_err(internal)?;
    let history: Vec<async_graphql::Result<Arc<Activity>>> = logged
        .into_iter()
        .filter(|event| event.position <= passed)
        .map(|event| Ok(Arc::new(Activity::from(event))))
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
                run: crate::runs::load(&pool, id).await?,
            })
        }
    }))
}
