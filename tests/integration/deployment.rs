//! The deployment artifacts, checked without a container runtime: the compose file sets only
//! variables Oxbow reads and runs real roles with health checks on the ports they serve, Kafka
//! advertises a reachable listener, the database roles match, the image builds with
//! `scripts/build`, and the guide lists every variable.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// `deploy/compose.yaml` as JSON, read by PyYAML (anchors and merge keys resolved).
fn compose() -> Value {
    let packages = root().join(".oxbow/python");
    assert!(
        packages.join("yaml").is_dir(),
        "PyYAML is missing: python3 -m pip install --target .oxbow/python -r tests/python/requirements.txt (scripts/test does)"
    );
    let output = std::process::Command::new("python3")
        .arg(root().join("tests/python/compose_json.py"))
        .arg(root().join("deploy/compose.yaml"))
        .env("PYTHONPATH", packages)
        .output()
        .expect("run python3");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or_else(|| panic!("{value} is not text"))
}

#[test]
fn the_compose_file_runs_every_role_with_what_oxbow_reads() {
    let compose = compose();
    let services = compose["services"].as_object().unwrap();
    let mut roles = BTreeSet::new();
    for (name, service) in services {
        if service["image"] != "oxbow:latest" {
            continue;
        }
        let environment = service["environment"].as_object().unwrap();
        for variable in environment.keys() {
            assert!(platform::variables::is_known(variable), "{name} sets {variable}, which Oxbow does not read");
        }
        let command: Vec<&str> = service["command"].as_array().unwrap().iter().map(text).collect();
        if command[0] == "migrate" {
            assert!(
                environment.contains_key("OXBOW_SERVING_ROLE"),
                "{name} migrates without granting the serving role"
            );
            continue;
        }
        assert_eq!(&command[..2], ["serve", "--role"], "{name}: {command:?}");
        let role = command[2];
        assert!(["write-api", "read-api", "projector", "saga", "relay"].contains(&role), "{name}: {role}");
        roles.insert(role.to_owned());
        assert!(service["deploy"]["replicas"].as_u64().unwrap_or(1) >= 2, "{name} runs alone");
        // The health check asks the health address, where every role serves /readyz (an API's
        // public port does not, once a health address is set).
        let check: Vec<&str> =
            service["healthcheck"]["test"].as_array().expect("a health check").iter().map(text).collect();
        assert_eq!(&check[..3], ["CMD", "oxbow", "probe"], "{name}");
        let port = text(&environment["OXBOW_HEALTH_ADDR"]).rsplit(':').next().unwrap();
        assert_eq!(check[3], format!("http://127.0.0.1:{port}/readyz"), "{name}");
        // The services it names are the compose file's own.
        let brokers = text(&environment["KAFKA_BROKERS"]);
        assert!(services.contains_key(brokers.split(':').next().unwrap()), "{name}: {brokers}");
        let database = text(&environment["DATABASE_URL"]);
        assert!(
            database.starts_with("postgres://oxbow_app:"),
            "{name} serves as another role than oxbow_app: {database}"
        );
    }
    assert_eq!(roles.len(), 5, "every role runs: {roles:?}");

    // Kafka tells clients to connect to a name the other containers resolve.
    let kafka = &services["kafka"]["environment"];
    let advertised = text(&kafka["KAFKA_ADVERTISED_LISTENERS"]);
    assert_eq!(advertised, "PLAINTEXT://kafka:9092");
    assert_eq!(text(&kafka["KAFKA_PROCESS_ROLES"]), "broker,controller", "KRaft, no ZooKeeper");
    for stateful in ["postgres", "kafka"] {
        assert!(
            services[stateful]["volumes"].as_array().is_some_and(|volumes| !volumes.is_empty()),
            "{stateful} keeps no data"
        );
    }

    // The roles the database is set up with are the ones the services connect as.
    let roles_script = std::fs::read_to_string(root().join("deploy/postgres-roles.sh")).unwrap();
    for role in ["oxbow_migrator", "oxbow_app"] {
        assert!(roles_script.contains(&format!("create role {role} login")), "{role}");
    }
}

#[test]
fn the_image_builds_with_the_projects_own_build_script() {
    let dockerfile = std::fs::read_to_string(root().join("deploy/Dockerfile")).unwrap();
    let runs: Vec<&str> = dockerfile.lines().filter(|line| line.starts_with("RUN ")).collect();
    assert_eq!(runs.first().copied(), Some("RUN scripts/build"), "{runs:?}");
    let build = std::fs::read_to_string(root().join("scripts/build")).unwrap();
    assert!(build.contains("oxbow_ensure_build_packages") && build.contains("cargo build --release --locked -p oxbow"));
    assert!(dockerfile.contains("COPY --from=build /src/target/release/oxbow /usr/local/bin/oxbow"));
    let toolchain = dockerfile.lines().find(|line| line.starts_with("FROM rust:")).unwrap();
    let workspace = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let rust_version = workspace.lines().find(|line| line.starts_with("rust-version")).unwrap();
    let version = |text: &str| -> (u32, u32) {
        let mut parts = text.split(['.', '-']).map(|part| part.parse().unwrap_or(0));
        (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
    };
    let wanted = version(rust_version.split('"').nth(1).unwrap());
    let image = version(toolchain.trim_start_matches("FROM rust:"));
    assert!(image >= wanted, "{toolchain} is older than the workspace's rust-version {wanted:?}");
}

#[test]
fn the_image_is_built_without_local_state_or_build_output() {
    // `COPY . .` sends the build context: development tokens, local databases and gigabytes of
    // target/ must stay out of it.
    let ignored = std::fs::read_to_string(root().join(".dockerignore")).expect("a .dockerignore at the root");
    let lines: Vec<&str> = ignored.lines().map(str::trim).filter(|line| !line.starts_with('#')).collect();
    for path in ["target/", ".oxbow/", ".git/"] {
        assert!(lines.contains(&path), ".dockerignore leaves {path} in the build context");
    }
}

#[test]
fn the_deployment_guide_lists_every_variable() {
    let guide = std::fs::read_to_string(root().join("docs/deployment.md")).unwrap();
    for variable in platform::variables::VARIABLES {
        assert!(guide.contains(&format!("`{}`", variable.name)), "docs/deployment.md does not list {}", variable.name);
    }
}
