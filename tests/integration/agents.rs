//! Agents and workflows through the command endpoint: role checks from the workspace's events,
//! DAG checks against the workspace's agents.

use serde_json::{Value, json};
use tests::TestApp;
use uuid::Uuid;

async fn workspace_with_roles(app: &TestApp) -> Uuid {
    let alice = app.token("alice");
    let id = Uuid::now_v7();
    app.ok(&alice, json!({"type": "CreateWorkspace", "id": id, "payload": {"name": "Agents"}})).await;
    for (user, role) in [("ad", "admin"), ("me", "member")] {
        app.join(&alice, id, user, role).await;
    }
    id
}

fn register(workspace_id: Uuid, id: Uuid, name: &str) -> Value {
    json!({"type": "RegisterAgent", "id": id, "payload": {
        "workspace_id": workspace_id, "name": name, "kind": "tool",
        "executor": {"type": "builtin", "name": "echo"},
        "price": {"per_call": 2, "per_1k_tokens": 1}}})
}

fn step(id: &str, agent: Uuid, depends_on: &[&str]) -> Value {
    json!({"id": id, "agent_id": agent, "depends_on": depends_on})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_manage_agents_and_others_may_not() {
    let app = TestApp::start_with(&[oxbow::Role::WriteApi], |_| {}).await;
    let workspace = workspace_with_roles(&app).await;
    let agent = Uuid::now_v7();

    let (status, problem) = app.command(&app.token("me"), register(workspace, agent, "Echo")).await;
    assert_eq!((status, problem["code"].as_str()), (403, Some("role_too_low")), "{problem}");
    let (status, problem) = app.command(&app.token("eve"), register(workspace, agent, "Echo")).await;
    assert_eq!((status, problem["code"].as_str()), (403, Some("not_a_member")), "{problem}");

    let registered = app.ok(&app.token("ad"), register(workspace, agent, "Echo")).await;
    assert_eq!(registered["stream"], format!("agent-{agent}"));
    let (status, problem) = app.command(&app.token("ad"), register(workspace, agent, "Again")).await;
    assert_eq!((status, problem["code"].as_str()), (409, Some("agent_exists")), "{problem}");

    let updated = app
        .ok(
            &app.token("alice"),
            json!({"type": "UpdateAgent", "id": agent, "payload": {"price": {"per_call": 3, "per_1k_tokens": 1}}}),
        )
        .await;
    assert_eq!(updated["events"][0]["payload"]["version"], 2);
    app.ok(&app.token("ad"), json!({"type": "RetireAgent", "id": agent, "payload": {}})).await;
    let (status, problem) =
        app.command(&app.token("ad"), json!({"type": "RetireAgent", "id": agent, "payload": {}})).await;
    assert_eq!((status, problem["code"].as_str()), (422, Some("agent_retired")), "{problem}");

    let (status, problem) = app
        .command(
            &app.token("ad"),
            json!({"type": "RegisterAgent", "id": Uuid::now_v7(), "payload": {"workspace_id": workspace, "name": "W",
                "kind": "tool", "executor": {"type": "webhook", "url": "not a url", "timeout_ms": 100},
                "price": {"per_call": 1, "per_1k_tokens": 0}}}),
        )
        .await;
    assert_eq!((status, problem["field"].as_str()), (400, Some("/payload/executor/url")), "{problem}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workflows_must_be_dags_of_the_workspaces_active_agents() {
    let app = TestApp::start_with(&[oxbow::Role::WriteApi], |_| {}).await;
    let workspace = workspace_with_roles(&app).await;
    let admin = app.token("ad");
    let (echo, retired, foreign) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    app.ok(&admin, register(workspace, echo, "Echo")).await;
    app.ok(&admin, register(workspace, retired, "Old")).await;
    app.ok(&admin, json!({"type": "RetireAgent", "id": retired, "payload": {}})).await;
    let other_workspace = Uuid::now_v7();
    app.ok(&admin, json!({"type": "CreateWorkspace", "id": other_workspace, "payload": {"name": "Other"}})).await;
    app.ok(&admin, register(other_workspace, foreign, "Theirs")).await;

    let define = |id: Uuid, steps: Value| json!({"type": "DefineWorkflow", "id": id, "payload": {"workspace_id": workspace, "name": "Pipeline", "steps": steps}});
    let refusals = [
        (json!([step("a", echo, &["b"]), step("b", echo, &["a"])]), "cycle"),
        (json!([step("a", echo, &["ghost"])]), "unknown_dependency"),
        (json!([step("a", echo, &[]), step("a", echo, &[])]), "duplicate_step_id"),
        (json!([step("a", retired, &[])]), "retired_agent"),
        (json!([step("a", foreign, &[])]), "unknown_agent"),
        (json!([step("a", Uuid::now_v7(), &[])]), "unknown_agent"),
        (json!([]), "no_steps"),
        (Value::Array((0..101).map(|i| step(&format!("s{i}"), echo, &[])).collect()), "too_many_steps"),
    ];
    for (steps, code) in refusals {
        let (status, problem) = app.command(&admin, define(Uuid::now_v7(), steps)).await;
        assert_eq!((status, problem["code"].as_str()), (422, Some(code)), "{problem}");
    }

    let workflow = Uuid::now_v7();
    let steps = json!([
        step("fetch", echo, &[]),
        step("left", echo, &["fetch"]),
        step("right", echo, &["fetch"]),
        step("join", echo, &["left", "right"]),
        step("report", echo, &["join"])
    ]);
    let defined = app.ok(&admin, define(workflow, steps)).await;
    assert_eq!(defined["events"][0]["type"], "WorkflowDefined");
    let revised = app
        .ok(&admin, json!({"type": "ReviseWorkflow", "id": workflow, "payload": {"steps": [step("only", echo, &[])]}}))
        .await;
    assert_eq!(revised["events"][0]["payload"]["version"], 2);
    let (status, problem) =
        app.command(&app.token("me"), json!({"type": "ArchiveWorkflow", "id": workflow, "payload": {}})).await;
    assert_eq!((status, problem["code"].as_str()), (403, Some("role_too_low")), "{problem}");
    app.ok(&admin, json!({"type": "ArchiveWorkflow", "id": workflow, "payload": {}})).await;
    let (status, problem) = app
        .command(
            &admin,
            json!({"type": "ReviseWorkflow", "id": workflow, "payload": {"steps": [step("x", echo, &[])]}}),
        )
        .await;
    assert_eq!((status, problem["code"].as_str()), (422, Some("workflow_archived")), "{problem}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphql_serves_agents_and_workflows_with_their_versions_to_members_only() {
    let app = TestApp::start().await;
    let workspace = workspace_with_roles(&app).await;
    let admin = app.token("ad");
    let (echo, old) = (Uuid::now_v7(), Uuid::now_v7());
    app.ok(&admin, register(workspace, echo, "Echo")).await;
    app.ok(&admin, register(workspace, old, "Old")).await;
    app.ok(&admin, json!({"type": "RetireAgent", "id": old, "payload": {}})).await;
    let workflow = Uuid::now_v7();
    app.ok(
        &admin,
        json!({"type": "DefineWorkflow", "id": workflow, "payload": {"workspace_id": workspace, "name": "Pipeline",
            "steps": [step("fetch", echo, &[]), step("report", echo, &["fetch"])]}}),
    )
    .await;
    let revised = app
        .ok(&admin, json!({"type": "ReviseWorkflow", "id": workflow, "payload": {"name": "Pipeline 2", "steps": [step("only", echo, &[])]}}))
        .await;

    let query = format!(
        r#"{{ agents(workspaceId: "{workspace}") {{ edges {{ node {{ id name kind version retired price {{ perCall per1kTokens }} executor }} }} }}
             retired: agents(workspaceId: "{workspace}", includeRetired: true) {{ edges {{ node {{ name retired }} }} }}
             workflow(id: "{workflow}") {{ id name version steps {{ id agentId dependsOn }} versions {{ version name steps {{ id }} }} }}
             workflows(workspaceId: "{workspace}") {{ edges {{ node {{ name }} }} }} }}"#
    );
    let member = app.graphql(Some(&app.token("me")), &query, revised["position"].as_i64()).await;
    assert!(member.get("errors").is_none(), "{member}");
    let data = &member["data"];
    assert_eq!(data["agents"]["edges"].as_array().unwrap().len(), 1, "{data}");
    let agent = &data["agents"]["edges"][0]["node"];
    assert_eq!((agent["name"].as_str(), agent["kind"].as_str()), (Some("Echo"), Some("tool")));
    assert_eq!(agent["price"], json!({"perCall": 2, "per1kTokens": 1}));
    assert_eq!(agent["executor"]["type"], "builtin");
    assert_eq!(data["retired"]["edges"].as_array().unwrap().len(), 2);
    assert_eq!(data["workflow"]["version"], 2);
    assert_eq!(data["workflow"]["name"], "Pipeline 2");
    assert_eq!(data["workflow"]["steps"], json!([{"id": "only", "agentId": echo.to_string(), "dependsOn": []}]));
    assert_eq!(data["workflow"]["versions"][0]["steps"], json!([{"id": "fetch"}, {"id": "report"}]));
    assert_eq!(data["workflows"]["edges"][0]["node"]["name"], "Pipeline 2");

    let stranger = app.graphql(Some(&app.token("eve")), &query, None).await;
    assert!(stranger.get("errors").is_none(), "{stranger}");
    assert_eq!(stranger["data"]["workflow"], Value::Null);
    assert_eq!(stranger["data"]["agents"]["edges"], json!([]));
    assert_eq!(stranger["data"]["workflows"]["edges"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn money_enters_an_account_only_from_outside_the_tenant() {
    let app = TestApp::start_with(&[oxbow::Role::WriteApi], |_| {}).await;
    let workspace = workspace_with_roles(&app).await;
    let (owner, admin, operator) = (app.token("alice"), app.token("ad"), app.operator());
    let command =
        |command_type: &str, payload: Value| json!({"type": command_type, "id": workspace, "payload": payload});
    let open = |overdraft_limit: i64| {
        command("OpenBillingAccount", json!({"plan": "team", "overdraft_limit": overdraft_limit}))
    };
    let (status, problem) = app.command(&admin, open(0)).await;
    assert_eq!((status, problem["code"].as_str()), (403, Some("role_too_low")), "{problem}");
    // An overdraft is credit the platform extends: the owner cannot grant it to itself.
    let (status, problem) = app.command(&owner, open(50)).await;
    assert_eq!((status, problem["code"].as_str()), (403, Some("operator_required")), "{problem}");
    let opened = app.ok(&owner, open(0)).await;
    assert_eq!(opened["stream"], format!("billing-{workspace}"));
    let (status, problem) = app.command(&owner, open(0)).await;
    assert_eq!((status, problem["code"].as_str()), (409, Some("billing_account_exists")), "{problem}");

    // The owner moves no money in, and touches no reservation.
    for (refused, code) in [
        (command("GrantCredits", json!({"amount": 100, "reason": "free money"})), "operator_required"),
        (command("SetOverdraftLimit", json!({"overdraft_limit": 1_000_000_000_000i64})), "operator_required"),
        (command("PurchaseCredits", json!({"amount": 25, "payment_ref": "made-up"})), "payment_required"),
        (command("RecordPayment", json!({"invoice_id": Uuid::now_v7(), "amount": 5})), "operator_required"),
        (command("ReserveCredits", json!({"reservation_id": Uuid::now_v7(), "amount": 1})), "internal_command"),
        (command("ReleaseReservation", json!({"reservation_id": Uuid::now_v7()})), "internal_command"),
    ] {
        let (status, problem) = app.command(&owner, refused.clone()).await;
        assert_eq!((status, problem["code"].as_str()), (403, Some(code)), "{refused} → {problem}");
    }
    // An operator is no member of the workspace, and needs not be.
    app.ok(&operator, command("SetOverdraftLimit", json!({"overdraft_limit": 50}))).await;
    app.ok(&operator, command("GrantCredits", json!({"amount": 100, "reason": "welcome"}))).await;
    let (status, problem) = app.command(&operator, command("GrantCredits", json!({"amount": 0, "reason": "x"}))).await;
    assert_eq!((status, problem["field"].as_str()), (400, Some("/payload/amount")), "{problem}");

    // A purchase is the provider's confirmed payment, signed with the shared secret; a forged
    // or stale delivery changes nothing, and a repeated one counts once.
    let payment = json!({"id": "pay_1", "type": "payment.succeeded", "workspace_id": workspace, "amount": 25});
    let (status, problem) = app.deliver_payment(&payment, Some("a-guessed-secret")).await;
    assert_eq!((status, problem["code"].as_str()), (401, Some("invalid_signature")), "{problem}");
    let unsigned = app.http.post(format!("{}/v1/payments/webhook", app.base)).json(&payment).send().await.unwrap();
    assert_eq!(unsigned.status(), 401);
    let (status, purchased) = app.deliver_payment(&payment, None).await;
    assert_eq!((status, purchased["events"][0]["type"].as_str()), (200, Some("CreditsPurchased")), "{purchased}");
    assert_eq!(purchased["events"][0]["payload"]["payment_ref"], "pay_1");
    let (status, again) = app.deliver_payment(&payment, None).await;
    assert_eq!((status, again["events"].clone()), (200, json!([])), "{again}");
    let refund = json!({"id": "re_1", "type": "charge.refunded", "workspace_id": workspace, "amount": 25});
    assert_eq!(app.deliver_payment(&refund, None).await, (200, json!({"ignored": true})));

    let events = store::read_stream(&app.db.pool, &format!("billing-{workspace}"), 0).await.unwrap();
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(types, ["BillingAccountOpened", "OverdraftLimitChanged", "CreditsGranted", "CreditsPurchased"]);
    assert_eq!(events[3].metadata["actor"], "system:payments");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphql_serves_the_billing_account_invoices_and_balance_changes() {
    let app = TestApp::start().await;
    let workspace = workspace_with_roles(&app).await;
    let owner = app.token("alice");
    let opened = app
        .ok(
            &owner,
            json!({"type": "OpenBillingAccount", "id": workspace, "payload": {"plan": "team", "overdraft_limit": 0}}),
        )
        .await;
    app.graphql(Some(&owner), "{ projections { name } }", opened["position"].as_i64()).await;
    let mut changes = app
        .subscribe(
            Some(&app.token("me")),
            &format!(r#"subscription {{ balanceChanged(workspaceId: "{workspace}") {{ position eventType account {{ balance reserved available }} }} }}"#),
        )
        .await
        .unwrap();

    app.ok(&app.operator(), json!({"type": "SetOverdraftLimit", "id": workspace, "payload": {"overdraft_limit": 50}}))
        .await;
    app.grant(workspace, 100).await;
    let payment = json!({"id": "pay_gql", "type": "payment.succeeded", "workspace_id": workspace, "amount": 25});
    let (status, captured) = app.deliver_payment(&payment, None).await;
    assert_eq!(status, 200, "{captured}");
    let closed = app.ok(&owner, json!({"type": "CloseBillingPeriod", "id": workspace, "payload": {}})).await;

    let query = format!(
        r#"{{ billingAccount(workspaceId: "{workspace}") {{ plan balance reserved available overdraftLimit }}
             invoices(workspaceId: "{workspace}") {{ id amount capturedInPeriod paid }} }}"#
    );
    let response = app.graphql(Some(&app.token("me")), &query, closed["position"].as_i64()).await;
    assert!(response.get("errors").is_none(), "{response}");
    assert_eq!(
        response["data"]["billingAccount"],
        json!({"plan": "team", "balance": 125, "reserved": 0, "available": 125, "overdraftLimit": 50})
    );
    assert_eq!(response["data"]["invoices"][0]["capturedInPeriod"], 0);
    assert_eq!(response["data"]["invoices"][0]["amount"], 0, "nothing of the overdraft was used");

    let mut seen = Vec::new();
    while seen.last() != Some(&closed["position"].as_i64().unwrap()) {
        let message = changes.next_json().await.expect("a balance change");
        let change = &message["payload"]["data"]["balanceChanged"];
        let position = change["position"].as_i64().unwrap_or_else(|| panic!("{message}"));
        // The feed may still be passing the opening when the subscription starts.
        if position <= opened["position"].as_i64().unwrap() {
            continue;
        }
        seen.push(position);
        if change["position"] == captured["position"] {
            assert!(change["account"]["balance"].as_i64().is_some());
        }
    }
    assert_eq!(seen.len(), 4, "overdraft, grant, purchase and close, in order: {seen:?}");
    assert!(seen.windows(2).all(|w| w[0] < w[1]));

    let stranger = app.graphql(Some(&app.token("eve")), &query, None).await;
    assert_eq!(stranger["data"]["billingAccount"], Value::Null);
    assert_eq!(stranger["data"]["invoices"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_start_runs_of_a_workflow_version_and_saga_commands_stay_internal() {
    let app = TestApp::start_with(&[oxbow::Role::WriteApi], |_| {}).await;
    let workspace = workspace_with_roles(&app).await;
    let admin = app.token("ad");
    let echo = Uuid::now_v7();
    app.ok(&admin, register(workspace, echo, "Echo")).await;
    let workflow = Uuid::now_v7();
    app.ok(
        &admin,
        json!({"type": "DefineWorkflow", "id": workflow, "payload": {"workspace_id": workspace, "name": "P",
            "steps": [step("a", echo, &[]), step("b", echo, &["a"])]}}),
    )
    .await;
    app.ok(&admin, json!({"type": "ReviseWorkflow", "id": workflow, "payload": {"steps": [step("only", echo, &[])]}}))
        .await;

    let start = |run: Uuid, version: Value| {
        json!({"type": "StartRun", "id": run, "payload": {"workspace_id": workspace, "workflow_id": workflow,
            "workflow_version": version, "input": {"topic": "rust"}, "budget": 50}})
    };
    let run = Uuid::now_v7();
    let requested = app.ok(&app.token("me"), start(run, json!(1))).await;
    let payload = &requested["events"][0]["payload"];
    assert_eq!(requested["events"][0]["type"], "RunRequested");
    assert_eq!(payload["workflow_version"], 1);
    assert_eq!(payload["steps"].as_array().unwrap().len(), 2, "version 1 has two steps: {payload}");
    // Registered with the single rate of before: both rates.
    assert_eq!(
        payload["steps"][0]["price"],
        json!({"per_call": 2, "per_1k_input_tokens": 1, "per_1k_output_tokens": 1})
    );
    let current = app.ok(&app.token("me"), start(Uuid::now_v7(), Value::Null)).await;
    assert_eq!(current["events"][0]["payload"]["workflow_version"], 2);

    let (status, problem) = app.command(&app.token("me"), start(Uuid::now_v7(), json!(9))).await;
    assert_eq!((status, problem["code"].as_str()), (422, Some("workflow_not_found")), "{problem}");
    let (status, problem) = app.command(&app.token("eve"), start(Uuid::now_v7(), json!(1))).await;
    assert_eq!((status, problem["code"].as_str()), (403, Some("not_a_member")), "{problem}");
    // Viewers read; they neither start nor cancel runs.
    app.join(&app.token("alice"), workspace, "vi", "viewer").await;
    let (status, problem) = app.command(&app.token("vi"), start(Uuid::now_v7(), json!(1))).await;
    assert_eq!((status, problem["code"].as_str()), (403, Some("role_too_low")), "{problem}");
    let (status, problem) = app.command(&app.token("vi"), json!({"type": "CancelRun", "id": run, "payload": {}})).await;
    assert_eq!((status, problem["code"].as_str()), (403, Some("role_too_low")), "{problem}");
    let (status, problem) = app
        .command(
            &app.token("alice"),
            json!({"type": "BeginRun", "id": run, "payload": {"reservation_id": Uuid::now_v7()}}),
        )
        .await;
    assert_eq!((status, problem["code"].as_str()), (403, Some("internal_command")), "{problem}");
    let (status, problem) = app
        .command(
            &app.token("me"),
            json!({"type": "CompleteStep", "id": run, "payload": {"step_id": "a", "attempt": 1}}),
        )
        .await;
    assert_eq!((status, problem["code"].as_str()), (403, Some("worker_credential_required")), "{problem}");
    app.ok(&app.token("me"), json!({"type": "CancelRun", "id": run, "payload": {"reason": "changed my mind"}})).await;
    let (status, problem) = app.command(&app.token("me"), json!({"type": "CancelRun", "id": run, "payload": {}})).await;
    assert_eq!((status, problem["code"].as_str()), (422, Some("run_finished")), "{problem}");
}
