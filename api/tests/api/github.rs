//! GitHub: connecting a token, pull requests from sessions (against a fake GitHub serving the
//! official example bodies), branch listing across pages, and the token never leaking.

use crate::db_test;
use crate::harness::{TestApp, spawn_app};
use crate::logs::captured_logs;
use api_types::*;
use client::Client;
use fakes::github::PullFailure;

pub const TOKEN: &str = "ghp_kosukeTestToken0123456789abcdefXYZ";

/// A GitHub project (octocat/Hello-World) whose git remote is a local bare repository, a
/// connected token, and one ready session with a committed change when `with_change`.
pub async fn github_project(app: &TestApp, with_change: bool) -> (Client, Project, ChatSession) {
    let (owner, _) = app.user("ann").await;
    app.github.accept_token(TOKEN, "octocat", "repo, user");
    owner.connect_github(&ConnectGitHubRequest { token: TOKEN.into() }).await.unwrap();
    app.origin("octocat/Hello-World", &[("README.md", "# Hello\n")], &["develop"]);
    let project = owner
        .create_project(&CreateProjectRequest {
            name: "hello".into(),
            description: None,
            repository: RepositorySource::Github { owner: "octocat".into(), repo: "Hello-World".into() },
            default_branch: None,
        })
        .await
        .unwrap();
    let project = app.ready(&owner, project.id).await;
    assert_eq!(project.repository_state, RepositoryState::Ready, "{:?}", project.repository_error);
    let session = owner
        .create_chat_session(
            project.id,
            &CreateChatSessionRequest {
                title: "Add a greeting".into(),
                description: Some("Says hello.".into()),
                base_branch: None,
            },
        )
        .await
        .unwrap();
    let session = app.ready_session(&owner, &session).await;
    if with_change {
        std::fs::write(app.checkout_dir(&session).join("greeting.txt"), "hello\n").unwrap();
    }
    (owner, project, session)
}

db_test!(
    async fn a_github_token_is_checked_stored_and_never_shown(backend) {
        let app = spawn_app(backend).await;
        let (ann, _) = app.user("ann").await;
        app.github.accept_token(TOKEN, "octocat", "repo, user");
        let bad = ann.connect_github(&ConnectGitHubRequest { token: "ghp_wrong".into() }).await.unwrap_err();
        assert_eq!((bad.status(), bad.code()), (Some(422), Some(ErrorCode::ValidationFailed)));
        assert_eq!(ann.github_account().await.unwrap_err().status(), Some(404));
        let account = ann.connect_github(&ConnectGitHubRequest { token: format!(" {TOKEN} ") }).await.unwrap();
        assert_eq!((account.login.as_str(), account.scopes.clone()), ("octocat", vec!["repo".to_owned(), "user".to_owned()]));
        assert_eq!(ann.github_account().await.unwrap(), account);
        let checked = app.github.requests_to("GET", "/user");
        assert_eq!(checked.last().and_then(|r| r.authorization.clone()), Some(format!("Bearer {TOKEN}")));
        let db = app.database.connect().await;
        let stored = api::store::credentials::find_github(&db, &account_user(&ann).await).await.unwrap().unwrap();
        assert!(!stored.token_encrypted.contains(TOKEN), "sealed at rest");
        ann.disconnect_github().await.unwrap();
        assert_eq!(ann.github_account().await.unwrap_err().status(), Some(404));
    }
);

async fn account_user(client: &Client) -> String {
    client.me().await.unwrap().id.0
}

