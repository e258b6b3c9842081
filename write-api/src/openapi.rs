//! The OpenAPI 3.1 document of the REST surface, with every command payload's JSON Schema.

use serde_json::{Map, Value, json};

/// Moves a schema's `$defs` into `components` and points its references there.
fn hoist(schema: &schemars::Schema, components: &mut Map<String, Value>) -> Value {
    let text = serde_json::to_string(schema).expect("schemas serialize").replace("#/$defs/", "#/components/schemas/");
    let mut value: Value = serde_json::from_str(&text).expect("valid JSON");
    if let Some(object) = value.as_object_mut() {
        object.remove("$schema");
        if let Some(Value::Object(mut definitions)) = object.remove("$defs") {
            definitions.values_mut().for_each(any_as_object);
            components.extend(definitions);
        }
    }
    any_as_object(&mut value);
    value
}

/// Makes each variant of a tagged union (`Executor`: `{"type": "webhook", …}`) a component of
/// its own, named after its union and tag (`ExecutorWebhook`), so that generators name its type
/// for what it is rather than `Executor_type_1`, and make it once.
fn name_tagged_variants(components: &mut Map<String, Value>) {
    let mut named = Vec::new();
    for (name, schema) in components.iter_mut() {
        let Some(Value::Array(variants)) = schema.get_mut("oneOf") else { continue };
        for variant in variants.iter_mut() {
            let Some(tag) = variant.pointer("/properties/type/const").and_then(Value::as_str) else { continue };
            let pascal: String = tag.split('_').map(|word| word[..1].to_uppercase() + &word[1..]).collect();
            let component = format!("{name}{pascal}");
            let mut moved = std::mem::replace(variant, json!({"$ref": format!("#/components/schemas/{component}")}));
            moved["title"] = json!(component);
            named.push((component, moved));
        }
    }
    components.extend(named);
}

/// Writes JSON Schema's `true` (anything, as schemars writes a `serde_json::Value` field) as
/// `{}`, which means the same: OpenAPI 3.1 allows both, but generators (openapi-python-client)
/// take only schema objects.
fn any_as_object(schema: &mut Value) {
    match schema {
        Value::Bool(true) => *schema = json!({}),
        Value::Object(fields) => fields.values_mut().for_each(any_as_object),
        Value::Array(items) => items.iter_mut().for_each(any_as_object),
        _ => {}
    }
}

