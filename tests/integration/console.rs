//! The run console in headless Chromium, against the real services: runs appear and change
//! without a reload, a waiting approval is approved by clicking, a run is cancelled and a failed
//! one retried by clicking, and what a viewer, a stranger and a hostile step output can do is
//! what they may. Set `OXBOW_SCREENSHOTS=1` to write the screenshots in `docs/`.

use serde_json::{Value, json};
use tests::TestApp;
use tests::browser::{Browser, Page};
use uuid::Uuid;

use crate::runs::{agent, builtin, finished, funded_workspace, workflow};

/// A button labelled `label` inside `scope` (a CSS selector), as JavaScript.
fn button(scope: &str, label: &str) -> String {
    format!("Array.from(document.querySelectorAll('{scope} button')).find(b => b.textContent === '{label}')")
}

async fn click(page: &Page, scope: &str, label: &str) {
    page.wait_for(&format!("{} !== undefined", button(scope, label))).await;
    page.eval(&format!("{}.click(); true", button(scope, label))).await;
}

/// Writes a screenshot of the page at 1280×800 to `docs/<name>.png`, when asked to.
async fn screenshot(page: &Page, name: &str) {
    if std::env::var_os("OXBOW_SCREENSHOTS").is_none() {
        return;
    }
    use base64::Engine;
    let shot = page.call("Page.captureScreenshot", json!({"format": "png"})).await;
    let png = base64::engine::general_purpose::STANDARD.decode(shot["data"].as_str().unwrap()).unwrap();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../docs/{name}.png"));
    std::fs::write(path, png).unwrap();
}

/// axe-core finds nothing against WCAG 2.1 A and AA on the page as it is.
async fn assert_accessible(page: &Page, what: &str) {
    let violations = page.accessibility_violations().await;
    assert!(violations.is_empty(), "{what} breaks WCAG 2.1 AA:\n{}", violations.join("\n"));
}

