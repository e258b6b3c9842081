//! `scripts/dev` as a new user meets it: it comes up with the demo workspace, the README's own
//! webhook agent, run on this machine, does a run's work on the first try, and the demo's
//! reviewed workflow waits for its approval and publishes its artifact.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use uuid::Uuid;

const DEMO_WORKSPACE: &str = "0193c0de-0000-7000-8000-000000000001";

/// The README's Python agent: the code block that starts with `# agent.py`.
fn readme_agent() -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let start = readme.find("```python\n# agent.py").expect("the README shows a Python agent") + "```python\n".len();
    let end = readme[start..].find("\n```").unwrap();
    readme[start..start + end].to_owned()
}

/// Kills the process group `pid` leads (scripts/dev and what it started), and waits for it.
async fn stop_group(child: &mut tokio::process::Child) {
    if let Some(pid) = child.id() {
        let group = format!("-{pid}");
        let _ = tokio::process::Command::new("kill").args(["-TERM", "--", &group]).status().await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(30), child.wait()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripts_dev_calls_the_readmes_webhook_agent_on_this_machine_on_the_first_try() {
    let db = tests::database().await;
    let config = tests::config(&db.url);
    let dir = std::env::temp_dir().join(tests::unique_name("dev"));
    std::fs::create_dir_all(&dir).unwrap();
    let http_addr = format!("127.0.0.1:{}", tests::free_port());
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let mut dev = tokio::process::Command::new("bash")
        .arg(format!("{root}/scripts/dev"))
        .env("DATABASE_URL", &db.url)
        .env("REDIS_URL", &config.redis_url)
        .env("KAFKA_BROKERS", &config.kafka_brokers)
        .env("OXBOW_HTTP_ADDR", &http_addr)
        .env("OXBOW_EVENTS_TOPIC", &config.events_topic)
        .env("OXBOW_NOTIFICATIONS_TOPIC", &config.notifications_topic)
        .env("OXBOW_SAGA_GROUP", &config.saga_group)
        .env("OXBOW_REDIS_PREFIX", &config.redis_prefix)
        .env("OXBOW_DEV_STATE", dir.join("dev"))
        .env_remove("OXBOW_WEBHOOK_ALLOW")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // It is up once it prints what it serves; it says that agents on this machine may be called.
    let mut lines = BufReader::new(dev.stdout.take().unwrap()).lines();
    let mut printed = String::new();
    let up = tokio::time::timeout(Duration::from_secs(240), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            printed.push_str(&line);
            printed.push('\n');
            if line.contains("Ctrl-C stops") {
                return true;
            }
        }
        false
    })
    .await;
    if up != Ok(true) {
        stop_group(&mut dev).await;
        panic!("scripts/dev did not come up: {printed}");
    }
    assert!(printed.contains("Webhook agents may be called on this machine"), "{printed}");
    let env = std::fs::read_to_string(dir.join("dev.env")).unwrap();
    let token = env
        .lines()
        .find_map(|line| line.strip_prefix("export OXBOW_DEV_TOKEN='")?.strip_suffix('\''))
        .expect("dev.env holds the demo token")
        .to_owned();

    // The README's agent, as a user would run it.
    let agent_file = dir.join("agent.py");
    std::fs::write(&agent_file, readme_agent()).unwrap();
    let port = tests::free_port();
    let mut python = tokio::process::Command::new("python3")
        .arg(&agent_file)
        .env("PORT", port.to_string())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // Started first, as a user would: the agent is listening before any run calls it.
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let http = reqwest::Client::new();
    let base = format!("http://{http_addr}");
    let command = |body: Value| {
        let request = http.post(format!("{base}/v1/commands")).bearer_auth(&token).json(&body);
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap_or_default())
        }
    };
    let (agent, flow, run) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let register = json!({"type": "RegisterAgent", "id": agent, "payload": {"workspace_id": DEMO_WORKSPACE,
        "name": "Word counter", "kind": "tool", "price": {"per_call": 1},
        "executor": {"type": "webhook", "url": format!("http://127.0.0.1:{port}/"), "timeout_ms": 5_000}}});
    let define = json!({"type": "DefineWorkflow", "id": flow, "payload": {"workspace_id": DEMO_WORKSPACE,
        "name": "Count", "steps": [{"id": "count", "agent_id": agent, "input": {"text": "{{ run.input.text }}"}}]}});
    let start = json!({"type": "StartRun", "id": run, "payload": {"workspace_id": DEMO_WORKSPACE,
        "workflow_id": flow, "input": {"text": "otters hold hands"}, "budget": 10}});
    for body in [register, define, start] {
        let (status, answer) = command(body.clone()).await;
        assert_eq!(status, 200, "{body} → {answer}");
    }

    // Polls the run through GraphQL until `done` holds of it (for at most a minute).
    let run_until = |run: Uuid, fields: &'static str, done: fn(&Value) -> bool| {
        let (http, base, token) = (http.clone(), base.clone(), token.clone());
        async move {
            let query = format!("{{ run(id: \"{run}\") {{ status {fields} }} }}");
            let mut seen = Value::Null;
            for _ in 0..300 {
                let answer: Value = http
                    .post(format!("{base}/graphql"))
                    .bearer_auth(&token)
                    .json(&json!({"query": query}))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                seen = answer["data"]["run"].clone();
                if done(&seen) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            seen
        }
    };
    let ended = |run: &Value| matches!(run["status"].as_str(), Some("SUCCEEDED" | "FAILED" | "CANCELLED" | "REJECTED"));
    // The run succeeds with the agent's answer, read back through GraphQL.
    let counted = run_until(run, "reason steps { output error usage { inputTokens } }", ended).await;
    let _ = python.kill().await;

    // The demo's reviewed workflow, as the README walks through it: it waits for the approval,
    // then publishes its artifact.
    let reviewed = Uuid::now_v7();
    let start = json!({"type": "StartRun", "id": reviewed, "payload": {"workspace_id": DEMO_WORKSPACE,
        "workflow_id": "0193c0de-0000-7000-8000-0000000000f2", "input": {"topic": "otters"}, "budget": 50}});
    let (status, started) = command(start).await;
    assert_eq!(status, 200, "{started}");
    let waits = |run: &Value| run["steps"][1]["status"] == "WAITING" || run["status"] == "FAILED";
    let waiting = run_until(reviewed, "steps { id status }", waits).await;
    let approve =
        json!({"type": "ApproveStep", "id": reviewed, "payload": {"step_id": "review", "comment": "ship it"}});
    let (status, approved) = command(approve).await;
    let published = run_until(reviewed, "output steps { id artifacts { name version } }", ended).await;

    stop_group(&mut dev).await;
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        counted,
        json!({"status": "SUCCEEDED", "reason": null,
            "steps": [{"output": {"words": 3}, "error": null, "usage": {"inputTokens": 3}}]})
    );
    assert_eq!(waiting["steps"][1], json!({"id": "review", "status": "WAITING"}), "{waiting}");
    assert_eq!(status, 200, "{approved}");
    assert_eq!(
        published,
        json!({"status": "SUCCEEDED", "output": {"topic": "otters", "approved_by": "demo", "comment": "ship it"},
            "steps": [{"id": "draft", "artifacts": []}, {"id": "review", "artifacts": []},
                {"id": "publish", "artifacts": [{"name": "digest.md", "version": 1}]}]})
    );
}
