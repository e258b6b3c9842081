//! What one GraphQL request may cost beyond its complexity: the aliases in its document, and
//! the bytes of its answer.
//!
//! Complexity weighs every field by the most it can return, before anything runs; these two
//! catch what weights cannot. A document of hundreds of aliases of one cheap root is refused at
//! parse time. An answer is counted as it is built, field by field; past the cap the fields
//! still to come fail at once, and the whole answer is one coded error, so a request cannot
//! make the process build gigabytes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextResolve, ResolveInfo,
};
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Pos, Response, ServerError, ServerResult, Value, Variables};

/// The most aliases one document may hold.
pub const MAX_ALIASES: usize = 64;

/// The largest answer built unless configured otherwise.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// The bounds of every request to a schema.
pub struct Bounds {
    pub max_response_bytes: usize,
}

impl ExtensionFactory for Bounds {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Budget { max: self.max_response_bytes, used: AtomicUsize::new(0), over: AtomicBool::new(false) })
    }
}

/// One request's budget of answer bytes.
struct Budget {
    max: usize,
    used: AtomicUsize,
    over: AtomicBool,
}

impl Budget {
    fn too_large(&self) -> ServerError {
        coded(
            "RESPONSE_TOO_LARGE",
            format!("the answer would be larger than {} bytes: ask for fewer rows or fields", self.max),
        )
    }
}

fn coded(code: &str, message: String) -> ServerError {
    let mut error = ServerError::new(message, None::<Pos>);
    let mut extensions = async_graphql::ErrorExtensionValues::default();
    extensions.set("code", code);
    error.extensions = Some(extensions);
    error
}

#[async_graphql::async_trait::async_trait]
impl Extension for Budget {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        let aliases = aliases(&document);
        if aliases > MAX_ALIASES {
            return Err(coded(
                "TOO_MANY_ALIASES",
                format!("the document has {aliases} aliases; at most {MAX_ALIASES} are allowed"),
            ));
        }
        Ok(document)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let response = next.run(ctx, operation_name).await;
        if self.over.load(Ordering::Relaxed) {
            return Response::from_errors(vec![self.too_large()]);
        }
        response
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        if self.over.load(Ordering::Relaxed) {
            return Err(self.too_large());
        }
        let key = info.alias.unwrap_or(info.name).len() + 4;
        let json = base_type(info.return_type) == "JSON";
        let value = next.run(ctx, info).await?;
        let bytes = key + value.as_ref().map_or(4, |value| own_bytes(value, json));
        if self.used.fetch_add(bytes, Ordering::Relaxed) + bytes > self.max {
            self.over.store(true, Ordering::Relaxed);
            return Err(self.too_large());
        }
        Ok(value)
    }
}

/// The name of a type without its list and non-null marks: `[Step!]!` → `Step`.
fn base_type(qualified: &str) -> &str {
    qualified.trim_matches(|c| matches!(c, '[' | ']' | '!'))
}

/// The bytes a field's value adds to the answer that its own fields have not counted: all of a
/// JSON scalar, a list's scalars, nothing of an object (each of its fields counted itself).
fn own_bytes(value: &Value, json: bool) -> usize {
    match value {
        Value::Object(fields) if json => {
            2 + fields.iter().map(|(name, value)| name.len() + 4 + own_bytes(value, true)).sum::<usize>()
        }
        Value::Object(_) => 2,
        Value::List(items) => 2 + items.iter().map(|item| 1 + own_bytes(item, json)).sum::<usize>(),
        Value::String(text) => text.len() + 2,
        Value::Binary(bytes) => bytes.len() * 2,
        Value::Null => 4,
        Value::Boolean(_) => 5,
        Value::Number(number) => number.to_string().len(),
        Value::Enum(name) => name.len() + 2,
    }
}

/// The aliases in a document, its fragments included.
fn aliases(document: &ExecutableDocument) -> usize {
    let operations = document.operations.iter().map(|(_, operation)| in_set(&operation.node.selection_set.node));
    let fragments = document.fragments.values().map(|fragment| in_set(&fragment.node.selection_set.node));
    operations.chain(fragments).sum()
}

fn in_set(set: &SelectionSet) -> usize {
    set.items
        .iter()
        .map(|selection| match &selection.node {
            Selection::Field(field) => usize::from(field.node.alias.is_some()) + in_set(&field.node.selection_set.node),
            Selection::InlineFragment(fragment) => in_set(&fragment.node.selection_set.node),
            Selection::FragmentSpread(_) => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_are_counted_at_every_depth_and_in_fragments() {
        let document = async_graphql::parser::parse_query(
            "query { a: workspaces { edges { b: node { id } } } ...F } fragment F on Query { c: projections { name } }",
        )
        .unwrap();
        assert_eq!(aliases(&document), 3);
    }

    #[test]
    fn a_json_value_counts_whole_and_an_object_only_its_braces() {
        let value = Value::from_json(serde_json::json!({"text": "x".repeat(100), "n": [1, 2]})).unwrap();
        assert!(own_bytes(&value, true) > 100);
        assert_eq!(own_bytes(&value, false), 2);
        assert_eq!(base_type("[WorkflowStep!]!"), "WorkflowStep");
    }
}
