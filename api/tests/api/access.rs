//! Who may see and change what: strangers get 404, members see their own sessions and get 403
//! on settings, requests without credentials get 401.

use crate::db_test;
use crate::harness::{TestApp, spawn_app};
use api_types::*;
use reqwest::Method;
use serde_json::{Value, json};

/// Every route under a project, with a body that would be valid for its owner.
fn project_routes(project: ProjectId, session: ChatSessionPk, member: &UserId) -> Vec<(Method, String, Option<Value>)> {
    let p = format!("/api/projects/{project}");
    let s = format!("{p}/chat-sessions/{session}");
    vec![
        (Method::GET, p.clone(), None),
        (Method::PUT, p.clone(), Some(json!({"name": "taken over"}))),
        (Method::DELETE, p.clone(), None),
        (Method::GET, format!("{p}/members"), None),
        (Method::POST, format!("{p}/members"), Some(json!({"email": "someone@example.test"}))),
        (Method::DELETE, format!("{p}/members/{member}"), None),
        (Method::GET, format!("{p}/chat-sessions"), None),
        (Method::POST, format!("{p}/chat-sessions"), Some(json!({"title": "intruder"}))),
        (Method::GET, s.clone(), None),
        (Method::PUT, s.clone(), Some(json!({"title": "renamed"}))),
        (Method::DELETE, s.clone(), None),
        (Method::GET, format!("{s}/messages"), None),
        (Method::GET, format!("{p}/settings/default-branch"), None),
        (Method::PUT, format!("{p}/settings/default-branch"), Some(json!({"default_branch": "develop"}))),
        (Method::GET, format!("{p}/audit"), None),
        (Method::GET, format!("{p}/env-vars"), None),
        (Method::PUT, format!("{p}/env-vars/TOKEN"), Some(json!({"value": "x"}))),
        (Method::DELETE, format!("{p}/env-vars/TOKEN"), None),
        (Method::GET, format!("{p}/github/branches"), None),
        (Method::GET, format!("{s}/files"), None),
        (Method::GET, format!("{s}/files/README.md"), None),
        (Method::GET, format!("{s}/diff"), None),
        (Method::GET, format!("{s}/branch-status"), None),
        (Method::POST, format!("{s}/duplicate"), Some(json!({}))),
        (Method::POST, format!("{s}/pull-request"), Some(json!({}))),
        (Method::GET, format!("{s}/events"), None),
        (Method::POST, format!("{s}/cancel"), None),
        (Method::GET, format!("{s}/runs"), None),
    ]
}

