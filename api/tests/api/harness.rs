//! The test harness: a fresh database per test (a SQLite file, or a new PostgreSQL database
//! when the test runs on PostgreSQL), a real server on a random port, typed clients.

use api::settings::AgentSettings;
use fakes::github::FakeGitHub;
use fakes::model::FakeModel;

/// The API key the fake model provider is configured with.
pub const MODEL_API_KEY: &str = "sk-kosuke-test-key-0123456789";
use api::settings::Settings;
use api::startup::Application;
use api_types::{
    ChatSession, CreateProjectRequest, Project, ProjectId, RepositorySource, RepositoryState, SignupRequest, User,
    WorkspaceState,
};
use client::Client;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use std::sync::atomic::{AtomicU32, Ordering};
use tempfile::TempDir;

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs a test body once on SQLite (`…::sqlite`) and once on PostgreSQL (`…::postgres`). The
/// PostgreSQL variant needs `TEST_DATABASE_URL`; without it, nextest's default profile leaves
/// it out (see `.config/nextest.toml`) and a direct run fails saying so.
#[macro_export]
macro_rules! db_test {
    ($(#[$meta:meta])* async fn $name:ident($backend:ident) $body:block) => {
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($backend: $crate::harness::Backend) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                run($crate::harness::Backend::Sqlite).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                run($crate::harness::Backend::Postgres).await
            }
        }
    };
}

/// A database made for one test, dropped afterwards.
pub struct TestDatabase {
    pub url: String,
    _dir: Option<TempDir>,
    postgres: Option<(String, String)>,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl TestDatabase {
    pub async fn create(backend: Backend) -> TestDatabase {
        match backend {
            Backend::Sqlite => {
                let dir = TempDir::new().expect("temp dir");
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
                TestDatabase { url, _dir: Some(dir), postgres: None }
            }
            Backend::Postgres => {
                let admin_url = std::env::var("TEST_DATABASE_URL").expect(
                    "TEST_DATABASE_URL must point at a PostgreSQL server (e.g. postgres://postgres@127.0.0.1:5432/postgres) \
                     to run the PostgreSQL variant of this test",
                );
                let name = format!(
                    "kosuke_test_{}_{}_{}",
                    std::process::id(),
                    COUNTER.fetch_add(1, Ordering::SeqCst),
                    api::auth::secret::new_session_id()
                );
                let admin = Database::connect(&admin_url).await.expect("connect to TEST_DATABASE_URL");
                admin
                    .execute_raw(Statement::from_string(
                        admin.get_database_backend(),
                        format!("CREATE DATABASE {name}"),
                    ))
                    .await
                    .expect("create test database");
                admin.close().await.ok();
                let url = api::db::with_database(&admin_url, &name);
                TestDatabase { url, _dir: None, postgres: Some((admin_url, name)) }
            }
        }
    }

    pub async fn connect(&self) -> DatabaseConnection {
        api::db::connect(&self.url).await.expect("connect to the test database")
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some((admin_url, name)) = self.postgres.take() else {
            return;
        };
        // Drop runs outside any async context we can borrow; use a small runtime of our own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            runtime.block_on(async {
                let admin = Database::connect(&admin_url).await.ok()?;
                admin
                    .execute_raw(Statement::from_string(
                        admin.get_database_backend(),
                        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                    ))
                    .await
                    .ok()?;
                admin.close().await.ok()
            })
        })
        .join();
    }
}

/// A running server and what it stands on.
pub struct TestApp {
    pub address: String,
    /// Where the server keeps mirrors and checkouts; removed with the app.
    pub data_dir: TempDir,
    pub database: TestDatabase,
    /// Bare repositories standing in for remotes; GitHub projects clone from
    /// `{remotes}/{owner}/{repo}.git`.
    pub remotes: TempDir,
    /// The fake GitHub API the server talks to.
    pub github: FakeGitHub,
    /// The fake model provider (Anthropic by default; see `spawn_app_with`).
    pub model: FakeModel,
    settings: Settings,
    /// The server's state, when it runs in this process (`spawn_app`): for injecting faults
    /// and counting what it keeps.
    state: Option<actix_web::web::Data<api::state::AppState>>,
    /// The `kosuke` process and its environment, when the app is the real binary
    /// (`spawn_binary`).
    _process: Option<(ServerProcess, Vec<(String, String)>)>,
}

