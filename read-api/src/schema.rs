//! The GraphQL schema's root: every query and subscription, by concern, and what resolvers
//! share. Each concern lives in its own module; all of them read through [`crate::guard`].

use std::time::Duration;

use async_graphql::{EmptyMutation, MergedObject, Schema};
use platform::auth::Operators;
use platform::redis::Keys;
use redis::aio::ConnectionManager;
use sqlx::PgPool;

use crate::activity::ActivityFeed;
use crate::audit::AuditQuery;
use crate::catalog::{BillingQuery, CatalogQuery};
use crate::progress::Progress;
use crate::runs::RunsQuery;
use crate::subscriptions::SubscriptionRoot;
use crate::workspaces::WorkspacesQuery;

pub type OxbowSchema = Schema<Query, EmptyMutation, SubscriptionRoot>;

/// Every query: workspaces, the audit trail, the catalog of agents and workflows, billing, runs.
#[derive(MergedObject, Default)]
pub struct Query(WorkspacesQuery, AuditQuery, CatalogQuery, BillingQuery, RunsQuery);

/// What resolvers share.
#[derive(Clone)]
pub struct Services {
    pub pool: PgPool,
    pub redis: ConnectionManager,
    pub keys: Keys,
    pub progress: Progress,
    pub activity: ActivityFeed,
    pub min_position_timeout: Duration,
    /// Who sees operators' details (the dead letter).
    pub operators: Operators,
}

pub fn build_schema(services: Services) -> OxbowSchema {
    Schema::build(Query::default(), EmptyMutation, SubscriptionRoot)
        .data(services)
        .limit_depth(12)
        // A page weighs the rows it may return times what each row asks for (`page_weight`).
        .limit_complexity(1_000)
        .finish()
}
