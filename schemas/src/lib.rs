//! JSON Schemas of every command payload and event payload, generated from the Rust types.
//!
//! The generated files live in `schemas/json/{commands,events}/<Type>.v<N>.json` and are
//! checked in, so that a change to a wire shape shows up in review. An event type's older
//! versions stay beside today's: the log keeps events in them, read through an upcaster. A
//! test fails when they drift from the types; `UPDATE_SCHEMAS=1 cargo test -p schemas` writes
//! them anew.

use schemars::Schema;
use schemars::generate::SchemaSettings;

/// A payload's schema, with the file it is kept in.
pub struct PayloadSchema {
    pub type_name: &'static str,
    pub version: i32,
    pub schema: Schema,
}

impl PayloadSchema {
    /// The schema's path below `schemas/json/`.
    pub fn file_name(&self, kind: &str) -> String {
        format!("{kind}/{}.v{}.json", self.type_name, self.version)
    }
}

fn settings() -> SchemaSettings {
    SchemaSettings::draft2020_12()
}

/// Commands have one shape each, version 1.
fn versioned(schemas: Vec<(&'static str, Schema)>) -> Vec<PayloadSchema> {
    schemas.into_iter().map(|(type_name, schema)| PayloadSchema { type_name, version: 1, schema }).collect()
}

/// Every command payload's schema.
pub fn commands() -> Vec<PayloadSchema> {
    let settings = &settings();
    let mut schemas = commands::workspace::WorkspaceCommand::payload_schemas(settings);
    schemas.extend(commands::agents::AgentCommand::payload_schemas(settings));
    schemas.extend(commands::workflows::WorkflowCommand::payload_schemas(settings));
    schemas.extend(commands::billing::BillingCommand::payload_schemas(settings));
    schemas.extend(commands::runs::RunCommand::payload_schemas(settings));
    versioned(schemas)
}

/// Every event payload's schema.
pub fn events() -> Vec<PayloadSchema> {
    let settings = &settings();
    let mut schemas = events::workspace::WorkspaceEvent::payload_schemas(settings);
    schemas.extend(events::agents::AgentEvent::payload_schemas(settings));
    schemas.extend(events::workflows::WorkflowEvent::payload_schemas(settings));
    schemas.extend(events::billing::BillingEvent::payload_schemas(settings));
    schemas.extend(events::runs::RunEvent::payload_schemas(settings));
    schemas.into_iter().map(|(type_name, version, schema)| PayloadSchema { type_name, version, schema }).collect()
}

/// Every schema file as it should be on disk: relative path and pretty JSON.
pub fn files() -> Vec<(String, String)> {
    let render = |schema: &Schema| serde_json::to_string_pretty(schema).expect("schemas serialize") + "\n";
    let commands = commands().into_iter().map(|s| (s.file_name("commands"), render(&s.schema)));
    let events = events().into_iter().map(|s| (s.file_name("events"), render(&s.schema)));
    commands.chain(events).collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    #[test]
    fn checked_in_schemas_match_the_rust_types() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("json");
        let update = std::env::var_os("UPDATE_SCHEMAS").is_some();
        let mut drifted = Vec::new();
        for (path, content) in super::files() {
            let file = root.join(&path);
            if update {
                std::fs::create_dir_all(file.parent().unwrap()).unwrap();
                std::fs::write(&file, &content).unwrap();
            } else if std::fs::read_to_string(&file).ok().as_deref() != Some(content.as_str()) {
                drifted.push(path);
            }
        }
        assert!(
            drifted.is_empty(),
            "these schemas differ from the Rust types: {drifted:?}; run UPDATE_SCHEMAS=1 cargo test -p schemas and review the diff"
        );
    }

    #[test]
    fn every_command_and_event_type_has_a_schema() {
        use commands::{agents::AgentCommand, billing::BillingCommand, workflows::WorkflowCommand};
        use events::{agents::AgentEvent, billing::BillingEvent, workflows::WorkflowEvent};
        let command_types = commands::workspace::WorkspaceCommand::TYPES.len()
            + AgentCommand::TYPES.len()
            + WorkflowCommand::TYPES.len()
            + BillingCommand::TYPES.len()
            + commands::runs::RunCommand::TYPES.len();
        let event_types = events::workspace::WorkspaceEvent::TYPES.len()
            + AgentEvent::TYPES.len()
            + WorkflowEvent::TYPES.len()
            + BillingEvent::TYPES.len()
            + events::runs::RunEvent::TYPES.len();
        assert_eq!(super::commands().len(), command_types);
        assert_eq!(super::events().len(), event_types);
    }
}
