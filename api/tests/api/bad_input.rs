//! Bad input gets its documented status and code, and changes nothing.

use crate::db_test;
use crate::harness::spawn_app;
use api_types::*;
use serde_json::{Value, json};

/// (method, path, raw body, content type, expected status, code, field)
type Case<'a> = (&'a str, String, String, &'a str, u16, &'a str, Option<&'a str>);

db_test!(
    async fn each_bad_input_gets_its_status_and_code_and_changes_nothing(backend) {
        let app = spawn_app(backend).await;
        let (owner, _) = app.user("ann").await;
        let project = app.project(&owner, "p").await;
        let session = owner
            .create_chat_session(project.id, &CreateChatSessionRequest { title: "keep me".into(), description: None, base_branch: None })
            .await
            .unwrap();
        let session = app.ready_session(&owner, &session).await;
        let http = app.http();
        http.post(app.url("/api/auth/login"))
            .json(&json!({"email": "ann@example.test", "password": "ann-password"}))
            .send()
            .await
            .unwrap();
        let snapshot = || async {
            (
                owner.get_project(project.id).await.unwrap(),
                owner.list_chat_sessions(project.id, &ChatSessionQuery::default()).await.unwrap(),
                owner.get_default_branch(project.id).await.unwrap(),
            )
        };
        let before = snapshot().await;

        let p = format!("/api/projects/{}", project.id);
        let s = format!("{p}/chat-sessions/{}", session.id);
        let sessions = format!("{p}/chat-sessions");
        let branch = format!("{p}/settings/default-branch");
        let long_title = "x".repeat(101);
        let long_branch = "b".repeat(101);
        let huge = "y".repeat(1024 * 1024 + 1);
        let mut cases: Vec<Case> = vec![
            ("POST", sessions.clone(), json!({"title": ""}).to_string(), "application/json", 422, "validation_failed", Some("title")),
            ("POST", sessions.clone(), json!({"title": "   \t "}).to_string(), "application/json", 422, "validation_failed", Some("title")),
            ("POST", sessions.clone(), json!({"title": long_title}).to_string(), "application/json", 422, "validation_failed", Some("title")),
            ("POST", sessions.clone(), json!({"title": "ok", "description": "d".repeat(2001)}).to_string(), "application/json", 422, "validation_failed", Some("description")),
            ("POST", sessions.clone(), json!({"description": "no title"}).to_string(), "application/json", 422, "validation_failed", Some("body")),
            ("POST", sessions.clone(), json!({"title": 5}).to_string(), "application/json", 422, "validation_failed", Some("title")),
            ("POST", sessions.clone(), json!({"title": "ok", "base_branch": ".."}).to_string(), "application/json", 422, "validation_failed", Some("base_branch")),
            ("PUT", s.clone(), json!({"title": ""}).to_string(), "application/json", 422, "validation_failed", Some("title")),
            ("PUT", s.clone(), json!({"title": long_title}).to_string(), "application/json", 422, "validation_failed", Some("title")),
            ("PUT", s.clone(), json!({"status": "deleted"}).to_string(), "application/json", 422, "validation_failed", Some("status")),
            ("PUT", s.clone(), "{\"title\": ".to_owned(), "application/json", 400, "malformed_json", None),
            ("PUT", s.clone(), "".to_owned(), "application/json", 400, "malformed_json", None),
            ("PUT", s.clone(), "{\"title\": \"x\"} trailing".to_owned(), "application/json", 400, "malformed_json", None),
            ("PUT", s.clone(), " [null, null, null]".to_owned(), "application/json", 422, "validation_failed", Some("body")),
            ("PUT", s.clone(), json!({"title": "x"}).to_string(), "text/plain", 415, "unsupported_media_type", None),
            ("POST", sessions.clone(), json!({"title": "big", "description": huge}).to_string(), "application/json", 413, "payload_too_large", None),
            ("GET", "/api/projects/abc".to_owned(), String::new(), "", 400, "invalid_id", None),
            ("GET", "/api/projects/-1".to_owned(), String::new(), "", 400, "invalid_id", None),
            ("GET", "/api/projects/0".to_owned(), String::new(), "", 400, "invalid_id", None),
            ("GET", "/api/projects/99999999999".to_owned(), String::new(), "", 400, "invalid_id", None),
            ("GET", format!("{p}/chat-sessions/x1"), String::new(), "", 400, "invalid_id", None),
            ("DELETE", format!("{p}/chat-sessions/-3"), String::new(), "", 400, "invalid_id", None),
            ("GET", format!("{sessions}?limit=0"), String::new(), "", 400, "invalid_query", None),
            ("GET", format!("{sessions}?limit=101"), String::new(), "", 400, "invalid_query", None),
            ("GET", format!("{sessions}?limit=ten"), String::new(), "", 400, "invalid_query", None),
            ("GET", format!("{sessions}?status=gone"), String::new(), "", 400, "invalid_query", None),
            ("GET", format!("{sessions}?cursor=not-a-cursor"), String::new(), "", 400, "invalid_query", None),
            ("GET", format!("{s}/messages?order=sideways"), String::new(), "", 400, "invalid_query", None),
            ("GET", "/api/projects/1/nothing-here".to_owned(), String::new(), "", 404, "not_found", None),
        ];
        for name in ["..", "-x", "a b", "refs/heads/../x", "a.lock", long_branch.as_str(), "", "a~b", "x/"] {
            cases.push(("PUT", branch.clone(), json!({"default_branch": name}).to_string(), "application/json", 422, "validation_failed", Some("default_branch")));
        }

        for (method, path, body, content_type, status, code, field) in cases {
            // Same-origin, as the web app sends it: the bad input itself is what is answered.
            let mut request = http.request(method.parse().unwrap(), app.url(&path)).header("sec-fetch-site", "same-origin");
            if !content_type.is_empty() {
                request = request.header("content-type", content_type).body(body.clone());
            }
            let response = request.send().await.unwrap();
            let got_status = response.status().as_u16();
            let got: Value = response.json().await.unwrap_or(Value::Null);
            let shown = &body[..body.len().min(60)];
            assert_eq!(got_status, status, "{method} {path} {shown}: {got}");
            assert_eq!(got["code"], code, "{method} {path} {shown}");
            assert_eq!(got["field"].as_str(), field, "{method} {path} {shown}");
            assert!(got["error"].as_str().is_some_and(|e| e.ends_with('.')), "a sentence: {got}");
        }
        assert_eq!(snapshot().await, before, "no bad request changed anything");
    }
);

