//! GraphiQL in a real browser with no route off this machine: the page and everything it runs
//! come from the read API itself, a query runs from the editor, a subscription started there
//! receives an event, and the docs explorer shows the schema.

use serde_json::json;

/// Types `query` into the query editor and presses the run button once GraphiQL has parsed it
/// (it parses after a pause in typing, and picks the transport by the parsed operation).
async fn run(page: &tests::browser::Page, query: &str) {
    let text = serde_json::to_string(query).unwrap();
    page.eval(&format!(
        "document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.setValue({text}); true"
    ))
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    page.eval("document.querySelector('.graphiql-execute-button').click(); true").await;
}

/// The text of the response pane.
const RESPONSE: &str = "document.querySelector('.graphiql-response .CodeMirror').CodeMirror.getValue()";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphiql_runs_a_query_and_a_subscription_without_the_internet() {
    let app = tests::TestApp::start().await;
    let alice = app.token("alice");
    let workspace = uuid::Uuid::now_v7();
    app.ok(&alice, json!({"type": "CreateWorkspace", "id": workspace, "payload": {"name": "Offline"}})).await;

    let browser = tests::browser::Browser::launch().await;
    // The token in the fragment fills in the Authorization header (and the subscription
    // client's connection parameter).
    let page = browser.open(&format!("{}/graphql#token={alice}", app.base)).await;
    page.wait_for("document.querySelector('.graphiql-query-editor .CodeMirror') !== null").await;
    // The variables and headers editors.
    let tools = "Array.from(document.querySelectorAll('.graphiql-editor-tool .CodeMirror')) \
                 .map(editor => editor.CodeMirror.getValue()).join('\\n')";
    page.wait_for(&format!("{tools}.includes('Bearer {alice}')")).await;
    assert_eq!(page.eval("window.location.hash").await, "", "the token leaves the address bar");

    run(&page, &format!(r#"{{ workspace(id: "{workspace}") {{ name }} }}"#)).await;
    let answer = page.wait_for(&format!("{RESPONSE}.includes('Offline') && {RESPONSE}")).await;
    assert!(answer.as_str().unwrap().contains(r#""name": "Offline""#), "{answer}");

    run(&page, &format!(r#"subscription {{ workspaceActivity(workspaceId: "{workspace}") {{ eventType }} }}"#)).await;
    // The subscription is running once its socket is open; then an event arrives.
    page.wait_for("document.querySelector('.graphiql-execute-button[aria-label*=\"Stop\"]') !== null").await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    app.ok(&alice, json!({"type": "RenameWorkspace", "id": workspace, "payload": {"name": "Seen live"}})).await;
    let event = page.wait_for(&format!("{RESPONSE}.includes('WorkspaceRenamed') && {RESPONSE}")).await;
    assert!(event.as_str().unwrap().contains("workspaceActivity"), "{event}");

    // The docs explorer shows the schema: GraphiQL's own introspection query is answered.
    page.eval("document.querySelector('[aria-label=\"Show Documentation Explorer\"]').click(); true").await;
    let explorer = "(document.querySelector('.graphiql-doc-explorer')?.innerText ?? '')";
    page.wait_for(&format!("{explorer}.includes('Root Types')")).await;
    page.eval(
        "Array.from(document.querySelectorAll('.graphiql-doc-explorer-type-name')).find(a => a.textContent === 'Query').click(); true",
    )
    .await;
    page.wait_for(&format!("{explorer}.includes('billingAccount') && {explorer}.includes('artifacts')")).await;

    // Nothing came from, or went to, anywhere but the read API.
    let requests = page.requests();
    let local = |url: &String| {
        url.starts_with(&app.base) || url.starts_with(&app.base.replace("http://", "ws://")) || url.starts_with("data:")
    };
    assert!(requests.iter().any(|url| url.ends_with("/graphiql/graphiql.min.js")), "{requests:#?}");
    assert!(requests.iter().any(|url| url.ends_with("/graphql/ws")), "{requests:#?}");
    assert!(requests.iter().all(local), "requests off this machine: {requests:#?}");
    assert_eq!(page.problems(), Vec::<String>::new());
}