pub fn document() -> Value {
    let mut components = Map::new();
    let (mut variants, mut mapping) = (Vec::new(), Map::new());
    for command in schemas::commands() {
        let mut payload = hoist(&command.schema, &mut components);
        let name = format!("{}Payload", command.type_name);
        // Titled as the component is named: generators name their types by titles.
        payload["title"] = json!(name);
        components.insert(name.clone(), payload);
        // Each command is a component of its own, so that the envelope's discriminator maps
        // `type` to it and generators make one named type per command.
        let envelope = format!("{}Command", command.type_name);
        mapping.insert(command.type_name.to_owned(), json!(format!("#/components/schemas/{envelope}")));
        variants.push(json!({"$ref": format!("#/components/schemas/{envelope}")}));
        components.insert(envelope.clone(), json!({
            "type": "object",
            "title": envelope,
            "required": ["type", "id", "payload"],
            "additionalProperties": false,
            "properties": {
                "type": {"const": command.type_name},
                "id": {"type": "string", "format": "uuid", "description": "The aggregate's id; the client chooses it for creating commands."},
                "expected_version": {"type": "integer", "minimum": 0, "description": "Optimistic concurrency: the version the aggregate must be at."},
                "payload": {"$ref": format!("#/components/schemas/{name}")}
            }
        }));
    }
    name_tagged_variants(&mut components);
    components.insert(
        "Command".into(),
        json!({"oneOf": variants, "discriminator": {"propertyName": "type", "mapping": mapping}}),
    );
    components.insert(
        "Accepted".into(),
        json!({
            "type": "object",
            "required": ["stream", "version", "position", "events"],
            "properties": {
                "stream": {"type": "string"},
                "version": {"type": "integer"},
                "position": {"type": "integer", "description": "Global position of the last event; pass it as X-Oxbow-Min-Position to read your writes."},
                "events": {"type": "array", "items": {
                    "type": "object",
                    "required": ["type", "id", "position", "payload"],
                    "properties": {"type": {"type": "string"}, "id": {"type": "string", "format": "uuid"}, "position": {"type": "integer"}, "payload": {"type": "object"}}
                }},
                "worker_credential": {"type": "string", "description": "The credential an IssueWorkerCredential made (oxw.…), shown this once."},
                "webhook_secret": {"type": "string", "pattern": "^whsec_", "description": "The secret a webhook agent's calls are signed with (Standard Webhooks), made by RegisterAgent or RotateWebhookSecret, shown this once."}
            }
        }),
    );
    components.insert(
        "ParkedRequest".into(),
        json!({
            "type": "object", "required": ["consumer", "position"], "additionalProperties": false,
            "properties": {
                "consumer": {"type": "string", "enum": ["catalog", "relay", "sagas"]},
                "position": {"type": "integer", "description": "The parked event's position in the log"},
                "reason": {"type": "string", "minLength": 1, "maxLength": 2000, "description": "Why it is given up (a skip needs one)"}
            }
        }),
    );
    components.insert(
        "Settled".into(),
        json!({
            "type": "object", "required": ["settled"],
            "properties": {
                "settled": {"type": "string", "enum": ["applied", "failed_again", "pending", "due"]},
                "stream_id": {"type": "string"},
                "error": {"type": "string", "description": "Why the stream failed again"},
                "id": {"type": "integer"}
            }
        }),
    );
    components.insert(
        "Problem".into(),
        json!({
            "type": "object",
            "description": "RFC 9457 problem details with a stable machine code.",
            "required": ["type", "title", "status", "detail", "code"],
            "properties": {
                "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
                "detail": {"type": "string"}, "code": {"type": "string"},
                "field": {"type": "string", "description": "JSON pointer of the failing field (400)."},
                "current_version": {"type": "integer", "description": "The aggregate's version (409)."},
                "rule": {"type": "string", "description": "The business rule that refused the command (422)."}
            }
        }),
    );
    let tags = json!([
        {"name": "commands", "description": "Commands: each one validated, decided and appended to the log"},
        {"name": "workers", "description": "External agents' workers: their tasks"},
        {"name": "payments", "description": "The payment provider's confirmations"},
        {"name": "queries", "description": "GraphQL over HTTP"},
        {"name": "operations", "description": "Health, readiness and metrics"}
    ]);
    let problem = |description: &str| json!({"description": description, "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}});
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Oxbow", "version": env!("CARGO_PKG_VERSION"), "description": "Event-sourced CQRS backend for multi-tenant AI-agent platforms."},
        // Relative: the document is served by the deployment it describes.
        "servers": [{"url": "/", "description": "This deployment"}],
        "tags": tags,
        "paths": {
            "/v1/commands": {"post": {
                "operationId": "sendCommand",
                "tags": ["commands"],
                "summary": "Send a command",
                "security": [{"bearer": []}],
                "parameters": [
                    {"name": "Idempotency-Key", "in": "header", "required": false, "schema": {"type": "string", "maxLength": 255},
                     "description": "A retry with the same key and body returns the first response and appends nothing."},
                    {"name": "X-Correlation-Id", "in": "header", "required": false, "schema": {"type": "string", "format": "uuid"}}
                ],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Command"}}}},
                "responses": {
                    "200": {"description": "Appended", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Accepted"}}}},
                    "400": problem("Malformed or schema-invalid"),
                    "401": problem("No valid bearer token"),
                    "403": problem("The caller's role does not allow the command"),
                    "404": problem("Unknown aggregate"),
                    "409": problem("Version conflict, or the aggregate exists already"),
                    "413": problem("Body too large"),
                    "422": problem("A business rule refused the command, or an idempotency key was reused"),
                    "429": problem("Rate limited"),
                    "503": problem("The log is unavailable")
                }
            }},
            "/v1/tasks/lease": {"post": {
                "operationId": "leaseTasks",
                "tags": ["workers"],
                "summary": "An external agent's worker takes up to `max` of its agent's tasks, waiting up to `wait_ms` for one; a lease lasts 30 s unless reported (through /v1/commands) or extended",
                "parameters": [{"name": "Authorization", "in": "header", "required": true, "schema": {"type": "string"},
                    "description": "Bearer oxw.… : the agent's worker credential"}],
                "requestBody": {"required": false, "content": {"application/json": {"schema": {
                    "type": "object", "additionalProperties": false,
                    "properties": {
                        "max": {"type": "integer", "minimum": 1, "maximum": 100, "default": 1},
                        "wait_ms": {"type": "integer", "minimum": 0, "maximum": 30000, "default": 0}
                    }
                }}}},
                "responses": {
                    "200": {"description": "The tasks leased, none when none came within wait_ms", "content": {"application/json": {"schema": {
                        "type": "object", "required": ["tasks"],
                        "properties": {"tasks": {"type": "array", "items": {"type": "object",
                            "required": ["run_id", "workspace_id", "agent_id", "step_id", "attempt", "input", "deadline", "lease_expires_at"],
                            "properties": {
                                "run_id": {"type": "string", "format": "uuid"},
                                "workspace_id": {"type": "string", "format": "uuid"},
                                "agent_id": {"type": "string", "format": "uuid"},
                                "step_id": {"type": "string"},
                                "attempt": {"type": "integer", "minimum": 1},
                                "input": {},
                                "deadline": {"type": "string", "format": "date-time"},
                                "lease_expires_at": {"type": "string", "format": "date-time"},
                                "traceparent": {"type": "string", "description": "W3C Trace Context of the trace the task was offered in, where traces are on: send it on the reports to continue it."}
                            }}}}
                    }}}},
                    "400": problem("Malformed, or max / wait_ms out of bounds"),
                    "401": problem("No valid worker credential"),
                    "403": problem("Not a worker credential (worker_credential_required)"),
                    "429": problem("Rate limited")
                }
            }},
            "/v1/tasks/extend": {"post": {
                "operationId": "extendTaskLease",
                "tags": ["workers"],
                "summary": "Extends a lease of one attempt by 30 s from now",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {
                    "type": "object", "additionalProperties": false, "required": ["run_id", "step_id", "attempt"],
                    "properties": {
                        "run_id": {"type": "string", "format": "uuid"},
                        "step_id": {"type": "string"},
                        "attempt": {"type": "integer", "minimum": 1}
                    }
                }}}},
                "responses": {
                    "200": {"description": "Extended", "content": {"application/json": {"schema": {
                        "type": "object", "properties": {"lease_expires_at": {"type": "string", "format": "date-time"}}}}}},
                    "403": problem("Not a worker credential"),
                    "422": problem("attempt_over: started, ended, timed out, cancelled, or no task of this agent's")
                }
            }},
            "/v1/payments/webhook": {"post": {
                "operationId": "confirmPayment",
                "tags": ["payments"],
                "summary": "The payment provider confirms a payment: credits are purchased, or the named invoice paid, once per payment id",
                "parameters": [
                    {"name": "Oxbow-Signature", "in": "header", "required": true, "schema": {"type": "string"},
                     "description": "t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<body>\" keyed with OXBOW_PAYMENT_WEBHOOK_SECRET>; at most five minutes old, at most three v1= entries"}
                ],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["id", "type", "workspace_id", "amount"],
                    "properties": {
                        "id": {"type": "string", "description": "The provider's payment id"},
                        "type": {"type": "string", "description": "payment.succeeded; other types are acknowledged and ignored"},
                        "workspace_id": {"type": "string", "format": "uuid"},
                        "amount": {"type": "integer", "minimum": 1},
                        "invoice_id": {"type": "string", "format": "uuid", "description": "Pays this invoice instead of buying credits"}
                    }
                }}}},
                "responses": {
                    "200": {"description": "Recorded (no events when the payment was recorded before), or ignored", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Accepted"}}}},
                    "400": problem("Malformed"),
                    "401": problem("The signature is missing, stale or does not match"),
                    "404": problem("No payment webhook is configured, or no billing account"),
                    "422": problem("A business rule refused the payment")
                }
            }},
            "/graphql": {
                "get": {"operationId": "queryOverGet", "tags": ["queries"], "summary": "A query from the URL's parameters (GraphQL over HTTP); GraphiQL for a browser asking for text/html", "responses": {"200": {"description": "GraphQL response"}, "405": {"description": "A mutation over GET"}}},
                "post": {"operationId": "query", "tags": ["queries"], "summary": "GraphQL queries and mutations (GraphQL over HTTP; subscriptions at /graphql/ws)", "responses": {"200": {"description": "GraphQL response"}, "400": {"description": "A request error, when accepting application/graphql-response+json"}, "415": {"description": "The body is not application/json"}}}
            },
            "/openapi.json": {"get": {"operationId": "openApi", "tags": ["operations"], "summary": "This document", "responses": {"200": {"description": "OpenAPI 3.1"}}}},
            "/v1/operations/dead-letters": {"get": {
                "operationId": "deadLetters",
                "tags": ["operations"],
                "summary": "An operator reads every consumer's parked events and the set-aside saga work",
                "security": [{"bearer": []}],
                "responses": {
                    "200": {"description": "The dead letters", "content": {"application/json": {"schema": {
                        "type": "object", "required": ["parked", "set_aside"],
                        "properties": {
                            "parked": {"type": "array", "items": {"type": "object",
                                "required": ["consumer", "position", "stream_id", "event_type", "tries", "retry_requested", "parked_at"],
                                "properties": {
                                    "consumer": {"type": "string"}, "position": {"type": "integer"}, "stream_id": {"type": "string"},
                                    "event_type": {"type": "string"}, "error": {"type": ["string", "null"]}, "tries": {"type": "integer"},
                                    "retry_requested": {"type": "boolean"}, "parked_at": {"type": "string", "format": "date-time"}
                                }}},
                            "set_aside": {"type": "array", "items": {"type": "object",
                                "required": ["id", "saga", "key", "attempts"],
                                "properties": {
                                    "id": {"type": "integer"}, "saga": {"type": "string"}, "key": {"type": "string"},
                                    "workspace_id": {"type": ["string", "null"], "format": "uuid"}, "attempts": {"type": "integer"},
                                    "last_error": {"type": ["string", "null"]}
                                }}}
                        }}}}},
                    "401": problem("No valid bearer token"),
                    "403": problem("Not an operator (operator_only)")
                }
            }},
            "/v1/operations/parked/retry": {"post": {
                "operationId": "retryParked",
                "tags": ["operations"],
                "summary": "An operator asks a consumer (catalog, relay or sagas) to apply the stream of the event parked at `position` again; answered once it is applied or fails again, or after 5 s (pending)",
                "security": [{"bearer": []}],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ParkedRequest"}}}},
                "responses": {
                    "200": {"description": "How the stream settled", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Settled"}}}},
                    "400": problem("Malformed, or no such consumer"),
                    "401": problem("No valid bearer token"),
                    "403": problem("Not an operator (operator_only)"),
                    "404": problem("No event parked at this position (not_parked)")
                }
            }},
            "/v1/operations/parked/skip": {"post": {
                "operationId": "skipParked",
                "tags": ["operations"],
                "summary": "An operator gives up the failed event parked at `position`, saying why: recorded in the log as ParkedEventSkipped with the operator as its actor; the events behind it flow on",
                "security": [{"bearer": []}],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ParkedRequest"}}}},
                "responses": {
                    "200": {"description": "How the stream settled", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Settled"}}}},
                    "400": problem("Malformed, no such consumer, or no reason"),
                    "401": problem("No valid bearer token"),
                    "403": problem("Not an operator (operator_only)"),
                    "404": problem("No event parked at this position (not_parked)"),
                    "422": problem("The event did not fail: it waits behind the one that did (not_failed)")
                }
            }},
            "/v1/operations/saga-work/retry": {"post": {
                "operationId": "retrySagaWork",
                "tags": ["operations"],
                "summary": "An operator makes set-aside saga work due again, with a fresh count of tries",
                "security": [{"bearer": []}],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["id"], "additionalProperties": false,
                    "properties": {"id": {"type": "integer", "description": "The work's id, as projections { sagas } and `oxbow projections status` show it"}}}}}},
                "responses": {
                    "200": {"description": "Due again", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Settled"}}}},
                    "401": problem("No valid bearer token"),
                    "403": problem("Not an operator (operator_only)"),
                    "404": problem("No saga work with this id is set aside (not_set_aside)")
                }
            }},
            "/healthz": {"get": {"operationId": "liveness", "tags": ["operations"], "summary": "Liveness", "responses": {"200": {"description": "The process runs"}}}},
            "/readyz": {"get": {"operationId": "readiness", "tags": ["operations"], "summary": "Readiness: PostgreSQL, Kafka and Redis answer", "responses": {"200": {"description": "Ready"}, "503": {"description": "Not ready"}}}},
            "/metrics": {"get": {"operationId": "metrics", "tags": ["operations"], "summary": "Prometheus metrics", "responses": {"200": {"description": "Text exposition"}}}}
        },
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}
        }
    })
}

