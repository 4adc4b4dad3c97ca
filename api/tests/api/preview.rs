//! The preview of a session's site: a signed link, served sandboxed without cookies.

use crate::db_test;
use crate::harness::spawn_app;
use api_types::*;

db_test!(
    async fn a_preview_link_serves_the_sessions_site_sandboxed(backend) {
        let app = spawn_app(backend).await;
        let (owner, _) = app.user("ann").await;
        let (stranger, _) = app.user("eve").await;
        let project = app.project(&owner, "site").await;
        let create = |title: &str| CreateChatSessionRequest { title: title.into(), description: None, base_branch: None };
        let session = owner.create_chat_session(project.id, &create("site")).await.unwrap();
        let session = app.ready_session(&owner, &session).await;
        let other = owner.create_chat_session(project.id, &create("other")).await.unwrap();
        let other = app.ready_session(&owner, &other).await;
        std::fs::write(app.checkout_dir(&session).join("index.html"), "<h1>Hello from the agent</h1>").unwrap();
        std::fs::write(app.checkout_dir(&session).join("style.css"), "h1 { color: red }").unwrap();

        let link = owner.preview(project.id, session.id).await.unwrap();
        assert!(link.url.starts_with("/preview/") && link.url.ends_with('/'), "{}", link.url);
        let anonymous = reqwest::Client::new();
        let page = anonymous.get(app.url(&link.url)).send().await.unwrap();
        assert_eq!(page.status().as_u16(), 200);
        let csp = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
        assert!(csp.starts_with("sandbox allow-scripts") && !csp.contains("allow-same-origin"), "{csp}");
        assert!(page.headers().get("set-cookie").is_none());
        assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
        assert_eq!(page.text().await.unwrap(), "<h1>Hello from the agent</h1>");
        let css = anonymous.get(app.url(&format!("{}style.css", link.url))).send().await.unwrap();
        assert!(css.headers()["content-type"].to_str().unwrap().starts_with("text/css"));

        let other_link = owner.preview(project.id, other.id).await.unwrap();
        let empty = anonymous.get(app.url(&other_link.url)).send().await.unwrap().text().await.unwrap();
        assert!(empty.contains("no <code>index.html</code> yet"), "{empty}");
        assert!(!anonymous.get(app.url(&format!("{}nope.css", other_link.url))).send().await.unwrap().status().is_success());

        let forged = link.url.replacen(&format!("/preview/{}-", session.id), &format!("/preview/{}-", other.id), 1);
        assert_eq!(anonymous.get(app.url(&forged)).send().await.unwrap().status().as_u16(), 404, "the signature binds the session");
        let escape = anonymous.get(app.url(&format!("{}..%2F..%2F..%2Fsecret.key", link.url))).send().await.unwrap();
        assert!(!escape.status().is_success(), "paths stay inside the checkout");
        assert_eq!(stranger.preview(project.id, session.id).await.unwrap_err().status(), Some(404));
    }
);
