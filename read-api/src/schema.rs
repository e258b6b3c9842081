//! The GraphQL schema's root: every query and subscription, by concern. Each concern lives in
//! its own module; all of them read through [`crate::guard`].

use async_graphql::{EmptyMutation, MergedObject, Schema};

use crate::audit::AuditQuery;
use crate::catalog::{BillingQuery, CatalogQuery};
use crate::runs::{ArtifactsQuery, RunsQuery};
use crate::services::Services;
use crate::subscriptions::SubscriptionRoot;
use crate::workspaces::WorkspacesQuery;

pub type OxbowSchema = Schema<Query, EmptyMutation, SubscriptionRoot>;

/// Every query: workspaces, the audit trail, the catalog of agents and workflows, billing, runs.
#[derive(MergedObject, Default)]
pub struct Query(WorkspacesQuery, AuditQuery, CatalogQuery, BillingQuery, RunsQuery, ArtifactsQuery);

pub fn build_schema(services: Services) -> OxbowSchema {
    let bounds = crate::bounds::Bounds { max_response_bytes: services.max_response_bytes };
    let operations = crate::operations::Operations::new(services.metrics.clone());
    Schema::build(Query::default(), EmptyMutation, SubscriptionRoot)
        .extension(operations)
        .data(services)
        .limit_depth(12)
        // Every field weighs what it may return: a page the rows it may hold times what each
        // row asks for, a workflow's steps a hundred, a JSON field 64 plain ones (`guard`).
        .limit_complexity(20_000)
        // What weights cannot catch: hundreds of aliases, and answers past the byte cap.
        .extension(bounds)
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The schema in SDL, as `read-api/schema.graphql` holds it.
    fn sdl() -> String {
        Schema::build(Query::default(), EmptyMutation, SubscriptionRoot).finish().sdl()
    }

    /// The checked-in SDL is the schema served: clients generate from it. `UPDATE_SCHEMAS=1`
    /// writes it anew.
    #[test]
    fn the_checked_in_sdl_is_the_served_schema() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql");
        let served = sdl();
        if std::env::var_os("UPDATE_SCHEMAS").is_some() {
            std::fs::write(path, &served).unwrap();
        }
        let checked_in = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            checked_in == served,
            "read-api/schema.graphql differs from the served schema; UPDATE_SCHEMAS=1 cargo test -p read-api writes it"
        );
    }
}
