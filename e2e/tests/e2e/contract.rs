//! The API keeps its OpenAPI document: schemathesis (installed by `cargo xtask test` into
//! `target/schemathesis`) runs every check against the real binary, signed in, on seeded data,
//! with the settings and the few justified exceptions of `e2e/schemathesis.toml`.

use api_types::*;
use e2e::*;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;

/// The schemathesis the test command installs.
fn schemathesis() -> PathBuf {
    let st = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/schemathesis/bin/st");
    assert!(
        st.is_file(),
        "{} is missing: `cargo xtask test` installs schemathesis from PyPI into target/schemathesis",
        st.display()
    );
    st
}

fn signup(email: &str, name: &str) -> SignupRequest {
    SignupRequest {
        email: email.to_owned(),
        password: "correct horse battery".to_owned(),
        display_name: name.to_owned(),
    }
}

mod schemathesis_finds_the_server_as_documented {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::run(None).await;
    }

    /// Needs `TEST_DATABASE_URL`; `cargo xtask test` runs it when that is set.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        let database = e2e::PostgresDatabase::create();
        super::run(Some(database.url.clone())).await;
    }
}

/// One schemathesis at a time in this process (`cargo test` runs both variants side by side;
/// nextest's `schemathesis` test group does the same across processes).
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn run(database_url: Option<String>) {
    let _turn = ONE_AT_A_TIME.lock().await;
    let st = schemathesis();
    let stack = stack_on(database_url).await;

    // Two accounts: the admin schemathesis signs in as, and another it may add as a member or
    // disable (never itself, or every later case would be 401).
    let admin = client::Client::new(&stack.address);
    admin.signup(&signup("admin@example.com", "Admin")).await.unwrap();
    let other = client::Client::new(&stack.address);
    let member = other.signup(&signup("member@example.com", "Member")).await.unwrap();
    let token = admin.create_api_token(&CreateApiTokenRequest { name: "schemathesis".into() }).await.unwrap();
    let spare_token = admin.create_api_token(&CreateApiTokenRequest { name: "to delete".into() }).await.unwrap();
    let api = client::Client::new(&stack.address).with_token(&token.token);

    // A local project with two sessions (one to delete), a spare project to delete, and a
    // GitHub project whose session can open pull requests against the fake GitHub.
    let local = stack.remotes.path().join("local.git");
    origin(&local);
    let local_path = local.display().to_string();
    let project = |name: &str, repository: RepositorySource| CreateProjectRequest {
        name: name.to_owned(),
        description: None,
        repository,
        default_branch: None,
    };
    let main =
        api.create_project(&project("Local", RepositorySource::Local { path: local_path.clone() })).await.unwrap();
    let spare =
        api.create_project(&project("Spare", RepositorySource::Local { path: local_path.clone() })).await.unwrap();
    origin(&stack.remotes.path().join("octocat/Hello-World.git"));
    stack.github.accept_token("ghp_schemathesis", "octocat", "repo");
    api.connect_github(&ConnectGitHubRequest { token: "ghp_schemathesis".into() }).await.unwrap();
    let hello = api
        .create_project(&project(
            "Hello",
            RepositorySource::Github { owner: "octocat".into(), repo: "Hello-World".into() },
        ))
        .await
        .unwrap();
    for id in [main.id, spare.id, hello.id] {
        wait_until_cloned(&api, id).await;
    }
    let session =
        |title: &str| CreateChatSessionRequest { title: title.to_owned(), description: None, base_branch: None };
    let chat = api.create_chat_session(main.id, &session("First")).await.unwrap();
    let doomed = api.create_chat_session(main.id, &session("To delete")).await.unwrap();
    let pull = api.create_chat_session(hello.id, &session("Pull request")).await.unwrap();
    // A turn in each (the fake model writes a file): messages to list, and a branch with a
    // commit for the pull request.
    for (project_id, chat_session_id) in [(main.id, chat.id), (hello.id, pull.id)] {
        let prompt = "write notes".to_owned();
        api.send_chat(&ChatRequest {
            project_id,
            chat_session_id,
            prompt,
            github_token: None,
            queue: false,
            comments: Vec::new(),
        })
        .await
        .unwrap();
    }
    for (project_id, session_id) in [(main.id, chat.id), (hello.id, pull.id)] {
        wait_until_idle(&api, project_id, session_id).await;
    }
    api.set_env_var(main.id, "API_URL", "https://api.example.com").await.unwrap();
    // A turn with a commit: what revert and fork take.
    let messages = api.list_messages(main.id, chat.id, &MessageQuery::default()).await.unwrap().messages;
    let turn = messages.iter().find(|m| m.commit_sha.is_some()).expect("the seeded turn made a commit").id;
    // The seeded chat's preview is the test dev server (started and stopped by the run).
    let dev = UpdateRunSettingsRequest {
        setup: None,
        dev: Some("/usr/bin/python3 dev_server.py".into()),
        readiness_path: Some("/".into()),
    };
    api.put_run_settings(main.id, &dev).await.unwrap();

    let work = tempfile::TempDir::new().unwrap();
    let mut config =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schemathesis.toml")).unwrap();
    write!(
        config,
        r#"
# --- appended by the test: the server's own values
[auth.openapi.bearer]
bearer = "{token}"

[parameters]
"path.id" = {main}
"path.session_pk" = {chat}
"path.token_id" = {spare_token}
"path.user_id" = "{member}"
"path.key" = "API_URL"
# No such file: the coverage phase's invalid project ids are replaced by the seeded one, so a
# file that exists there would be deleted by a request the check calls invalid.
"path.file_id" = 2147483647
"path.path" = "README.md"
"body.repository.path" = "{local_path}"
"body.base_branch" = "main"
"body.default_branch" = "main"
"body.target_branch" = "main"
"body.email" = "member@example.com"
"body.token" = "ghp_schemathesis"
"body.message_id" = {turn}

# Deletes take what was made to be deleted.
[[operations]]
include-name = "DELETE /api/projects/{{id}}"
parameters = {{ "path.id" = {spare} }}

[[operations]]
include-name = "DELETE /api/projects/{{id}}/chat-sessions/{{session_pk}}"
parameters = {{ "path.session_pk" = {doomed} }}

# Pull requests are opened on the GitHub project.
[[operations]]
include-name = "POST /api/projects/{{id}}/chat-sessions/{{session_pk}}/pull-request"
parameters = {{ "path.id" = {hello}, "path.session_pk" = {pull} }}
"#,
        token = token.token,
        main = main.id,
        chat = chat.id,
        spare_token = spare_token.id,
        member = member.id,
        spare = spare.id,
        doomed = doomed.id,
        hello = hello.id,
        pull = pull.id,
        turn = turn,
    )
    .unwrap();
    let config_path = work.path().join("schemathesis.toml");
    std::fs::write(&config_path, config).unwrap();

    let output = Command::new(&st)
        .arg("--config-file")
        .arg(&config_path)
        .args(["run", "--checks", "all", "--report", "junit", "--report-dir"])
        .arg(work.path().join("report"))
        .arg(format!("{}/api/openapi.json", stack.address))
        .current_dir(work.path())
        .env("NO_COLOR", "1")
        .env("SCHEMATHESIS_HOOKS", "")
        .output()
        .expect("run schemathesis");
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "schemathesis found the server disagreeing with its document:\n{report}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    println!("{report}");
    // A run that tested nothing would pass too: it must have reached every operation.
    let tested = report
        .lines()
        .find_map(|line| line.trim().strip_prefix("Tested: "))
        .and_then(|n| n.trim().parse::<usize>().ok())
        .unwrap_or(0);
    assert!(tested >= 50, "schemathesis tested only {tested} operations:\n{report}");
}

async fn wait_until_cloned(api: &client::Client, id: ProjectId) {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let project = api.get_project(id).await.unwrap();
        match project.repository_state {
            RepositoryState::Ready => return,
            RepositoryState::Failed => panic!("project {id} did not clone: {:?}", project.repository_error),
            _ if std::time::Instant::now() > deadline => panic!("project {id} is still cloning"),
            _ => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
        }
    }
}

async fn wait_until_idle(api: &client::Client, project: ProjectId, session: ChatSessionPk) {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let runs = api.list_runs(project, session).await.unwrap();
        if runs.runs.iter().all(|run| run.status != RunStatus::Running && run.status != RunStatus::Queued) {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "session {session} is still running");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