db_test!(
    async fn a_pull_request_is_pushed_opened_and_remembered(backend) {
        let app = spawn_app(backend).await;
        let (owner, project, session) = github_project(&app, true).await;
        let (status, opened) = owner.create_pull_request_with_status(project.id, session.id, &CreatePullRequestRequest::default()).await.unwrap();
        assert_eq!(status, 201);
        assert_eq!(opened.pull_request_number, 1347);
        assert_eq!(opened.pull_request_url, format!("{}/octocat/Hello-World/pull/1347", app.github.url));
        assert_eq!((opened.source_branch.as_str(), opened.target_branch.as_str()), (session.github_branch_name.as_str(), "main"));
        assert_eq!(opened.title, "Add a greeting");

        let created = app.github.requests_to("POST", "/repos/octocat/Hello-World/pulls");
        assert_eq!(created.len(), 1);
        let sent = &created[0].body;
        assert_eq!(sent["head"], session.github_branch_name.as_str());
        assert_eq!(sent["base"], "main");
        assert_eq!(sent["title"], "Add a greeting");
        let body = sent["body"].as_str().unwrap();
        assert!(body.starts_with("Says hello.\n\nCommits:\n- "), "{body}");
        assert!(body.contains("kosuke: changes before opening the pull request"), "{body}");
        let listed = app.github.requests_to("GET", "/repos/octocat/Hello-World/pulls");
        assert!(listed[0].query.contains(&format!("head=octocat%3A{}", session.github_branch_name)), "{}", listed[0].query);

        let origin = app.remotes.path().join("octocat/Hello-World.git");
        let repo = git2::Repository::open_bare(&origin).unwrap();
        assert!(repo.refname_to_id(&format!("refs/heads/{}", session.github_branch_name)).is_ok(), "the branch was pushed");
        let remembered = owner.get_chat_session(project.id, session.id).await.unwrap();
        assert_eq!((remembered.pull_request_number, remembered.pull_request_url.clone()), (Some(1347), Some(opened.pull_request_url.clone())));
        let status = owner.get_branch_status(project.id, session.id).await.unwrap();
        assert_eq!(status.pull_request, Some(PullRequestRef { number: 1347, url: opened.pull_request_url.clone() }));
        assert!(status.pushed);

        let (again_status, again) = owner.create_pull_request_with_status(project.id, session.id, &CreatePullRequestRequest::default()).await.unwrap();
        assert_eq!((again_status, again.pull_request_number), (200, 1347), "the open pull request is returned");
        assert_eq!(app.github.requests_to("POST", "/repos/octocat/Hello-World/pulls").len(), 1, "not opened twice");
    }
);

