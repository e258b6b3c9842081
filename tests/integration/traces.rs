//! One trace from a command through every role, each in its own process: the roles export
//! their spans over OTLP/HTTP (protobuf, the exporters' default) to a small receiver in the
//! test, which decodes them with OpenTelemetry's own protobuf definitions. The command's trace
//! id turns up in the write API, the relay, the projector and the saga, including the saga's
//! follow-up commands, and the spans carry what trace backends draw a service graph from: the
//! semantic conventions for HTTP servers, Kafka producers and consumers, and database clients.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use prost::Message;
use serde_json::{Value, json};

/// A span as the receiver saw it, with its process's resource attributes.
#[derive(Debug, Clone)]
struct Span {
    trace_id: String,
    span_id: String,
    parent_span_id: String,
    name: String,
    kind: SpanKind,
    attributes: HashMap<String, String>,
    /// `oxbow.roles` of the process that sent it.
    roles: String,
    resource: HashMap<String, String>,
}

type Received = Arc<Mutex<Vec<Span>>>;

/// Attributes as text, whatever their type.
fn attributes(list: &[KeyValue]) -> HashMap<String, String> {
    let text = |value: &Option<AnyValue>| match value.as_ref().and_then(|value| value.value.as_ref()) {
        Some(any_value::Value::StringValue(text)) => text.clone(),
        Some(any_value::Value::IntValue(number)) => number.to_string(),
        Some(any_value::Value::BoolValue(flag)) => flag.to_string(),
        Some(any_value::Value::DoubleValue(number)) => number.to_string(),
        other => format!("{other:?}"),
    };
    list.iter().map(|attribute| (attribute.key.clone(), text(&attribute.value))).collect()
}

