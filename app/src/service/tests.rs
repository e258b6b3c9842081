//! The command service over the in-memory log: what it answers, what it appends, and how often
//! it asks the log, without PostgreSQL.

use commands::RejectionKind;
use commands::runs::{BeginRun, RunCommand};
use serde_json::{Value, json};
use store::memory::MemoryLog;
use store::{AppendRequest, ExpectedVersion};
use uuid::Uuid;

use super::*;
use crate::Worker;

fn service(log: &MemoryLog) -> CommandService<MemoryLog> {
    CommandService::new(log.clone(), Metrics::new())
}

fn request(command_type: &str, id: Uuid, payload: Value) -> CommandRequest {
    let command = Command::parse(command_type, &payload).expect("a known type").expect("a valid payload");
    CommandRequest { id, expected_version: None, command, payload }
}

fn alice() -> Caller {
    Caller::user("alice", Some("alice@example.com".into()))
}

async fn run(service: &CommandService<MemoryLog>, caller: &Caller, request: CommandRequest) -> Accepted {
    service.execute(request, caller, None, Uuid::now_v7()).await.expect("accepted")
}

async fn workspace(service: &CommandService<MemoryLog>) -> Uuid {
    let id = Uuid::now_v7();
    run(service, &alice(), request("CreateWorkspace", id, json!({"name": "Acme"}))).await;
    id
}

/// A workspace with an agent and a two-step workflow of it.
async fn workflow(service: &CommandService<MemoryLog>) -> (Uuid, Uuid) {
    let workspace = workspace(service).await;
    let agent = Uuid::now_v7();
    let register = json!({"workspace_id": workspace, "name": "Echo", "kind": "tool",
        "executor": {"type": "builtin", "name": "echo"}, "price": {"per_call": 1, "per_1k_tokens": 0}});
    run(service, &alice(), request("RegisterAgent", agent, register)).await;
    let workflow = Uuid::now_v7();
    let steps = json!([{"id": "a", "agent_id": agent}, {"id": "b", "agent_id": agent, "depends_on": ["a"]}]);
    let define = json!({"workspace_id": workspace, "name": "Two", "steps": steps});
    run(service, &alice(), request("DefineWorkflow", workflow, define)).await;
    (workspace, workflow)
}

fn start(workspace: Uuid, workflow: Uuid) -> CommandRequest {
    request("StartRun", Uuid::now_v7(), json!({"workspace_id": workspace, "workflow_id": workflow, "budget": 10}))
}

#[tokio::test]
async fn a_command_is_decided_appended_and_answered_with_its_positions() {
    let log = MemoryLog::new();
    let service = service(&log);
    let id = Uuid::now_v7();
    let accepted = run(&service, &alice(), request("CreateWorkspace", id, json!({"name": "Acme"}))).await;
    assert_eq!((accepted.stream.as_str(), accepted.version, accepted.position), (&*format!("workspace-{id}"), 1, 1));
    assert_eq!(accepted.events.len(), 1);
    assert_eq!(accepted.events[0].event_type, "WorkspaceCreated");
    let logged = log.events();
    assert_eq!(logged.len(), 1);
    assert_eq!(logged[0].actor(), Some("alice"));
    assert_eq!(logged[0].workspace_id(), Some(id));
}

#[tokio::test]
async fn a_retry_under_the_same_key_gets_the_first_answer_and_appends_nothing() {
    let log = MemoryLog::new();
    let service = service(&log);
    let id = workspace(&service).await;
    let rename = |name: &str| request("RenameWorkspace", id, json!({"name": name}));
    let first = service.execute(rename("Acme 2"), &alice(), Some("k"), Uuid::now_v7()).await.unwrap();
    run(&service, &alice(), rename("Acme 3")).await;
    let again = service.execute(rename("Acme 2"), &alice(), Some("k"), Uuid::now_v7()).await.unwrap();
    assert_eq!(again, first, "the first answer, though the workspace was renamed since");
    assert_eq!(log.events().len(), 3);
    let other = service.execute(rename("Acme 4"), &alice(), Some("k"), Uuid::now_v7()).await;
    assert_eq!(other, Err(CommandError::IdempotencyKeyReused));
    let theirs = service.execute(rename("Acme 2"), &Caller::user("bob", None), Some("k"), Uuid::now_v7()).await;
    assert!(
        matches!(theirs, Err(CommandError::Rejected { .. })),
        "keys are per caller: bob's is new, and bob no member"
    );
}

