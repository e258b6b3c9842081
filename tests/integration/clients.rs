//! The clients in `clients/`, run against a running Oxbow as their users run them: the Python
//! worker SDK (the README's example worker, and a worker that hears of a cancel).

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use tests::TestApp;
use tokio::io::AsyncBufReadExt;
use uuid::Uuid;

use crate::runs::{agent, builtin, finished, funded_workspace, types, workflow};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// An external agent with a worker credential, and a one-step workflow of it.
async fn external_agent(app: &TestApp, workspace: Uuid) -> (String, Uuid) {
    let agent = agent(app, workspace, json!({"type": "external"}), 1, 0).await;
    let issued =
        app.ok(&app.token("alice"), json!({"type": "IssueWorkerCredential", "id": agent, "payload": {}})).await;
    let credential = issued["worker_credential"].as_str().unwrap().to_owned();
    let flow = workflow(
        app,
        workspace,
        json!([{"id": "count", "agent_id": agent, "input": {"text": "{{ run.input.text }}"}}]),
    )
    .await;
    (credential, flow)
}

/// Runs a Python script with the worker SDK on its path, told where Oxbow is and its credential.
fn python_worker(app: &TestApp, script: &Path, credential: &str) -> tokio::process::Child {
    tokio::process::Command::new("python3")
        .arg(script)
        .env("PYTHONPATH", root().join("clients/python/oxbow-worker"))
        .env("OXBOW_URL", &app.base)
        .env("OXBOW_WORKER_CREDENTIAL", credential)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("run python3")
}

async fn start(app: &TestApp, workspace: Uuid, flow: Uuid, input: Value) -> Uuid {
    let run = Uuid::now_v7();
    app.ok(
        &app.token("alice"),
        json!({"type": "StartRun", "id": run, "payload": {"workspace_id": workspace, "workflow_id": flow,
            "input": input, "budget": 10}}),
    )
    .await;
    run
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_worker_takes_its_agents_tasks_and_reports_them_once() {
    let app = TestApp::start().await;
    let workspace = funded_workspace(&app, 1_000).await;
    let (credential, flow) = external_agent(&app, workspace).await;
    let _worker = python_worker(&app, &root().join("examples/worker.py"), &credential);

    let runs = [
        start(&app, workspace, flow, json!({"text": "otters hold hands"})).await,
        start(&app, workspace, flow, json!({"text": ""})).await,
    ];
    for (run, words) in runs.into_iter().zip([3, 0]) {
        let events = finished(&app, run).await;
        assert_eq!(events.last().unwrap().event_type, "RunSucceeded", "{:?}", types(&events));
        let succeeded: Vec<&Value> =
            events.iter().filter(|e| e.event_type == "StepSucceeded").map(|e| &e.payload["output"]).collect();
        assert_eq!(succeeded, [&json!({"words": words})]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_hears_that_its_attempt_is_over_when_the_run_is_cancelled() {
    let app = TestApp::start().await;
    let workspace = funded_workspace(&app, 1_000).await;
    let (credential, flow) = external_agent(&app, workspace).await;
    let mut worker = python_worker(&app, &root().join("tests/python/slow_worker.py"), &credential);
    let mut said = tokio::io::BufReader::new(worker.stdout.take().unwrap()).lines();
    let mut next_line = async || {
        let line = tokio::time::timeout(std::time::Duration::from_secs(30), said.next_line()).await;
        line.expect("the worker says something within 30 s").unwrap().expect("a line")
    };

    let run = start(&app, workspace, flow, json!({"text": "a long job"})).await;
    assert_eq!(next_line().await, format!("started {run}"));
    app.ok(&app.token("alice"), json!({"type": "CancelRun", "id": run, "payload": {"reason": "not needed"}})).await;
    assert_eq!(next_line().await, format!("over {run}"), "the handler hears of it while it works");
    let events = finished(&app, run).await;
    assert_eq!(events.last().unwrap().event_type, "RunCancelled", "{:?}", types(&events));
    assert!(!events.iter().any(|e| e.event_type == "StepSucceeded"), "an attempt that is over is not reported");
}

/// Runs `program` with `args` in `dir`; its output, after checking it succeeded.
async fn run_in(dir: &Path, program: &str, args: &[&str], env: &[(&str, &str)]) -> String {
    let output = tokio::process::Command::new(program)
        .args(args)
        .current_dir(dir)
        .envs(env.iter().copied())
        .output()
        .await
        .unwrap_or_else(|error| panic!("run {program} (scripts/test installs it): {error}"));
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{program} {args:?} failed:\n{stdout}\n{stderr}");
    stdout.into_owned()
}

/// The TypeScript client's types are what its pinned generator makes of the checked-in OpenAPI
/// document, and the client works against a running Oxbow: commands, read-your-writes queries,
/// refusals as errors, subscriptions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_typescript_client_is_generated_from_the_contract_and_works_against_oxbow() {
    let client = root().join("clients/typescript");
    assert!(
        client.join("node_modules/openapi-typescript").is_dir() && client.join("dist/index.js").is_file(),
        "the TypeScript client is not built: `npm ci && npm run build` in clients/typescript (scripts/test does)"
    );
    let generated = std::env::temp_dir().join(tests::unique_name("openapi")).with_extension("d.ts");
    let target = generated.to_str().unwrap();
    run_in(&client, "node_modules/.bin/openapi-typescript", &["../../write-api/openapi.json", "-o", target], &[]).await;
    let fresh = std::fs::read_to_string(&generated).unwrap();
    std::fs::remove_file(&generated).unwrap();
    assert!(
        fresh == std::fs::read_to_string(client.join("src/openapi.d.ts")).unwrap(),
        "clients/typescript/src/openapi.d.ts is not what openapi-typescript makes of write-api/openapi.json: \
         run `npm run generate && npm run build` in clients/typescript"
    );

    let app = TestApp::start().await;
    let (token, other, operator) = (app.token("typescript"), app.token("stranger"), app.operator());
    let env = [
        ("OXBOW_URL", app.base.as_str()),
        ("OXBOW_TOKEN", token.as_str()),
        ("OXBOW_OTHER_TOKEN", other.as_str()),
        ("OXBOW_OPERATOR_TOKEN", operator.as_str()),
    ];
    let report = run_in(&client, "node", &["--test", "test/"], &env).await;
    assert!(report.contains("# fail 0") && !report.contains("# pass 0"), "{report}");
}

/// The files below `dir`, by path relative to it, with their contents (bytecode left out).
fn files_of(dir: &Path) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
    let mut files = std::collections::BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(at) = todo.pop() {
        for entry in std::fs::read_dir(&at).unwrap().map(Result::unwrap) {
            let path = entry.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|name| name != "__pycache__") {
                    todo.push(path);
                }
            } else {
                files.insert(path.strip_prefix(dir).unwrap().to_path_buf(), std::fs::read(&path).unwrap());
            }
        }
    }
    files
}

