//! The read API against the GraphQL over HTTP working group's own server audit (the
//! `graphql-http` package, run by Node.js): every MUST and every SHOULD passes.

use tests::TestApp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_graphql_endpoint_passes_every_must_and_should_of_the_graphql_over_http_audit() {
    let app = TestApp::start_with(&[oxbow::Role::ReadApi, oxbow::Role::WriteApi], |_| {}).await;
    let audit = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("graphql-http");
    assert!(
        audit.join("node_modules/graphql-http").is_dir(),
        "the audit's packages are missing: run `npm ci --prefix tests/graphql-http` (scripts/test does)"
    );
    let output = tokio::process::Command::new("node")
        .arg(audit.join("audit.mjs"))
        .arg(format!("{}/graphql", app.base))
        .arg(app.token("auditor"))
        .output()
        .await
        .expect("run node (scripts/test installs it)");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let results: Vec<serde_json::Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON result per line"))
        .collect();
    let named = |level: &str| results.iter().filter(|r| r["name"].as_str().unwrap().starts_with(level)).count();
    assert!(named("MUST ") >= 13 && named("SHOULD ") >= 20, "the whole audit ran: {results:?}");
    // "error" is a MUST that failed, "warn" a SHOULD; a MAY left out is a "notice".
    let failed: Vec<&serde_json::Value> =
        results.iter().filter(|r| matches!(r["status"].as_str(), Some("error" | "warn"))).collect();
    assert!(failed.is_empty(), "{failed:#?}");
}

/// Runs `introspect.mjs`: graphql-js's introspection query, and its schema built from the answer.
async fn introspect(url: &str, token: Option<&str>) -> serde_json::Value {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("graphql-http/introspect.mjs");
    let output =
        tokio::process::Command::new("node").arg(script).arg(url).args(token).output().await.expect("run node");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The introspection query GraphiQL, Apollo, Relay and graphql-codegen send nests deeper than a
/// data query may: it is answered, for a caller who may query, and describes the checked-in SDL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_tools_introspect_the_schema_a_caller_may_query() {
    let app = TestApp::start_with(&[oxbow::Role::ReadApi], |_| {}).await;
    let url = format!("{}/graphql", app.base);
    let token = app.token("codegen");
    let answer = introspect(&url, Some(&token)).await;
    assert_eq!(answer["errors"], serde_json::Value::Null, "{answer}");
    let printed = answer["sdl"].as_str().unwrap();
    // graphql-js prints what it built; every type and field of the served schema is in it.
    let checked_in =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../read-api/schema.graphql")).unwrap();
    for line in checked_in.lines().filter(|line| line.starts_with("type ") || line.starts_with("enum ")) {
        let name = line.split_whitespace().nth(1).unwrap();
        assert!(printed.contains(&format!(" {name} ")), "{name} is missing from the introspected schema");
    }
    assert!(printed.contains("artifacts(workspaceId: ID!"), "{printed}");
    // Asked again, it is the same answer (kept, not computed again).
    assert_eq!(introspect(&url, Some(&token)).await, answer);
    // A caller who may not query gets no schema.
    let stranger = introspect(&url, None).await;
    assert_eq!(stranger["sdl"], serde_json::Value::Null, "{stranger}");
}

/// Dashboards see GraphQL traffic by operation, as clients name it, and a caller who names
/// every query anew cannot grow the series without bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_are_counted_by_their_names_within_a_bounded_set() {
    let app = TestApp::start_with(&[oxbow::Role::ReadApi], |_| {}).await;
    let token = app.token("dashboards");
    app.graphql(Some(&token), "query MyWorkspaces { workspaces(first: 1) { nodes { id } } }", None).await;
    app.graphql(Some(&token), "{ workspaces(first: 1) { nodes { id } } }", None).await;
    app.graphql(Some(&token), "query Broken { workspace(id: \"not-a-uuid\") { id } }", None).await;
    for n in 0..110 {
        let answer = app
            .graphql(Some(&token), &format!("query Named{n} {{ workspaces(first: 1) {{ nodes {{ id }} }} }}"), None)
            .await;
        assert!(answer["errors"].is_null(), "{answer}");
    }
    let metrics = app.http.get(format!("{}/metrics", app.base)).send().await.unwrap().text().await.unwrap();
    let count = |labels: &str| {
        metrics
            .lines()
            .find(|line| line.starts_with(&format!("oxbow_graphql_operations_total{{{labels}}}")))
            .and_then(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
    };
    assert_eq!(count(r#"type="query",name="MyWorkspaces",outcome="ok""#), Some(1), "{metrics}");
    assert_eq!(count(r#"type="query",name="anonymous",outcome="ok""#), Some(1));
    assert_eq!(count(r#"type="query",name="Broken",outcome="error""#), Some(1));
    let names: std::collections::HashSet<&str> = metrics
        .lines()
        .filter(|line| line.starts_with("oxbow_graphql_operations_total{"))
        .filter_map(|line| line.split("name=\"").nth(1)?.split('"').next())
        .collect();
    // A hundred names, and `anonymous` and `other`.
    assert!(names.len() <= 102, "{} names", names.len());
    assert!(count(r#"type="query",name="other",outcome="ok""#).is_some_and(|n| n >= 10), "{metrics}");
}
