//! Introspection within limits of its own. The schema tools send (graphql-js's
//! `getIntrospectionQuery()`, which GraphiQL, Apollo, Relay and graphql-codegen use) nests
//! deeper than any data query may. An operation that asks only for `__schema`, `__type` and
//! `__typename` runs on a second instance of the same schema, with a deeper bound; its answer
//! is kept per document, since the schema does not change while it is served, so introspection
//! cannot be used to burn CPU.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Mutex;

use async_graphql::parser::types::{DocumentOperations, OperationDefinition, Selection};
use async_graphql::{EmptyMutation, Schema};

use crate::schema::{OxbowSchema, Query};
use crate::services::Services;
use crate::subscriptions::SubscriptionRoot;

/// How deep an introspection may nest: graphql-js's query is about 13 levels deep.
pub const DEPTH: usize = 20;
/// What an introspection may weigh: graphql-js's query weighs a few hundred.
pub const COMPLEXITY: usize = 5_000;
/// The most distinct introspection documents whose answers are kept.
const KEPT: usize = 64;

pub struct Introspection {
    schema: OxbowSchema,
    /// Answers by the hash of their request (document, operation and variables).
    answers: Mutex<HashMap<u64, async_graphql::Value>>,
}

impl Introspection {
    /// The same types as the served schema, deeper, since a schema's types nest, and with
    /// bounds of their own.
    pub fn new(services: Services) -> Introspection {
        let bounds = crate::bounds::Bounds { max_response_bytes: services.max_response_bytes };
        let schema = Schema::build(Query::default(), EmptyMutation, SubscriptionRoot)
            .data(services)
            .limit_depth(DEPTH)
            .limit_complexity(COMPLEXITY)
            .extension(bounds)
            .finish();
        Introspection { schema, answers: Mutex::default() }
    }

    /// Whether `request` asks only about the schema: every root field of the operation it runs
    /// is `__schema`, `__type` or `__typename`.
    pub fn asks_only_about_the_schema(request: &async_graphql::Request) -> bool {
        let Ok(document) = async_graphql::parser::parse_query(&request.query) else { return false };
        let operation: Option<&OperationDefinition> = match (&document.operations, &request.operation_name) {
            (DocumentOperations::Single(operation), _) => Some(&operation.node),
            (DocumentOperations::Multiple(operations), Some(name)) => {
                operations.iter().find(|(key, _)| key.as_str() == name).map(|(_, operation)| &operation.node)
            }
            // One named operation runs without its name being given.
            (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => {
                operations.values().next().map(|operation| &operation.node)
            }
            (DocumentOperations::Multiple(_), None) => None,
        };
        let Some(operation) = operation else { return false };
        let items = &operation.selection_set.node.items;
        !items.is_empty()
            && items.iter().all(|selection| match &selection.node {
                Selection::Field(field) => {
                    matches!(field.node.name.node.as_str(), "__schema" | "__type" | "__typename")
                }
                // Fragments at the root could select anything: such a document is not one of these.
                Selection::FragmentSpread(_) | Selection::InlineFragment(_) => false,
            })
    }

    /// The answer to an introspection-only request: kept when it succeeded.
    pub async fn answer(&self, request: async_graphql::Request) -> async_graphql::Response {
        let key = {
            let mut hasher = DefaultHasher::new();
            request.query.hash(&mut hasher);
            request.operation_name.hash(&mut hasher);
            serde_json::to_string(&request.variables).unwrap_or_default().hash(&mut hasher);
            hasher.finish()
        };
        if let Some(data) = self.answers.lock().expect("introspection answers").get(&key) {
            return async_graphql::Response::new(data.clone());
        }
        let response = self.schema.execute(request).await;
        if response.errors.is_empty() {
            let mut answers = self.answers.lock().expect("introspection answers");
            if answers.len() < KEPT {
                answers.insert(key, response.data.clone());
            }
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn only_schema(query: &str, operation: Option<&str>) -> bool {
        let mut request = async_graphql::Request::new(query);
        if let Some(operation) = operation {
            request = request.operation_name(operation);
        }
        Introspection::asks_only_about_the_schema(&request)
    }

    #[test]
    fn only_operations_whose_every_root_field_is_about_the_schema_are_introspection() {
        assert!(only_schema("{ __schema { types { name } } }", None));
        assert!(only_schema("query IntrospectionQuery { __schema { queryType { name } } __typename }", None));
        assert!(only_schema("query A { __type(name: \"Run\") { name } } query B { runs { id } }", Some("A")));
        assert!(!only_schema("query A { __type(name: \"Run\") { name } } query B { runs { id } }", Some("B")));
        assert!(!only_schema("query A { __typename } query B { __typename }", None), "which one runs is unknown");
        assert!(!only_schema("{ __schema { types { name } } workspace(id: \"x\") { name } }", None));
        assert!(!only_schema("{ ...F } fragment F on Query { __typename }", None));
        assert!(!only_schema("{ __schema { types { name }", None), "not a document");
    }
}
