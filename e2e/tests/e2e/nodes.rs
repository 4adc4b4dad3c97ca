//! Several nodes in the browser: a chat whose node died comes back on another node, and the
//! page that node serves says what of its work was lost.

use api_types::*;
use e2e::{assert_console_clean, browser, open_chat, origin, screenshot, sign_up, wait_text};
use fakes::model::Reply;
use std::time::{Duration, Instant};

/// Waits (bounded) until `check` holds for what `read` gives; the last reading.
async fn until<T: std::fmt::Debug, F: std::future::Future<Output = T>>(
    what: &str,
    read: impl Fn() -> F,
    check: impl Fn(&T) -> bool,
) -> T {
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let value = read().await;
        if check(&value) {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}: {value:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

mod a_chat_taken_over_from_a_dead_node_shows_what_was_lost {
    use super::*;

    /// PostgreSQL only (several nodes need it): `cargo xtask test` runs it when
    /// `TEST_DATABASE_URL` is set.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        let database = e2e::PostgresDatabase::create();
        let (mut a, b) = e2e::two_nodes(&database.url).await;
        let c = browser(&b, 1280, 900).await;
        sign_up(&c, &b, "Ann").await;

        // Through A: a project with a remote (so it can move), a chat with a turn running on A.
        let via_a = client::Client::new(&a.address);
        let login = LoginRequest { email: "ann@example.test".into(), password: "correct horse battery".into() };
        via_a.login(&login).await.unwrap();
        let remote = a.remotes.path().join("shop.git");
        origin(&remote);
        let request = CreateProjectRequest {
            name: "Shop".into(),
            description: None,
            repository: RepositorySource::Git { url: format!("file://{}", remote.display()) },
            default_branch: None,
        };
        let project = via_a.create_project(&request).await.unwrap();
        until(
            "the project is ready",
            || via_a.get_project(project.id),
            |p| p.as_ref().is_ok_and(|p| p.repository_state == RepositoryState::Ready),
        )
        .await
        .unwrap();
        let chat = CreateChatSessionRequest { title: "Doomed".into(), description: None, base_branch: None };
        let session = via_a.create_chat_session(project.id, &chat).await.unwrap();
        until(
            "the chat is ready",
            || via_a.get_chat_session(project.id, session.id),
            |s| s.as_ref().is_ok_and(|s| s.workspace_state == WorkspaceState::Ready),
        )
        .await
        .unwrap();
        a.model.script([Reply::Slow { chunks: 600, every: Duration::from_millis(50) }]);
        let prompt = ChatRequest {
            project_id: project.id,
            chat_session_id: session.id,
            prompt: "Talk slowly".into(),
            github_token: None,
            queue: false,
            comments: Vec::new(),
        };
        via_a.send_chat(&prompt).await.unwrap();
        until(
            "the turn runs on A",
            || via_a.list_runs(project.id, session.id),
            |runs| runs.as_ref().is_ok_and(|r| r.runs.first().is_some_and(|run| run.status == RunStatus::Running)),
        )
        .await
        .unwrap();

        // A dies; B takes the project over within A's lease and tells the chat what was lost.
        a.kill_server();
        let via_b = client::Client::new(&b.address);
        via_b.login(&login).await.unwrap();
        until(
            "B took the project over",
            || via_b.get_project(project.id),
            |p| {
                p.as_ref().is_ok_and(|p| p.repository_state == RepositoryState::Ready)
                    && b.data_path().join(format!("projects/{}/mirror.git", project.id.0)).exists()
            },
        )
        .await
        .unwrap();

        // The page B serves says so above the chat.
        c.goto(&format!("{}/projects/{}", b.address, project.id.0)).await.unwrap();
        open_chat(&c, "Doomed").await;
        let banner = wait_text(&c, "[data-testid=lost-work-banner]", "says what was lost", |t| {
            t.contains("turn that was running")
        })
        .await;
        assert!(banner.contains("stopped"), "{banner}");
        screenshot(&c, "nodes-lost-work").await;
        assert_console_clean(&c).await;
        c.close().await.unwrap();
    }
}
