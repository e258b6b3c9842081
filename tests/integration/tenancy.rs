//! Tenant isolation: a token of another workspace gets nothing, over HTTP or WebSocket.

use std::time::Duration;

use serde_json::{Value, json};
use tests::TestApp;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_member_reads_nothing_of_another_workspace() {
    let app = TestApp::start().await;
    let (alice, mallory) = (app.token("alice"), app.token("mallory"));
    let id = Uuid::now_v7();
    let created = app.ok(&alice, json!({"type": "CreateWorkspace", "id": id, "payload": {"name": "Secret"}})).await;
    let mine = Uuid::now_v7();
    app.ok(&mallory, json!({"type": "CreateWorkspace", "id": mine, "payload": {"name": "Mine"}})).await;
    let position = created["position"].as_i64().unwrap() + 1;

    let response = app
        .graphql(
            Some(&mallory),
            &format!(
                r#"{{ workspace(id: "{id}") {{ name }}
                     workspaces {{ edges {{ node {{ id name }} }} }}
                     events(stream: "workspace-{id}") {{ edges {{ node {{ eventType }} }} }} }}"#
            ),
            Some(position),
        )
        .await;
    assert!(response.get("errors").is_none(), "{response}");
    assert_eq!(response["data"]["workspace"], serde_json::Value::Null);
    assert_eq!(response["data"]["workspaces"]["edges"], json!([{"node": {"id": mine.to_string(), "name": "Mine"}}]));
    assert_eq!(response["data"]["events"]["edges"], json!([]));

    // Without a token, every field says so with a code.
    let anonymous = app.graphql(None, &format!(r#"{{ workspace(id: "{id}") {{ name }} }}"#), None).await;
    assert_eq!(anonymous["errors"][0]["extensions"]["code"], "UNAUTHENTICATED", "{anonymous}");
    // A malformed argument is the client's mistake, with a code.
    let malformed = app.graphql(Some(&alice), r#"{ workspace(id: "nope") { name } }"#, None).await;
    assert_eq!(malformed["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{malformed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_member_cannot_subscribe_and_a_tokenless_socket_is_refused() {
    let app = TestApp::start().await;
    let (alice, mallory) = (app.token("alice"), app.token("mallory"));
    let id = Uuid::now_v7();
    let created = app.ok(&alice, json!({"type": "CreateWorkspace", "id": id, "payload": {"name": "Secret"}})).await;
    app.graphql(Some(&alice), "{ projections { name } }", created["position"].as_i64()).await;
    let query = format!(r#"subscription {{ workspaceActivity(workspaceId: "{id}") {{ position eventType }} }}"#);

    let mut subscription = app.subscribe(Some(&mallory), &query).await.expect("the connection itself is allowed");
    let message = subscription.next_json().await.expect("an answer");
    // An execution error: a result with no data and a coded error, then the end.
    assert_eq!(message["type"], "next", "{message}");
    assert_eq!(message["payload"]["data"], serde_json::Value::Null, "{message}");
    assert_eq!(message["payload"]["errors"][0]["extensions"]["code"], "FORBIDDEN", "{message}");
    assert_eq!(subscription.next_json().await.map(|m| m["type"].clone()), Some(json!("complete")));

    assert!(app.subscribe(None, &query).await.is_err(), "a connection without a token is refused");
    assert!(app.subscribe(Some("garbage"), &query).await.is_err(), "a connection with a bad token is refused");

    // A removed member's subscription ends after the removal is delivered.
    let accepted = app.join(&alice, id, "bo", "viewer").await;
    app.graphql(Some(&alice), "{ projections { name } }", accepted["position"].as_i64()).await;
    let mut bo = app.subscribe(Some(&app.token("bo")), &query).await.unwrap();
    let removed = app.ok(&alice, json!({"type": "RemoveMember", "id": id, "payload": {"user_id": "bo"}})).await;
    loop {
        let message = bo.next_json().await.expect("a message before the end");
        if message["type"] == "complete" {
            break;
        }
        assert_eq!(message["type"], "next", "{message}");
        let position = message["payload"]["data"]["workspaceActivity"]["position"].as_i64().unwrap();
        assert!(position <= removed["position"].as_i64().unwrap(), "bo heard of something after his removal");
    }
}

/// An invitation is accepted only by the person it names: a token needs a verified email
/// claim matching the invitation. A stranger who learned the invitation's id (members see it in
/// the audit trail and the activity feed) cannot join with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_invited_person_with_a_verified_email_accepts_an_invitation() {
    let app = TestApp::start().await;
    let alice = app.token("alice");
    let workspace = Uuid::now_v7();
    app.ok(&alice, json!({"type": "CreateWorkspace", "id": workspace, "payload": {"name": "Team"}})).await;
    let invite =
        json!({"type": "InviteMember", "id": workspace, "payload": {"email": "cy@example.com", "role": "admin"}});
    let invited = app.ok(&alice, invite).await;
    let accept = json!({"type": "AcceptInvitation", "id": workspace,
        "payload": {"invitation_id": invited["events"][0]["payload"]["invitation_id"]}});

    let strangers = [
        (app.token_with_email("eve", None, None), "verified_email_required"),
        (app.token_with_email("eve", Some("cy@example.com"), Some(false)), "verified_email_required"),
        (app.token_with_email("eve", Some("cy@example.com"), None), "verified_email_required"),
        (app.token_with_email("eve", Some("eve@example.com"), Some(true)), "invitation_for_another_email"),
    ];
    for (token, code) in &strangers {
        let (status, problem) = app.command(token, accept.clone()).await;
        assert_eq!((status, problem["code"].as_str()), (403, Some(*code)), "{problem}");
    }
    // Eve is not a member: she may not touch the workspace's agents.
    let register = json!({"type": "RegisterAgent", "id": Uuid::now_v7(), "payload": {"workspace_id": workspace,
        "name": "mine", "kind": "tool", "executor": {"type": "external"}, "price": {"per_call": 1, "per_1k_tokens": 0}}});
    let (status, problem) = app.command(&strangers[0].0, register).await;
    assert_eq!((status, problem["code"].as_str()), (403, Some("not_a_member")), "{problem}");

    let cy = app.token_with_email("cy", Some("CY@example.com"), Some(true));
    let joined = app.ok(&cy, accept).await;
    assert_eq!(joined["events"][0]["type"], "InvitationAccepted", "{joined}");
}

/// A local server that counts the requests it gets: `/ok` answers, `/away` redirects to `/ok`.
async fn counting_server() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use axum::routing::post;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let hits = std::sync::Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    let app = axum::Router::new()
        .route(
            "/ok",
            post(move || {
                counted.fetch_add(1, Ordering::SeqCst);
                async { axum::Json(json!({"output": "reached"})) }
            }),
        )
        .route("/away", post(|| async { axum::response::Redirect::temporary("/ok") }));
    let (base, _server) = tests::serve_locally(app).await;
    (base, hits)
}

/// The run of a one-step workflow whose agent is the webhook at `url`; its StepFailed errors.
async fn webhook_errors(app: &TestApp, workspace: Uuid, url: &str) -> Vec<serde_json::Value> {
    use crate::runs::{agent, finished, start_run, step, workflow};
    let webhook = agent(app, workspace, json!({"type": "webhook", "url": url, "timeout_ms": 2_000}), 1, 0).await;
    let flow = workflow(app, workspace, json!([step("call", webhook, &[])])).await;
    let run = start_run(app, workspace, flow, 10).await;
    let events = finished(app, run).await;
    assert_eq!(events.last().unwrap().event_type, "RunFailed", "{url}");
    events.iter().filter(|e| e.event_type == "StepFailed").map(|e| e.payload.clone()).collect()
}

/// Webhook agents are called only at public addresses (and the networks an operator allows):
/// not at this machine by address or by name, the cloud's metadata service, private ranges or
/// the stack's own PostgreSQL; and a permitted webhook cannot redirect the call elsewhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_agents_cannot_reach_oxbows_own_network() {
    let (base, hits) = counting_server().await;
    let port = base.rsplit(':').next().unwrap().to_owned();
    let app = TestApp::start_with(&oxbow::Role::ALL, |config| config.webhook_allow = Vec::new()).await;
    let workspace = crate::runs::funded_workspace(&app, 1_000).await;
    let postgres = app.config.database_url.split('@').nth(1).unwrap().split('/').next().unwrap().to_owned();
    let targets = [
        format!("{base}/ok"),
        format!("http://localhost:{port}/ok"),
        format!("http://[::1]:{port}/ok"),
        "http://169.254.169.254/latest/meta-data/".to_owned(),
        "http://10.0.0.1/".to_owned(),
        format!("http://{postgres}/"),
    ];
    for url in &targets {
        let errors = webhook_errors(&app, workspace, url).await;
        assert_eq!(errors.len(), 1, "{url}: not retried: {errors:?}");
        assert!(errors[0]["error"].as_str().unwrap().starts_with("address_not_allowed"), "{url}: {errors:?}");
        assert_eq!(errors[0]["retryable"], false);
    }
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0, "nothing reached the local server");

    // Allowed by an operator, the same server is called, but its redirect is not followed.
    let app = TestApp::start_with(&oxbow::Role::ALL, |config| {
        config.webhook_allow = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    let workspace = crate::runs::funded_workspace(&app, 1_000).await;
    let errors = webhook_errors(&app, workspace, &format!("{base}/away")).await;
    assert!(errors.iter().all(|e| e["error"] == "the webhook answered HTTP 307"), "{errors:?}");
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0, "the redirect was not followed");
}

/// The read API weighs nothing a stranger sends: a body past the limit is refused before it is
/// read, and only a caller with a valid token may make it wait for a position.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_read_edge_bounds_what_a_stranger_sends() {
    let app = TestApp::start_with(&oxbow::Role::ALL, |config| config.max_body_bytes = 64 * 1024).await;
    let huge = json!({"query": format!("{{ __typename }} #{}", "x".repeat(1_000_000))});
    let response = app.http.post(format!("{}/graphql", app.base)).json(&huge).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 413);

    let far = store::read_head(&app.db.pool).await.unwrap().position + 1_000_000;
    let answer = app.graphql(None, "{ projections { name } }", Some(far)).await;
    assert!(answer.get("extensions").is_none(), "a stranger did not make the server wait: {answer}");
    assert_eq!(answer["errors"][0]["extensions"]["code"], "UNAUTHENTICATED", "{answer}");

    // A page weighs what it may return: one large page, or many aliased small ones, is too
    // complex; an ordinary page is not. (A row's members are a page of their own.)
    let bob = app.token("bob");
    let page = |alias: &str, first: i32| {
        format!("{alias}: workspaces(first: {first}) {{ edges {{ node {{ id name members {{ userId }} }} }} }}")
    };
    let ordinary = app.graphql(Some(&bob), &format!("{{ {} }}", page("a", 50)), None).await;
    assert!(ordinary.get("errors").is_none(), "{ordinary}");
    let large = app.graphql(Some(&bob), &format!("{{ {} }}", page("a", 500)), None).await;
    assert!(large["errors"][0]["message"].as_str().unwrap().contains("too complex"), "{large}");
    let aliased: Vec<String> = (0..12).map(|n| page(&format!("a{n}"), 50)).collect();
    let aliased = app.graphql(Some(&bob), &format!("{{ {} }}", aliased.join(" ")), None).await;
    assert!(aliased["errors"][0]["message"].as_str().unwrap().contains("too complex"), "{aliased}");
}