async fn start(app: &TestApp, workspace: Uuid, flow: Uuid, input: Value) -> Uuid {
    let run = Uuid::now_v7();
    app.ok(
        &app.token("alice"),
        json!({"type": "StartRun", "id": run, "payload": {"workspace_id": workspace, "workflow_id": flow,
            "input": input, "budget": 20}}),
    )
    .await;
    run
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_shows_runs_live_and_acts_as_the_callers_role_allows() {
    let app = TestApp::start_with(&oxbow::Role::ALL, |config| config.operators = vec!["ops".into()]).await;
    let workspace = funded_workspace(&app, 1_000).await;
    let alice = app.token("alice");
    app.join(&alice, workspace, "vic", "viewer").await;
    let echo = agent(&app, workspace, builtin("echo", json!({})), 2, 0).await;
    let sleepy = agent(&app, workspace, builtin("sleep", json!({"ms": 60_000})), 1, 0).await;
    let reviewed = workflow(
        &app,
        workspace,
        json!([
            {"id": "draft", "agent_id": echo, "input": {"text": "{{ run.input.text }}"}},
            {"id": "review", "kind": "approval", "depends_on": ["draft"], "input": {"draft": "{{ steps.draft.output }}"}},
            {"id": "publish", "agent_id": echo, "depends_on": ["review"]},
        ]),
    )
    .await;
    let slow = workflow(&app, workspace, json!([{"id": "nap", "agent_id": sleepy}])).await;
    let failing = agent(&app, workspace, builtin("fail", json!({})), 1, 0).await;
    let broken = workflow(&app, workspace, json!([{"id": "try", "agent_id": failing}])).await;

    let browser = Browser::launch().await;
    let page = browser.open(&format!("{}/console#token={alice}", app.base)).await;
    page.call(
        "Emulation.setDeviceMetricsOverride",
        json!({"width": 1280, "height": 800, "deviceScaleFactor": 1, "mobile": false}),
    )
    .await;
    page.wait_for(&format!("document.querySelector('[data-workspace-id=\"{workspace}\"]')")).await;
    assert_eq!(page.eval("location.hash").await, "#/", "the token leaves the address bar");
    let balance_before =
        page.eval(&format!("document.querySelector('[data-workspace-id=\"{workspace}\"]').innerText")).await;

    // A run started through the API appears in the list without a reload.
    page.eval(&format!("location.hash = '#/w/{workspace}'; window.__sameDocument = true; true")).await;
    page.wait_for("document.querySelector('#runs')").await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let run = start(&app, workspace, reviewed, json!({"text": "otters"})).await;
    page.wait_for(&format!("document.querySelector('[data-run-id=\"{run}\"]')")).await;
    assert_eq!(page.eval("window.__sameDocument").await, true, "no reload");
    screenshot(&page, "console-runs").await;
    assert_accessible(&page, "the runs list").await;

    // Its page draws the DAG, and the steps change colour as they go, to the waiting approval.
    page.eval(&format!("location.hash = '#/r/{run}'; true")).await;
    page.wait_for("document.querySelector('g[data-step-id=\"draft\"][data-status=\"SUCCEEDED\"]')").await;
    page.wait_for("document.querySelector('g[data-step-id=\"review\"][data-status=\"WAITING\"]')").await;
    screenshot(&page, "console-approval").await;
    assert_accessible(&page, "a run waiting for an approval").await;
    click(&page, "section[data-step-id=\"review\"]", "Approve").await;
    page.wait_for("document.querySelector('g[data-step-id=\"publish\"][data-status=\"SUCCEEDED\"]')").await;
    page.wait_for("document.querySelector('h1[data-status=\"SUCCEEDED\"]')").await;
    screenshot(&page, "console-dag").await;
    assert_eq!(finished(&app, run).await.last().unwrap().event_type, "RunSucceeded");
    page.eval("location.hash = '#/'; true").await;
    let balance_row = format!("document.querySelector('[data-workspace-id=\"{workspace}\"]')");
    page.wait_for(&format!("{balance_row} && {balance_row}.innerText !== {balance_before}")).await;
    assert_accessible(&page, "the workspaces").await;

    // The workspace's agents and workflows, and its usage by day: today's bar is not empty.
    page.eval(&format!("location.hash = '#/w/{workspace}/catalog'; true")).await;
    page.wait_for(&format!("document.querySelector('[data-agent-id=\"{echo}\"]')")).await;
    page.wait_for(&format!("document.querySelector('[data-workflow-id=\"{reviewed}\"]')")).await;
    let today = chrono::Utc::now().date_naive();
    page.wait_for(&format!("document.querySelector('[data-day=\"{today}\"]').style.height !== '0%'")).await;
    assert_accessible(&page, "the agents, workflows and usage").await;
    // It fits a narrow screen: nothing wider than the window but what scrolls on its own.
    page.call(
        "Emulation.setDeviceMetricsOverride",
        json!({"width": 390, "height": 800, "deviceScaleFactor": 1, "mobile": true}),
    )
    .await;
    assert_eq!(page.eval("document.documentElement.scrollWidth <= window.innerWidth").await, true);
    page.call(
        "Emulation.setDeviceMetricsOverride",
        json!({"width": 1280, "height": 800, "deviceScaleFactor": 1, "mobile": false}),
    )
    .await;

    // The list filters by workflow: only the runs of the slow one, the new one among them, live.
    page.eval(&format!("location.hash = '#/w/{workspace}?workflow={slow}'; true")).await;
    page.wait_for("document.querySelector('#runs')").await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let napping = start(&app, workspace, slow, json!({})).await;
    page.wait_for(&format!("document.querySelector('[data-run-id=\"{napping}\"]')")).await;
    let other_workflow = format!("document.querySelector('[data-run-id=\"{run}\"]') === null");
    assert_eq!(page.eval(&other_workflow).await, true, "the filter keeps the other workflow's runs out");

    // A page of one run, then the next by clicking: newest first, and no more after the last.
    page.eval(&format!("location.hash = '#/w/{workspace}?page=1'; true")).await;
    let shown = "Array.from(document.querySelectorAll('#runs [data-run-id]')).map(r => r.dataset.runId).join(' ')";
    page.wait_for("document.getElementById('more-runs')?.hidden === false").await;
    assert_eq!(page.eval(shown).await, json!(napping.to_string()));
    click(&page, "main", "More runs").await;
    assert_eq!(page.wait_for(&format!("{shown}.includes(' ') && {shown}")).await, json!(format!("{napping} {run}")));
    page.wait_for("document.getElementById('more-runs').hidden").await;

    // A run is cancelled by clicking, and a failed one retried by clicking: the retry's page
    // follows.
    page.eval(&format!("location.hash = '#/r/{napping}'; true")).await;
    click(&page, "main", "Cancel run").await;
    page.wait_for("document.querySelector('h1[data-status=\"CANCELLED\"]')").await;
    let failed = start(&app, workspace, broken, json!({})).await;
    assert_eq!(finished(&app, failed).await.last().unwrap().event_type, "RunFailed");
    page.eval(&format!("location.hash = '#/r/{failed}'; true")).await;
    page.wait_for("document.querySelector('h1[data-status=\"FAILED\"]')").await;
    // A refusal shows the server's own words, and changes nothing.
    let budget = "document.querySelector('input[aria-label=\"Budget of the retry\"]')";
    page.wait_for(budget).await;
    page.eval(&format!("{budget}.value = '0'; true")).await;
    click(&page, "main", "Retry").await;
    let said = page.wait_for("document.querySelector('[role=alert]')?.textContent").await;
    assert!(said.as_str().unwrap().contains("budget"), "{said}");
    let shown = page.eval("document.querySelector('h1[data-run-id]').getAttribute('data-run-id')").await;
    assert_eq!(shown, failed.to_string());
    page.eval(&format!("{budget}.value = '20'; true")).await;
    click(&page, "main", "Retry").await;
    let retry = page
        .wait_for(&format!(
            "document.querySelector('h1[data-run-id]')?.getAttribute('data-run-id') !== '{failed}' \
             && document.querySelector('h1[data-run-id]')?.getAttribute('data-run-id')"
        ))
        .await;
    let retry: Uuid = retry.as_str().unwrap().parse().unwrap();
    let retried = app.graphql(Some(&alice), &format!("{{ run(id: \"{retry}\") {{ retryOf }} }}"), None).await;
    assert_eq!(retried["data"]["run"]["retryOf"], failed.to_string(), "{retried}");

    // A step output of markup is shown as text and runs no script.
    let hostile = start(&app, workspace, reviewed, json!({"text": "<img src=x onerror=\"window.__pwned = 1\">"})).await;
    page.eval(&format!("location.hash = '#/r/{hostile}'; true")).await;
    page.wait_for("document.querySelector('section[data-step-id=\"draft\"] pre.output')?.textContent.includes('<img')")
        .await;
    assert_eq!(page.eval("document.querySelectorAll('main img').length").await, 0);
    assert_eq!(page.eval("window.__pwned === undefined").await, true);

    // Nothing came from, or went to, anywhere but this origin, and the page logged no error.
    // (`data:` is the browser's own: the date inputs' calendar icon.)
    let local = |url: &String| {
        url.starts_with(&app.base) || url.starts_with(&app.base.replace("http://", "ws://")) || url.starts_with("data:")
    };
    let requests = page.requests();
    assert!(requests.iter().all(local), "requests off this origin: {requests:#?}");
    assert!(requests.iter().any(|url| url.ends_with("/console/console.js")), "{requests:#?}");
    // (Chrome logs the refused retry's answer, which the page showed as it should.)
    let refused = "Failed to load resource: the server responded with a status of 400";
    let problems: Vec<String> = page.problems().into_iter().filter(|problem| !problem.contains(refused)).collect();
    assert_eq!(problems, Vec::<String>::new());

    // Operators see the dead letters and decide on them; others see that the page is not theirs.
    page.eval("location.hash = '#/ops'; true").await;
    page.wait_for("document.querySelector('main p')?.textContent.includes('operators only')").await;
    // A workspace of its own: its stream cannot be read any more, by commands either.
    let spoiled = Uuid::now_v7();
    app.ok(&alice, json!({"type": "CreateWorkspace", "id": spoiled, "payload": {"name": "Spoiled"}})).await;
    let store = store::EventStore::new(app.db.pool.clone(), store::CommitterConfig::default());
    let poisoned = store
        .append(store::AppendRequest::to_stream(
            format!("workspace-{spoiled}"),
            store::ExpectedVersion::Any,
            vec![events::NewEvent {
                event_id: Uuid::now_v7(),
                event_type: "WorkspaceRenamed".into(),
                schema_version: 1,
                payload: json!({"name": 42}),
                metadata: json!({"actor": "alice", "workspace_id": spoiled, "correlation_id": Uuid::now_v7(),
                    "causation_id": Uuid::now_v7()}),
            }],
        ))
        .await
        .unwrap()
        .last_position
        .unwrap();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while !store::parked::list(&app.db.pool, Some("catalog")).await.unwrap().iter().any(|p| p.position == poisoned) {
        assert!(tokio::time::Instant::now() < deadline, "the poisoned event was never parked");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let operator = browser.open(&format!("{}/console#token={}", app.base, app.token("ops"))).await;
    operator.eval("location.hash = '#/ops'; true").await;
    let row = format!("document.querySelector('tr[data-position=\"{poisoned}\"]')");
    operator.wait_for(&row).await;
    assert_accessible(&operator, "the operations page").await;
    operator.eval(&format!("{row}.querySelector('input').value = 'a test of the console'; true")).await;
    click(&operator, &format!("tr[data-position=\"{poisoned}\"]"), "Skip").await;
    operator.wait_for("document.querySelector('[role=alert]')?.textContent.includes('applied')").await;
    operator.wait_for(&format!("{row} === null")).await;
    let logged = store::read_stream(&app.db.pool, &events::operations::stream_id(), 0).await.unwrap();
    assert!(logged.iter().any(|e| e.event_type == "ParkedEventSkipped" && e.metadata["actor"] == "operator:ops"));

    // A viewer sees the waiting approval and no button to act; a stranger sees no workspace.
    let other = start(&app, workspace, reviewed, json!({"text": "viewed"})).await;
    let viewer = browser.open(&format!("{}/console#token={}", app.base, app.token("vic"))).await;
    viewer.eval(&format!("location.hash = '#/r/{other}'; true")).await;
    viewer.wait_for("document.querySelector('g[data-step-id=\"review\"][data-status=\"WAITING\"]')").await;
    let buttons = viewer.eval("Array.from(document.querySelectorAll('main button')).map(b => b.textContent)").await;
    assert_eq!(buttons, json!([]), "a viewer has no action");
    let stranger = browser.open(&format!("{}/console#token={}", app.base, app.token("eve"))).await;
    stranger.wait_for("document.querySelector('main p')?.textContent.includes('no workspace')").await;
    stranger.eval(&format!("location.hash = '#/r/{other}'; true")).await;
    stranger.wait_for("document.querySelector('main h1')?.textContent === 'No such run'").await;

    // Without a token, the sign-in form.
    let signed_out = browser.open(&format!("{}/console", app.base)).await;
    signed_out.wait_for("document.querySelector('form.sign-in')").await;
    assert_accessible(&signed_out, "the sign-in form").await;
}

/// The checked-in build is what the pinned TypeScript and esbuild make of the console's source and
/// the TypeScript client's.
#[tokio::test]
async fn the_checked_in_console_is_built_from_its_source() {
    let console = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../read-api/console");
    assert!(
        console.join("node_modules/.bin/esbuild").is_file()
            && console.join("../../clients/typescript/node_modules/graphql-ws").is_dir(),
        "the console's or the TypeScript client's packages are missing: `npm ci` in read-api/console and \
         clients/typescript (scripts/test does)"
    );
    let out = std::env::temp_dir().join(tests::unique_name("console")).with_extension("js");
    let outfile = format!("--outfile={}", out.display());
    for args in [&["run", "--silent", "check"][..], &["run", "--silent", "bundle", "--", &outfile]] {
        let built =
            tokio::process::Command::new("npm").args(args).current_dir(&console).output().await.expect("run npm");
        let said = format!("{}{}", String::from_utf8_lossy(&built.stdout), String::from_utf8_lossy(&built.stderr));
        assert!(built.status.success(), "npm {args:?}: {said}");
    }
    let fresh = std::fs::read(&out).unwrap();
    std::fs::remove_file(&out).unwrap();
    assert!(
        fresh == std::fs::read(console.join("dist/console.js")).unwrap(),
        "read-api/console/dist/console.js is not built from src/: run scripts/build-console"
    );
}
