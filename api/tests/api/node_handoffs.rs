//! What a node hands to the node holding the project: a preview opened through it (the
//! one-time link, the page, a WebSocket reach the owner's preview proxy, which admits them as
//! it would directly), and a GitHub webhook's archive of a merged chat (its checkout is the
//! owner's). PostgreSQL only (several nodes need it).

mod a_session_on_node_a_is_previewed_through_node_b {
    use crate::nodes::{signed_in, two_nodes};
    use crate::previews::{browser, dev_project, enter, page, start, websocket_echo};
    use sea_orm::EntityTrait;

    /// The port a node's preview proxy listens on, as the nodes table tells the others.
    async fn preview_port(app: &crate::harness::TestApp, node: &str) -> u16 {
        let db = app.database.connect().await;
        let nodes = entity::node::Entity::find().all(&db).await.unwrap();
        let address = nodes.iter().find(|n| n.url.ends_with(node)).and_then(|n| n.preview_address.clone());
        address.expect("the node's preview address is recorded").rsplit_once(':').unwrap().1.parse().unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        let (mut a, b) = two_nodes().await;
        let (via_a, _) = a.user("ann").await;
        let project = dev_project(&a, &via_a).await;
        let via_b = signed_in(b.client()).await;
        let session = crate::chat::ready_session(&a, &via_b, project.id, "site").await;
        assert!(a.checkout_dir(&session).exists(), "the session is on A");
        std::fs::write(a.checkout_dir(&session).join("index.html"), "<h1>on node A</h1>").unwrap();

        // Started through B: the dev server runs on A, the link is A's proxy's.
        let preview = start(&via_b, project.id, session.id).await;
        let b_port = preview_port(&a, &b.address[b.address.rfind(':').unwrap()..]).await;
        let a_port = preview_port(&a, &a.address[a.address.rfind(':').unwrap()..]).await;
        assert_ne!(a_port, b_port);
        let through_b = |url: &str| url.replace(&format!(":{a_port}/"), &format!(":{b_port}/"));
        let link = through_b(preview.open_url.as_deref().unwrap());
        assert!(link.contains(&format!(":{b_port}/")), "{link}");

        // The link, the page and a WebSocket, all through B's proxy.
        let http = browser(&[session.id]);
        let url = through_b(&preview.url);
        assert_eq!(page(&http, &url, "").await.0, 401, "no cookie, no preview, through B too");
        let (cookie, _) = enter(&http, &link).await;
        assert_eq!(page(&http, &url, &cookie).await, (200, "<h1>on node A</h1>".to_owned()));
        assert_eq!(websocket_echo(b_port, session.id, &cookie, "hot reload").await, "echo: hot reload");

        // A killed: B says its node did not answer (not "no preview here").
        a.kill_binary();
        let (status, body) = page(&http, &url, &cookie).await;
        assert_eq!(status, 502, "{body}");
        assert!(body.contains("The node running this preview did not answer"), "{body}");
        drop(b);
    }
}

mod a_merge_webhook_delivered_to_node_b_archives_the_chat_on_node_a {
    use crate::nodes::two_nodes_with;
    use api_types::*;
    use fakes::github::fixture;
    use serde_json::json;

    const SECRET: &str = "webhook secret of the test";

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        let (a, b) = two_nodes_with(&[("KOSUKE_GITHUB_WEBHOOK_SECRET", SECRET)]).await;
        let (owner, project, session) = crate::github::github_project(&a, true).await;
        let request = CreatePullRequestRequest { draft: false, ..Default::default() };
        owner.create_pull_request(project.id, session.id, &request).await.unwrap();
        let put = UpdateProjectRequest { archive_merged: Some(true), ..Default::default() };
        owner.update_project(project.id, &put).await.unwrap();
        let checkout = a.checkout_dir(&session);
        assert!(checkout.exists(), "the checkout is on A");

        // GitHub's delivery reaches B (a load balancer's choice).
        let number = owner.get_chat_session(project.id, session.id).await.unwrap().pull_request_number.unwrap();
        let mut closed = fixture("webhook-pull-request-closed.json");
        closed["repository"]["full_name"] = json!("octocat/Hello-World");
        closed["pull_request"]["number"] = json!(number);
        closed["number"] = json!(number);
        closed["pull_request"]["merged"] = json!(true);
        let bytes = serde_json::to_vec(&closed).unwrap();
        let signature = format!("sha256={}", api::secrets::hmac_sha256_hex(SECRET.as_bytes(), &bytes));
        let delivered = reqwest::Client::new()
            .post(format!("{}/api/github/webhook", b.address))
            .header("content-type", "application/json")
            .header("x-github-event", "pull_request")
            .header("x-hub-signature-256", signature)
            .body(bytes)
            .send()
            .await
            .unwrap();
        assert_eq!(delivered.status(), 204, "{}", delivered.text().await.unwrap());

        // Archived by A: its checkout is gone from A's disk.
        let archived = owner.get_chat_session(project.id, session.id).await.unwrap();
        assert_eq!(archived.status, ChatSessionStatus::Archived);
        assert_eq!(archived.pull_request_life.unwrap().state, PullRequestState::Merged);
        assert!(!checkout.exists(), "A released the checkout");
        drop(b);
    }
}
