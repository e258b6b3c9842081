//! Oxbow as a deployment runs it: one role per process, each with its own readiness, and a
//! SIGTERM that lets the requests in flight finish.

use std::time::Duration;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `oxbow serve --role <role>` over `config`, with `env`.
fn serve(config: &platform::Config, role: &str, env: &[(&str, String)]) -> tokio::process::Child {
    let mut command = tests::oxbow_command(config);
    command.args(["serve", "--role", role]);
    for (name, value) in env {
        command.env(name, value);
    }
    command.spawn().expect("start oxbow")
}

/// The first answer of `url`, waiting for the process to listen.
async fn first_answer(url: &str) -> reqwest::Response {
    for _ in 0..200 {
        if let Ok(response) = reqwest::get(url).await {
            return response;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("nothing answered on {url}");
}

/// Each role is ready when what it needs is: a projector without a broker, and a relay only
/// with one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_role_is_ready_when_what_it_needs_is() {
    platform::tls::install();
    let db = tests::database().await;
    let config = tests::config(&db);
    let no_broker = ("KAFKA_BROKERS", "127.0.0.1:9".to_owned());
    let (projector_port, relay_port) = (free_port(), free_port());
    let _projector =
        serve(&config, "projector", &[("OXBOW_HEALTH_ADDR", format!("127.0.0.1:{projector_port}")), no_broker.clone()]);
    let _relay = serve(&config, "relay", &[("OXBOW_HEALTH_ADDR", format!("127.0.0.1:{relay_port}")), no_broker]);
    let projector = first_answer(&format!("http://127.0.0.1:{projector_port}/readyz")).await;
    assert_eq!(projector.status(), 200, "a projector needs no broker");
    let relay = first_answer(&format!("http://127.0.0.1:{relay_port}/readyz")).await;
    assert_eq!(relay.status(), 503, "a relay without its broker is not ready");
    let body: serde_json::Value = relay.json().await.unwrap();
    assert_eq!((body["postgres"].clone(), body["kafka"].clone()), (true.into(), false.into()), "{body}");
    let metrics = first_answer(&format!("http://127.0.0.1:{projector_port}/metrics")).await;
    assert!(metrics.text().await.unwrap().contains("oxbow_"), "the projector's own metrics");
}

/// SIGTERM: the server stops taking connections but answers the request it is serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_the_requests_in_flight_finish() {
    platform::tls::install();
    let db = tests::database().await;
    let config = tests::config(&db);
    let port = free_port();
    let mut server = serve(
        &config,
        "read-api",
        &[("OXBOW_HTTP_ADDR", format!("127.0.0.1:{port}")), ("OXBOW_MIN_POSITION_TIMEOUT_MS", "3000".into())],
    );
    let base = format!("http://127.0.0.1:{port}");
    first_answer(&format!("{base}/healthz")).await;
    let token = config.tokens().mint("alice", None, chrono::Duration::hours(1));
    // A read that waits for a position the log has not reached: it is in flight for 3 s.
    let waiting = tokio::spawn(
        reqwest::Client::new()
            .post(format!("{base}/graphql"))
            .bearer_auth(token)
            .header("x-oxbow-min-position", "1000000")
            .json(&serde_json::json!({"query": "{ projections { name } }"}))
            .send(),
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pid = server.id().expect("running") as i32;
    assert_eq!(unsafe { libc_kill(pid, 15) }, 0);
    let answered = waiting.await.unwrap().expect("the request in flight is answered, not cut off");
    assert_eq!(answered.status(), 200);
    let status = tokio::time::timeout(Duration::from_secs(20), server.wait()).await.expect("it exits").unwrap();
    assert!(status.success(), "{status:?}");
    assert!(reqwest::get(format!("{base}/healthz")).await.is_err(), "no longer listening");
}

unsafe extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, signal: i32) -> i32;
}
