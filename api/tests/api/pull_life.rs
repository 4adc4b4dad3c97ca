//! A pull request's life after it is opened: a draft opened as GitHub's request schema
//! expects, its state, checks and reviews polled with conditional requests (304s counted),
//! signed webhooks (a wrong signature changes nothing), and the session archived on merge.

use crate::db_test;
use crate::github::github_project;
use crate::harness::{TestApp, spawn_app, spawn_app_with};
use api_types::*;
use fakes::github::{PullFacts, fixture};
use serde_json::{Value, json};

const SECRET: &str = "webhook secret of the test";

async fn open_draft(app: &TestApp) -> (client::Client, Project, ChatSession) {
    let (owner, project, session) = github_project(app, true).await;
    let request = CreatePullRequestRequest { draft: true, ..Default::default() };
    owner.create_pull_request(project.id, session.id, &request).await.unwrap();
    let session = owner.get_chat_session(project.id, session.id).await.unwrap();
    (owner, project, session)
}

db_test!(
    async fn a_draft_is_opened_then_polled_with_conditional_requests_until_merged(backend) {
        let app = spawn_app(backend).await;
        let (owner, project, session) = open_draft(&app).await;
        // The request body as GitHub's documented schema for pulls/create expects it.
        let sent = app.github.requests_to("POST", "/pulls").last().unwrap().body.clone();
        let schema = fixture("schema-pull-create-request.json");
        for required in schema["required"].as_array().unwrap() {
            assert!(sent.get(required.as_str().unwrap()).is_some(), "{required} is sent: {sent}");
        }
        for (key, value) in sent.as_object().unwrap() {
            let expected = schema["properties"][key]["type"].as_str().unwrap_or_else(|| panic!("{key} is not in the schema"));
            let actual = match value {
                Value::Bool(_) => "boolean",
                Value::String(_) => "string",
                Value::Number(_) => "integer",
                _ => "other",
            };
            assert_eq!(actual, expected, "{key}");
        }
        assert_eq!(sent["draft"], json!(true));
        let life = session.pull_request_life.clone().expect("the opened pull request is recorded");
        assert_eq!(life.state, PullRequestState::Draft);

        // Ready for review, checks passed, approved.
        let head = owner.get_branch_status(project.id, session.id).await.unwrap().head_sha;
        let number = session.pull_request_number.unwrap() as u64;
        let facts = |state: &str, merged: bool| PullFacts { state: state.into(), merged, draft: false, head_sha: head.clone() };
        app.github.set_pull(number, facts("open", false));
        app.github.set_checks("completed", Some("success"), "success");
        app.github.set_review(Some("APPROVED"));
        let refreshed = owner.refresh_pull_request(project.id, session.id).await.unwrap();
        let life = refreshed.pull_request_life.unwrap();
        assert_eq!((life.state, life.checks, life.review), (PullRequestState::Open, Some(ChecksState::Success), Some(ReviewState::Approved)));
        assert_eq!(life.head_sha.as_deref(), Some(head.as_str()));
        assert_eq!(app.github.not_modified(), 0);

        // Nothing changed: four conditional requests, four 304s, the same answer.
        let again = owner.refresh_pull_request(project.id, session.id).await.unwrap().pull_request_life.unwrap();
        assert_eq!(app.github.not_modified(), 4);
        assert_eq!((again.state, again.checks, again.review), (life.state, life.checks, life.review));
        let conditional = app.github.requests().into_iter().filter(|r| r.method == "GET" && r.path.contains("/commits/")).count();
        assert_eq!(conditional, 4, "two check reads per refresh");

        // A failing check: that answer changes, the others stay 304.
        app.github.set_checks("completed", Some("failure"), "success");
        let failing = owner.refresh_pull_request(project.id, session.id).await.unwrap().pull_request_life.unwrap();
        assert_eq!(failing.checks, Some(ChecksState::Failure));
        assert_eq!(app.github.not_modified(), 7);

        // Merged; the project does not archive by itself, so the chat stays active.
        app.github.set_pull(number, facts("closed", true));
        let merged = owner.refresh_pull_request(project.id, session.id).await.unwrap();
        assert_eq!(merged.pull_request_life.unwrap().state, PullRequestState::Merged);
        assert_eq!(merged.status, ChatSessionStatus::Active);
        let listed = owner.list_chat_sessions(project.id, &Default::default()).await.unwrap();
        let shown = listed.sessions.iter().find(|s| s.id == session.id).unwrap();
        assert_eq!(shown.pull_request_life.as_ref().map(|l| l.state), Some(PullRequestState::Merged), "lists show it");
    }
);

