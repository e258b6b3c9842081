//! The harness for Oxbow's integration tests: fresh databases, topics and Redis prefixes on the
//! real services that `scripts/test` starts (`DATABASE_URL`, `REDIS_URL`, `KAFKA_BROKERS`).

pub mod browser;
pub mod contracts;

use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

/// A database of its own for one test, migrated. Dropped with the value unless the test failed,
/// so a whole suite's databases never fill a small disk and a failure's is there to look at.
pub struct TestDatabase {
    pub url: String,
    pub pool: PgPool,
    name: String,
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("kept the failed test's database {}", self.url);
            return;
        }
        let admin_url = env("DATABASE_URL");
        let statement = format!("drop database if exists {} with (force)", self.name);
        let url = self.url.clone();
        // A drop cannot await: a thread and a runtime of its own, whatever runtime this is in.
        // `with (force)` ends the connections still open, the test's pool and processes among them.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(async {
                // Every event the test appended is held to its schema before the log goes.
                let violations = contracts::violations(&url).await?;
                if !violations.is_empty() {
                    return Ok(violations);
                }
                let admin = PgPoolOptions::new().max_connections(1).connect(&admin_url).await?;
                sqlx::raw_sql(sqlx::AssertSqlSafe(statement)).execute(&admin).await?;
                admin.close().await;
                anyhow::Ok(Vec::new())
            })
        })
        .join();
        match dropped {
            Ok(Ok(violations)) if !violations.is_empty() => panic!(
                "{} events break their JSON Schema (the database {} is kept): {:#?}",
                violations.len(),
                self.url,
                &violations[..violations.len().min(10)]
            ),
            Ok(Err(error)) => eprintln!("could not drop the test database {}: {error:#}", self.url),
            _ => {}
        }
    }
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run the suite with scripts/test"))
}

/// A fresh name for a test's database, topic, consumer group or key prefix.
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::now_v7().simple())
}

/// An append of `count` events of type `Happened` to `stream`, straight to the store.
pub fn append_request(stream: &str, expected: store::ExpectedVersion, count: usize) -> store::AppendRequest {
    let event = |i: usize| events::NewEvent {
        event_id: uuid::Uuid::now_v7(),
        event_type: "Happened".into(),
        schema_version: 1,
        payload: serde_json::json!({"i": i, "x": 1.5e-7, "s": "é\u{1}"}),
        metadata: serde_json::json!({"actor": "test", "correlation_id": uuid::Uuid::nil(), "causation_id": uuid::Uuid::nil()}),
    };
    store::AppendRequest::to_stream(stream, expected, (0..count).map(event).collect())
}

