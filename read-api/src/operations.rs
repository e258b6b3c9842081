//! Each GraphQL operation named as trace backends and dashboards name one: a span
//! `{type} {name}` (`query RunPage`) with OpenTelemetry's GraphQL attributes, and Prometheus
//! series by operation type and name. Names are the client's choice, so each process keeps
//! series for at most [`NAMES_MAX`] distinct ones and counts later ones as `other`: no caller
//! can make the metrics grow without bound.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery};
use async_graphql::parser::types::{ExecutableDocument, OperationType};
use async_graphql::{Response, ServerResult, Variables};
use platform::metrics::Metrics;
use tracing::Instrument;

/// The most operation names one process keeps series for.
pub const NAMES_MAX: usize = 100;

/// Names operations in spans and metrics; one per schema.
pub struct Operations {
    metrics: Metrics,
    names: Arc<Mutex<HashSet<String>>>,
}

impl Operations {
    pub fn new(metrics: Metrics) -> Operations {
        Operations { metrics, names: Arc::default() }
    }
}

impl ExtensionFactory for Operations {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Operation { metrics: self.metrics.clone(), names: self.names.clone(), parsed: Mutex::default() })
    }
}

/// One request: the operations its document holds, each its name and type.
struct Operation {
    metrics: Metrics,
    names: Arc<Mutex<HashSet<String>>>,
    parsed: Mutex<Vec<(Option<String>, &'static str)>>,
}

impl Operation {
    /// The type and name of the operation `chosen` names (the only one when it names none).
    fn of(&self, chosen: Option<&str>) -> (&'static str, Option<String>) {
        let parsed = self.parsed.lock().expect("operations lock");
        let found = match chosen {
            Some(chosen) => parsed.iter().find(|(name, _)| name.as_deref() == Some(chosen)),
            None => parsed.first(),
        };
        found.map_or(("query", None), |(name, kind)| (*kind, name.clone()))
    }

    /// `name` as a metric label: itself while the process keeps fewer than [`NAMES_MAX`].
    fn label(&self, name: Option<&str>) -> String {
        let Some(name) = name else { return "anonymous".into() };
        let mut names = self.names.lock().expect("names lock");
        if names.contains(name) || names.len() < NAMES_MAX && names.insert(name.to_owned()) {
            name.to_owned()
        } else {
            "other".into()
        }
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for Operation {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        let operations = document.operations.iter().map(|(name, operation)| {
            let kind = match operation.node.ty {
                OperationType::Query => "query",
                OperationType::Mutation => "mutation",
                OperationType::Subscription => "subscription",
            };
            (name.map(|name| name.to_string()), kind)
        });
        *self.parsed.lock().expect("operations lock") = operations.collect();
        Ok(document)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let (kind, name) = self.of(operation_name);
        let span_name = name.as_ref().map_or_else(|| kind.to_owned(), |name| format!("{kind} {name}"));
        let span = platform::traced_span!(
            "graphql",
            otel.name = span_name,
            graphql.operation.type = kind,
            graphql.operation.name = name.as_deref().unwrap_or_default(),
        );
        let started = std::time::Instant::now();
        let response = next.run(ctx, operation_name).instrument(span).await;
        let label = self.label(name.as_deref());
        let outcome = if response.errors.is_empty() { "ok" } else { "error" };
        let labels = [("type", kind), ("name", label.as_str())];
        self.metrics.increment(
            "oxbow_graphql_operations_total",
            "GraphQL operations executed, by type, name (at most 100 names; later ones are `other`) and outcome.",
            &[("type", kind), ("name", label.as_str()), ("outcome", outcome)],
            1,
        );
        self.metrics.observe(
            "oxbow_graphql_operation_seconds",
            "How long GraphQL operations took to execute, by type and name.",
            &labels,
            platform::metrics::SECONDS,
            started.elapsed().as_secs_f64(),
        );
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_keeps_series_for_a_bounded_number_of_operation_names() {
        let operations = Operations::new(Metrics::default());
        let operation = Operation {
            metrics: operations.metrics.clone(),
            names: operations.names.clone(),
            parsed: Mutex::default(),
        };
        for n in 0..NAMES_MAX {
            assert_eq!(operation.label(Some(&format!("Op{n}"))), format!("Op{n}"));
        }
        assert_eq!(operation.label(Some("OneTooMany")), "other");
        assert_eq!(operation.label(Some("Op7")), "Op7", "a name kept stays");
        assert_eq!(operation.label(None), "anonymous");
    }

    #[test]
    fn the_operation_is_the_one_named_or_the_only_one() {
        let operation = Operation { metrics: Metrics::default(), names: Arc::default(), parsed: Mutex::default() };
        *operation.parsed.lock().unwrap() = vec![(Some("A".into()), "query"), (Some("B".into()), "subscription")];
        assert_eq!(operation.of(Some("B")), ("subscription", Some("B".into())));
        assert_eq!(operation.of(None), ("query", Some("A".into())));
        *operation.parsed.lock().unwrap() = vec![(None, "query")];
        assert_eq!(operation.of(None), ("query", None));
    }
}
