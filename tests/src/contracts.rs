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

/// What is wrong with the events in the database at `url`: each event whose type has a schema
/// and whose payload that schema refuses, or whose version has none. Event types no schema
/// names (a test's own) are not Oxbow's.
pub(crate) async fn violations(url: &str) -> anyhow::Result<Vec<String>> {
    let pool = sqlx::postgres::PgPoolOptions::new().max_connections(1).connect(url).await?;
    let head = store::read_head(&pool).await?.position;
    let validators = validators();
    let mut violations = Vec::new();
    // In pages, so that a test's long log is never all in memory at once.
    for first in (1..=head).step_by(10_000) {
        for event in store::read_range(&pool, first, (first + 9_999).min(head)).await? {
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
