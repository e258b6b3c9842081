//! The checked-in contracts, checked with the tools their users run: `@graphql-inspector/core`
//! for breaking GraphQL changes against the released schema, `@asyncapi/parser` for the topics'
//! AsyncAPI document.

use std::path::{Path, PathBuf};

use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs `tests/contracts/<script>` with `args`: its exit status and its output, a JSON value a line.
async fn node(script: &str, args: &[&Path]) -> (bool, Vec<Value>) {
    let tools = root().join("tests/contracts");
    assert!(
        tools.join("node_modules/@asyncapi/parser").is_dir(),
        "the contract tools are missing: run `npm ci --prefix tests/contracts` (scripts/test does)"
    );
    let output = tokio::process::Command::new("node")
        .arg(tools.join(script))
        .args(args)
        .output()
        .await
        .expect("run node (scripts/test installs it)");
    let lines = String::from_utf8(output.stdout).unwrap();
    let values = lines.lines().map(|line| serde_json::from_str(line).expect("one JSON value a line")).collect();
    assert!(output.status.code().is_some(), "{}", String::from_utf8_lossy(&output.stderr));
    (output.status.success(), values)
}

#[tokio::test]
async fn the_graphql_schema_breaks_no_client_of_the_released_one() {
    let released = root().join("read-api/schema.released.graphql");
    let current = root().join("read-api/schema.graphql");
    let (passed, changes) = node("breaking.mjs", &[&released, &current]).await;
    let breaking: Vec<&Value> = changes.iter().filter(|change| change["level"] == "BREAKING").collect();
    assert!(
        passed && breaking.is_empty(),
        "breaking changes against read-api/schema.released.graphql: {breaking:#?}; a release that means them \
         updates that file with an entry in CHANGELOG.md"
    );

    // The check finds what would break a client: a field taken away.
    let sdl = std::fs::read_to_string(&current).unwrap();
    let without_position = sdl.replacen("\tposition: Int!\n", "", 1);
    assert_ne!(without_position, sdl);
    let broken = std::env::temp_dir().join(tests::unique_name("broken")).with_extension("graphql");
    std::fs::write(&broken, without_position).unwrap();
    let (passed, changes) = node("breaking.mjs", &[&released, &broken]).await;
    std::fs::remove_file(&broken).unwrap();
    assert!(!passed);
    assert!(
        changes.iter().any(|change| change["level"] == "BREAKING" && change["type"] == "FIELD_REMOVED"),
        "{changes:#?}"
    );
}

#[tokio::test]
async fn the_asyncapi_document_parses_and_names_every_event_and_message() {
    let document = root().join("schemas/asyncapi.json");
    let (passed, output) = node("asyncapi.mjs", &[&document]).await;
    let errors: Vec<&Value> = output.iter().filter(|line| line["severity"] == 0).collect();
    assert!(passed && errors.is_empty(), "{errors:#?}");
    let summary = &output.last().unwrap()["summary"];
    let channel = |id: &str| -> Vec<String> {
        let channels = summary["channels"].as_array().unwrap();
        let channel = channels.iter().find(|channel| channel["id"] == id).unwrap_or_else(|| panic!("{id}"));
        channel["messages"].as_array().unwrap().iter().map(|m| m.as_str().unwrap().to_owned()).collect()
    };
    let mut event_types: Vec<String> = schemas::events().iter().map(|s| s.type_name.to_owned()).collect();
    event_types.dedup();
    event_types.sort();
    let mut events = channel("events");
    events.sort();
    assert_eq!(events, event_types);
    assert_eq!(channel("tasks"), ["tasks.cancel", "tasks.task"]);
    assert_eq!(
        channel("notifications"),
        ["notifications.approval_requested", "notifications.low_balance", "notifications.signal_requested"]
    );
}