#[tokio::test]
async fn a_command_that_lost_a_race_is_decided_again_on_the_new_state() {
    let log = MemoryLog::new();
    let service = service(&log);
    let id = workspace(&service).await;
    // Another process renames between this command's read and its append.
    let theirs = |version| {
        let event = events::NewEvent {
            event_id: Uuid::now_v7(),
            event_type: "WorkspaceRenamed".into(),
            schema_version: 1,
            payload: json!({"name": "Theirs"}),
            metadata: json!({"actor": "bob", "workspace_id": id, "correlation_id": Uuid::nil(), "causation_id": Uuid::nil()}),
        };
        AppendRequest::to_stream(format!("workspace-{id}"), ExpectedVersion::Exact(version), vec![event])
    };
    log.interleave(theirs(1));
    let accepted = run(&service, &alice(), request("RenameWorkspace", id, json!({"name": "Ours"}))).await;
    assert_eq!(accepted.version, 3, "decided again after theirs");
    let names: Vec<Value> = log.events().iter().skip(1).map(|event| event.payload["name"].clone()).collect();
    assert_eq!(names, [json!("Theirs"), json!("Ours")]);

    // A caller that named the version it decided on hears of the conflict instead.
    log.interleave(theirs(3));
    let named = CommandRequest { expected_version: Some(3), ..request("RenameWorkspace", id, json!({"name": "Late"})) };
    let conflict = service.execute(named, &alice(), None, Uuid::now_v7()).await;
    assert_eq!(conflict, Err(CommandError::Conflict { current: 4 }));
}

#[tokio::test]
async fn an_invitation_keeps_the_email_sealed_in_the_log_and_the_invitee_can_accept() {
    let log = MemoryLog::new();
    let service = service(&log);
    let id = workspace(&service).await;
    let invited =
        run(&service, &alice(), request("InviteMember", id, json!({"email": "cy@example.com", "role": "member"})))
            .await;
    assert_eq!(invited.events[0].payload["email"], "cy@example.com", "the caller hears back what it sent");
    let logged = log.events().pop().unwrap();
    assert!(logged.payload["email"].as_str().unwrap().starts_with("pii:v1:"), "the log holds it sealed");
    let invitation = invited.events[0].payload["invitation_id"].as_str().unwrap().parse::<Uuid>().unwrap();

    // Accepting compares the caller's email with the invitation's, revealed for the decision.
    let cy = Caller::user("cy", Some("CY@example.com".into()));
    let accept = || request("AcceptInvitation", id, json!({"invitation_id": invitation}));
    let dee = Caller::user("dee", Some("dee@example.com".into()));
    let stranger = service.execute(accept(), &dee, None, Uuid::now_v7()).await;
    assert!(matches!(stranger, Err(CommandError::Rejected { .. })), "{stranger:?}");
    let accepted = run(&service, &cy, accept()).await;
    assert_eq!(accepted.events[0].event_type, "InvitationAccepted");
}

#[tokio::test]
async fn a_run_start_reads_the_log_once_when_its_workflow_is_kept() {
    let log = MemoryLog::new();
    let service = service(&log);
    let (workspace, workflow) = workflow(&service).await;
    let before = log.round_trips();
    let started = run(&service, &alice(), start(workspace, workflow)).await;
    assert_eq!(started.events[0].event_type, "RunRequested");
    assert_eq!(log.round_trips() - before, 2, "one read (workspace, workflow, agent) and the append");

    // A process that keeps nothing reads the workflow first, then the agents it names.
    let cold = CommandService::new(log.clone(), Metrics::new());
    let before = log.round_trips();
    run(&cold, &alice(), start(workspace, workflow)).await;
    assert_eq!(log.round_trips() - before, 3 + 1, "a snapshot look-up for the workspace, two reads, the append");
}