/// Queries are limited per caller as commands are: one caller's flood is answered 429 with a
/// coded error, and no one else is held back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_over_the_read_rate_limit_gets_429_and_others_do_not() {
    let app = TestApp::start_with(&[oxbow::Role::ReadApi], |config| {
        config.rate_limit_per_second = 1;
        config.rate_limit_burst = 2;
    })
    .await;
    let (bob, alice) = (app.token("bob"), app.token("alice"));
    let query = || {
        app.http
            .post(format!("{}/graphql", app.base))
            .bearer_auth(&bob)
            .json(&json!({"query": "{ projections { name } }"}))
            .send()
    };
    assert_eq!(query().await.unwrap().status().as_u16(), 200);
    assert_eq!(query().await.unwrap().status().as_u16(), 200);
    let limited = query().await.unwrap();
    assert_eq!(limited.status().as_u16(), 429);
    assert!(limited.headers().contains_key("retry-after"));
    let body: serde_json::Value = limited.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "RATE_LIMITED", "{body}");
    let answer = app.graphql(Some(&alice), "{ projections { name } }", None).await;
    assert!(answer.get("errors").is_none(), "{answer}");
}

/// Metric labels come from closed sets: a command type the endpoint does not know is counted
/// as `unknown`, so a client cannot create series, or write into `/metrics` (which needs no
/// token), with the text it sends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clients_text_never_becomes_a_metric_label() {
    let app = TestApp::start_with(&[oxbow::Role::WriteApi], |_| {}).await;
    let evil = json!({"type": "Evil\"} 1\noxbow_fake 9", "id": Uuid::now_v7(), "payload": {}});
    let (status, problem) = app.command(&app.token("mallory"), evil).await;
    assert_eq!((status, problem["code"].as_str()), (400, Some("unknown_command_type")), "{problem}");
    let metrics = app.http.get(format!("{}/metrics", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(!metrics.contains("Evil") && !metrics.contains("oxbow_fake"), "{metrics}");
    assert!(metrics.contains(r#"type="unknown""#), "{metrics}");
}

/// Latencies are histograms: a command's duration is counted in its type's buckets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_latencies_are_histograms_by_type() {
    let app = TestApp::start_with(&[oxbow::Role::WriteApi], |_| {}).await;
    for _ in 0..3 {
        app.ok(&app.token("alice"), json!({"type": "CreateWorkspace", "id": Uuid::now_v7(), "payload": {"name": "H"}}))
            .await;
    }
    let metrics = app.http.get(format!("{}/metrics", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("# TYPE oxbow_command_duration_seconds histogram"), "{metrics}");
    assert!(
        metrics.contains(r#"oxbow_command_duration_seconds_bucket{type="CreateWorkspace",le="+Inf"} 3"#),
        "{metrics}"
    );
    assert!(metrics.contains(r#"oxbow_command_duration_seconds_count{type="CreateWorkspace"} 3"#), "{metrics}");
}

/// With an issuer and an audience configured, only tokens that name both are accepted: a token
/// of the same secret minted for another issuer or audience, or for none, is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_must_name_the_configured_issuer_and_audience() {
    let app = TestApp::start_with(&[oxbow::Role::WriteApi], |config| {
        config.jwt_issuers = vec!["https://id.example.com".into()];
        config.jwt_audience = Some("oxbow".into());
    })
    .await;
    let create = || json!({"type": "CreateWorkspace", "id": Uuid::now_v7(), "payload": {"name": "R"}});
    app.ok(&app.token("alice"), create()).await;
    let secret = &app.config.jwt_secret;
    for (issuer, audience) in [
        (None, None),
        (Some("https://other.example.com"), Some("oxbow")),
        (Some("https://id.example.com"), Some("billing")),
    ] {
        let issuers: Vec<String> = issuer.into_iter().map(str::to_owned).collect();
        let token = platform::auth::Tokens::expecting(secret, &issuers, audience).mint(
            "alice",
            None,
            chrono::Duration::hours(1),
        );
        let (status, problem) = app.command(&token, create()).await;
        assert_eq!((status, problem["code"].as_str()), (401, Some("unauthenticated")), "{issuer:?} {audience:?}");
    }
}

/// Runs `openssl args…`, which must succeed.
fn openssl(args: &[&str]) {
    let status = std::process::Command::new("openssl")
        .args(args)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("run openssl");
    assert!(status.success(), "openssl {args:?}");
}

/// A fresh RSA key (`name`.pem), as PKCS#1 DER, which jsonwebtoken signs with.
fn rsa_key(dir: &std::path::Path, name: &str) -> jsonwebtoken::EncodingKey {
    let (pem, der) = (dir.join(format!("{name}.pem")), dir.join(format!("{name}.der")));
    openssl(&["genpkey", "-algorithm", "RSA", "-out", pem.to_str().unwrap()]);
    openssl(&["rsa", "-in", pem.to_str().unwrap(), "-traditional", "-outform", "DER", "-out", der.to_str().unwrap()]);
    jsonwebtoken::EncodingKey::from_rsa_der(&std::fs::read(der).unwrap())
}

/// A fresh P-256 key, as PKCS#8 DER.
fn p256_key(dir: &std::path::Path, name: &str) -> jsonwebtoken::EncodingKey {
    let (pem, der) = (dir.join(format!("{name}.pem")), dir.join(format!("{name}.der")));
    openssl(&["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", pem.to_str().unwrap()]);
    openssl(&[
        "pkcs8",
        "-topk8",
        "-nocrypt",
        "-in",
        pem.to_str().unwrap(),
        "-outform",
        "DER",
        "-out",
        der.to_str().unwrap(),
    ]);
    jsonwebtoken::EncodingKey::from_ec_der(&std::fs::read(der).unwrap())
}

/// With an identity provider's JWKS configured, its RS256 and ES256 tokens for this audience are
/// accepted; a key it does not publish, an algorithm other than the key's, unsigned tokens and
/// tokens for another audience are not. Where two issuers are trusted, one subject of each is
/// two people.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_identity_providers_rs256_and_es256_tokens_are_accepted_from_its_jwks() {
    use jsonwebtoken::jwk::{Jwk, JwkSet};
    use jsonwebtoken::{Algorithm, EncodingKey, Header};

    let dir = std::env::temp_dir().join(tests::unique_name("jwks"));
    std::fs::create_dir_all(&dir).unwrap();
    let (rsa, ec, stranger) = (rsa_key(&dir, "rsa"), p256_key(&dir, "ec"), rsa_key(&dir, "other"));
    let published = |key: &EncodingKey, algorithm: Algorithm, kid: &str| {
        let mut jwk = Jwk::from_encoding_key(key, algorithm).unwrap();
        jwk.common.key_id = Some(kid.into());
        jwk
    };
    let set = JwkSet { keys: vec![published(&rsa, Algorithm::RS256, "r1"), published(&ec, Algorithm::ES256, "e1")] };
    let jwks = dir.join("jwks.json");
    std::fs::write(&jwks, serde_json::to_vec(&set).unwrap()).unwrap();

    let app = TestApp::start_with(&[oxbow::Role::WriteApi], |config| {
        config.jwks = Some(jwks.display().to_string());
        config.jwt_issuers = vec!["https://id.example.com".into(), "https://eu.id.example.com".into()];
        config.jwt_audience = Some("oxbow".into());
    })
    .await;
    let now = chrono::Utc::now().timestamp();
    let claims_of = |issuer: &str, audience: &str| json!({"sub": "idp-user", "iat": now, "exp": now + 600, "iss": issuer, "aud": audience});
    let claims = claims_of("https://id.example.com", "oxbow");
    let sign_claims = |claims: &serde_json::Value, algorithm: Algorithm, kid: Option<&str>, key: &EncodingKey| {
        let header = Header { kid: kid.map(str::to_owned), ..Header::new(algorithm) };
        jsonwebtoken::encode(&header, claims, key).unwrap()
    };
    let sign = |algorithm: Algorithm, kid: Option<&str>, key: &EncodingKey| sign_claims(&claims, algorithm, kid, key);
    let create = || json!({"type": "CreateWorkspace", "id": Uuid::now_v7(), "payload": {"name": "Federated"}});
    for token in [sign(Algorithm::RS256, Some("r1"), &rsa), sign(Algorithm::ES256, Some("e1"), &ec)] {
        let accepted = app.ok(&token, create()).await;
        assert_eq!(accepted["events"][0]["payload"]["owner_id"], "https://id.example.com#idp-user");
    }
    // The same subject from the other trusted issuer is someone else: not a member of the
    // first one's workspace.
    let workspace = Uuid::now_v7();
    let first = sign(Algorithm::RS256, Some("r1"), &rsa);
    app.ok(&first, json!({"type": "CreateWorkspace", "id": workspace, "payload": {"name": "Mine"}})).await;
    let second = sign_claims(&claims_of("https://eu.id.example.com", "oxbow"), Algorithm::RS256, Some("r1"), &rsa);
    let rename = json!({"type": "RenameWorkspace", "id": workspace, "payload": {"name": "Theirs"}});
    let (status, problem) = app.command(&second, rename).await;
    assert_eq!((status, problem["code"].as_str()), (403, Some("not_a_member")), "{problem}");
    let accepted = app.ok(&second, create()).await;
    assert_eq!(accepted["events"][0]["payload"]["owner_id"], "https://eu.id.example.com#idp-user");
    // A key the provider does not publish, a key under another's id, an RS256 key used as an
    // HS256 secret, and an unsigned token: all refused.
    let public_pem = {
        let out = std::process::Command::new("openssl")
            .args(["pkey", "-pubout", "-in"])
            .arg(dir.join("rsa.pem"))
            .output()
            .unwrap();
        out.stdout
    };
    let confused = sign(Algorithm::HS256, Some("r1"), &EncodingKey::from_secret(&public_pem).unwrap());
    let unsigned = {
        let encode = |value: serde_json::Value| {
            use base64::Engine;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
        };
        format!("{}.{}.", encode(json!({"alg": "none", "typ": "JWT"})), encode(claims.clone()))
    };
    let other_application =
        sign_claims(&claims_of("https://id.example.com", "billing"), Algorithm::RS256, Some("r1"), &rsa);
    let other_issuer = sign_claims(&claims_of("https://evil.example.com", "oxbow"), Algorithm::RS256, Some("r1"), &rsa);
    for token in [
        sign(Algorithm::RS256, Some("r1"), &stranger),
        sign(Algorithm::RS256, Some("e1"), &rsa),
        sign(Algorithm::RS256, None, &rsa),
        confused,
        unsigned,
        other_application,
        other_issuer,
    ] {
        let (status, problem) = app.command(&token, create()).await;
        assert_eq!((status, problem["code"].as_str()), (401, Some("unauthenticated")), "{problem}");
    }
    std::fs::remove_dir_all(dir).ok();
}

/// A subscription lives no longer than the token that opened it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_ends_when_its_token_expires() {
    let app = TestApp::start().await;
    let alice = app.token("alice");
    let workspace = Uuid::now_v7();
    app.ok(&alice, json!({"type": "CreateWorkspace", "id": workspace, "payload": {"name": "Short"}})).await;
    let short = app.config.tokens().mint("alice", Some("alice@example.com"), chrono::Duration::seconds(2));
    let query = format!("subscription {{ workspaceActivity(workspaceId: \"{workspace}\") {{ eventType }} }}");
    let mut subscription = app.subscribe(Some(&short), &query).await.expect("subscribed");
    // Whatever the subscription sends first, nothing more happens in the workspace: the only
    // thing that can end the stream within the wait is the expiry.
    let closed = tokio::time::timeout(std::time::Duration::from_secs(25), async {
        while subscription.next_json().await.is_some() {}
    })
    .await;
    assert!(closed.is_ok(), "the subscription outlived its token");
}

/// Invitations' emails are for a workspace's admins: the `invitations` query shows them to
/// admins only, and so do the audit trail and the activity feed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_below_admin_do_not_read_invitation_emails_anywhere() {
    let app = TestApp::start().await;
    let alice = app.token("alice");
    let workspace = Uuid::now_v7();
    app.ok(&alice, json!({"type": "CreateWorkspace", "id": workspace, "payload": {"name": "Team"}})).await;
    let joined = app.join(&alice, workspace, "vera", "viewer").await;
    let vera = app.token("vera");
    // The feed checks membership in the read models: wait for them to know vera.
    app.graphql(Some(&vera), "{ workspaces { edges { node { id } } } }", joined["position"].as_i64()).await;
    let activity =
        format!("subscription {{ workspaceActivity(workspaceId: \"{workspace}\") {{ eventType payload }} }}");
    let mut feed = app.subscribe(Some(&vera), &activity).await.expect("subscribed");
    let invited = app
        .ok(
            &alice,
            json!({"type": "InviteMember", "id": workspace, "payload": {"email": "dan@example.com", "role": "member"}}),
        )
        .await;
    let position = invited["position"].as_i64();

    let trail =
        format!("{{ events(stream: \"workspace-{workspace}\") {{ edges {{ node {{ eventType payload }} }} }} }}");
    let emails = |answer: &serde_json::Value| -> Vec<String> {
        answer["data"]["events"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|edge| edge["node"]["eventType"] == "MemberInvited")
            .map(|edge| edge["node"]["payload"]["email"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(emails(&app.graphql(Some(&alice), &trail, position).await), ["vera@example.com", "dan@example.com"]);
    assert_eq!(emails(&app.graphql(Some(&vera), &trail, position).await), [events::HIDDEN, events::HIDDEN]);

    loop {
        let message = feed.next_json().await.expect("the invitation on the feed");
        let pushed = &message["payload"]["data"]["workspaceActivity"];
        if pushed["eventType"] == "MemberInvited" {
            assert_eq!(pushed["payload"]["email"], events::HIDDEN, "{message}");
            break;
        }
    }
}

/// One caller holds at most its share of subscription connections; others are not held back,
/// and a closed connection frees its place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_may_hold_only_so_many_subscription_connections() {
    let app = TestApp::start_with(&oxbow::Role::ALL, |config| config.subscription_connections_per_caller = 2).await;
    let (alice, bob) = (app.token("alice"), app.token("bob"));
    let query = "subscription { balanceChanged(workspaceId: \"00000000-0000-0000-0000-000000000000\") { balance } }";
    let first = app.subscribe(Some(&bob), query).await.expect("first");
    let _second = app.subscribe(Some(&bob), query).await.expect("second");
    assert!(app.subscribe(Some(&bob), query).await.is_err(), "a third connection is refused");
    app.subscribe(Some(&alice), query).await.expect("another caller is not held back");
    drop(first);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while app.subscribe(Some(&bob), query).await.is_err() {
        assert!(tokio::time::Instant::now() < deadline, "the closed connection's place was not freed");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// One connection runs at most its share of subscriptions; past it a `subscribe` is refused
/// with a coded error, the running ones go on, and a completed one frees its place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_may_run_only_so_many_subscriptions() {
    let app = TestApp::start_with(&oxbow::Role::ALL, |config| config.subscriptions_per_connection = 2).await;
    let alice = app.token("alice");
    let workspace = Uuid::now_v7();
    let created =
        app.ok(&alice, json!({"type": "CreateWorkspace", "id": workspace, "payload": {"name": "Busy"}})).await;
    app.graphql(Some(&alice), "{ projections { name } }", created["position"].as_i64()).await;
    let query = format!("subscription {{ workspaceActivity(workspaceId: \"{workspace}\") {{ eventType }} }}");
    let mut connection = app.subscribe(Some(&alice), &query).await.expect("subscribed");
    connection.subscribe_also("2", &query).await;
    connection.subscribe_also("3", &query).await;
    let refused = loop {
        let message = connection.next_json().await.expect("an answer to the third subscribe");
        if message["id"] == "3" {
            break message;
        }
    };
    assert_eq!(refused["payload"]["errors"][0]["extensions"]["code"], "TOO_MANY_SUBSCRIPTIONS", "{refused}");
    connection.complete("1").await;
    connection.subscribe_also("4", &query).await;
    app.ok(&alice, json!({"type": "RenameWorkspace", "id": workspace, "payload": {"name": "Busier"}})).await;
    let mut heard = std::collections::BTreeSet::new();
    while heard.len() < 2 {
        let message = connection.next_json().await.expect("the rename, on each running subscription");
        if message["type"] == "next"
            && message["payload"]["data"]["workspaceActivity"]["eventType"] == "WorkspaceRenamed"
        {
            heard.insert(message["id"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(heard, ["2".to_owned(), "4".to_owned()].into_iter().collect());
}

/// Every subscription of a member ends once the member is removed: the balance and run feeds
/// as well as the activity feed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_members_subscriptions_end() {
    let app = TestApp::start().await;
    let alice = app.token("alice");
    let workspace = crate::runs::funded_workspace(&app, 100).await;
    let joined = app.join(&alice, workspace, "bob", "owner").await;
    let bob = app.token("bob");
    app.graphql(Some(&bob), "{ workspaces { edges { node { id } } } }", joined["position"].as_i64()).await;
    let query = format!("subscription {{ balanceChanged(workspaceId: \"{workspace}\") {{ eventType }} }}");
    let mut balance = app.subscribe(Some(&bob), &query).await.expect("subscribed");
    app.ok(&alice, json!({"type": "RemoveMember", "id": workspace, "payload": {"user_id": "bob"}})).await;
    app.grant(workspace, 5).await;
    // The stream completes; the grant after the removal never reaches bob.
    let closed = tokio::time::timeout(std::time::Duration::from_secs(20), async {
        while let Some(message) = balance.next_json().await {
            assert_ne!(message["type"], "next", "nothing is delivered after the removal: {message}");
            if message["type"] == "complete" {
                return;
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the subscription outlived the membership");
}

/// A delivery to the payment webhook carrying thousands of `v1=` signatures is refused before
/// any is computed: the check hashes the body once, for at most three signatures.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_delivery_of_many_signatures_is_refused_unchecked() {
    let app = TestApp::start_with(&[oxbow::Role::WriteApi], |_| {}).await;
    let body = serde_json::to_vec(&json!({"id": "pay_x", "type": "payment.succeeded",
        "workspace_id": Uuid::now_v7(), "amount": 1}))
    .unwrap();
    let valid =
        write_api::payments::sign(tests::PAYMENT_WEBHOOK_SECRET.as_bytes(), chrono::Utc::now().timestamp(), &body);
    // 400 entries: well within the server's header limits, 400 MACs of the body before.
    let many = format!("{valid}{}", format!(",v1={}", "00".repeat(32)).repeat(400));
    let response = app
        .http
        .post(format!("{}/v1/payments/webhook", app.base))
        .header("content-type", "application/json")
        .header(write_api::payments::SIGNATURE_HEADER, many)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let problem: serde_json::Value = response.json().await.unwrap();
    assert_eq!(problem["code"], "invalid_signature", "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("more than 3 signatures"), "{problem}");
}

/// Two tenants' external agents: each worker leases its own agent's tasks over HTTP and never
/// the other's, and with the default configuration no task is published on any topic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_tenants_worker_leases_only_its_own_agents_tasks() {
    use crate::runs::{agent, funded_workspace, start_run, step, workflow};
    assert_eq!(platform::Config::with_defaults(String::new()).tasks_topic, None, "no shared tasks topic by default");
    let app = TestApp::start().await;
    let alice = app.token("alice");
    let mut tenants = Vec::new();
    for name in ["a-secret", "b-secret"] {
        let workspace = funded_workspace(&app, 1_000).await;
        let external = agent(&app, workspace, json!({"type": "external"}), 1, 0).await;
        let flow = workflow(&app, workspace, json!([step(name, external, &[])])).await;
        let issued = app.ok(&alice, json!({"type": "IssueWorkerCredential", "id": external, "payload": {}})).await;
        let credential = issued["worker_credential"].as_str().unwrap().to_owned();
        let run = start_run(&app, workspace, flow, 10).await;
        tenants.push((name, run, credential));
    }
    let lease = |credential: String, body: serde_json::Value| {
        let (http, base) = (app.http.clone(), app.base.clone());
        async move {
            let response =
                http.post(format!("{base}/v1/tasks/lease")).bearer_auth(credential).json(&body).send().await.unwrap();
            (response.status().as_u16(), response.json::<serde_json::Value>().await.unwrap())
        }
    };
    let extend = |credential: &str, run: Uuid, step_id: &str| {
        let request = app
            .http
            .post(format!("{}/v1/tasks/extend", app.base))
            .bearer_auth(credential)
            .json(&json!({"run_id": run, "step_id": step_id, "attempt": 1}));
        async move {
            let response = request.send().await.unwrap();
            (response.status().as_u16(), response.json::<serde_json::Value>().await.unwrap())
        }
    };
    for (name, run, credential) in &tenants {
        // Waits for the dispatch, then takes every task its agent has: exactly its own.
        let (status, leased) = lease(credential.clone(), json!({"max": 100, "wait_ms": 30_000})).await;
        assert_eq!(status, 200, "{leased}");
        let tasks = leased["tasks"].as_array().unwrap();
        assert_eq!(tasks.len(), 1, "{leased}");
        assert_eq!((tasks[0]["run_id"].clone(), tasks[0]["step_id"].as_str()), (json!(run), Some(*name)));
        assert_eq!(tasks[0]["input"], json!({"step": name}));
        assert!(tasks[0]["lease_expires_at"].is_string() && tasks[0]["deadline"].is_string());
        // Leased, it is no one else's to take.
        let (_, again) = lease(credential.clone(), json!({})).await;
        assert_eq!(again["tasks"], json!([]), "{again}");
    }
    let [(a_step, a_run, a_credential), (_, _, b_credential)] = &tenants[..] else { unreachable!() };
    // The other tenant's worker cannot extend the lease, nor learn that the attempt exists.
    let (status, problem) = extend(b_credential, *a_run, a_step).await;
    assert_eq!((status, problem["code"].as_str()), (422, Some("attempt_over")), "{problem}");
    let (status, extended) = extend(a_credential, *a_run, a_step).await;
    assert_eq!(status, 200, "{extended}");
    // A report of the start ends the lease: the worker has the task.
    let started = json!({"type": "ReportStepStarted", "id": a_run, "payload": {"step_id": a_step, "attempt": 1}});
    app.ok(a_credential, started).await;
    let (status, problem) = extend(a_credential, *a_run, a_step).await;
    assert_eq!((status, problem["code"].as_str()), (422, Some("attempt_over")), "{problem}");

    // Only workers lease, and within bounds.
    let (status, problem) = lease(alice.clone(), json!({})).await;
    assert_eq!((status, problem["code"].as_str()), (403, Some("worker_credential_required")), "{problem}");
    for (body, field) in [(json!({"max": 0}), "/max"), (json!({"wait_ms": 30_001}), "/wait_ms")] {
        let (status, problem) = lease(a_credential.clone(), body).await;
        assert_eq!((status, problem["field"].as_str()), (400, Some(field)), "{problem}");
    }
    let (status, problem) = lease(a_credential.clone(), json!({"max": 1, "stream": "all"})).await;
    assert_eq!(status, 400, "unknown members are refused: {problem}");
}

/// The read API builds no more than a request may cost: every list is paged and weighs what it
/// may return, a document holds at most 64 aliases, and an answer past the byte cap is one
/// coded error, after which the process answers the next query as ever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_cannot_make_the_read_api_build_more_than_its_bounds() {
    use crate::runs::{agent, builtin, funded_workspace};
    let app = TestApp::start_with(&oxbow::Role::ALL, |config| config.max_response_bytes = 64 * 1024).await;
    let alice = app.token("alice");
    let workspace = funded_workspace(&app, 10).await;
    let echo = agent(&app, workspace, builtin("echo", json!({})), 1, 0).await;
    // A workflow of large inputs, revised a few times: each version about 30 KB.
    let workflow = Uuid::now_v7();
    let steps = |n: usize| json!([{"id": "big", "agent_id": echo, "input": {"text": "x".repeat(30_000), "n": n}}]);
    app.ok(
        &alice,
        json!({"type": "DefineWorkflow", "id": workflow,
        "payload": {"workspace_id": workspace, "name": "Big", "steps": steps(0)}}),
    )
    .await;
    let mut last = Value::Null;
    for n in 1..=4 {
        last = app.ok(&alice, json!({"type": "ReviseWorkflow", "id": workflow, "payload": {"steps": steps(n)}})).await;
    }
    let position = last["position"].as_i64();
    let code = |answer: &Value| answer["errors"][0]["extensions"]["code"].as_str().map(str::to_owned);

    // Lists are paged: a version at a time, after the one seen.
    let paged = format!("{{ workflow(id: \"{workflow}\") {{ versions(first: 2, afterVersion: 1) {{ version }} }} }}");
    let answer = app.graphql(Some(&alice), &paged, position).await;
    assert_eq!(answer["data"]["workflow"]["versions"], json!([{"version": 2}, {"version": 3}]), "{answer}");

    // Nested lists weigh what they may return: versions (50) x steps (100) x an input (64).
    let nested = format!("{{ workflow(id: \"{workflow}\") {{ versions {{ steps {{ input }} }} }} }}");
    let answer = app.graphql(Some(&alice), &nested, None).await;
    assert!(answer["data"].is_null(), "{answer}");
    assert!(answer["errors"][0]["message"].as_str().unwrap().contains("complex"), "{answer}");

    // At most 64 aliases, however cheap each is.
    let cheap: Vec<String> = (0..65).map(|n| format!("p{n}: projections {{ name }}")).collect();
    let answer = app.graphql(Some(&alice), &format!("{{ {} }}", cheap.join(" ")), None).await;
    assert_eq!(code(&answer).as_deref(), Some("TOO_MANY_ALIASES"), "{answer}");

    // An answer past the cap (64 KiB here) is one coded error, not a partial answer.
    let stream = format!("workflow-{workflow}");
    let events = format!("{{ events(stream: \"{stream}\", first: 10) {{ edges {{ node {{ payload }} }} }} }}");
    let answer = app.graphql(Some(&alice), &events, None).await;
    assert_eq!(code(&answer).as_deref(), Some("RESPONSE_TOO_LARGE"), "{answer}");
    assert!(answer["data"].is_null(), "{answer}");
    assert_eq!(answer["errors"].as_array().unwrap().len(), 1, "one error, not one per field");
    // Within the cap, the same list answers, and the process is as it was.
    let two = format!("{{ events(stream: \"{stream}\", first: 1) {{ edges {{ node {{ eventType }} }} }} }}");
    let answer = app.graphql(Some(&alice), &two, None).await;
    assert_eq!(answer["data"]["events"]["edges"][0]["node"]["eventType"], "WorkflowDefined", "{answer}");
}

/// The sagas trust the log, not the topic: a message forged by anyone who may produce to the
/// events topic, with a real event's position and hash but another stream version and payload,
/// changes nothing. (Acting on the copy's own version, the sagas would have taken the run's
/// stream as handled up to version 1,000,000 and ignored the rest of the run for ever.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_copy_of_a_logged_event_on_the_topic_changes_nothing() {
    use crate::runs::{builtin, finished, funded_workspace, types, workflow};
    use rdkafka::message::{Header, OwnedHeaders};
    use rdkafka::producer::{FutureProducer, FutureRecord};
    let roles = [oxbow::Role::WriteApi, oxbow::Role::ReadApi, oxbow::Role::Projector, oxbow::Role::Relay];
    let app = TestApp::start_with(&roles, |_| {}).await;
    let workspace = funded_workspace(&app, 1_000).await;
    let echo = crate::runs::agent(&app, workspace, builtin("echo", json!({})), 1, 0).await;
    let flow = workflow(
        &app,
        workspace,
        json!([crate::runs::step("one", echo, &[]), crate::runs::step("two", echo, &["one"])]),
    )
    .await;
    let run = crate::runs::start_run(&app, workspace, flow, 10).await;
    let logged = store::read_stream(&app.db.pool, &format!("run-{run}"), 0).await.unwrap();
    let mut forged = logged[0].clone();
    forged.stream_version = 1_000_000;
    forged.payload["budget"] = json!(1);
    let producer: FutureProducer = platform::kafka::producer_config(&app.config.kafka()).create().unwrap();
    let mut headers = OwnedHeaders::new();
    for (key, value) in platform::cloudevents::headers(&forged) {
        headers = headers.insert(Header { key, value: Some(value.as_bytes()) });
    }
    let payload = serde_json::to_vec(&forged.payload).unwrap();
    let record = FutureRecord::to(&app.config.events_topic).key(&forged.stream_id).payload(&payload).headers(headers);
    producer.send(record, Duration::from_secs(10)).await.map_err(|(error, _)| error).unwrap();

    // The sagas start after the forgery is on the topic, in a process of their own (no shortcut
    // from this process's appends): the run goes on as logged.
    let _sagas = tests::oxbow_serve("saga", &app.config);
    let events = finished(&app, run).await;
    assert_eq!(types(&events).last(), Some(&"RunSucceeded"), "{:?}", types(&events));
    let handled: i64 = sqlx::query_scalar(
        "select coalesce(max(version), 0) from projection_streams where projection = 'sagas' and stream_id = $1",
    )
    .bind(format!("run-{run}"))
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert!(handled < 1_000, "the forged version was never taken: {handled}");
}

/// Two ways around the webhook address check, closed. An IPv6 address that carries an IPv4 one
/// (NAT64, 6to4, IPv4-compatible) is checked as that IPv4 address. And a proxy in the saga
/// process's environment is not used: with one, only the proxy's address was checked, and the
/// proxy called whatever the URL named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_cannot_reach_the_network_through_nat64_addresses_or_a_proxy() {
    let roles = [oxbow::Role::WriteApi, oxbow::Role::ReadApi, oxbow::Role::Projector, oxbow::Role::Relay];
    let app = TestApp::start_with(&roles, |config| config.webhook_allow = vec!["127.0.0.1/32".parse().unwrap()]).await;
    // A "proxy" on an address webhooks may call: it answers whatever it is asked to fetch.
    let (proxy, proxied) = counting_server().await;
    let proxy_env = [("HTTP_PROXY", proxy.as_str()), ("http_proxy", proxy.as_str()), ("ALL_PROXY", proxy.as_str())];
    let _sagas = tests::oxbow_serve_with("saga", &app.config, &proxy_env);
    let workspace = crate::runs::funded_workspace(&app, 1_000).await;
    for url in [
        "http://[64:ff9b::a9fe:a9fe]/latest/meta-data/",
        "http://[64:ff9b::a00:1]/",
        "http://[2002:a9fe:a9fe::1]/",
        "http://[::a9fe:a9fe]/",
        "http://10.0.0.1/ok",
    ] {
        let errors = webhook_errors(&app, workspace, url).await;
        assert!(errors[0]["error"].as_str().unwrap().starts_with("address_not_allowed"), "{url}: {errors:?}");
    }
    assert_eq!(proxied.load(std::sync::atomic::Ordering::SeqCst), 0, "nothing went through the proxy");
}

/// A worker credential reports its agent's steps and does nothing else: it could create and
/// rename workspaces, whose rules let any caller do so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_credential_sends_no_workspace_commands() {
    let app = TestApp::start_with(&[oxbow::Role::WriteApi], |_| {}).await;
    let workspace = crate::runs::funded_workspace(&app, 10).await;
    let external = crate::runs::agent(&app, workspace, json!({"type": "external"}), 1, 0).await;
    let issued =
        app.ok(&app.token("alice"), json!({"type": "IssueWorkerCredential", "id": external, "payload": {}})).await;
    let worker = issued["worker_credential"].as_str().unwrap().to_owned();
    for command in [
        json!({"type": "CreateWorkspace", "id": Uuid::now_v7(), "payload": {"name": "A worker's own"}}),
        json!({"type": "RenameWorkspace", "id": workspace, "payload": {"name": "Taken over"}}),
        json!({"type": "RegisterAgent", "id": Uuid::now_v7(), "payload": {"workspace_id": workspace, "name": "x",
            "kind": "tool", "executor": {"type": "external"}, "price": {"per_call": 0, "per_1k_tokens": 0}}}),
    ] {
        let (status, problem) = app.command(&worker, command.clone()).await;
        assert_eq!((status, problem["code"].as_str()), (403, Some("worker_reports_only")), "{command} → {problem}");
    }
}

/// Invoice ids are the tenant's choice: two workspaces' invoices of one id are two invoices to
/// the billing saga. (Its keys named the invoice alone, so the second workspace's suspension was
/// answered with the first's, and never happened.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workspaces_invoices_of_one_id_are_each_their_own() {
    use crate::runs::{agent, builtin, finished, start_run, step, wait_for, workflow, workspace_with_account};
    let app = TestApp::start().await;
    let alice = app.token("alice");
    let invoice = Uuid::now_v7();
    let mut workspaces = Vec::new();
    for _ in 0..2 {
        let workspace = workspace_with_account(&app, 10, json!({"plan": "team", "overdraft_limit": 100})).await;
        let pricey = agent(&app, workspace, builtin("echo", json!({})), 30, 0).await;
        let flow = workflow(&app, workspace, json!([step("only", pricey, &[])])).await;
        let run = start_run(&app, workspace, flow, 40).await;
        assert_eq!(finished(&app, run).await.last().unwrap().event_type, "RunSucceeded");
        workspaces.push(workspace);
    }
    for workspace in &workspaces {
        let close = json!({"type": "CloseBillingPeriod", "id": workspace,
            "payload": {"invoice_id": invoice, "due_in_days": 0}});
        let closed = app.ok(&alice, close).await;
        assert_eq!(closed["events"][0]["payload"]["invoice_id"], json!(invoice), "{closed}");
    }
    for workspace in &workspaces {
        let events = wait_for(&app, &format!("workspace-{workspace}"), 60, |events| {
            events.iter().any(|e| e.event_type == "WorkspaceSuspended")
        })
        .await;
        assert_eq!(events.last().unwrap().payload["reason"], "invoice_overdue");
    }
}

/// A demoted admin's open activity feed ends with the change of their role, so the invitations
/// that follow never show them an email; and a run of another workspace answers `runUpdated` as
/// one that does not exist, so a stranger learns nothing of which runs exist.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_ends_with_its_subscribers_demotion_and_runs_of_others_do_not_exist() {
    let app = TestApp::start().await;
    let alice = app.token("alice");
    let workspace = crate::runs::funded_workspace(&app, 100).await;
    let joined = app.join(&alice, workspace, "bob", "admin").await;
    let bob = app.token("bob");
    app.graphql(Some(&bob), "{ workspaces { edges { node { id } } } }", joined["position"].as_i64()).await;
    let query = format!("subscription {{ workspaceActivity(workspaceId: \"{workspace}\") {{ eventType payload }} }}");
    let mut feed = app.subscribe(Some(&bob), &query).await.expect("subscribed");
    app.ok(
        &alice,
        json!({"type": "ChangeMemberRole", "id": workspace, "payload": {"user_id": "bob", "role": "member"}}),
    )
    .await;
    app.ok(
        &alice,
        json!({"type": "InviteMember", "id": workspace, "payload": {"email": "cy@example.com", "role": "member"}}),
    )
    .await;
    let mut heard = Vec::new();
    while let Some(message) = feed.next_json().await {
        assert!(!message.to_string().contains("cy@example.com"), "a member sees no email: {message}");
        if message["type"] == "complete" {
            break;
        }
        heard.push(message["payload"]["data"]["workspaceActivity"]["eventType"].clone());
    }
    assert_eq!(heard.last(), Some(&json!("MemberRoleChanged")), "the feed ends with the demotion: {heard:?}");

    // Mallory's run subscription to alice's run answers as for a run that does not exist.
    let flow = crate::runs::workflow(
        &app,
        workspace,
        json!([crate::runs::step(
            "one",
            crate::runs::agent(&app, workspace, crate::runs::builtin("echo", json!({})), 1, 0).await,
            &[]
        )]),
    )
    .await;
    let run = crate::runs::start_run(&app, workspace, flow, 10).await;
    let mallory = app.token("mallory");
    let mut answers = Vec::new();
    for id in [run, Uuid::now_v7()] {
        let query = format!("subscription {{ runUpdated(runId: \"{id}\") {{ position }} }}");
        let mut subscription = app.subscribe(Some(&mallory), &query).await.expect("a socket");
        let error = subscription.next_json().await.expect("an answer");
        let first = &error["payload"]["errors"][0];
        answers.push((first["extensions"]["code"].clone(), first["message"].clone()));
    }
    assert_eq!(answers[0], answers[1], "the same answer for a run that exists and one that does not");
    assert_eq!(answers[0].0, json!("NOT_FOUND"));
}

/// Retiring an agent stops every call to it, from workflows defined before too: they keep the
/// executor they were defined with, so its webhook was still called.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retired_agents_webhook_is_called_no_more() {
    use crate::runs::{agent, finished, start_run, step, workflow};
    let (base, hits) = counting_server().await;
    let app = TestApp::start_with(&oxbow::Role::ALL, |config| {
        config.webhook_allow = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    let workspace = crate::runs::funded_workspace(&app, 1_000).await;
    let webhook =
        agent(&app, workspace, json!({"type": "webhook", "url": format!("{base}/ok"), "timeout_ms": 2_000}), 1, 0)
            .await;
    let flow = workflow(&app, workspace, json!([step("call", webhook, &[])])).await;
    let before = finished(&app, start_run(&app, workspace, flow, 10).await).await;
    assert_eq!(before.last().unwrap().event_type, "RunSucceeded");
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 1, "the webhook is called while its agent serves");

    app.ok(&app.token("alice"), json!({"type": "RetireAgent", "id": webhook, "payload": {}})).await;
    let after = finished(&app, start_run(&app, workspace, flow, 10).await).await;
    assert_eq!(after.last().unwrap().event_type, "RunFailed");
    let failed = after.iter().find(|e| e.event_type == "StepFailed").expect("the step failed");
    assert!(failed.payload["error"].as_str().unwrap().starts_with("agent_retired"), "{}", failed.payload);
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 1, "a retired agent's webhook is not called");
}

/// What is not verified takes from its address's bucket: made-up worker credentials (each used
/// to cost two reads of the log, under a bucket of the id it claimed), bad tokens and anonymous
/// queries. A verified caller keeps a bucket of its own, and its queries over WebSocket take
/// from it as its HTTP queries do (they used to take from nothing).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unverified_callers_share_their_addresss_bucket_and_websocket_queries_are_limited() {
    let app = TestApp::start_with(&[oxbow::Role::WriteApi, oxbow::Role::ReadApi], |config| {
        config.rate_limit_per_second = 1;
        config.rate_limit_burst = 3;
    })
    .await;
    let alice = app.token("alice");

    // Over WebSocket: the upgrade takes from the address (one token of three), then each
    // operation from alice's own bucket (three).
    let mut socket = app.subscribe(Some(&alice), "{ projections { name } }").await.expect("subscribed");
    for id in ["2", "3", "4"] {
        socket.subscribe_also(id, "{ projections { name } }").await;
    }
    let mut codes = Vec::new();
    while codes.len() < 4 {
        let message = socket.next_json().await.expect("an answer per operation");
        if message["type"] == "next" {
            codes.push(message["payload"]["errors"][0]["extensions"]["code"].clone());
        }
    }
    assert_eq!(codes.iter().filter(|code| **code == json!("RATE_LIMITED")).count(), 1, "{codes:?}");

    // Made-up worker credentials and bad tokens, from one address: two more go through to be
    // refused, then the address is held back, whatever identity each claims.
    let mut statuses = Vec::new();
    for n in 0..4 {
        let token = match n % 2 {
            0 => format!("oxw.{}.{}.secret", Uuid::now_v7(), Uuid::now_v7()),
            _ => "not-a-jwt".to_owned(),
        };
        let (status, _) = app
            .command(&token, json!({"type": "CreateWorkspace", "id": Uuid::now_v7(), "payload": {"name": "x"}}))
            .await;
        statuses.push(status);
    }
    assert_eq!(statuses, [401, 401, 401, 429]);
    // Alice is verified: her bucket is her own.
    app.ok(&alice, json!({"type": "CreateWorkspace", "id": Uuid::now_v7(), "payload": {"name": "Mine"}})).await;

    // Anonymous queries take from the address's bucket of the read API, as the upgrade did.
    let anonymous = || app.http.post(format!("{}/graphql", app.base)).json(&json!({"query": "{ __typename }"})).send();
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(anonymous().await.unwrap().status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 429]);
}

/// The WebSocket endpoint's hygiene: a socket that never says `connection_init` is closed
/// within seconds (4408), a message larger than a request body may be closes the socket before
/// it is parsed, and the server pings an idle subscription, so that it stays open (it used to
/// close every idle subscription after 30 s with 3008, since graphql-ws clients do not ping).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websockets_must_init_stay_small_and_are_kept_alive_by_the_server() {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let app = TestApp::start_with(&[oxbow::Role::ReadApi], |config| config.max_body_bytes = 64 * 1024).await;
    let connect = || async {
        let url = format!("{}/graphql/ws", app.base.replace("http://", "ws://"));
        let mut request = url.into_client_request().unwrap();
        request.headers_mut().insert("Sec-WebSocket-Protocol", "graphql-transport-ws".parse().unwrap());
        tokio_tungstenite::connect_async(request).await.expect("a socket").0
    };
    // The close frame's code, or what came instead.
    let closed = |message: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>| match message {
        Some(Ok(Message::Close(Some(frame)))) => Ok(u16::from(frame.code)),
        other => Err(format!("{other:?}")),
    };

    let mut silent = connect().await;
    let started = std::time::Instant::now();
    let first = tokio::time::timeout(Duration::from_secs(10), silent.next()).await.expect("closed in time");
    assert_eq!(closed(first), Ok(4408));
    assert!(started.elapsed() < Duration::from_secs(8), "{:?}", started.elapsed());

    let mut large = connect().await;
    let huge = json!({"type": "connection_init", "payload": {"pad": "x".repeat(200 * 1024)}}).to_string();
    let _ = large.send(Message::text(huge)).await;
    let answer = tokio::time::timeout(Duration::from_secs(10), large.next()).await.expect("an answer");
    assert!(matches!(answer, Some(Ok(Message::Close(_))) | Some(Err(_)) | None), "{answer:?}");

    let mut idle = connect().await;
    let init =
        json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {}", app.token("alice"))}});
    idle.send(Message::text(init.to_string())).await.unwrap();
    let ack = idle.next().await.unwrap().unwrap();
    assert!(ack.to_text().unwrap().contains("connection_ack"), "{ack:?}");
    // No message of the client's own: the server's ping comes, and is answered as graphql-ws does.
    let ping = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            match idle.next().await {
                Some(Ok(Message::Text(text))) if text.contains(r#""ping""#) => return Ok(()),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                other => return Err(format!("{other:?}")),
            }
        }
    })
    .await
    .expect("the server pings an idle socket");
    assert_eq!(ping, Ok(()));
    idle.send(Message::text(json!({"type": "pong"}).to_string())).await.expect("the socket is open");
}

