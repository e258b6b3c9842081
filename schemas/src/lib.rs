//! JSON Schemas of every command payload and event payload, generated from the Rust types.
//!
//! The generated files live in `schemas/json/{commands,events}/<Type>.v<N>.json` and are
//! checked in, so that a change to a wire shape shows up in review. An event type's older
//! versions stay beside today's: the log keeps events in them, read through an upcaster. A
//! test fails when they drift from the types; `UPDATE_SCHEMAS=1 cargo test -p schemas` writes
//! them anew.

pub mod asyncapi;

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

    /// The `$id` of its file, which names it wherever it is copied to: `urn:oxbow:{kind}:{type}:v{N}`.
    /// (Only files get one: inside OpenAPI a schema's `$id` would change what its references
    /// point to.)
    pub fn id(&self, kind: &str) -> String {
        format!("urn:oxbow:{kind}:{}:v{}", self.type_name, self.version)
    }

    /// The schema as its file holds it, with its `$id`.
    fn file_content(&self, kind: &str) -> String {
        // Inserted as text, first: the generated members keep their order.
        let rendered = serde_json::to_string_pretty(&self.schema).expect("schemas serialize");
        rendered.replacen("{\n", &format!("{{\n  \"$id\": \"{}\",\n", self.id(kind)), 1) + "\n"
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
    let commands = commands().into_iter().map(|s| (s.file_name("commands"), s.file_content("commands")));
    let events = events().into_iter().map(|s| (s.file_name("events"), s.file_content("events")));
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
        let asyncapi = serde_json::to_string_pretty(&super::asyncapi::document()).unwrap() + "\n";
        let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("asyncapi.json");
        if update {
            std::fs::write(&file, &asyncapi).unwrap();
        } else if std::fs::read_to_string(&file).ok() != Some(asyncapi) {
            drifted.push("asyncapi.json".into());
        }
        assert!(
            drifted.is_empty(),
            "these schemas differ from the Rust types: {drifted:?}; run UPDATE_SCHEMAS=1 cargo test -p schemas and review the diff"
        );
    }

    /// The schema of command `type_name`, as its file holds it.
    fn command(type_name: &str) -> serde_json::Value {
        let schema = super::commands().into_iter().find(|s| s.type_name == type_name).unwrap();
        serde_json::from_str(&schema.file_content("commands")).unwrap()
    }

    /// Bounds written into types the commands share with events are numbers there: here they
    /// are held to the constants the validation enforces.
    #[test]
    fn the_schemas_bounds_are_the_ones_the_code_enforces() {
        use commands::{agents, runs, workflows};
        let define = command("DefineWorkflow");
        let at = |schema: &serde_json::Value, pointer: &str| {
            schema.pointer(pointer).cloned().unwrap_or_else(|| panic!("{pointer} in {schema}"))
        };
        assert_eq!(at(&define, "/properties/steps/maxItems"), workflows::MAX_STEPS);
        assert_eq!(at(&define, "/$defs/RetryPolicy/properties/max_attempts/maximum"), workflows::MAX_ATTEMPTS);
        assert_eq!(at(&define, "/$defs/RetryPolicy/properties/backoff_ms/maximum"), workflows::MAX_TIMEOUT_MS);
        assert_eq!(at(&define, "/$defs/Step/properties/timeout_ms/maximum"), workflows::MAX_WAIT_MS);
        assert_eq!(at(&define, "/$defs/Step/properties/id/maxLength"), runs::STEP_ID_MAX_CHARS);
        let register = command("RegisterAgent");
        let webhook = at(&register, "/$defs/Executor/oneOf/1/properties");
        assert_eq!(at(&webhook, "/timeout_ms/maximum"), agents::WEBHOOK_TIMEOUT_MAX_MS);
        let complete = command("CompleteStep");
        assert_eq!(at(&complete, "/properties/artifacts/maxItems"), commands::validate::ARTIFACTS_MAX);
        assert_eq!(at(&complete, "/$defs/Usage/properties/input_tokens/maximum"), runs::TOKENS_MAX);
        let price = at(&recorded_price(), "/per_call/maximum");
        assert_eq!(price, agents::PRICE_MAX);
        assert_eq!(at(&define, "/$id"), "urn:oxbow:commands:DefineWorkflow:v1");
    }

    /// The properties of a recorded price (an event's, not an offer's).
    fn recorded_price() -> serde_json::Value {
        let registered = super::events().into_iter().find(|s| s.type_name == "AgentRegistered" && s.version == 2);
        let schema: serde_json::Value = serde_json::from_str(&registered.unwrap().file_content("events")).unwrap();
        schema.pointer("/$defs/Price/properties").cloned().unwrap()
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