#[tokio::test]
async fn a_run_of_a_version_older_than_the_kept_one_follows_that_version() {
    let log = MemoryLog::new();
    let service = service(&log);
    let (workspace, workflow) = workflow(&service).await;
    let agent = log.events().iter().find(|e| e.event_type == "AgentRegistered").unwrap().payload["agent_id"].clone();
    let revise = json!({"steps": [{"id": "only", "agent_id": agent}]});
    run(&service, &alice(), request("ReviseWorkflow", workflow, revise)).await;
    let at = |version: u32| {
        let payload =
            json!({"workspace_id": workspace, "workflow_id": workflow, "budget": 10, "workflow_version": version});
        request("StartRun", Uuid::now_v7(), payload)
    };
    let first = run(&service, &alice(), at(1)).await;
    let steps = first.events[0].payload["steps"].as_array().unwrap();
    assert_eq!(steps.iter().map(|step| step["id"].as_str().unwrap()).collect::<Vec<_>>(), ["a", "b"]);
    let missing = service.execute(at(7), &alice(), None, Uuid::now_v7()).await;
    assert!(matches!(missing, Err(CommandError::Rejected { code: "workflow_not_found", .. })), "{missing:?}");
}

#[tokio::test]
async fn only_a_saga_sends_a_runs_internal_commands() {
    let log = MemoryLog::new();
    let service = service(&log);
    let begin = || {
        let command = Command::Run(RunCommand::from(BeginRun { reservation_id: Uuid::nil() }));
        CommandRequest { id: Uuid::now_v7(), expected_version: None, payload: command.to_payload(), command }
    };
    let refused = service.execute(begin(), &alice(), None, Uuid::now_v7()).await;
    let Err(CommandError::Rejected { kind, code, .. }) = refused else { panic!("{refused:?}") };
    assert_eq!((kind, code), (RejectionKind::Forbidden, "internal_command"));
    let by_saga = service.execute(begin(), &Caller::saga("run-saga"), None, Uuid::now_v7()).await;
    assert!(matches!(by_saga, Err(CommandError::Rejected { code: "run_not_found", .. })), "{by_saga:?}");
    assert!(log.events().is_empty());
}

#[tokio::test]
async fn a_worker_credential_names_its_worker_until_it_is_revoked() {
    let log = MemoryLog::new();
    let service = service(&log);
    let workspace = workspace(&service).await;
    let agent = Uuid::now_v7();
    let register = json!({"workspace_id": workspace, "name": "Ext", "kind": "tool",
        "executor": {"type": "external"}, "price": {"per_call": 1, "per_1k_tokens": 0}});
    run(&service, &alice(), request("RegisterAgent", agent, register)).await;
    let issued = run(&service, &alice(), request("IssueWorkerCredential", agent, json!({}))).await;
    let credential = issued.worker_credential.expect("shown once");
    let Worker::InForce(worker) = service.worker(&credential).await.unwrap() else { panic!("in force") };
    assert_eq!(worker.principal, commands::Principal::Worker { agent_id: agent, workspace_id: workspace });
    assert_eq!(service.worker("oxw.nonsense").await.unwrap(), Worker::NotInForce);
    let unknown = credential.replacen(&agent.to_string(), &Uuid::now_v7().to_string(), 1);
    assert_eq!(service.worker(&unknown).await.unwrap(), Worker::NoSuchAgent);

    // It reports its agent's steps, and does nothing else.
    for (command_type, id, payload) in [
        ("CreateWorkspace", Uuid::now_v7(), json!({"name": "Mine"})),
        ("RenameWorkspace", workspace, json!({"name": "Taken"})),
        ("CancelRun", Uuid::now_v7(), json!({})),
    ] {
        let refused = service.execute(request(command_type, id, payload), &worker, None, Uuid::now_v7()).await;
        let Err(CommandError::Rejected { code, kind, .. }) = refused else { panic!("{command_type}: {refused:?}") };
        assert_eq!((code, kind), ("worker_reports_only", RejectionKind::Forbidden), "{command_type}");
    }

    let credential_id = issued.events[0].payload["credential_id"].clone();
    run(&service, &alice(), request("RevokeWorkerCredential", agent, json!({"credential_id": credential_id}))).await;
    assert_eq!(service.worker(&credential).await.unwrap(), Worker::NotInForce, "revoked");
}

#[tokio::test]
async fn an_event_over_the_size_limit_is_refused_before_the_log() {
    let log = MemoryLog::new();
    let service = service(&log).limiting_events_to(120);
    let id = workspace(&service).await;
    let rename = request("RenameWorkspace", id, json!({"name": "x".repeat(100)}));
    let refused = service.execute(rename, &alice(), None, Uuid::now_v7()).await;
    assert!(matches!(refused, Err(CommandError::Rejected { code: "event_too_large", .. })), "{refused:?}");
    assert_eq!(log.events().len(), 1);
}