db_test!(
    async fn text_inputs_refuse_nul_and_control_characters_naming_the_field(backend) {
        let app = spawn_app(backend).await;
        let (owner, _) = app.user("ann").await;
        let project = app.project(&owner, "texts").await;
        let session = owner
            .create_chat_session(project.id, &CreateChatSessionRequest { title: "fine".into(), description: None, base_branch: None })
            .await
            .unwrap();
        let bad = ["a\u{0}b", "bell\u{7}", "escape\u{1b}[31m", "del\u{7f}"];
        for text in bad {
            let mut refusals: Vec<(&str, Option<u16>, Option<String>)> = Vec::new();
            let mut note = |what: &'static str, err: client::ClientError| {
                let field = err.body().and_then(|b| b.field.clone());
                refusals.push((what, err.status(), field));
            };
            let project_named = CreateProjectRequest { name: text.into(), description: None, repository: RepositorySource::Empty, default_branch: None };
            note("project name", owner.create_project(&project_named).await.unwrap_err());
            let described = CreateProjectRequest { name: "ok".into(), description: Some(text.into()), repository: RepositorySource::Empty, default_branch: None };
            note("project description", owner.create_project(&described).await.unwrap_err());
            let renamed = UpdateProjectRequest { name: Some(text.into()), description: None, update_strategy: None, archive_merged: None };
            note("project rename", owner.update_project(project.id, &renamed).await.unwrap_err());
            let titled = CreateChatSessionRequest { title: text.into(), description: None, base_branch: None };
            note("session title", owner.create_chat_session(project.id, &titled).await.unwrap_err());
            let retitled = UpdateChatSessionRequest { title: Some(text.into()), description: None, status: None };
            note("session rename", owner.update_chat_session(project.id, session.id, &retitled).await.unwrap_err());
            let redescribed = UpdateChatSessionRequest { title: None, description: Some(text.into()), status: None };
            note("session description", owner.update_chat_session(project.id, session.id, &redescribed).await.unwrap_err());
            let signup = SignupRequest { email: "x@example.test".into(), password: "long-enough-password".into(), display_name: text.into() };
            note("display name", app.client().signup(&signup).await.unwrap_err());
            note("token name", owner.create_api_token(&CreateApiTokenRequest { name: text.into() }).await.unwrap_err());
            let expected = [
                ("project name", "name"),
                ("project description", "description"),
                ("project rename", "name"),
                ("session title", "title"),
                ("session rename", "title"),
                ("session description", "description"),
                ("display name", "display_name"),
                ("token name", "name"),
            ];
            for ((what, status, field), (expected_what, expected_field)) in refusals.iter().zip(expected) {
                assert_eq!((*what, *status, field.as_deref()), (expected_what, Some(422), Some(expected_field)), "{text:?}");
            }
        }
        // Newlines and tabs are text where text may span lines; nothing refused was stored.
        let multi = UpdateChatSessionRequest { title: None, description: Some("line one\n\tline two\r\n".into()), status: None };
        assert!(owner.update_chat_session(project.id, session.id, &multi).await.is_ok());
        let one_line = CreateChatSessionRequest { title: "two\nlines".into(), description: None, base_branch: None };
        assert_eq!(owner.create_chat_session(project.id, &one_line).await.unwrap_err().status(), Some(422));
        assert_eq!(owner.list_projects(&PageQuery::default()).await.unwrap().total, 1);
        let stored = owner.get_chat_session(project.id, session.id).await.unwrap();
        assert_eq!(stored.title, "fine");
    }
);

#[tokio::test]
async fn a_wrong_method_on_a_route_is_405_with_allow_and_an_unknown_path_404() {
    let app = spawn_app(crate::harness::Backend::Sqlite).await;
    let (owner, _) = app.user("ann").await;
    let token = owner.create_api_token(&CreateApiTokenRequest { name: "t".into() }).await.unwrap().token;
    let http = app.http();
    // (method, path, status, Allow)
    let table = [
        ("PATCH", "/api/projects", 405, Some("GET, POST")),
        ("DELETE", "/api/projects/1/chat-sessions", 405, Some("GET, POST")),
        ("POST", "/api/projects/1/chat-sessions/2", 405, Some("GET, PUT, DELETE")),
        ("PUT", "/api/chat", 405, Some("POST")),
        ("DELETE", "/api/agent", 405, Some("GET")),
        ("GET", "/api/no-such-thing", 404, None),
        ("POST", "/api/projects/1/nothing-here", 404, None),
    ];
    for (method, path, status, allow) in table {
        let answer = http
            .request(method.parse().unwrap(), app.url(path))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status().as_u16(), status, "{method} {path}");
        let allowed = answer.headers().get("allow").map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(allowed.as_deref(), allow, "{method} {path}");
        let body: ErrorBody = answer.json().await.unwrap();
        let code = if status == 405 { ErrorCode::MethodNotAllowed } else { ErrorCode::NotFound };
        assert_eq!(body.code, code, "{method} {path}");
    }
}