/// An OTLP/HTTP trace receiver (`POST /v1/traces`, protobuf).
async fn receiver() -> (String, Received) {
    let received: Received = Arc::default();
    let store = received.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        post(move |body: axum::body::Bytes| {
            let store = store.clone();
            async move {
                let request = ExportTraceServiceRequest::decode(body).expect("OTLP protobuf");
                let mut spans = store.lock().unwrap();
                for resource_spans in request.resource_spans {
                    let resource = attributes(&resource_spans.resource.map(|r| r.attributes).unwrap_or_default());
                    let roles = resource.get("oxbow.roles").cloned().unwrap_or_default();
                    for span in resource_spans.scope_spans.into_iter().flat_map(|scope| scope.spans) {
                        spans.push(Span {
                            trace_id: hex(&span.trace_id),
                            span_id: hex(&span.span_id),
                            parent_span_id: hex(&span.parent_span_id),
                            kind: SpanKind::try_from(span.kind).unwrap_or(SpanKind::Unspecified),
                            attributes: attributes(&span.attributes),
                            name: span.name,
                            roles: roles.clone(),
                            resource: resource.clone(),
                        });
                    }
                }
                // An empty ExportTraceServiceResponse.
                ([(axum::http::header::CONTENT_TYPE, "application/x-protobuf")], Vec::<u8>::new())
            }
        }),
    );
    let (base, _server) = tests::serve_locally(app).await;
    (base, received)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_follows_a_command_through_every_role_process() {
    let db = tests::database().await;
    let config = tests::config(&db.url);
    let topics = config.topic_names();
    platform::kafka::ensure_topics(&config.kafka(), &topics, config.topics()).await.unwrap();
    let (collector, received) = receiver().await;
    let port = tests::free_port();
    let otel = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", collector.as_str()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
    ];
    let address = format!("127.0.0.1:{port}");
    let with = |extra: (&'static str, String)| {
        let mut env: Vec<(&str, String)> = otel.iter().map(|(key, value)| (*key, value.to_string())).collect();
        env.push(extra);
        env
    };
    let spawn = |role: &str, env: Vec<(&str, String)>| {
        let env: Vec<(&str, &str)> = env.iter().map(|(key, value)| (*key, value.as_str())).collect();
        tests::oxbow_serve_with(role, &config, &env)
    };
    // The write API logs in JSON with each request's end, to show its log lines name the trace.
    let mut write_api_env = with(("OXBOW_HTTP_ADDR", address.clone()));
    write_api_env.extend([
        ("OXBOW_TRACE_FILTER", "info,tower_http=debug".to_owned()),
        ("OXBOW_LOG", "warn,oxbow=info,tower_http=debug".to_owned()),
        ("OXBOW_LOG_FORMAT", "json".to_owned()),
    ]);
    let env: Vec<(&str, &str)> = write_api_env.iter().map(|(key, value)| (*key, value.as_str())).collect();
    let mut write_api = tests::oxbow_serve_command("write-api", &config, &env)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start the write API");
    let logs = std::sync::Arc::new(Mutex::new(Vec::<String>::new()));
    {
        let (logs, stderr) = (logs.clone(), write_api.stderr.take().unwrap());
        tokio::spawn(async move {
            let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stderr));
            while let Ok(Some(line)) = lines.next_line().await {
                logs.lock().unwrap().push(line);
            }
        });
    }
    let _processes = [
        write_api,
        spawn("relay", with(("OXBOW_HEALTH_ADDR", format!("127.0.0.1:{}", tests::free_port())))),
        spawn("projector", with(("OXBOW_HEALTH_ADDR", format!("127.0.0.1:{}", tests::free_port())))),
        spawn("saga", with(("OXBOW_HEALTH_ADDR", format!("127.0.0.1:{}", tests::free_port())))),
    ];
    let base = format!("http://{address}");
    let http = reqwest::Client::new();
    tests::first_answer(&format!("{base}/healthz")).await;

    let tokens = config.tokens();
    let alice = tokens.mint("alice", Some("alice@example.com"), chrono::Duration::hours(1));
    let operator = tokens.mint_with_roles("ops", None, &["operator"], chrono::Duration::hours(1));
    let (workspace, agent, flow, run) =
        (uuid::Uuid::now_v7(), uuid::Uuid::now_v7(), uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    let send = |token: String, body: Value, traceparent: Option<String>| {
        let http = http.clone();
        let url = format!("{base}/v1/commands");
        async move {
            let mut request = http.post(url).bearer_auth(token).json(&body);
            if let Some(traceparent) = traceparent {
                request = request.header("traceparent", traceparent);
            }
            let response = request.send().await.unwrap();
            assert!(response.status().is_success(), "{body} → {}", response.text().await.unwrap());
            response.json::<Value>().await.unwrap()
        }
    };
    send(alice.clone(), json!({"type": "CreateWorkspace", "id": workspace, "payload": {"name": "Traced"}}), None).await;
    send(alice.clone(), json!({"type": "OpenBillingAccount", "id": workspace, "payload": {"plan": "team"}}), None)
        .await;
    send(operator, json!({"type": "GrantCredits", "id": workspace, "payload": {"amount": 100, "reason": "t"}}), None)
        .await;
    send(
        alice.clone(),
        json!({"type": "RegisterAgent", "id": agent, "payload": {"workspace_id": workspace, "name": "Echo",
            "kind": "tool", "executor": {"type": "builtin", "name": "echo"}, "price": {"per_call": 1, "per_1k_tokens": 0}}}),
        None,
    )
    .await;
    send(
        alice.clone(),
        json!({"type": "DefineWorkflow", "id": flow, "payload": {"workspace_id": workspace, "name": "One",
            "steps": [{"id": "a", "agent_id": agent}]}}),
        None,
    )
    .await;

    // The caller's own trace: the command continues it.
    let trace_id = uuid::Uuid::new_v4().simple().to_string();
    let caller_span = "00f067aa0ba902b7";
    let started = send(
        alice,
        json!({"type": "StartRun", "id": run, "payload": {"workspace_id": workspace, "workflow_id": flow, "budget": 5}}),
        Some(format!("00-{trace_id}-{caller_span}-01")),
    )
    .await;
    assert!(started["position"].as_i64().is_some(), "{started}");

    // Every role's process sends spans of the trace: the saga's follow-up commands (reserving
    // the budget, beginning the run) and the relay's and projector's of their events too. And
    // they make one tree: the command's span is the caller's child, and every other span's
    // parent is a span of the trace, whichever process sent it. (Parents end after their
    // children, so the tree is complete only once every process has exported.)
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let spans = loop {
        let spans: Vec<Span> =
            received.lock().unwrap().iter().filter(|span| span.trace_id == trace_id).cloned().collect();
        let from = |role: &str, name: &str| spans.iter().any(|span| span.roles == role && span.name == name);
        let ids: std::collections::HashSet<&str> = spans.iter().map(|span| span.span_id.as_str()).collect();
        let orphans: Vec<&Span> = spans
            .iter()
            .filter(|span| !ids.contains(span.parent_span_id.as_str()) && span.parent_span_id != caller_span)
            .collect();
        let done = from("write-api", "StartRun")
            && from("write-api", "INSERT events")
            && from("projector", "project")
            && from("saga", "ReserveCredits")
            && from("saga", "BeginRun")
            && spans.iter().filter(|span| span.roles == "relay" && span.name.starts_with("send ")).count() >= 2
            && orphans.is_empty();
        if done {
            break spans;
        }
        if tokio::time::Instant::now() >= deadline {
            let all = received.lock().unwrap().clone();
            let processes: std::collections::BTreeSet<&str> = all.iter().map(|span| span.roles.as_str()).collect();
            let stderr = logs.lock().unwrap();
            panic!(
                "the trace did not reach every role as one tree: {:#?}\norphans: {orphans:#?}\n\
                 {} spans received in all, from {processes:?}; the write API's last log lines: {:#?}",
                spans.iter().map(|span| format!("{} {}", span.roles, span.name)).collect::<Vec<_>>(),
                all.len(),
                &stderr[stderr.len().saturating_sub(10)..],
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let roots: Vec<&Span> = spans.iter().filter(|span| span.parent_span_id == caller_span).collect();
    assert_eq!(roots.len(), 1, "one span continues the caller's: {roots:#?}");
    assert_eq!(roots[0].name, "POST /v1/commands");
    let processes: std::collections::BTreeSet<&str> = spans.iter().map(|span| span.roles.as_str()).collect();
    assert_eq!(processes, ["projector", "relay", "saga", "write-api"].into_iter().collect());

    // What trace backends draw the service graph from: the kinds and the conventions' attributes.
    let one = |role: &str, kind: SpanKind, name: &str| -> &Span {
        spans
            .iter()
            .find(|span| span.roles == role && span.kind == kind && span.name.starts_with(name))
            .unwrap_or_else(|| panic!("no {kind:?} span {name}… from {role}: {spans:#?}"))
    };
    let has = |span: &Span, expected: &[(&str, &str)]| {
        for (key, value) in expected {
            assert_eq!(span.attributes.get(*key).map(String::as_str), Some(*value), "{key} of {span:#?}");
        }
    };
    let server = one("write-api", SpanKind::Server, "POST /v1/commands");
    has(
        server,
        &[
            ("http.request.method", "POST"),
            ("http.route", "/v1/commands"),
            ("http.response.status_code", "200"),
            ("url.scheme", "http"),
        ],
    );
    assert!(!server.attributes.contains_key("error.type"), "a success is no error");
    let topic = config.events_topic.as_str();
    let producer = one("relay", SpanKind::Producer, &format!("send {topic}"));
    has(
        producer,
        &[("messaging.system", "kafka"), ("messaging.operation.type", "send"), ("messaging.destination.name", topic)],
    );
    assert!(
        producer.attributes["messaging.kafka.message.key"].starts_with("run-")
            || producer.attributes["messaging.kafka.message.key"].starts_with("billing-")
    );
    assert!(producer.attributes.contains_key("messaging.destination.partition.id"), "{producer:#?}");
    let consumer = one("saga", SpanKind::Consumer, &format!("process {topic}"));
    has(
        consumer,
        &[
            ("messaging.system", "kafka"),
            ("messaging.operation.type", "process"),
            ("messaging.consumer.group.name", config.saga_group.as_str()),
        ],
    );
    let database = db.url.rsplit('/').next().unwrap();
    for (role, operation) in [("write-api", "INSERT"), ("write-api", "SELECT"), ("saga", "INSERT")] {
        let client = one(role, SpanKind::Client, &format!("{operation} events"));
        has(
            client,
            &[
                ("db.system.name", "postgresql"),
                ("db.operation.name", operation),
                ("db.collection.name", "events"),
                ("db.namespace", database),
                ("server.address", "127.0.0.1"),
            ],
        );
    }
    let version = server.resource.get("service.version").map(String::as_str);
    assert_eq!(version, Some(env!("CARGO_PKG_VERSION")), "{:#?}", server.resource);

    // The write API's log lines of the request name its trace and span at the top, where log
    // backends look to link a line to its trace.
    let logged = logs.lock().unwrap().iter().any(|line| {
        serde_json::from_str::<Value>(line).is_ok_and(|line| {
            line["trace_id"] == trace_id.as_str() && line["span_id"].as_str().is_some_and(|id| id.len() == 16)
        })
    });
    assert!(logged, "no log line names the trace: {:#?}", logs.lock().unwrap());

    // A task leased over HTTP carries the trace it was offered in, for its worker to continue.
    let (external, worker_flow, worker_run) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    let alice = tokens.mint("alice", Some("alice@example.com"), chrono::Duration::hours(1));
    send(
        alice.clone(),
        json!({"type": "RegisterAgent", "id": external, "payload": {"workspace_id": workspace, "name": "Worker",
            "kind": "tool", "executor": {"type": "external"}, "price": {"per_call": 1}}}),
        None,
    )
    .await;
    let issued =
        send(alice.clone(), json!({"type": "IssueWorkerCredential", "id": external, "payload": {}}), None).await;
    let credential = issued["worker_credential"].as_str().unwrap().to_owned();
    send(
        alice.clone(),
        json!({"type": "DefineWorkflow", "id": worker_flow, "payload": {"workspace_id": workspace, "name": "Ext",
            "steps": [{"id": "w", "agent_id": external}]}}),
        None,
    )
    .await;
    let worker_trace = uuid::Uuid::new_v4().simple().to_string();
    send(
        alice,
        json!({"type": "StartRun", "id": worker_run, "payload": {"workspace_id": workspace, "workflow_id": worker_flow, "budget": 5}}),
        Some(format!("00-{worker_trace}-{caller_span}-01")),
    )
    .await;
    let leased = http
        .post(format!("{base}/v1/tasks/lease"))
        .bearer_auth(&credential)
        .json(&json!({"max": 1, "wait_ms": 30_000}))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let traceparent = leased["tasks"][0]["traceparent"].as_str().unwrap_or_else(|| panic!("{leased}"));
    assert!(traceparent.starts_with(&format!("00-{worker_trace}-")), "{traceparent}");

    // The trace context stays out of the hash-chained log.
    let in_log: i64 = sqlx::query_scalar("select count(*) from events where metadata::text like '%' || $1 || '%'")
        .bind(&trace_id)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(in_log, 0, "no trace id in the events");
}

/// The trace context beside the log is written with the events and deleted once the relay and
/// the projection have passed it, whatever checkpoints of former topics remain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_context_is_kept_beside_the_log_until_its_readers_pass_it() {
    let db = tests::database().await;
    let store = store::EventStore::new(db.pool.clone(), store::CommitterConfig::default());
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let appended = store
        .append(store::AppendRequest {
            trace_context: Some(traceparent.into()),
            ..tests::append_request("workspace-traced", store::ExpectedVersion::NoStream, 2)
        })
        .await
        .unwrap();
    let (first, last) = (appended.first_position.unwrap(), appended.last_position.unwrap());
    let kept = store::traces::read(&db.pool, first - 1, last).await.unwrap();
    assert_eq!(kept.len(), 2);
    assert!(kept.values().all(|kept| kept == traceparent));
    let in_log: i64 = sqlx::query_scalar("select count(*) from events where metadata::text like '%4bf92f35%'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(in_log, 0, "not in the hash-chained events");

    // A former topic's checkpoint stays behind; the projection has not passed yet: kept.
    for (name, position) in [("former.events", 0), ("current.events", last)] {
        sqlx::query(
            "insert into relay_checkpoints (name, position) values ($1, $2) \
             on conflict (name) do update set position = excluded.position",
        )
        .bind(name)
        .bind(position)
        .execute(&db.pool)
        .await
        .unwrap();
    }
    // The projection has applied up to `first`, then up to `last`.
    assert_eq!(store::traces::prune(&db.pool, first).await.unwrap(), 1, "the event the projection passed goes");
    assert_eq!(store::traces::prune(&db.pool, last).await.unwrap(), 1);
    assert!(store::traces::read(&db.pool, 0, last).await.unwrap().is_empty());
}

/// Whether a request is traced is the deployment's decision, not the caller's: a `traceparent`
/// keeps its trace id, but its sampled flag neither forces a trace the sampler would drop nor
/// drops one it would keep. (With `parentbased_*` samplers the caller's flag used to decide, so
/// any caller could have every request of theirs recorded and exported.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deployments_sampler_decides_whether_a_callers_request_is_traced() {
    let db = tests::database().await;
    let config = tests::config(&db.url);
    let (collector, received) = receiver().await;
    let address = format!("127.0.0.1:{}", tests::free_port());
    let env = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", collector.as_str()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        // A trace id's last 8 bytes decide: below half of u64's range is kept.
        ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
        ("OTEL_TRACES_SAMPLER_ARG", "0.5"),
        ("OXBOW_HTTP_ADDR", address.as_str()),
    ];
    let _write_api = tests::oxbow_serve_with("write-api", &config, &env);
    let base = format!("http://{address}");
    let http = reqwest::Client::new();
    tests::first_answer(&format!("{base}/healthz")).await;
    let alice = config.tokens().mint("alice", None, chrono::Duration::hours(1));
    let dropped = "4bf92f3577b34da6ffffffffffffffff";
    let kept = "4bf92f3577b34da60000000000000001";
    // The caller asks for the trace the sampler drops, and not for the one it keeps.
    for (trace_id, flags) in [(dropped, "01"), (kept, "00")] {
        let response = http
            .post(format!("{base}/v1/commands"))
            .bearer_auth(&alice)
            .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-{flags}"))
            .json(&json!({"type": "CreateWorkspace", "id": uuid::Uuid::now_v7(), "payload": {"name": "Sampled"}}))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
    }
    // The exporter sends in order: once the kept trace is in, the dropped one would be too.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !received.lock().unwrap().iter().any(|span| span.trace_id == kept) {
        assert!(tokio::time::Instant::now() < deadline, "the sampled request's trace never came");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let spans = received.lock().unwrap();
    assert!(spans.iter().any(|span| span.trace_id == kept && span.parent_span_id == "00f067aa0ba902b7"));
    assert!(!spans.iter().any(|span| span.trace_id == dropped), "the caller's flag forced a trace");
}
