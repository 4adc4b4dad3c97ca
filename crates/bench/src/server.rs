//! A release `kosuke` server process for a benchmark, on SQLite (its embedded default) or on a
//! fresh PostgreSQL database, plus a connection to the same database for seeding and plans.

use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Where a benchmark's server keeps its data.
#[derive(Clone, Debug)]
pub enum Backend {
    Sqlite,
    /// The URL of a PostgreSQL server's maintenance database; each run gets its own database.
    Postgres(String),
}

impl Backend {
    /// SQLite always; PostgreSQL too when `BENCH_DATABASE_URL` (or `TEST_DATABASE_URL`) names one.
    pub fn all() -> Vec<Backend> {
        let mut backends = vec![Backend::Sqlite];
        if let Ok(url) = std::env::var("BENCH_DATABASE_URL").or_else(|_| std::env::var("TEST_DATABASE_URL")) {
            backends.push(Backend::Postgres(url));
        }
        backends
    }

    pub fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }
}

/// A child process, killed when dropped.
pub struct Process(pub Child);

impl Process {
    pub fn stop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.stop();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Waits until `url` answers at all.
pub async fn wait_up(url: &str) {
    for _ in 0..400 {
        if reqwest::get(url).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{url} did not come up");
}

pub fn release_binary() -> PathBuf {
    let kosuke = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/release/kosuke");
    assert!(kosuke.is_file(), "{} is missing: `cargo xtask bench` builds it", kosuke.display());
    kosuke
}

pub struct Server {
    pub address: String,
    pub database_url: String,
    pub process: Process,
    port: u16,
    env: Vec<(String, String)>,
    /// Set for PostgreSQL: the maintenance URL and the database to drop at the end.
    postgres: Option<(String, String)>,
    data: tempfile::TempDir,
}

impl Server {
    /// Starts `kosuke serve` with `env` on a fresh database and waits for it to answer.
    pub async fn start(backend: &Backend, name: &str, env: &[(&str, &str)]) -> Server {
        Self::start_at(backend, name, free_port(), env).await
    }

    /// `start` on `port` (known before it starts: a node's own `--node-url`).
    pub async fn start_at(backend: &Backend, name: &str, port: u16, env: &[(&str, &str)]) -> Server {
        let data = tempfile::TempDir::new().unwrap();
        let (database_url, postgres) = match backend {
            Backend::Sqlite => (format!("sqlite://{}?mode=rwc", data.path().join("kosuke.db").display()), None),
            Backend::Postgres(admin) => {
                let database = format!("kosuke_bench_{name}");
                let db = sea_orm::Database::connect(admin.as_str()).await.unwrap();
                execute(&db, &format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)")).await;
                execute(&db, &format!("CREATE DATABASE {database}")).await;
                (api::db::with_database(admin, &database), Some((admin.clone(), database)))
            }
        };
        let env: Vec<_> = env.iter().map(|(key, value)| (key.to_string(), value.to_string())).collect();
        let process = spawn(port, data.path(), &database_url, &env).await;
        Server { address: format!("http://127.0.0.1:{port}"), database_url, process, port, env, postgres, data }
    }

    /// Stops the server and starts it again on the same port, data and database, with `extra`
    /// environment on top of what it started with. kosuke is the only writer of its database
    /// while it runs (its read cache relies on that), so a benchmark that seeds straight into
    /// the database starts the server again before measuring.
    pub async fn restart(&mut self, extra: &[(&str, &str)]) {
        self.process.stop();
        let mut env = self.env.clone();
        env.extend(extra.iter().map(|(key, value)| (key.to_string(), value.to_string())));
        self.process = spawn(self.port, self.data.path(), &self.database_url, &env).await;
    }

    /// Another server on this one's database, on `port` with a data dir of its own: a second
    /// node. Its environment is this server's with `overrides` on top.
    pub async fn beside(&self, port: u16, overrides: &[(&str, &str)]) -> (Process, tempfile::TempDir, String) {
        let data = tempfile::TempDir::new().unwrap();
        let mut env = self.env.clone();
        env.retain(|(key, _)| !overrides.iter().any(|(k, _)| k == key));
        env.extend(overrides.iter().map(|(key, value)| (key.to_string(), value.to_string())));
        let process = spawn(port, data.path(), &self.database_url, &env).await;
        (process, data, format!("http://127.0.0.1:{port}"))
    }

    /// A message's content as this server stores it (sealed with its key), for seeding.
    pub fn sealed(&self, content: &str) -> String {
        let secrets = api::secrets::SecretBox::load(None, self.data.path()).unwrap();
        secrets.seal_message(content, None).0
    }

    /// A pool on the server's own database (SQLite in WAL mode lets both write).
    pub async fn db(&self) -> DatabaseConnection {
        api::db::connect(&self.database_url).await.unwrap()
    }

    /// Stops the server and drops its PostgreSQL database.
    pub async fn stop(self) {
        let Server { process, postgres, .. } = self;
        drop(process);
        if let Some((admin, database)) = postgres {
            let db = sea_orm::Database::connect(admin.as_str()).await.unwrap();
            execute(&db, &format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)")).await;
        }
    }
}

/// `kosuke serve` on `port`, once it answers.
async fn spawn(port: u16, data: &std::path::Path, database_url: &str, env: &[(String, String)]) -> Process {
    let mut command = Command::new(release_binary());
    command
        .args(["serve", "--bind", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(data)
        .env("DATABASE_URL", database_url)
        .env_remove("KOSUKE_AGENT_PROVIDER")
        .env_remove("KOSUKE_NO_READ_CACHE")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (key, value) in env {
        command.env(key, value);
    }
    let process = Process(command.spawn().unwrap());
    wait_up(&format!("http://127.0.0.1:{port}/api/health")).await;
    process
}

async fn execute(db: &DatabaseConnection, sql: &str) {
    db.execute_raw(Statement::from_string(db.get_database_backend(), sql.to_owned())).await.unwrap();
}

/// The password of every account a benchmark makes.
pub const PASSWORD: &str = "bench-password";

/// Signs a user up and returns a client signed in by cookie, the user, and a personal access token.
pub async fn signed_in(address: &str, email: &str) -> (client::Client, api_types::User, String) {
    use api_types::*;
    let client = client::Client::new(address);
    let user = client
        .signup(&SignupRequest { email: email.into(), password: PASSWORD.into(), display_name: "Bench".into() })
        .await
        .unwrap();
    let token = client.create_api_token(&CreateApiTokenRequest { name: "bench".into() }).await.unwrap().token;
    (client, user, token)
}

/// A project with a repository kosuke creates, once its repository is ready.
pub async fn new_project(client: &client::Client, name: &str) -> api_types::Project {
    use api_types::*;
    let request = CreateProjectRequest {
        name: name.into(),
        description: None,
        repository: RepositorySource::Empty,
        default_branch: None,
    };
    let project = client.create_project(&request).await.unwrap();
    while client.get_project(project.id).await.unwrap().repository_state == RepositoryState::Cloning {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    project
}
