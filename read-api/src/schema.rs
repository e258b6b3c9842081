//! The GraphQL schema's root: every query and subscription, by concern. Each concern lives in
//! its own module; all of them read through [`crate::guard`].

use async_graphql::{EmptyMutation, MergedObject, Schema};

use crate::audit::AuditQuery;
use crate::catalog::{BillingQuery, CatalogQuery};
use crate::runs::RunsQuery;
use crate::services::Services;
use crate::subscriptions::SubscriptionRoot;
use crate::workspaces::WorkspacesQuery;

pub type OxbowSchema = Schema<Query, EmptyMutation, SubscriptionRoot>;

/// Every query: workspaces, the audit trail, the catalog of agents and workflows, billing, runs.
#[derive(MergedObject, Default)]
pub struct Query(WorkspacesQuery, AuditQuery, CatalogQuery, BillingQuery, RunsQuery);

pub fn build_schema(services: Services) -> OxbowSchema {
    Schema::build(Query::default(), EmptyMutation, SubscriptionRoot)
        .data(services)
        .limit_depth(12)
        // A page weighs the rows it may return times what each row asks for (`page_weight`).
        .limit_complexity(1_000)
        .finish()
}