/// The `oxbow` binary built beside this test binary (or `OXBOW_BIN`).
pub fn oxbow_bin() -> std::path::PathBuf {
    if let Ok(path) = std::env::var("OXBOW_BIN") {
        return path.into();
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    // target/debug/deps/integration-… → target/debug/oxbow
    exe.parent().and_then(|deps| deps.parent()).expect("a target directory").join("oxbow")
}

/// The first answer of `url` (a GET), waiting up to ten seconds for something to listen there.
pub async fn first_answer(url: &str) -> reqwest::Response {
    for _ in 0..200 {
        if let Ok(response) = reqwest::get(url).await {
            return response;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("nothing answered on {url}");
}

/// Whether consumer group `group` has committed every message now on `topic`: each
/// partition's committed offset is at its high watermark. Asks the broker, as any operator's
/// lag check does; the group is not joined.
pub async fn group_has_consumed_everything(config: &platform::Config, group: &str, topic: &str) -> bool {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let (kafka, group, topic) = (config.kafka(), group.to_owned(), topic.to_owned());
    tokio::task::spawn_blocking(move || {
        let timeout = std::time::Duration::from_secs(5);
        let consumer: BaseConsumer = platform::kafka::consumer_config(&kafka, &group).create().expect("a consumer");
        let metadata = consumer.fetch_metadata(Some(&topic), timeout).expect("the topic's metadata");
        let partitions: Vec<i32> = metadata.topics()[0].partitions().iter().map(|p| p.id()).collect();
        let mut asked = rdkafka::TopicPartitionList::new();
        for partition in &partitions {
            asked.add_partition(&topic, *partition);
        }
        let committed = consumer.committed_offsets(asked, timeout).expect("the group's committed offsets");
        partitions.iter().all(|partition| {
            let (_, high) = consumer.fetch_watermarks(&topic, *partition, timeout).expect("the partition's watermarks");
            let offset = committed.find_partition(&topic, *partition).map(|p| p.offset());
            match offset {
                Some(rdkafka::Offset::Offset(offset)) => offset >= high,
                _ => high == 0,
            }
        })
    })
    .await
    .expect("the lag check")
}

/// The `oxbow` binary set up for `config`'s services, topics, consumer groups and Redis keys.
pub fn oxbow_command(config: &platform::Config) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(oxbow_bin());
    command
        .env("DATABASE_URL", &config.database_url)
        .env("REDIS_URL", &config.redis_url)
        .env("OXBOW_REDIS_PREFIX", &config.redis_prefix)
        .env("KAFKA_BROKERS", &config.kafka_brokers)
        .env("OXBOW_EVENTS_TOPIC", &config.events_topic)
        .env("OXBOW_TASKS_TOPIC", config.tasks_topic.as_deref().unwrap_or_default())
        .env("OXBOW_NOTIFICATIONS_TOPIC", &config.notifications_topic)
        .env("OXBOW_SAGA_GROUP", &config.saga_group)
        .env("OXBOW_TOPIC_PARTITIONS", config.topic_partitions.to_string())
        .env("OXBOW_JWT_SECRET", &config.jwt_secret)
        .env("OXBOW_PAYMENT_WEBHOOK_SECRET", config.payment_webhook_secret.as_deref().unwrap_or_default())
        .env("OXBOW_WEBHOOK_ALLOW", config.webhook_allow.iter().map(ToString::to_string).collect::<Vec<_>>().join(","))
        .env("OXBOW_LOG", "warn")
        .kill_on_drop(true);
    command
}

/// Runs `oxbow args…` over `config`'s services: (exit code, stdout, stderr).
pub async fn oxbow_output(config: &platform::Config, args: &[&str]) -> (i32, String, String) {
    let output = oxbow_command(config).args(args).output().await.expect("run oxbow");
    let text = |bytes: Vec<u8>| String::from_utf8(bytes).expect("oxbow writes UTF-8");
    (output.status.code().unwrap_or(-1), text(output.stdout), text(output.stderr))
}

/// `oxbow serve --role <role>` as a child process over `config`'s services, for tests that
/// kill it. Killed when dropped.
pub fn oxbow_serve(role: &str, config: &platform::Config) -> tokio::process::Child {
    oxbow_serve_with(role, config, &[])
}

/// `oxbow serve --role <role>` over `config`'s services with `env` besides, not started yet.
pub fn oxbow_serve_command(role: &str, config: &platform::Config, env: &[(&str, &str)]) -> tokio::process::Command {
    let mut command = oxbow_command(config);
    command.args(["serve", "--role", role]).envs(env.iter().copied());
    command
}

/// [`oxbow_serve`] with `env` besides `config`'s.
pub fn oxbow_serve_with(role: &str, config: &platform::Config, env: &[(&str, &str)]) -> tokio::process::Child {
    oxbow_serve_command(role, config, env).spawn().unwrap_or_else(|error| {
        panic!("start oxbow serve --role {role} (build it first: cargo build -p oxbow): {error}")
    })
}

/// A port of this machine no one listens on now, for a child process to listen on.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Serves `app` on a free port of this machine (the tests' webhook agents); returns its base
/// URL and the server's task.
pub async fn serve_locally(app: axum::Router) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    (base, tokio::spawn(async move { axum::serve(listener, app).await.unwrap() }))
}

/// Logs to the test's output when `OXBOW_TEST_LOG` names a filter, e.g. `info,projections=debug`.
pub fn init_logging() {
    if let Ok(filter) = std::env::var("OXBOW_TEST_LOG") {
        let _ = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init();
    }
}

/// Creates and migrates a new database on the test server.
pub async fn database() -> TestDatabase {
    init_logging();
    platform::tls::install();
    let admin_url = env("DATABASE_URL");
    let admin = PgPoolOptions::new().max_connections(1).connect(&admin_url).await.expect("connect to PostgreSQL");
    let name = unique_name("t");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("create database {name}")))
        .execute(&admin)
        .await
        .expect("create database");
    admin.close().await;
    let (base, _) = admin_url.rsplit_once('/').expect("DATABASE_URL names a database");
    let url = format!("{base}/{name}");
    let pool = PgPoolOptions::new().max_connections(40).connect(&url).await.expect("connect to the test database");
    oxbow::migrate(&pool).await.expect("migrate");
    TestDatabase { url, pool, name }
}

pub use app::{PAYMENT_WEBHOOK_SECRET, Subscription, TestApp, config};

mod app {
    //! A whole Oxbow in-process on a random port, over the real services, isolated by database,
    //! topic, consumer group and Redis prefix.

    use std::time::Duration;

    use futures::{SinkExt, StreamExt};
    use oxbow::{Role, Server};
    use platform::Config;
    use serde_json::{Value, json};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    use super::{TestDatabase, env, unique_name};