/// A `kosuke serve` process, killed when dropped.
struct ServerProcess(std::process::Child);

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A second `kosuke serve` process (`TestApp::another_node`).
pub struct OtherNode {
    pub address: String,
    pub data_dir: TempDir,
    process: Option<ServerProcess>,
}

impl OtherNode {
    pub fn client(&self) -> Client {
        Client::new(&self.address)
    }

    /// `kill -9`: nothing is saved or stopped.
    pub fn kill(&mut self) {
        drop(self.process.take());
    }
}

/// What a server under test stands on: a fresh database, a data dir, remotes, the fakes.
struct Surroundings {
    database: TestDatabase,
    data_dir: TempDir,
    remotes: TempDir,
    github: FakeGitHub,
    model: FakeModel,
}

impl Surroundings {
    async fn new(backend: Backend) -> Surroundings {
        crate::logs::captured_logs();
        Surroundings {
            database: TestDatabase::create(backend).await,
            data_dir: TempDir::new().expect("temp dir"),
            remotes: TempDir::new().expect("temp dir"),
            github: FakeGitHub::start().await,
            model: FakeModel::start().await,
        }
    }
}

/// Dev server ports for one server of this test process: a block of 100 of 45000-54999 by
/// process id (nextest runs each test in its own process), and 5 of that block per server
/// (`cargo test` runs every test in one process), so that servers running at once do not
/// meet (a port taken anyway is skipped when it is leased).
pub fn preview_ports() -> std::ops::RangeInclusive<u16> {
    static SERVERS: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);
    let server = SERVERS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 20;
    let base = 45000 + (std::process::id() % 100) as u16 * 100 + server * 5;
    base..=base + 4
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

pub async fn spawn_app_with(backend: Backend, configure: impl FnOnce(&mut Settings)) -> TestApp {
    let Surroundings { database, data_dir, remotes, github, model } = Surroundings::new(backend).await;
    let mut settings = Settings::new("127.0.0.1:0", data_dir.path());
    settings.agent = AgentSettings {
        provider: Some("anthropic".into()),
        model: Some("claude-test".into()),
        base_url: Some(model.url.clone()),
        api_key: Some(MODEL_API_KEY.into()),
        command: None,
        stall_timeout: Some(std::time::Duration::from_secs(2)),
        max_duration: Some(std::time::Duration::from_secs(30)),
        ..AgentSettings::default()
    };
    settings.database_url = Some(database.url.clone());
    settings.github_api_url = github.url.clone();
    settings.github_git_url = remotes.path().display().to_string();
    // The test's origins are where any user may take a server path from.
    settings.repo_roots = vec![remotes.path().to_owned()];
    settings.previews.ports = preview_ports();
    configure(&mut settings);
    let (address, state) = start(settings.clone()).await;
    TestApp { address, data_dir, database, remotes, github, model, settings, state: Some(state), _process: None }
}

/// The real `kosuke` binary as an operator starts it, with the server's own settings in its
/// environment (`DATABASE_URL` for the test database, the fakes' URLs) plus `env`: for tests of
/// what a running server lets reach its children.
pub async fn spawn_binary(backend: Backend, env: &[(&str, &str)]) -> TestApp {
    spawn_binary_at(backend, free_port(), env).await
}

