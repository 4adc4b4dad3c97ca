//! A preview opened through another node than the one running its dev server: the request
//! (the one-time link, the page, a WebSocket) reaches the owner's preview proxy through the
//! node it was sent to, and is admitted there as it would be directly. PostgreSQL only
//! (several nodes need it).

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