    pub struct TestApp {
        pub db: TestDatabase,
        pub config: Config,
        pub server: Option<Server>,
        pub base: String,
        pub http: reqwest::Client,
        tokens: platform::auth::Tokens,
    }

    impl Drop for TestApp {
        fn drop(&mut self) {
            if let Some(server) = self.server.take() {
                server.stop();
            }
        }
    }

    /// What the tests' payment provider signs its deliveries with.
    pub const PAYMENT_WEBHOOK_SECRET: &str = "a-test-payment-webhook-secret";

    /// A test's own configuration over the shared services.
    pub fn config(database_url: &str) -> Config {
        // Every HTTP and TLS client of the test uses rustls with ring, as Oxbow does.
        platform::tls::install();
        let mut config = Config::with_defaults(database_url.to_owned());
        config.redis_url = env("REDIS_URL");
        config.kafka_brokers = env("KAFKA_BROKERS");
        config.http_addr = "127.0.0.1:0".parse().unwrap();
        let name = unique_name("t");
        config.events_topic = format!("{name}.events");
        // External tasks go to their workers over HTTP, as by default; a test of the shared
        // tasks topic names one.
        config.tasks_topic = None;
        config.notifications_topic = format!("{name}.notifications");
        config.saga_group = format!("{name}.sagas");
        config.redis_prefix = format!("{name}:");
        config.topic_partitions = 3;
        config.database_pool_size = 8;
        config.jwt_secret = "a-test-secret-of-at-least-32-bytes".into();
        // The tests' webhook agents are served on this machine.
        config.webhook_allow = vec!["127.0.0.1/32".parse().unwrap()];
        config.jwt_secret_is_development_default = false;
        config.payment_webhook_secret = Some(PAYMENT_WEBHOOK_SECRET.into());
        // The first read waits out the projector's Kafka group join (a few seconds on a fresh
        // broker); the wait ends as soon as the position is reached.
        config.min_position_timeout = Duration::from_secs(30);
        config
    }

    impl TestApp {
        pub async fn start() -> TestApp {
            TestApp::start_with(&oxbow::Role::ALL, |_| {}).await
        }

        pub async fn start_with(roles: &[Role], tweak: impl FnOnce(&mut Config)) -> TestApp {
            let db = super::database().await;
            let mut config = config(&db.url);
            tweak(&mut config);
            let server = oxbow::serve::start(config.clone(), roles).await.expect("start oxbow");
            let base = server.http_addr.map(|addr| format!("http://{addr}")).unwrap_or_default();
            let tokens = config.tokens();
            TestApp { db, config, server: Some(server), base, http: reqwest::Client::new(), tokens }
        }

        pub fn token(&self, sub: &str) -> String {
            self.tokens.mint(sub, Some(&format!("{sub}@example.com")), chrono::Duration::hours(1))
        }

        /// A token of the platform's staff: `oxbow_roles: ["operator"]`.
        pub fn operator(&self) -> String {
            self.tokens.mint_with_roles("platform-operator", None, &["operator"], chrono::Duration::hours(1))
        }

        /// An operator grants `amount` credits to the workspace's account.
        pub async fn grant(&self, workspace: uuid::Uuid, amount: i64) -> Value {
            let grant =
                json!({"type": "GrantCredits", "id": workspace, "payload": {"amount": amount, "reason": "test"}});
            self.ok(&self.operator(), grant).await
        }

        /// The payment provider delivers `payment` (signed with the tests' secret, or with
        /// `secret` when given) to the payment webhook: (status, body).
        pub async fn deliver_payment(&self, payment: &Value, secret: Option<&str>) -> (u16, Value) {
            let body = serde_json::to_vec(payment).unwrap();
            let secret = secret.unwrap_or(PAYMENT_WEBHOOK_SECRET);
            let signature = write_api::payments::sign(secret.as_bytes(), chrono::Utc::now().timestamp(), &body);
            let response = self
                .http
                .post(format!("{}/v1/payments/webhook", self.base))
                .header("content-type", "application/json")
                .header(write_api::payments::SIGNATURE_HEADER, signature)
                .body(body)
                .send()
                .await
                .expect("POST /v1/payments/webhook");
            let status = response.status().as_u16();
            (status, response.json().await.unwrap_or(Value::Null))
        }

        /// A token for `sub` with exactly this email claim and `email_verified` flag.
        pub fn token_with_email(&self, sub: &str, email: Option<&str>, verified: Option<bool>) -> String {
            let now = chrono::Utc::now().timestamp();
            self.tokens.sign(&platform::auth::Claims {
                sub: sub.to_owned(),
                email: email.map(str::to_owned),
                email_verified: verified,
                iat: now,
                exp: now + 3600,
                oxbow_roles: Vec::new(),
                iss: self.config.jwt_issuers.first().cloned(),
                aud: self.config.jwt_audience.clone(),
            })
        }