async fn call(
    http: &reqwest::Client,
    app: &TestApp,
    method: &Method,
    path: &str,
    body: &Option<Value>,
) -> (u16, Value) {
    // As kosuke's own page sends it (the cross-site rule refuses anything else with a cookie).
    let mut request = http.request(method.clone(), app.url(path)).header("sec-fetch-site", "same-origin");
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn signed_in_http(app: &TestApp, name: &str) -> reqwest::Client {
    let http = app.http();
    let response = http
        .post(app.url("/api/auth/signup"))
        .json(&json!({"email": format!("{name}@example.test"), "password": format!("{name}-password"), "display_name": name}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    http
}

db_test!(
    async fn a_stranger_gets_404_on_every_route_of_another_users_project(backend) {
        let app = spawn_app(backend).await;
        let (owner, _) = app.user("ann").await;
        let (_, member) = app.user("bob").await;
        let project = app.project(&owner, "private").await;
        owner.add_member(project.id, &AddMemberRequest { email: "bob@example.test".into(), role: None }).await.unwrap();
        let session = owner
            .create_chat_session(project.id, &CreateChatSessionRequest { title: "secret".into(), description: None, base_branch: None })
            .await
            .unwrap();
        app.ready_session(&owner, &session).await;
        let before = (owner.get_project(project.id).await.unwrap(), owner.get_chat_session(project.id, session.id).await.unwrap());

        let stranger = signed_in_http(&app, "eve").await;
        for (method, path, body) in project_routes(project.id, session.id, &member.id) {
            let (status, body) = call(&stranger, &app, &method, &path, &body).await;
            assert_eq!((status, body["code"].as_str()), (404, Some("not_found")), "{method} {path}");
        }
        let body = Some(json!({"project_id": project.id, "chat_session_id": session.id, "prompt": "take over"}));
        let (status, answer) = call(&stranger, &app, &Method::POST, "/api/chat", &body).await;
        assert_eq!((status, answer["code"].as_str()), (404, Some("not_found")), "POST /api/chat");
        let after = (owner.get_project(project.id).await.unwrap(), owner.get_chat_session(project.id, session.id).await.unwrap());
        assert_eq!(before, after, "nothing changed");
        assert_eq!(owner.list_members(project.id).await.unwrap().total, 2);
    }
);

db_test!(
    async fn a_member_sees_only_their_own_sessions_and_cannot_change_settings(backend) {
        let app = spawn_app(backend).await;
        let (owner, _) = app.user("ann").await;
        let (member, member_user) = app.user("bob").await;
        let project = app.project(&owner, "team").await;
        let added = owner.add_member(project.id, &AddMemberRequest { email: "BOB@example.test".into(), role: None }).await.unwrap();
        assert_eq!((added.role, added.user_id.clone()), (ProjectRole::Member, member_user.id.clone()));
        let create = |title: &str| CreateChatSessionRequest { title: title.into(), description: None, base_branch: None };
        let owners = owner.create_chat_session(project.id, &create("owner's")).await.unwrap();
        let members = member.create_chat_session(project.id, &create("member's")).await.unwrap();

        let seen = member.list_chat_sessions(project.id, &ChatSessionQuery::default()).await.unwrap();
        assert_eq!((seen.total, seen.sessions[0].id), (1, members.id));
        let seen = owner.list_chat_sessions(project.id, &ChatSessionQuery::default()).await.unwrap();
        assert_eq!((seen.total, seen.sessions[0].id), (1, owners.id));
        assert_eq!(member.get_chat_session(project.id, owners.id).await.unwrap_err().status(), Some(404));
        assert_eq!(member.get_project(project.id).await.unwrap().role, ProjectRole::Member);

        let forbidden = [
            member.get_default_branch(project.id).await.unwrap_err(),
            member
                .set_default_branch(project.id, &UpdateDefaultBranchRequest { default_branch: "develop".into() })
                .await
                .unwrap_err(),
            member.list_audit(project.id, &PageQuery::default()).await.unwrap_err(),
            member.update_project(project.id, &UpdateProjectRequest { name: Some("mine".into()), ..Default::default() }).await.unwrap_err(),
            member.delete_project(project.id).await.unwrap_err(),
            member.add_member(project.id, &AddMemberRequest { email: "ann@example.test".into(), role: None }).await.unwrap_err(),
        ];
        for err in forbidden {
            assert_eq!((err.status(), err.code()), (Some(403), Some(ErrorCode::Forbidden)), "{err}");
        }
        assert_eq!(owner.get_default_branch(project.id).await.unwrap().default_branch, "main");

        member.remove_member(project.id, &member_user.id).await.expect("a member may leave");
        assert_eq!(member.get_project(project.id).await.unwrap_err().status(), Some(404));
    }
);

db_test!(
    async fn requests_without_valid_credentials_get_401(backend) {
        let app = spawn_app(backend).await;
        let (owner, user) = app.user("ann").await;
        let project = app.project(&owner, "p").await;
        let session = owner
            .create_chat_session(project.id, &CreateChatSessionRequest { title: "s".into(), description: None, base_branch: None })
            .await
            .unwrap();
        let mut routes = project_routes(project.id, session.id, &user.id);
        routes.extend([
            (Method::GET, "/api/me".to_owned(), None),
            (Method::GET, "/api/me/tokens".to_owned(), None),
            (Method::POST, "/api/me/tokens".to_owned(), Some(json!({"name": "ci"}))),
            (Method::DELETE, "/api/me/tokens/1".to_owned(), None),
            (Method::GET, "/api/projects".to_owned(), None),
            (Method::POST, "/api/projects".to_owned(), Some(json!({"name": "x", "repository": {"kind": "empty"}}))),
        ]);
        let anonymous = app.http();
        let forged = reqwest::Client::new();
        for (method, path, body) in &routes {
            let (status, body_json) = call(&anonymous, &app, method, path, body).await;
            assert_eq!((status, body_json["code"].as_str()), (401, Some("unauthenticated")), "{method} {path}");
            let mut request = forged.request(method.clone(), app.url(path)).bearer_auth("kst_forged");
            if let Some(body) = body {
                request = request.json(body);
            }
            assert_eq!(request.send().await.unwrap().status().as_u16(), 401, "forged token: {method} {path}");
        }
        assert_eq!(owner.get_chat_session(project.id, session.id).await.unwrap().title, "s");
    }
);
