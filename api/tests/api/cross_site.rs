//! Cross-site request forgery, tried as another site would: a page elsewhere makes the
//! browser send kosuke a state-changing request with the sign-in cookie (a form or a
//! `text/plain` fetch, which needs no CORS preflight). Each is refused with 403
//! `cross_site_request` and changes nothing; kosuke's own pages and token clients still work.

use crate::chat::{chat, setup};
use crate::db_test;
use crate::harness::spawn_app;
use api_types::*;
use fakes::model::Reply;

db_test!(
    async fn cross_site_requests_signed_in_by_cookie_are_refused_and_change_nothing(backend) {
        let app = spawn_app(backend).await;
        let (owner, project, session) = setup(&app).await;
        // The victim's browser: the same account, signed in by cookie.
        let browser = app.http();
        let login = browser
            .post(app.url("/api/auth/login"))
            .json(&serde_json::json!({"email": "ann@example.test", "password": "ann-password"}))
            .send()
            .await
            .unwrap();
        assert_eq!(login.status().as_u16(), 200);
        app.model.script([Reply::Stall]);
        owner.send_chat(&chat(&project, &session, "Work slowly")).await.unwrap();

        let cancel = format!("/api/projects/{}/chat-sessions/{}/cancel", project.id, session.id);
        let forged_create = r#"{"name": "planted", "repository": {"kind": "empty"}}"#;
        // What another site's page can make a browser send: with its Origin and Fetch Metadata,
        // or (an old browser, a plain form) with neither.
        let attempts = [
            ("/api/auth/logout", ""),
            (cancel.as_str(), ""),
            ("/api/projects", forged_create),
        ];
        for (path, body) in attempts {
            for cross_site_headers in [true, false] {
                let mut request = browser.post(app.url(path)).header("content-type", "text/plain").body(body);
                if cross_site_headers {
                    request = request.header("origin", "https://evil.example").header("sec-fetch-site", "cross-site");
                }
                let answer = request.send().await.unwrap();
                assert_eq!(answer.status().as_u16(), 403, "{path} ({cross_site_headers})");
                let error: ErrorBody = answer.json().await.unwrap();
                assert_eq!(error.code, ErrorCode::CrossSiteRequest, "{path}");
            }
        }
        // Nothing changed: still signed in, the run still live, no planted project.
        assert_eq!(browser.get(app.url("/api/me")).send().await.unwrap().status().as_u16(), 200);
        let runs = owner.list_runs(project.id, session.id).await.unwrap().runs;
        assert_eq!(runs[0].status, RunStatus::Running, "the forged cancel did nothing");
        let projects = owner.list_projects(&PageQuery::default()).await.unwrap();
        assert!(projects.projects.iter().all(|p| p.name != "planted"), "no project was created");

        // kosuke's own page (same origin) and a token client are not affected.
        let token = owner.create_api_token(&CreateApiTokenRequest { name: "cli".into() }).await.unwrap().token;
        let by_token = reqwest::Client::new().post(app.url(&cancel)).bearer_auth(token).header("content-type", "text/plain");
        let answer = by_token.send().await.unwrap();
        assert_eq!(answer.status().as_u16(), 202, "a bearer token carries no ambient authority: {:?}", answer.text().await);
        let own_page = browser
            .post(app.url("/api/auth/logout"))
            .header("origin", app.address.as_str())
            .header("sec-fetch-site", "same-origin");
        assert_eq!(own_page.send().await.unwrap().status().as_u16(), 204);
        assert_eq!(browser.get(app.url("/api/me")).send().await.unwrap().status().as_u16(), 401);
    }
);
