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