/// A port nothing listens on now.
pub fn free_port() -> u16 {
    // Below the kernel's ephemeral range (32768 and up: where `bind(0)` and every client
    // connection of the tests take their ports, so one could take it before the server binds
    // it), from a block of 100 of this process, each checked free.
    static NEXT: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);
    let block = 20000 + (std::process::id() % 120) as u16 * 100;
    loop {
        let port = block + NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 100;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// `spawn_binary` listening on `port` (known before it starts: a node's own `--node-url`).
pub async fn spawn_binary_at(backend: Backend, port: u16, env: &[(&str, &str)]) -> TestApp {
    let Surroundings { database, data_dir, remotes, github, model } = Surroundings::new(backend).await;
    let mut env: Vec<(String, String)> = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    env.splice(
        0..0,
        [
            ("DATABASE_URL", database.url.clone()),
            ("KOSUKE_GITHUB_API_URL", github.url.clone()),
            ("KOSUKE_GITHUB_GIT_URL", remotes.path().display().to_string()),
            ("KOSUKE_REPO_ROOTS", remotes.path().display().to_string()),
            ("KOSUKE_AGENT_BASE_URL", model.url.clone()),
            ("RUST_LOG", "warn".to_owned()),
        ]
        .map(|(k, v)| (k.to_owned(), v)),
    );
    let (process, address) = start_binary_at(port, data_dir.path(), &env).await;
    let settings = Settings::new("127.0.0.1:0", data_dir.path());
    TestApp {
        address,
        data_dir,
        database,
        remotes,
        github,
        model,
        settings,
        state: None,
        _process: Some((process, env)),
    }
}

/// Starts `kosuke serve` on `data_dir` with `env` (and no other KOSUKE_ setting of the test
/// process) and waits until it answers.
async fn start_binary(data_dir: &std::path::Path, env: &[(String, String)]) -> (ServerProcess, String) {
    start_binary_at(free_port(), data_dir, env).await
}

async fn start_binary_at(port: u16, data_dir: &std::path::Path, env: &[(String, String)]) -> (ServerProcess, String) {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_kosuke"));
    for (key, _) in std::env::vars().filter(|(key, _)| key.starts_with("KOSUKE_")) {
        command.env_remove(key);
    }
    command
        .args(["serve", "--bind", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(data_dir)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(std::process::Stdio::null());
    let process = ServerProcess(command.spawn().expect("start kosuke"));
    let address = format!("http://127.0.0.1:{port}");
    let client = Client::new(&address);
    for _ in 0..200 {
        if client.health().await.is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    (process, address)
}

/// Stores a message straight into the database, counting it on its session as the server
/// does, for tests that read messages back.
pub async fn insert_message(
    db: &DatabaseConnection,
    session: &ChatSession,
    user: &User,
    role: api_types::MessageRole,
    content: String,
) -> api_types::MessageId {
    use sea_orm::{ActiveModelTrait, EntityTrait, QueryFilter, Set};
    let at = api::store::now();
    let model = entity::chat_message::ActiveModel {
        project_id: Set(session.project_id.0),
        chat_session_id: Set(session.id.0),
        user_id: Set(Some(user.id.0.clone())),
        role: Set(role),
        content: Set(content),
        created_at: Set(at),
        updated_at: Set(at),
        ..Default::default()
    }
    .insert(db)
    .await
    .expect("insert a message");
    entity::chat_session::Entity::update_many()
        .col_expr(
            entity::chat_session::Column::MessageCount,
            sea_orm::sea_query::ExprTrait::add(
                sea_orm::sea_query::Expr::col(entity::chat_session::Column::MessageCount),
                1,
            ),
        )
        .filter(sea_orm::ColumnTrait::eq(&entity::chat_session::Column::Id, session.id.0))
        .exec(db)
        .await
        .expect("count the message");
    api_types::MessageId(model.id)
}

async fn start(settings: Settings) -> (String, actix_web::web::Data<api::state::AppState>) {
    let app = Application::build(settings).await.expect("build the application");
    let address = format!("http://127.0.0.1:{}", app.port());
    let state = app.state.clone();
    tokio::spawn(app.run_until_stopped());
    (address, state)
}

impl TestApp {
    /// The server's process id, when the app is the real binary.
    pub fn server_pid(&self) -> Option<u32> {
        self._process.as_ref().map(|(process, _)| process.0.id())
    }

    /// Kills the binary (SIGKILL, as a crash or `kill -9` would) and starts it again on the same
    /// data dir and database; clients must be made anew for the new address.
    /// `kill -9` of the binary app.
    pub fn kill_binary(&mut self) {
        drop(self._process.take());
    }

    /// Freezes (`SIGSTOP`) or thaws (`SIGCONT`) the binary: it answers nothing while frozen,
    /// its connections stay open.
    pub fn signal_binary(&self, signal: &str) {
        let (process, _) = self._process.as_ref().expect("the app is the binary");
        let status = std::process::Command::new("kill").args([signal, &process.0.id().to_string()]).status();
        assert!(status.is_ok_and(|s| s.success()), "kill {signal}");
    }

    pub async fn kill_and_restart_binary(&mut self) {
        let (process, env) = self._process.take().expect("a binary app");
        drop(process);
        let (process, address) = start_binary(self.data_dir.path(), &env).await;
        self.address = address;
        self._process = Some((process, env));
    }

    /// Starts a second server on the same data dir and database, as after a restart (the
    /// start-up sweep runs); clients must be made anew for the new address.
    pub async fn restart(&mut self) {
        let (address, state) = start(self.settings.clone()).await;
        (self.address, self.state) = (address, Some(state));
    }

    /// Builds another server from this app's settings changed by `configure` (not started):
    /// for start-ups that are to be refused.
    pub async fn build_beside(&self, configure: impl FnOnce(&mut Settings)) -> Result<Application, String> {
        let mut settings = self.settings.clone();
        configure(&mut settings);
        Application::build(settings).await.map_err(|err| err.to_string())
    }

    /// The in-process server's state.
    pub fn state(&self) -> &api::state::AppState {
        self.state.as_ref().expect("an app in this process (spawn_app)")
    }

    /// Stops the binary as an operator does (SIGTERM) and waits until it has exited; `true`
    /// when it exited successfully.
    pub async fn terminate_binary(&mut self) -> bool {
        let (mut process, _) = self._process.take().expect("a binary app");
        let sent = std::process::Command::new("kill").args(["-TERM", &process.0.id().to_string()]).status();
        assert!(sent.is_ok_and(|s| s.success()), "SIGTERM sent");
        let status = tokio::task::spawn_blocking(move || {
            let status = process.0.wait();
            std::mem::forget(process);
            status
        });
        status.await.expect("wait").is_ok_and(|s| s.success())
    }

    /// Starts the binary again on the same data dir and database, after `terminate_binary`,
    /// with `extra` in its environment too.
    pub async fn start_binary_again(&mut self, env: Vec<(String, String)>) {
        let (process, address) = start_binary(self.data_dir.path(), &env).await;
        self.address = address;
        self._process = Some((process, env));
    }

    /// Another `kosuke serve` on `port` beside this binary app: the same database and fakes,
    /// a data dir of its own, this app's environment with `overrides`.
    pub async fn another_node(&self, port: u16, overrides: &[(&str, String)]) -> OtherNode {
        let data_dir = TempDir::new().expect("data dir");
        let mut env = self.binary_env();
        env.retain(|(key, _)| !overrides.iter().any(|(k, _)| k == key));
        env.extend(overrides.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
        let (process, address) = start_binary_at(port, data_dir.path(), &env).await;
        OtherNode { address, data_dir, process: Some(process) }
    }

    /// The binary's environment (to start it again).
    pub fn binary_env(&self) -> Vec<(String, String)> {
        self._process.as_ref().map(|(_, env)| env.clone()).unwrap_or_default()
    }

    /// The directory of a session's checkout.
    pub fn checkout_dir(&self, session: &api_types::ChatSession) -> std::path::PathBuf {
        self.data_dir
            .path()
            .join("projects")
            .join(session.project_id.to_string())
            .join("sessions")
            .join(&session.session_id)
    }

    /// A bare repository named `name` whose `main` holds `files`, plus each of `branches`
    /// (one commit each on top of main). Its path serves as a `local` project source.
    pub fn origin(&self, name: &str, files: &[(&str, &str)], branches: &[&str]) -> std::path::PathBuf {
        let path = self.remotes.path().join(format!("{name}.git"));
        let repo = git2::Repository::init_bare(&path).expect("init origin");
        let signature = git2::Signature::now("Origin", "origin@example.test").expect("signature");
        let mut builder = repo.treebuilder(None).expect("tree builder");
        for (file, content) in files {
            let blob = repo.blob(content.as_bytes()).expect("blob");
            builder.insert(file, blob, 0o100644).expect("insert");
        }
        let tree = repo.find_tree(builder.write().expect("tree")).expect("find tree");
        let main = repo.commit(Some("refs/heads/main"), &signature, &signature, "first", &tree, &[]).expect("commit");
        let parent = repo.find_commit(main).expect("parent");
        for branch in branches {
            let mut builder = repo.treebuilder(Some(&tree)).expect("tree builder");
            let blob = repo.blob(format!("on {branch}\n").as_bytes()).expect("blob");
            builder.insert("BRANCH.txt", blob, 0o100644).expect("insert");
            let branch_tree = repo.find_tree(builder.write().expect("tree")).expect("find tree");
            repo.commit(
                Some(&format!("refs/heads/{branch}")),
                &signature,
                &signature,
                &format!("on {branch}"),
                &branch_tree,
                &[&parent],
            )
            .expect("branch commit");
        }
        repo.set_head("refs/heads/main").expect("head");
        path
    }

    /// Waits until the project's repository is cloned (or failed) and returns it.
    pub async fn ready(&self, client: &Client, project: ProjectId) -> Project {
        for _ in 0..200 {
            let current = client.get_project(project).await.expect("get project");
            if current.repository_state != RepositoryState::Cloning {
                return current;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("the repository of project {project} was not ready in time");
    }

    /// Waits until the session's checkout is made and set up (or failed) and returns it.
    pub async fn ready_session(&self, client: &Client, session: &ChatSession) -> ChatSession {
        for _ in 0..400 {
            let current = client.get_chat_session(session.project_id, session.id).await.expect("get session");
            if !matches!(current.workspace_state, WorkspaceState::Provisioning | WorkspaceState::SettingUp) {
                return current;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("the checkout of session {} was not ready in time", session.id);
    }

    /// A project on a local origin repository, ready for sessions.
    pub async fn project_from(&self, client: &Client, name: &str, origin: &std::path::Path) -> Project {
        let project = client
            .create_project(&CreateProjectRequest {
                name: name.to_owned(),
                description: None,
                repository: RepositorySource::Local { path: origin.display().to_string() },
                default_branch: None,
            })
            .await
            .expect("create project");
        let project = self.ready(client, project.id).await;
        assert_eq!(project.repository_state, RepositoryState::Ready, "{:?}", project.repository_error);
        project
    }

    /// A client that is not signed in.
    pub fn client(&self) -> Client {
        Client::new(&self.address)
    }

    /// A plain HTTP client for requests the typed client cannot make (malformed bodies…).
    pub fn http(&self) -> reqwest::Client {
        reqwest::Client::builder().cookie_store(true).build().expect("http client")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// Signs up a new user named `name` and returns a client signed in as them.
    pub async fn user(&self, name: &str) -> (Client, User) {
        let client = self.client();
        let user = client
            .signup(&SignupRequest {
                email: format!("{name}@example.test"),
                password: format!("{name}-password"),
                display_name: name.to_owned(),
            })
            .await
            .expect("sign up");
        (client, user)
    }

    /// Creates a project (a new empty repository) owned by the client's user, ready for sessions.
    pub async fn project(&self, client: &Client, name: &str) -> Project {
        let project = client
            .create_project(&CreateProjectRequest {
                name: name.to_owned(),
                description: None,
                repository: RepositorySource::Empty,
                default_branch: None,
            })
            .await
            .expect("create project");
        self.ready(client, project.id).await
    }
}

#[test]
fn postgres_urls_get_the_new_database_name() {
    use api::db::with_database;
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:5432/postgres", "t1"),
        "postgres://postgres@127.0.0.1:5432/t1"
    );
    assert_eq!(with_database("postgres://u@h/db?sslmode=disable", "t2"), "postgres://u@h/t2?sslmode=disable");
    assert_eq!(with_database("postgres://u@h", "t3"), "postgres://u@h/t3");
}

/// Adds a commit to `main` of the bare repository at `origin` (as a push from elsewhere would)
/// that writes `file`; gives the commit.
pub fn commit_on_main(origin: &std::path::Path, file: &str, content: &str, message: &str) -> git2::Oid {
    let repo = git2::Repository::open_bare(origin).expect("open the origin");
    let head = repo.find_reference("refs/heads/main").and_then(|r| r.peel_to_commit()).expect("main");
    let mut tree = repo.treebuilder(Some(&head.tree().expect("tree"))).expect("tree builder");
    tree.insert(file, repo.blob(content.as_bytes()).expect("blob"), 0o100644).expect("insert");
    let tree = repo.find_tree(tree.write().expect("write tree")).expect("tree");
    let signature = git2::Signature::now("Origin", "origin@example.test").expect("signature");
    repo.commit(Some("refs/heads/main"), &signature, &signature, message, &tree, &[&head]).expect("commit")
}