#[cfg(test)]
mod tests {
    /// Generators name methods by operationId and group them by tag: every operation has a
    /// unique id and a declared tag, and the command envelope's discriminator maps every
    /// command type to its own schema.
    #[test]
    fn every_operation_is_named_and_tagged_and_every_command_discriminated() {
        let document = super::document();
        let tags: Vec<&str> =
            document["tags"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
        let mut ids = std::collections::HashSet::new();
        for (path, item) in document["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let id =
                    operation["operationId"].as_str().unwrap_or_else(|| panic!("{method} {path} has no operationId"));
                assert!(ids.insert(id), "operationId {id} twice");
                let tag = operation["tags"][0].as_str().unwrap_or_else(|| panic!("{method} {path} has no tag"));
                assert!(tags.contains(&tag), "{method} {path}: tag {tag} is not declared");
            }
        }
        let command = &document["components"]["schemas"]["Command"];
        let mapping = command["discriminator"]["mapping"].as_object().unwrap();
        assert_eq!(command["discriminator"]["propertyName"], "type");
        assert_eq!(mapping.len(), schemas::commands().len());
        for (type_name, target) in mapping {
            let name = target.as_str().unwrap().strip_prefix("#/components/schemas/").unwrap();
            assert_eq!(document["components"]["schemas"][name]["properties"]["type"]["const"], type_name.as_str());
        }
    }

    /// The checked-in document is the one served: clients are generated from it.
    /// `UPDATE_SCHEMAS=1` writes it anew.
    #[test]
    fn the_checked_in_document_is_the_served_one() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");
        let served = serde_json::to_string_pretty(&super::document()).unwrap() + "\n";
        if std::env::var_os("UPDATE_SCHEMAS").is_some() {
            std::fs::write(path, &served).unwrap();
        }
        let checked_in = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            checked_in == served,
            "write-api/openapi.json differs from the served document; run UPDATE_SCHEMAS=1 cargo test -p write-api"
        );
    }

    #[test]
    fn every_reference_points_at_a_component() {
        let document = super::document();
        let text = document.to_string();
        let components = document["components"]["schemas"].as_object().unwrap();
        for reference in text.split("\"$ref\":\"").skip(1) {
            let target = reference.split('"').next().unwrap();
            let name = target.strip_prefix("#/components/schemas/").expect(target);
            assert!(components.contains_key(name), "dangling {target}");
        }
    }
}