/// POSTs a webhook delivery of `event` signed with `secret`.
async fn deliver(app: &TestApp, event: &str, body: &Value, secret: &str) -> u16 {
    let bytes = serde_json::to_vec(body).unwrap();
    let signature = format!("sha256={}", api::secrets::hmac_sha256_hex(secret.as_bytes(), &bytes));
    app.http()
        .post(app.url("/api/github/webhook"))
        .header("content-type", "application/json")
        .header("x-github-event", event)
        .header("x-hub-signature-256", signature)
        .body(bytes)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn about(mut payload: Value, number: u64) -> Value {
    payload["repository"]["full_name"] = json!("octocat/Hello-World");
    if payload.get("pull_request").is_some() {
        payload["pull_request"]["number"] = json!(number);
        payload["number"] = json!(number);
    }
    if let Some(prs) = payload["check_suite"]["pull_requests"].as_array_mut() {
        for pr in prs {
            pr["number"] = json!(number);
        }
    }
    payload
}

db_test!(
    async fn signed_webhooks_update_the_pull_request_and_a_merge_archives_the_chat(backend) {
        let app = spawn_app_with(backend, |s| s.github_webhook_secret = Some(SECRET.into())).await;
        let (owner, project, session) = open_draft(&app).await;
        let number = session.pull_request_number.unwrap() as u64;
        let life = |s: &ChatSession| s.pull_request_life.clone().unwrap();

        // The check suite of its head completed.
        let suite = about(fixture("webhook-check-suite-completed.json"), number);
        assert_eq!(deliver(&app, "check_suite", &suite, "not the secret").await, 401, "a wrong signature");
        let unchanged = owner.get_chat_session(project.id, session.id).await.unwrap();
        assert_eq!(life(&unchanged).checks, Some(ChecksState::Pending), "nothing changed");
        assert_eq!(deliver(&app, "check_suite", &suite, SECRET).await, 204);
        let checked = owner.get_chat_session(project.id, session.id).await.unwrap();
        assert_eq!(life(&checked).checks, Some(ChecksState::Success));

        // A review.
        let review = about(fixture("webhook-pull-request-review-submitted.json"), number);
        assert_eq!(deliver(&app, "pull_request_review", &review, SECRET).await, 204);
        let reviewed = owner.get_chat_session(project.id, session.id).await.unwrap();
        assert_eq!(life(&reviewed).review, Some(ReviewState::Commented));

        // Another repository's delivery and an event kosuke does not follow change nothing.
        let mut elsewhere = review.clone();
        elsewhere["repository"]["full_name"] = json!("someone/else");
        elsewhere["review"]["state"] = json!("approved");
        assert_eq!(deliver(&app, "pull_request_review", &elsewhere, SECRET).await, 204);
        assert_eq!(deliver(&app, "star", &json!({"repository": {"full_name": "octocat/Hello-World"}}), SECRET).await, 204);
        let same = owner.get_chat_session(project.id, session.id).await.unwrap();
        assert_eq!(life(&same).review, Some(ReviewState::Commented));

        // Merged, on a project that archives merged chats.
        let put = UpdateProjectRequest { archive_merged: Some(true), ..Default::default() };
        owner.update_project(project.id, &put).await.unwrap();
        let mut closed = about(fixture("webhook-pull-request-closed.json"), number);
        closed["pull_request"]["merged"] = json!(true);
        let mut forged = closed.clone();
        forged["pull_request"]["number"] = json!(number + 1);
        assert_eq!(deliver(&app, "pull_request", &closed, "not the secret").await, 401);
        assert_eq!(owner.get_chat_session(project.id, session.id).await.unwrap().status, ChatSessionStatus::Active);
        assert_eq!(deliver(&app, "pull_request", &closed, SECRET).await, 204);
        let archived = owner.get_chat_session(project.id, session.id).await.unwrap();
        assert_eq!(life(&archived).state, PullRequestState::Merged);
        assert_eq!(archived.status, ChatSessionStatus::Archived, "archived on merge");

        // Not JSON; unsigned.
        let plain = app.http().post(app.url("/api/github/webhook")).header("content-type", "text/plain").body("x").send().await.unwrap();
        assert_eq!(plain.status().as_u16(), 415);
        let unsigned = app.http().post(app.url("/api/github/webhook")).json(&closed).send().await.unwrap();
        assert_eq!(unsigned.status().as_u16(), 401);
    }
);

db_test!(
    async fn without_a_secret_the_webhook_is_not_there(backend) {
        let app = spawn_app(backend).await;
        assert_eq!(deliver(&app, "pull_request", &json!({}), SECRET).await, 404);
    }
);

db_test!(
    async fn the_agent_describes_the_pull_request_from_the_changes_and_the_conversation(backend) {
        let app = spawn_app(backend).await;
        let (owner, project, session) = github_project(&app, true).await;
        app.model.script([fakes::model::Reply::Parts(vec![fakes::model::text(
            "Add a greeting\n\nAdds `greeting.txt`, which says hello.",
        )])]);
        let draft = owner.describe_pull_request(project.id, session.id).await.unwrap();
        assert_eq!(draft.title, "Add a greeting");
        assert_eq!(draft.body, "Adds `greeting.txt`, which says hello.");
        let asked = app.model.requests().last().unwrap().to_string();
        assert!(asked.contains("greeting.txt") && asked.contains("+hello"), "the diff is in the request: {asked}");
        assert_eq!(app.github.requests_to("POST", "/pulls").len(), 0, "nothing is opened");
        let checkout = app.checkout_dir(&session);
        assert_eq!(std::fs::read_to_string(checkout.join("greeting.txt")).unwrap(), "hello\n", "the checkout is left alone");

        // Opened as edited, as a draft.
        let request = CreatePullRequestRequest {
            title: Some(draft.title.clone()),
            description: Some(format!("{}\n\nEdited.", draft.body)),
            draft: true,
            ..Default::default()
        };
        owner.create_pull_request(project.id, session.id, &request).await.unwrap();
        let sent = app.github.requests_to("POST", "/pulls").last().unwrap().body.clone();
        assert_eq!((sent["title"].as_str(), sent["draft"].as_bool()), (Some("Add a greeting"), Some(true)));
        assert!(sent["body"].as_str().unwrap().ends_with("Edited."));

        let other = crate::chat::ready_session(&app, &owner, project.id, "nothing yet").await;
        let nothing = owner.describe_pull_request(project.id, other.id).await.unwrap_err();
        assert_eq!(nothing.status(), Some(409));
    }
);
