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
