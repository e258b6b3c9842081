//! The AsyncAPI document of the Kafka topics Oxbow writes: the events topic (the log, one
//! message per event, its payload the event's schema), the shared tasks topic where a deployment
//! has one, and the notifications topic. All three are CloudEvents in binary mode: the
//! attributes travel as headers, the body is JSON.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

/// The AsyncAPI 3.0 document, as `schemas/asyncapi.json` holds it.
pub fn document() -> Value {
    let mut schemas: BTreeMap<String, Value> = BTreeMap::new();
    schemas.insert("EventHeaders".into(), event_headers());
    schemas.insert("MessageHeaders".into(), message_headers());
    let mut messages = Map::new();
    let mut channels = Map::new();

    let events = latest_events();
    let mut event_messages = Map::new();
    for (type_name, schema) in &events {
        let payload = hoist(schema, &mut schemas);
        let summary = payload.get("description").cloned().unwrap_or_else(|| json!(type_name));
        messages.insert(
            type_name.clone(),
            json!({
                "name": type_name,
                "summary": summary,
                "contentType": "application/json",
                "headers": {"$ref": "#/components/schemas/EventHeaders"},
                "payload": payload,
                "bindings": {"kafka": {"key": {"type": "string", "description": "The event's stream, e.g. `run-<uuid>`: a stream's events keep their order."}}},
            }),
        );
        event_messages.insert(type_name.clone(), json!({"$ref": format!("#/components/messages/{type_name}")}));
    }
    channels.insert(
        "events".into(),
        json!({
            "address": "oxbow.events",
            "title": "The log",
            "description": "Every logged event, in commit order per stream, keyed by stream (OXBOW_EVENTS_TOPIC names it). `ce_type` is `oxbow.<context>.<EventType>.v<schema version>`; the payload is the event's JSON Schema (schemas/json/events), personal fields and secrets sealed.",
            "messages": event_messages,
        }),
    );

    let mut others = |channel: &str, address: &str, description: &str, kinds: Vec<(&str, &str, Value)>| {
        let mut channel_messages = Map::new();
        for (name, summary, payload) in kinds {
            let id = format!("{channel}.{name}");
            messages.insert(
                id.clone(),
                json!({
                    "name": name,
                    "summary": summary,
                    "contentType": "application/json",
                    "headers": {"$ref": "#/components/schemas/MessageHeaders"},
                    "payload": payload,
                }),
            );
            channel_messages.insert(id.clone(), json!({"$ref": format!("#/components/messages/{id}")}));
        }
        channels.insert(
            channel.into(),
            json!({"address": address, "description": description, "messages": channel_messages}),
        );
    };
    others(
        "tasks",
        "oxbow.tasks",
        "Only where a deployment of trusted workers opts in (OXBOW_TASKS_TOPIC names it): each external agent's task, and word that an attempt is over. Keyed by run. Workers otherwise lease their own agent's tasks over POST /v1/tasks/lease.",
        vec![
            ("task", "An attempt for an external agent's worker; `ce_id` is `<run>:<step>:<attempt>`.", task()),
            ("cancel", "The attempt is over (its run failed or was cancelled): stop working on it.", cancel()),
        ],
    );
    others(
        "notifications",
        "oxbow.notifications",
        "Notices for mailers and chat bots (OXBOW_NOTIFICATIONS_TOPIC names it), keyed by workspace. Shared by every workspace: never a step's input.",
        vec![
            (
                "approval_requested",
                "An approval step waits for a member of `approvers` or higher.",
                awaiting("approvers", false),
            ),
            (
                "signal_requested",
                "A signal step waits for a member of `signalers` or higher, or the worker of `signal_agent_id`.",
                awaiting("signalers", true),
            ),
            ("low_balance", "A billing account's balance fell below its threshold.", low_balance()),
        ],
    );

    let operations: Map<String, Value> = channels
        .iter()
        .map(|(channel, definition)| {
            let sent: Vec<Value> = definition["messages"]
                .as_object()
                .into_iter()
                .flat_map(|messages| messages.keys())
                .map(|message| json!({"$ref": format!("#/channels/{channel}/messages/{}", pointer_escape(message))}))
                .collect();
            let operation =
                json!({"action": "send", "channel": {"$ref": format!("#/channels/{channel}")}, "messages": sent});
            (format!("send_{channel}"), operation)
        })
        .collect();

    json!({
        "asyncapi": "3.0.0",
        "info": {
            "title": "Oxbow topics",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The Kafka topics Oxbow writes. Every message is a CloudEvent in the Kafka binding's binary mode: the attributes are `ce_*` headers, the body is the JSON payload. Traced messages carry `traceparent` and `ce_traceparent`.",
        },
        "defaultContentType": "application/json",
        "servers": {
            "kafka": {
                "host": "localhost:9092",
                "protocol": "kafka",
                "description": "Any Kafka-protocol broker; OXBOW_KAFKA_BROKERS names it.",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    })
}

/// Today's schema of each event type (the log may hold older versions; they are read upcast).
fn latest_events() -> BTreeMap<String, Value> {
    let mut latest: BTreeMap<String, (i32, Value)> = BTreeMap::new();
    for schema in crate::events() {
        let value = serde_json::to_value(&schema.schema).expect("schemas serialize");
        let newer = latest.get(schema.type_name).is_none_or(|(version, _)| *version < schema.version);
        if newer {
            latest.insert(schema.type_name.to_owned(), (schema.version, value));
        }
    }
    latest.into_iter().map(|(name, (_, schema))| (name, schema)).collect()
}

/// The schema without its `$defs`, which move to the document's components (a definition of
/// the same name must be the same everywhere), its references pointed there.
fn hoist(schema: &Value, components: &mut BTreeMap<String, Value>) -> Value {
    let text = serde_json::to_string(schema).expect("schemas serialize").replace("#/$defs/", "#/components/schemas/");
    let mut schema: Value = serde_json::from_str(&text).expect("a schema reads back");
    let fields = schema.as_object_mut().expect("an event's schema is an object");
    fields.remove("$schema");
    if let Some(Value::Object(definitions)) = fields.remove("$defs") {
        for (name, definition) in definitions {
            match components.get(&name) {
                Some(existing) if *existing != definition => {
                    panic!("two event schemas define {name} differently; rename one")
                }
                _ => components.insert(name, definition),
            };
        }
    }
    schema
}

/// `/` and `~` in a JSON pointer's segment.
fn pointer_escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

fn string(description: &str) -> Value {
    json!({"type": "string", "description": description})
}

fn headers(properties: Vec<(&str, Value)>, required: &[&str]) -> Value {
    let properties: Map<String, Value> =
        properties.into_iter().map(|(name, schema)| (name.to_owned(), schema)).collect();
    json!({"type": "object", "properties": properties, "required": required})
}

/// The CloudEvents attributes every message carries, and the trace.
fn common_headers(source: &str) -> Vec<(&'static str, Value)> {
    vec![
        ("ce_specversion", json!({"type": "string", "const": "1.0"})),
        ("ce_id", string("The message's id: the same message sent again has the same id.")),
        ("ce_source", string(source)),
        ("ce_type", string("What the message is, with its version.")),
        ("ce_subject", string("What it is about.")),
        ("ce_time", json!({"type": "string", "format": "date-time"})),
        ("content-type", json!({"type": "string", "const": "application/json"})),
        ("traceparent", string("W3C Trace Context of the trace the message belongs to, when traced.")),
        ("ce_traceparent", string("The same, as CloudEvents' distributed tracing extension.")),
    ]
}

const REQUIRED: &[&str] = &["ce_specversion", "ce_id", "ce_source", "ce_type", "ce_subject", "ce_time", "content-type"];

fn event_headers() -> Value {
    let mut properties = common_headers("`/oxbow/<context>`");
    properties.extend([
        ("ce_oxbowposition", string("The event's global position in the log.")),
        ("ce_oxbowstreamversion", string("The event's version within its stream.")),
        ("ce_oxbowcorrelationid", string("The correlation id of the request it came from.")),
        ("ce_oxbowcausationid", string("The id of what caused it.")),
        ("ce_oxboweventtype", string("The event type.")),
        ("ce_oxbowschemaversion", string("The payload's schema version.")),
        ("ce_oxbowmetadata", string("The event's metadata, JSON.")),
        ("ce_oxbowhash", string("The hash chain's SHA-256 at this event, hex.")),
    ]);
    headers(properties, REQUIRED)
}

fn message_headers() -> Value {
    headers(common_headers("`/oxbow/tasks` or `/oxbow/notifications`"), REQUIRED)
}

fn object(properties: Value, required: &[&str]) -> Value {
    json!({"type": "object", "properties": properties, "required": required})
}

fn uuid() -> Value {
    json!({"type": "string", "format": "uuid"})
}

fn task() -> Value {
    object(
        json!({
            "type": {"const": "task"},
            "run_id": uuid(),
            "workspace_id": uuid(),
            "step_id": {"type": "string"},
            "attempt": {"type": "integer", "minimum": 1},
            "agent_id": uuid(),
            "input": {"description": "The step's input, resolved."},
            "deadline": {"type": "string", "format": "date-time", "description": "A report after it is refused."},
        }),
        &["type", "run_id", "workspace_id", "step_id", "attempt", "agent_id", "input", "deadline"],
    )
}

fn cancel() -> Value {
    object(
        json!({
            "type": {"const": "cancel"},
            "run_id": uuid(),
            "workspace_id": uuid(),
            "agent_id": uuid(),
            "step_id": {"type": "string"},
            "attempt": {"type": "integer", "minimum": 1},
        }),
        &["type", "run_id", "workspace_id", "agent_id", "step_id", "attempt"],
    )
}

fn awaiting(who: &str, signal: bool) -> Value {
    let role = json!({"type": "string", "enum": ["member", "admin", "owner"]});
    let mut properties = json!({
        "type": {"const": if signal { "signal_requested" } else { "approval_requested" }},
        "workspace_id": uuid(),
        "run_id": uuid(),
        "step_id": {"type": "string"},
        "deadline": {"type": "string", "format": "date-time"},
    });
    properties[who] = role;
    let mut required = vec!["type", "workspace_id", "run_id", "step_id", "deadline", who];
    if signal {
        properties["signal_agent_id"] = json!({"anyOf": [uuid(), {"type": "null"}]});
        required.push("signal_agent_id");
    }
    object(properties, &required)
}

fn low_balance() -> Value {
    object(
        json!({
            "type": {"const": "low_balance"},
            "workspace_id": uuid(),
            "balance": {"type": "integer"},
            "threshold": {"type": "integer"},
        }),
        &["type", "workspace_id", "balance", "threshold"],
    )
}