        /// POSTs a command; returns the status and the JSON body.
        pub async fn command(&self, token: &str, body: Value) -> (u16, Value) {
            self.command_with(token, body, &[]).await
        }

        pub async fn command_with(&self, token: &str, body: Value, headers: &[(&str, &str)]) -> (u16, Value) {
            let mut request = self.http.post(format!("{}/v1/commands", self.base)).bearer_auth(token).json(&body);
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            let response = request.send().await.expect("POST /v1/commands");
            let status = response.status().as_u16();
            let body = response.json().await.unwrap_or(Value::Null);
            (status, body)
        }

        /// Sends a command that must succeed; returns its response.
        pub async fn ok(&self, token: &str, body: Value) -> Value {
            let (status, response) = self.command(token, body.clone()).await;
            assert_eq!(status, 200, "{body} → {response}");
            response
        }

        /// `owner` invites `user` to `workspace` with `role`, and `user` accepts. Returns the
        /// acceptance's response.
        pub async fn join(&self, owner: &str, workspace: uuid::Uuid, user: &str, role: &str) -> Value {
            let invite = json!({"type": "InviteMember", "id": workspace,
                "payload": {"email": format!("{user}@example.com"), "role": role}});
            let invited = self.ok(owner, invite).await;
            let invitation_id = invited["events"][0]["payload"]["invitation_id"].clone();
            let accept =
                json!({"type": "AcceptInvitation", "id": workspace, "payload": {"invitation_id": invitation_id}});
            self.ok(&self.token(user), accept).await
        }

        /// Runs a GraphQL query, waiting for `min_position` when given.
        pub async fn graphql(&self, token: Option<&str>, query: &str, min_position: Option<i64>) -> Value {
            let mut request = self.http.post(format!("{}/graphql", self.base)).json(&json!({"query": query}));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            if let Some(position) = min_position {
                request = request.header("X-Oxbow-Min-Position", position.to_string());
            }
            request.send().await.expect("POST /graphql").json().await.expect("a JSON response")
        }

        /// Opens a graphql-transport-ws connection and subscribes.
        pub async fn subscribe(&self, token: Option<&str>, query: &str) -> Result<Subscription, String> {
            let url = format!("{}/graphql/ws", self.base.replace("http://", "ws://"));
            let mut request = url.into_client_request().unwrap();
            request.headers_mut().insert("Sec-WebSocket-Protocol", "graphql-transport-ws".parse().unwrap());
            let (mut socket, _) = tokio_tungstenite::connect_async(request).await.map_err(|e| e.to_string())?;
            let payload = match token {
                Some(token) => json!({"Authorization": format!("Bearer {token}")}),
                None => json!({}),
            };
            socket
                .send(Message::text(json!({"type": "connection_init", "payload": payload}).to_string()))
                .await
                .map_err(|e| e.to_string())?;
            let mut subscription = Subscription { socket };
            match subscription.next_json().await {
                Some(message) if message["type"] == "connection_ack" => {}
                other => return Err(format!("connection refused: {other:?}")),
            }
            subscription
                .socket
                .send(Message::text(json!({"id": "1", "type": "subscribe", "payload": {"query": query}}).to_string()))
                .await
                .map_err(|e| e.to_string())?;
            Ok(subscription)
        }
    }

    pub struct Subscription {
        socket: tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    }

    impl Subscription {
        /// Starts one more subscription on this connection, as operation `id`.
        pub async fn subscribe_also(&mut self, id: &str, query: &str) {
            let message = json!({"id": id, "type": "subscribe", "payload": {"query": query}});
            self.socket.send(Message::text(message.to_string())).await.expect("send a subscribe message");
        }

        /// Stops operation `id` of this connection.
        pub async fn complete(&mut self, id: &str) {
            let message = json!({"id": id, "type": "complete"});
            self.socket.send(Message::text(message.to_string())).await.expect("send a complete message");
        }

        /// The next protocol message, or `None` when the connection closed or 30 s passed.
        pub async fn next_json(&mut self) -> Option<Value> {
            loop {
                let message = tokio::time::timeout(Duration::from_secs(30), self.socket.next()).await.ok()??.ok()?;
                match message {
                    Message::Text(text) => {
                        let value: Value = serde_json::from_str(&text).ok()?;
                        if value["type"] == "ping" {
                            let _ = self.socket.send(Message::text(json!({"type": "pong"}).to_string())).await;
                            continue;
                        }
                        return Some(value);
                    }
                    Message::Close(_) => return None,
                    _ => continue,
                }
            }
        }
    }
}