db_test!(
    async fn pull_request_failures_get_their_own_answers(backend) {
        let app = spawn_app(backend).await;
        let (owner, project, session) = github_project(&app, false).await;
        let request = CreatePullRequestRequest::default();
        let none = owner.create_pull_request(project.id, session.id, &request).await.unwrap_err();
        assert_eq!((none.status(), none.code()), (Some(422), Some(ErrorCode::NoChanges)));
        assert!(app.github.requests_to("POST", "/pulls").is_empty(), "nothing was sent to GitHub");

        std::fs::write(app.checkout_dir(&session).join("change.txt"), "x").unwrap();
        app.github.fail_next_pull(PullFailure::BadCredentials);
        let bad = owner.create_pull_request(project.id, session.id, &request).await.unwrap_err();
        assert_eq!((bad.status(), bad.code()), (Some(401), Some(ErrorCode::GithubUnauthorized)));

        app.github.fail_next_pull(PullFailure::ForbiddenToken);
        let forbidden = owner.create_pull_request(project.id, session.id, &request).await.unwrap_err();
        assert_eq!((forbidden.status(), forbidden.code()), (Some(403), Some(ErrorCode::GithubForbidden)));
        let sentence = forbidden.to_string();
        assert!(sentence.contains("`repo`") && sentence.contains("Pull requests: write") && sentence.contains("Contents: write"), "{sentence}");

        app.github.fail_next_pull(PullFailure::RateLimited);
        let response = reqwest::Client::new()
            .post(app.url(&format!("/api/projects/{}/chat-sessions/{}/pull-request", project.id, session.id)))
            .bearer_auth(owner.create_api_token(&CreateApiTokenRequest { name: "t".into() }).await.unwrap().token)
            .json(&serde_json::json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 429);
        let wait: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((80..=90).contains(&wait), "{wait}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["code"], "rate_limited");

        app.github.fail_next_pull(PullFailure::NoCommits);
        let github_says_none = owner.create_pull_request(project.id, session.id, &request).await.unwrap_err();
        assert_eq!(github_says_none.status(), Some(422));

        app.github.accept_token("ghp_gistOnly", "octocat", "gist");
        owner.connect_github(&ConnectGitHubRequest { token: "ghp_gistOnly".into() }).await.unwrap();
        let scoped = owner.create_pull_request(project.id, session.id, &request).await.unwrap_err();
        assert_eq!(scoped.status(), Some(403));
        assert!(scoped.to_string().contains("not `repo`"), "{scoped}");

        let overridden = CreatePullRequestRequest { github_token: Some(TOKEN.into()), ..Default::default() };
        let opened = owner.create_pull_request(project.id, session.id, &overridden).await.unwrap();
        assert_eq!(opened.pull_request_number, 1347, "a token in the request overrides the connected one");
        assert_eq!(owner.get_chat_session(project.id, session.id).await.unwrap().pull_request_number, Some(1347));

        let local_origin = app.origin("plain", &[("a", "b")], &[]);
        let plain = app.project_from(&owner, "plain", &local_origin).await;
        let plain_session = owner
            .create_chat_session(plain.id, &CreateChatSessionRequest { title: "p".into(), description: None, base_branch: None })
            .await
            .unwrap();
        let not_github = owner.create_pull_request(plain.id, plain_session.id, &request).await.unwrap_err();
        assert_eq!((not_github.status(), not_github.code()), (Some(422), Some(ErrorCode::NotGithub)));
    }
);

db_test!(
    async fn github_branches_are_listed_across_every_page(backend) {
        let app = spawn_app(backend).await;
        let (owner, project, session) = github_project(&app, false).await;
        let mut names: Vec<String> = (0..7).map(|n| format!("feature-{n}")).collect();
        names.push("main".into());
        names.push(session.github_branch_name.clone());
        app.github.set_branches(&names, 3);
        let listed = owner.list_branches(project.id).await.unwrap();
        let got: Vec<&str> = listed.branches.iter().map(|b| b.name.as_str()).collect();
        let mut expected: Vec<&str> = names.iter().map(String::as_str).filter(|n| !n.starts_with("kosuke-chat-")).collect();
        expected.sort();
        assert_eq!(got, expected);
        assert!(listed.branches.iter().any(|b| b.name == "main" && b.is_default));
        let pages: Vec<String> = app.github.requests_to("GET", "/repos/octocat/Hello-World/branches").into_iter().map(|r| r.query).collect();
        assert_eq!(pages.len(), 3, "{pages:?}");
        assert!(pages[1].contains("page=2") && pages[2].contains("page=3"), "{pages:?}");
        let settings = owner.get_default_branch(project.id).await.unwrap();
        assert_eq!(settings.available_branches.len(), 8);
    }
);

db_test!(
    async fn the_token_never_appears_in_responses_logs_or_git_config(backend) {
        let logs = captured_logs();
        let app = spawn_app(backend).await;
        let (owner, project, session) = github_project(&app, true).await;
        let http = reqwest::Client::new();
        let token = owner.create_api_token(&CreateApiTokenRequest { name: "scan".into() }).await.unwrap().token;
        app.github.fail_next_pull(PullFailure::BadCredentials);
        let mut bodies = Vec::new();
        let p = format!("/api/projects/{}", project.id);
        let s = format!("{p}/chat-sessions/{}", session.id);
        for (method, path) in [
            ("POST", format!("{s}/pull-request")),
            ("POST", format!("{s}/pull-request")),
            ("GET", "/api/me/github".to_owned()),
            ("GET", p.clone()),
            ("GET", s.clone()),
            ("GET", format!("{s}/branch-status")),
            ("GET", format!("{p}/github/branches")),
            ("GET", format!("{p}/audit")),
        ] {
            let mut request = http.request(method.parse().unwrap(), app.url(&path)).bearer_auth(&token);
            if method == "POST" {
                request = request.json(&serde_json::json!({}));
            }
            bodies.push(request.send().await.unwrap().text().await.unwrap());
        }
        let put = http.put(app.url("/api/me/github")).bearer_auth(&token).json(&serde_json::json!({"token": TOKEN})).send().await.unwrap();
        bodies.push(put.text().await.unwrap());
        for body in &bodies {
            assert!(!body.contains(TOKEN), "a response holds the token: {body}");
        }
        assert!(bodies[1].contains("pull_request_url"), "the second attempt opened the pull request: {}", bodies[1]);
        let logged = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
        assert!(logged.contains("/pull-request"), "the logs were captured");
        assert!(!logged.contains(TOKEN), "the logs hold the token");
        let project_dir = app.data_dir.path().join(format!("projects/{}", project.id));
        let config = std::fs::read_to_string(project_dir.join("mirror.git/config")).unwrap();
        assert!(!config.contains(TOKEN) && !config.contains("x-access-token"), "{config}");
        for entry in walk(&project_dir) {
            if entry.file_name().is_some_and(|n| n == "config" || n == "FETCH_HEAD") {
                assert!(!std::fs::read_to_string(&entry).unwrap_or_default().contains(TOKEN), "{}", entry.display());
            }
        }
    }
);

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(walk(&path));
        } else {
            found.push(path);
        }
    }
    found
}
