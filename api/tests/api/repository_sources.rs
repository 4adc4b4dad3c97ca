//! Where a project's repository may come from, tried as a second user would: server paths
//! into kosuke's data dir (another project's mirror, a checkout), anywhere else on the server,
//! a missing path, a `file://` URL, git hosts on loopback and the cloud metadata address.

use crate::chat::setup;
use crate::db_test;
use crate::harness::{spawn_app, spawn_app_with};
use api_types::*;
use client::Client;
use fakes::git_http::FakeGitHttp;

async fn create(client: &Client, repository: RepositorySource) -> Result<Project, client::ClientError> {
    let request = CreateProjectRequest { name: "taken".into(), description: None, repository, default_branch: None };
    client.create_project(&request).await
}

db_test!(
    async fn a_user_who_is_not_admin_gets_one_answer_for_every_server_path_outside_the_repo_roots(backend) {
        let app = spawn_app(backend).await;
        // Ann signed up first: the admin. Bob is a user.
        let (ann, project, session) = setup(&app).await;
        let (bob, _) = app.user("bob").await;
        let data = app.data_dir.path().canonicalize().unwrap();
        let mirror = data.join(format!("projects/{}/mirror.git", project.id));
        let checkout = app.checkout_dir(&session);
        let elsewhere = tempfile::TempDir::new().unwrap();
        let server_repo = elsewhere.path().join("server.git");
        git2::Repository::init_bare(&server_repo).unwrap();
        let paths = [
            mirror.display().to_string(),
            checkout.display().to_string(),
            data.display().to_string(),
            "/etc".to_owned(),
            server_repo.display().to_string(),
            "/nonexistent/repo.git".to_owned(),
        ];
        let mut answers = Vec::new();
        for path in &paths {
            for source in [RepositorySource::Local { path: path.clone() }, RepositorySource::Git { url: format!("file://{path}") }] {
                let refused = create(&bob, source).await.unwrap_err();
                assert_eq!((refused.status(), refused.code()), (Some(422), Some(ErrorCode::ValidationFailed)), "{path}");
                answers.push(refused.to_string().replace("repository.url", "repository.path"));
            }
        }
        answers.dedup();
        assert_eq!(answers.len(), 1, "the same sentence for all, so nothing is learnt: {answers:#?}");
        // The admin may use a path elsewhere on the server, never one inside the data dir.
        assert!(create(&ann, RepositorySource::Local { path: server_repo.display().to_string() }).await.is_ok());
        for inside in [&mirror, &checkout] {
            let refused = create(&ann, RepositorySource::Local { path: inside.display().to_string() }).await.unwrap_err();
            assert_eq!(refused.status(), Some(422), "{}", inside.display());
        }
        // Under a repo root (the test's origins), any user may.
        let origin = app.origin("bobs", &[("README.md", "bob\n")], &[]);
        assert!(create(&bob, RepositorySource::Local { path: origin.display().to_string() }).await.is_ok());
        let listed = bob.list_projects(&PageQuery::default()).await.unwrap();
        assert_eq!(listed.total, 1, "nothing was created by the refused attempts");
    }
);

db_test!(
    async fn git_hosts_inside_the_servers_network_are_refused_unless_the_operator_allows_them(backend) {
        let app = spawn_app(backend).await;
        let (ann, _) = app.user("ann").await;
        let served = tempfile::TempDir::new().unwrap();
        let origin = app.origin("served", &[("README.md", "over http\n")], &[]);
        std::fs::rename(&origin, served.path().join("served.git")).unwrap();
        let git = FakeGitHttp::start(served.path().to_owned()).await;
        let loopback = format!("{}/served.git", git.url);
        for url in [loopback.as_str(), "http://169.254.169.254/latest/meta-data", "http://[::1]:9/x.git", "git://10.0.0.1/x.git"] {
            let refused = create(&ann, RepositorySource::Git { url: url.into() }).await.unwrap_err();
            assert_eq!(refused.status(), Some(422), "{url}");
            assert!(refused.to_string().contains("--allow-private-git-hosts"), "{url}: {refused}");
        }

        let app = spawn_app_with(backend, |s| s.allow_private_git_hosts = true).await;
        let (ann, _) = app.user("ann").await;
        let project = create(&ann, RepositorySource::Git { url: loopback.clone() }).await.unwrap();
        let project = app.ready(&ann, project.id).await;
        assert_eq!(project.repository_state, RepositoryState::Ready, "{:?}", project.repository_error);
        let session = ann
            .create_chat_session(project.id, &CreateChatSessionRequest { title: "http".into(), description: None, base_branch: None })
            .await
            .unwrap();
        let session = app.ready_session(&ann, &session).await;
        let readme = ann.get_file(project.id, session.id, "README.md").await.unwrap();
        assert_eq!(readme.content.as_deref(), Some("over http\n"), "cloned over smart HTTP from loopback");
        assert!(create(&ann, RepositorySource::Git { url: "http://169.254.169.254/latest".into() }).await.is_ok());
    }
);

db_test!(
    async fn sessions_created_together_share_a_fetch_and_still_start_from_what_was_pushed_before(backend) {
        let app = spawn_app_with(backend, |s| s.allow_private_git_hosts = true).await;
        let (ann, _) = app.user("ann").await;
        let served = tempfile::TempDir::new().unwrap();
        let origin = app.origin("served", &[("README.md", "over http\n")], &[]);
        let origin_path = served.path().join("served.git");
        std::fs::rename(&origin, &origin_path).unwrap();
        let git = FakeGitHttp::start(served.path().to_owned()).await;
        let project = create(&ann, RepositorySource::Git { url: format!("{}/served.git", git.url) }).await.unwrap();
        app.ready(&ann, project.id).await;

        // Pushed before the requests: every session made by them starts from it.
        crate::harness::commit_on_main(&origin_path, "pushed.txt", "pushed\n", "pushed.txt");
        let before = git.fetches();
        let creates = (0..10).map(|n| {
            let ann = ann.clone();
            async move {
                let request = CreateChatSessionRequest { title: format!("Chat {n}"), description: None, base_branch: None };
                ann.create_chat_session(project.id, &request).await.unwrap()
            }
        });
        let sessions = futures_util::future::join_all(creates).await;
        let fetched = git.fetches() - before;
        assert!((1..10).contains(&fetched), "10 creates at once fetched {fetched} times: they share fetches");
        for session in &sessions {
            let session = app.ready_session(&ann, session).await;
            let pushed = ann.get_file(project.id, session.id, "pushed.txt").await.unwrap();
            assert_eq!(pushed.content.as_deref(), Some("pushed\n"), "{} starts from the pushed commit", session.title);
        }

        // A create after another push fetches again: a fetch is shared only by requests that
        // were waiting for it.
        crate::harness::commit_on_main(&origin_path, "later.txt", "pushed\n", "later.txt");
        let request = CreateChatSessionRequest { title: "Later".into(), description: None, base_branch: None };
        let later = app.ready_session(&ann, &ann.create_chat_session(project.id, &request).await.unwrap()).await;
        assert!(ann.get_file(project.id, later.id, "later.txt").await.is_ok(), "the later session sees the later push");
    }
);
