//! Every event a test appended, held to its checked-in JSON Schema (`schemas/json/events`), so
//! the contract clients generate code from is the one the log keeps.

use std::collections::HashMap;
use std::sync::OnceLock;

/// Each event schema's validator, by event type and schema version.
fn validators() -> &'static HashMap<(String, i32), jsonschema::Validator> {
    static VALIDATORS: OnceLock<HashMap<(String, i32), jsonschema::Validator>> = OnceLock::new();
    VALIDATORS.get_or_init(|| {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas/json/events");
        let files = std::fs::read_dir(&dir).unwrap_or_else(|error| panic!("reading {}: {error}", dir.display()));
        files
            .map(|file| file.expect("a schema file").path())
            .filter_map(|path| {
                let name = path.file_name()?.to_str()?.strip_suffix(".json")?.to_owned();
                let (event_type, version) = name.rsplit_once(".v")?;
                let schema: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).ok()?).ok()?;
                let validator = jsonschema::options()
                    .should_validate_formats(true)
                    .build(&schema)
                    .unwrap_or_else(|error| panic!("{} is not a valid schema: {error}", path.display()));
                Some(((event_type.to_owned(), version.parse().ok()?), validator))
            })
            .collect()
    })
}

/// Whether Oxbow's own code reads `event`. What it cannot read at all was not written by it: a
/// test's deliberate poison (the parking tests append such events), which no schema describes.
fn readable(event: &events::RecordedEvent) -> bool {
    use events::DomainEvent;
    events::workspace::WorkspaceEvent::from_recorded(event).is_ok()
        || events::agents::AgentEvent::from_recorded(event).is_ok()
        || events::workflows::WorkflowEvent::from_recorded(event).is_ok()
        || events::billing::BillingEvent::from_recorded(event).is_ok()
        || events::runs::RunEvent::from_recorded(event).is_ok()
        || events::operations::OperationsEvent::from_recorded(event).is_ok()
}

/// What is wrong with the events in the database at `url`: each event Oxbow reads whose type
/// has a schema and whose payload that schema refuses, or whose version has none. Event types
/// no schema names (a test's own) are not Oxbow's.
pub(crate) async fn violations(url: &str) -> anyhow::Result<Vec<String>> {
    let pool = sqlx::postgres::PgPoolOptions::new().max_connections(1).connect(url).await?;
    let head = store::read_head(&pool).await?.position;
    let validators = validators();
    let mut violations = Vec::new();
    // In pages, so that a test's long log is never all in memory at once.
    for first in (1..=head).step_by(10_000) {
        let page = store::read_range(&pool, first, (first + 9_999).min(head)).await?;
        for event in page.into_iter().filter(readable) {
            let key = (event.event_type.clone(), event.schema_version);
            match validators.get(&key) {
                Some(validator) => {
                    if let Some(error) = validator.iter_errors(&event.payload).next() {
                        violations.push(format!(
                            "{} v{} at position {}: {error} (at {})",
                            event.event_type,
                            event.schema_version,
                            event.position,
                            error.instance_path()
                        ));
                    }
                }
                None if validators.keys().any(|(event_type, _)| *event_type == event.event_type) => {
                    violations.push(format!("{} v{} has no schema", event.event_type, event.schema_version))
                }
                None => {}
            }
        }
    }
    pool.close().await;
    Ok(violations)
}

/// Holds a message Oxbow put on the tasks or notifications topic to its payload's schema in
/// the AsyncAPI document (`schemas/asyncapi.json`), `message` naming it there (`tasks.task`).
pub fn check_message(message: &str, body: &serde_json::Value) {
    static DOCUMENT: OnceLock<serde_json::Value> = OnceLock::new();
    let document = DOCUMENT.get_or_init(|| {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas/asyncapi.json");
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    });
    let mut document = document.clone();
    assert!(document.pointer(&format!("/components/messages/{message}/payload")).is_some(), "no message {message}");
    // The whole document as the schema's root, so that the payload's references resolve.
    document["$ref"] = format!("#/components/messages/{message}/payload").into();
    let validator = jsonschema::options().should_validate_formats(true).build(&document).unwrap();
    let errors: Vec<String> =
        validator.iter_errors(body).map(|error| format!("{error} at {}", error.instance_path())).collect();
    assert!(errors.is_empty(), "{message} {body} breaks the AsyncAPI document: {errors:?}");
}