/// An identity provider signs tokens for other applications too: a deployment that trusts its
/// keys without naming the issuer and the audience of its own tokens does not start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jwks_without_an_issuer_and_audience_is_refused_at_start() {
    let db = tests::database().await;
    for (issuers, audience) in
        [(vec![], None), (vec!["https://id.example.com".to_owned()], None), (vec![], Some("oxbow"))]
    {
        let mut config = tests::config(&db.url);
        config.jwks = Some("/etc/oxbow/jwks.json".into());
        config.jwt_issuers = issuers;
        config.jwt_audience = audience.map(str::to_owned);
        let refused = oxbow::serve::start(config, &[oxbow::Role::WriteApi]).await.err().expect("refused");
        assert!(refused.to_string().contains("OXBOW_JWT_AUDIENCE"), "{refused}");
    }
}

/// Workspaces are free, so one person spreading a flood over many of them still holds only
/// their one share of the sagas: webhooks that never answer, in four workspaces, hold two leases
/// at once (a share per workspace gave them all four) and are given up at their steps'
/// deadline, not at the webhook's own minute-long timeout; meanwhile another person's run goes
/// through at once. (Before, the flood took every slot until the webhooks' timeout, and so did
/// the other run's wait.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_over_many_workspaces_of_one_creator_holds_only_their_share_of_the_sagas() {
    use crate::runs::{agent, builtin, finished, funded_workspace, start_run, step, types, workflow};
    let app = TestApp::start_with(&oxbow::Role::ALL, |config| {
        config.saga_concurrency = 4;
        config.saga_share = 2;
        config.webhook_allow = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    let never_answers = axum::Router::new().route(
        "/hang",
        axum::routing::post(|| async {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            "too late"
        }),
    );
    let (base, server) = tests::serve_locally(never_answers).await;
    let hanging = json!({"type": "webhook", "url": format!("{base}/hang"), "timeout_ms": 60_000});
    let (mut flood, mut workspaces) = (Vec::new(), Vec::new());
    for _ in 0..4 {
        let workspace = funded_workspace(&app, 1_000).await;
        workspaces.push(workspace);
        let webhook = agent(&app, workspace, hanging.clone(), 1, 0).await;
        let call = json!({"id": "call", "agent_id": webhook, "timeout_ms": 5_000});
        let flow = workflow(&app, workspace, json!([call])).await;
        for _ in 0..2 {
            flood.push(start_run(&app, workspace, flow, 10).await);
        }
    }
    // The creator's leases, watched while the flood lasts.
    let watching = {
        let pool = app.db.pool.clone();
        tokio::spawn(async move {
            let mut most = 0;
            for _ in 0..60 {
                let held: i64 = sqlx::query_scalar(
                    "select count(*) from saga_work where workspace_id = any($1) and leased_until > now()",
                )
                .bind(&workspaces)
                .fetch_one(&pool)
                .await
                .unwrap();
                most = most.max(held);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            most
        })
    };

    // Bob's run, while the flood holds what it may.
    let bob = app.token("bob");
    let (workspace, echo, flow, run) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    app.ok(&bob, json!({"type": "CreateWorkspace", "id": workspace, "payload": {"name": "Bob's"}})).await;
    app.ok(&bob, json!({"type": "OpenBillingAccount", "id": workspace, "payload": {"plan": "team"}})).await;
    app.grant(workspace, 100).await;
    app.ok(&bob, json!({"type": "RegisterAgent", "id": echo, "payload": {"workspace_id": workspace,
        "name": "echo", "kind": "tool", "executor": builtin("echo", json!({})), "price": {"per_call": 1, "per_1k_tokens": 0}}}))
        .await;
    app.ok(
        &bob,
        json!({"type": "DefineWorkflow", "id": flow, "payload": {"workspace_id": workspace, "name": "quick",
        "steps": [step("one", echo, &[])]}}),
    )
    .await;
    app.ok(
        &bob,
        json!({"type": "StartRun", "id": run, "payload": {"workspace_id": workspace, "workflow_id": flow,
        "input": {}, "budget": 10}}),
    )
    .await;
    let events = finished(&app, run).await;
    assert_eq!(events.last().unwrap().event_type, "RunSucceeded", "{:?}", types(&events));
    let took = events.last().unwrap().recorded_at - events[0].recorded_at;
    assert!(took < chrono::Duration::seconds(4), "bob's run waited behind the flood for {took}");

    assert_eq!(watching.await.unwrap(), 2, "the creator's leases at most, across their four workspaces");
    for run in flood {
        let events = finished(&app, run).await;
        assert!(types(&events).contains(&"StepTimedOut"), "{:?}", types(&events));
    }
    // Every call was given up with its step's deadline, so no dispatch is still under way
    // (its webhook's own timeout is a minute away).
    let given_up = tokio::time::Instant::now() + Duration::from_secs(3);
    loop {
        let held: i64 =
            sqlx::query_scalar("select count(*) from saga_work where key like 'dispatch:%' and leased_until > now()")
                .fetch_one(&app.db.pool)
                .await
                .unwrap();
        if held == 0 {
            break;
        }
        assert!(tokio::time::Instant::now() < given_up, "a webhook held its worker past its step's deadline");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.abort();
}