/// The Python client's `oxbow_api` is what its pinned generator makes of the checked-in OpenAPI
/// document, and the client works against a running Oxbow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_client_is_generated_from_the_contract_and_works_against_oxbow() {
    let client = root().join("clients/python/oxbow-client");
    let packages = root().join(".oxbow/python");
    let generators = root().join(".oxbow/generators");
    assert!(
        packages.join("httpx").is_dir() && generators.join("openapi_python_client").is_dir(),
        "the Python client's packages or generator are missing (scripts/test installs them)"
    );
    let generated = std::env::temp_dir().join(tests::unique_name("oxbow_api"));
    let generators_path = generators.to_str().unwrap();
    let contract = root().join("write-api/openapi.json");
    let (target, config) = (generated.to_str().unwrap(), client.join("generator.yaml"));
    let args = ["-m", "openapi_python_client", "generate", "--path", contract.to_str().unwrap(), "--meta", "none"];
    let more = ["--output-path", target, "--config", config.to_str().unwrap()];
    run_in(&client, "python3", &[&args[..], &more[..]].concat(), &[("PYTHONPATH", generators_path)]).await;
    let (fresh, checked_in) = (files_of(&generated), files_of(&client.join("oxbow_api")));
    std::fs::remove_dir_all(&generated).unwrap();
    assert!(
        fresh == checked_in,
        "clients/python/oxbow-client/oxbow_api is not what openapi-python-client makes of write-api/openapi.json: \
         run scripts/generate-clients"
    );
    // The typed GraphQL client: ariadne-codegen, configured in pyproject.toml, runs on a copy of
    // the settings that writes elsewhere.
    let copy = std::env::temp_dir().join(tests::unique_name("oxbow_graphql"));
    std::fs::create_dir_all(&copy).unwrap();
    let settings = std::fs::read_to_string(client.join("pyproject.toml")).unwrap();
    let elsewhere = format!("target_package_path = {:?}", copy.to_str().unwrap());
    assert!(settings.contains("target_package_path = \".\""), "{settings}");
    let settings = settings.replace("target_package_path = \".\"", &elsewhere);
    std::fs::write(copy.join("pyproject.toml"), settings).unwrap();
    let config = copy.join("pyproject.toml");
    let args = ["-m", "ariadne_codegen", "--config", config.to_str().unwrap()];
    run_in(&client, "python3", &args, &[("PYTHONPATH", generators_path)]).await;
    let (fresh, checked_in) = (files_of(&copy.join("oxbow_graphql")), files_of(&client.join("oxbow_graphql")));
    std::fs::remove_dir_all(&copy).unwrap();
    assert!(
        fresh == checked_in,
        "clients/python/oxbow-client/oxbow_graphql is not what ariadne-codegen makes of read-api/schema.graphql \
         and queries.graphql: run scripts/generate-clients"
    );

    let app = TestApp::start().await;
    let (token, other, owner) = (app.token("python"), app.token("stranger"), app.token("alice"));
    let workspace = funded_workspace(&app, 100).await;
    let echo = agent(&app, workspace, builtin("echo", json!({})), 2, 0).await;
    let workflow = workflow(&app, workspace, json!([{"id": "only", "agent_id": echo}])).await;
    let (workspace, workflow) = (workspace.to_string(), workflow.to_string());
    let path = std::env::join_paths([client.clone(), packages]).unwrap();
    let path = path.to_str().unwrap();
    let env = [
        ("PYTHONPATH", path),
        ("OXBOW_URL", app.base.as_str()),
        ("OXBOW_TOKEN", token.as_str()),
        ("OXBOW_OTHER_TOKEN", other.as_str()),
        ("OXBOW_OWNER_TOKEN", owner.as_str()),
        ("OXBOW_WORKSPACE", workspace.as_str()),
        ("OXBOW_WORKFLOW", workflow.as_str()),
    ];
    let output = tokio::process::Command::new("python3")
        .args(["-m", "unittest", "-v", "tests/test_client.py"])
        .current_dir(&client)
        .envs(env)
        .output()
        .await
        .expect("run python3");
    let report = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success() && report.contains("Ran 4 tests"), "{report}");
}
