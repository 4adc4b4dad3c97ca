//! The project's setup in each new checkout: its files copied in (and kept out of commits
//! unless the repository tracks them), then its setup command (`npm ci`…) run in the
//! sandbox, with the project's variables, its log streamed while it runs and kept after. The
//! session is `setting_up` meanwhile, and `setup_failed` (with the log's tail) when it fails;
//! the user retries or skips it.
//!
//! The spare checkout made ahead for a project is set up ahead too, its outcome kept beside it
//! (`{project}/spare-setup.json`: the commit, a digest of the command and files, the log). A
//! session adopting that spare takes the outcome instead of running the setup again, when the
//! digest still matches. Under bubblewrap every checkout is at `/workspace`, so what a setup
//! wrote (absolute paths in a virtualenv, say) stays true after the spare is renamed.
//!
//! The settings in force are the project's own (`project_run_settings`) over the repository's
//! `kosuke.json`, read from the checkout itself: a session branch that changes it is set up by
//! its own.

use super::spare_setup::SpareTaken;
use super::{Start, Workspaces, blocking};
use crate::error::ApiError;
use crate::process_log::ProcessLog;
use crate::secrets::SecretBox;
use crate::store;
use agent::process::ProcessEnd;
use agent::{GitDirs, Place};
use api_types::{SetupState, WorkspaceState};
use checkout::Checkout;
use entity::{chat_session, project_run_settings};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The repository's own run settings, at its root.
pub const REPOSITORY_FILE: &str = "kosuke.json";
/// The largest `kosuke.json` read.
const MAX_REPOSITORY_FILE: usize = 64 * 1024;
/// Lines of the log a failed setup's error shows.
const TAIL_LINES: usize = 20;

/// The three run values: those of a `kosuke.json` (the same keys as the project's run
/// settings; unknown keys are left alone, other tools may share the file), or those in force
/// ([`resolve`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct RunValues {
    #[serde(default)]
    pub setup: Option<String>,
    #[serde(default)]
    pub dev: Option<String>,
    #[serde(default)]
    pub readiness_path: Option<String>,
}

impl RunValues {
    pub fn parse(bytes: &[u8]) -> Result<RunValues, String> {
        serde_json::from_slice(bytes).map_err(|err| format!("{REPOSITORY_FILE} cannot be used: {err}"))
    }

    /// The checkout's own `kosuke.json`: none when it has none or it cannot be used (logged).
    pub(super) fn of_checkout(root: &Path) -> RunValues {
        let read =
            Checkout::open(root).and_then(|checkout| checkout.read_file(REPOSITORY_FILE, MAX_REPOSITORY_FILE as u64));
        match read.ok().and_then(|content| content.text) {
            Some(text) => RunValues::parse(text.as_bytes())
                .inspect_err(|why| tracing::info!(checkout = %root.display(), "{why}"))
                .unwrap_or_default(),
            None => RunValues::default(),
        }
    }
}

/// The run values in force: each of the project's own, else the repository's.
pub fn resolve(own: Option<&project_run_settings::Model>, repo: &RunValues) -> RunValues {
    let pick = |own: Option<&String>, repo: &Option<String>| {
        own.filter(|v| !v.trim().is_empty()).or(repo.as_ref().filter(|v| !v.trim().is_empty())).cloned()
    };
    RunValues {
        setup: pick(own.and_then(|o| o.setup_command.as_ref()), &repo.setup),
        dev: pick(own.and_then(|o| o.dev_command.as_ref()), &repo.dev),
        readiness_path: pick(own.and_then(|o| o.readiness_path.as_ref()), &repo.readiness_path),
    }
}

/// What a project gives each new checkout: its settings, its files, its variables.
pub struct Plan {
    pub own: Option<project_run_settings::Model>,
    pub files: Vec<(String, Vec<u8>)>,
    pub env: Vec<(String, String)>,
}

impl Plan {
    /// Names what a setup depends on: the command and the files (a spare set up under another
    /// digest is set up again).
    pub(super) fn digest(&self, command: &str) -> String {
        let mut hash = Sha256::new();
        hash.update(command.as_bytes());
        for (path, content) in &self.files {
            hash.update([0]);
            hash.update(path.as_bytes());
            hash.update([0]);
            hash.update(content);
        }
        hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// What setups need of the server, and the logs of those running.
pub struct Setups {
    secrets: SecretBox,
    sandbox: Result<sandbox::Sandbox, sandbox::Unavailable>,
    /// What a setup must never see (the data dir).
    hidden: Vec<PathBuf>,
    timeout: Duration,
    live: Mutex<HashMap<i32, Arc<ProcessLog>>>,
}

impl Setups {
    pub fn new(
        secrets: SecretBox,
        sandbox: Result<sandbox::Sandbox, sandbox::Unavailable>,
        hidden: Vec<PathBuf>,
        timeout: Duration,
    ) -> Setups {
        Setups { secrets, sandbox, hidden, timeout, live: Mutex::new(HashMap::new()) }
    }

    /// A fresh log for the session's next setup.
    pub(super) fn begin_log(&self, session_pk: i32) -> Arc<ProcessLog> {
        let log = ProcessLog::new();
        self.live().insert(session_pk, log.clone());
        log
    }

    fn live(&self) -> std::sync::MutexGuard<'_, HashMap<i32, Arc<ProcessLog>>> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A setup run in one checkout.
pub(super) struct Outcome {
    pub(super) command: String,
    pub(super) log: String,
    pub(super) end: ProcessEnd,
    pub(super) started_at: chrono::DateTime<chrono::Utc>,
    pub(super) finished_at: chrono::DateTime<chrono::Utc>,
}

impl Workspaces {
    /// The project's settings, files (opened) and variables, for its new checkouts.
    pub async fn plan(&self, project_id: i32) -> Result<Plan, ApiError> {
        let own = store::run_settings::find(&self.db, project_id).await?;
        let mut files = Vec::new();
        for file in store::run_settings::files(&self.db, project_id).await? {
            let content = self.setups.secrets.open(&file.content_encrypted).map_err(ApiError::internal)?;
            files.push((file.path, content.into_bytes()));
        }
        let env = crate::services::env_vars::for_processes(&self.db, &self.setups.secrets, project_id).await?;
        Ok(Plan { own, files, env })
    }

    /// The run values in force in the checkout at `root`: the project's own over its
    /// `kosuke.json`.
    pub async fn run_values(&self, project_id: i32, root: &Path) -> Result<RunValues, ApiError> {
        let own = store::run_settings::find(&self.db, project_id).await?;
        let checkout = root.to_owned();
        let repo = blocking(move || Ok(RunValues::of_checkout(&checkout))).await?;
        Ok(resolve(own.as_ref(), &repo))
    }

    /// Runs the session's setup again in the background (`retry_setup`).
    pub fn start_setup_retry(
        self: &Arc<Self>,
        lock: Arc<tokio::sync::Mutex<()>>,
        session: chat_session::Model,
        start: Start,
    ) {
        // Its log exists from now on, so a watcher never finds none while it waits to start.
        self.setups.begin_log(session.id);
        let workspaces = Arc::clone(self);
        self.background.spawn(async move { workspaces.retry_setup(&lock, &session, start).await });
    }

    /// Runs the setup again in the session's checkout (made, and so set up, first if it is
    /// not on disk).
    pub async fn retry_setup(&self, lock: &tokio::sync::Mutex<()>, session: &chat_session::Model, start: Start) {
        {
            let _guard = lock.lock().await;
            let path = self.project_dir(session.project_id).checkout(&session.session_id);
            let found = path.clone();
            if blocking(move || Ok(Checkout::open(&found).is_ok())).await.unwrap_or(false) {
                return self.set_up(session, &path, None).await;
            }
        }
        if let Err(err) = self.ensure_checkout(lock, session, start).await {
            tracing::warn!(session_pk = session.id, error = %err, "could not make the checkout to set up");
        }
    }

    /// The log of the session's setup while it runs.
    pub fn live_setup(&self, session_pk: i32) -> Option<Arc<ProcessLog>> {
        self.setups.live().get(&session_pk).cloned()
    }

    /// Sets up the session's new checkout at `root` (the caller holds its checkout lock):
    /// files, then the setup command, unless `spare` (the outcome of the adopted spare's
    /// setup) already did it. Records the outcome on the session; a failure is the session's
    /// `setup_failed`, never an error of the checkout. The checkout is measured before the end
    /// is recorded: who sees it ready sees its size.
    pub(super) async fn set_up(&self, session: &chat_session::Model, root: &Path, spare: Option<SpareTaken>) {
        let (state, error) = self.run_set_up(session, root, spare).await;
        self.measure_disk(session).await;
        let failed = state == Some(SetupState::Failed);
        if let Err(err) = store::run_settings::set_setup_state(&self.db, session.id, state, error, true).await {
            tracing::error!(session_pk = session.id, error = %crate::error::Report(&err), "could not record the setup's end");
        }
        if let Some(log) = self.setups.live().remove(&session.id) {
            let state = if failed { WorkspaceState::SetupFailed } else { WorkspaceState::Ready };
            log.end(state.as_str());
        }
    }

    /// `set_up`'s work, up to the state it ends in (and why it failed), which the caller records.
    async fn run_set_up(
        &self,
        session: &chat_session::Model,
        root: &Path,
        spare: Option<SpareTaken>,
    ) -> (Option<SetupState>, Option<String>) {
        let set_state = |state: Option<SetupState>, error: Option<String>, ready: bool| {
            store::run_settings::set_setup_state(&self.db, session.id, state, error, ready)
        };
        let recorded = |result: Result<(), store::StoreError>| {
            if let Err(err) = result {
                tracing::error!(session_pk = session.id, error = %crate::error::Report(&err), "could not record the setup");
            }
        };
        let plan = match self.plan(session.project_id).await {
            Ok(plan) => plan,
            Err(err) => {
                tracing::error!(session_pk = session.id, error = %err, "could not load the project's run settings");
                let error = "The project's run settings could not be read; retry the setup.".to_owned();
                return (Some(SetupState::Failed), Some(error));
            }
        };
        let placed = self.place_files(session.project_id, root, &plan).await;
        let repo = RunValues::of_checkout(root);
        let Some(command) = resolve(plan.own.as_ref(), &repo).setup else {
            let error =
                placed.err().map(|err| format!("The project's files could not be copied in: {}", err.body().error));
            return (error.is_some().then_some(SetupState::Failed), error);
        };
        if let Some(taken) = spare.filter(|taken| taken.digest() == plan.digest(&command) && placed.is_ok()) {
            return self.keep_setup(session.id, &taken.into_outcome()).await;
        }
        // The log a retry made ready, else a new one.
        // Not one statement: the map's guard would still be held when `begin_log` locks it.
        let prepared = self.setups.live().get(&session.id).cloned();
        let log = prepared.unwrap_or_else(|| self.setups.begin_log(session.id));
        let started = store::run_settings::SetupRecord {
            command: &command,
            log: "",
            exit_code: None,
            started_at: store::now(),
            finished_at: None,
        };
        recorded(store::run_settings::save_setup(&self.db, session.id, started).await);
        recorded(set_state(Some(SetupState::Running), None, true).await);
        let outcome = match placed {
            Ok(()) => self.run_setup(root, &plan, command, &log).await,
            Err(err) => {
                let now = store::now();
                let why = format!("the project's files could not be copied in: {}", err.body().error);
                Outcome { command, log: String::new(), end: ProcessEnd::Failed(why), started_at: now, finished_at: now }
            }
        };
        self.keep_setup(session.id, &outcome).await
    }

    /// Copies the project's files into the checkout and keeps them out of its commits.
    pub(super) async fn place_files(&self, project_id: i32, root: &Path, plan: &Plan) -> Result<(), ApiError> {
        if plan.files.is_empty() {
            return Ok(());
        }
        let (root, files) = (root.to_owned(), plan.files.clone());
        let mirror_path = self.project_dir(project_id).mirror();
        blocking(move || {
            let paths: Vec<String> = files.iter().map(|(path, _)| path.clone()).collect();
            checkout::Mirror::open(&mirror_path)?.exclude_copied(&paths)?;
            Checkout::open(&root)?.place_files(&files)
        })
        .await
    }

    /// Runs the setup command in the sandbox at `root`, each line to `log`.
    pub(super) async fn run_setup(&self, root: &Path, plan: &Plan, command: String, log: &ProcessLog) -> Outcome {
        let started_at = store::now();
        let end = match &self.setups.sandbox {
            Err(unavailable) => ProcessEnd::Failed(format!("no sandbox can be enforced here ({})", unavailable.reason)),
            Ok(sandbox) => match self.place(root, plan.env.clone()).await {
                Ok(place) => {
                    let limit = Some(self.setups.timeout);
                    agent::process::run(sandbox, &place, &command, &[], limit, |line| log.push(line)).await
                }
                Err(err) => ProcessEnd::Failed(err.body().error),
            },
        };
        Outcome { command, log: log.text(), end, started_at, finished_at: store::now() }
    }

    /// Where a session process (the agent's commands, the setup) runs in the checkout at
    /// `root`, with the project's variables `env`: its git metadata to read, the data dir hidden.
    pub async fn place(&self, root: &Path, env: Vec<(String, String)>) -> Result<Place, ApiError> {
        let checkout = root.to_owned();
        let git = blocking(move || Ok(Checkout::open(&checkout)?.git_dirs())).await?;
        Ok(Place {
            workdir: root.to_owned(),
            env,
            git: git.map(|(worktree, common)| GitDirs { worktree, common }),
            hidden: self.setups.hidden.clone(),
        })
    }

    /// Keeps the setup's command and log; gives the state it ends in, with why it failed.
    async fn keep_setup(&self, session_pk: i32, outcome: &Outcome) -> (Option<SetupState>, Option<String>) {
        let (state, error) = if outcome.end.success() {
            (SetupState::Done, None)
        } else {
            let tail = crate::process_log::tail(&outcome.log, TAIL_LINES);
            let what = outcome.end.describe("setup command");
            (SetupState::Failed, Some(if tail.is_empty() { what } else { format!("{what}\n{tail}") }))
        };
        let record = store::run_settings::SetupRecord {
            command: &outcome.command,
            log: &outcome.log,
            exit_code: outcome.end.code(),
            started_at: outcome.started_at,
            finished_at: Some(outcome.finished_at),
        };
        if let Err(err) = store::run_settings::save_setup(&self.db, session_pk, record).await {
            tracing::error!(session_pk, error = %crate::error::Report(&err), "could not keep the setup's log");
        }
        (Some(state), error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_project_settings_override_the_repository_file_one_by_one() {
        let repo = RunValues::parse(br#"{"setup": "npm ci", "dev": "npm run dev", "other": 1}"#).unwrap_or_default();
        let own = project_run_settings::Model {
            project_id: 1,
            setup_command: None,
            dev_command: Some("vite --port $PORT".into()),
            readiness_path: Some("  ".into()),
            updated_at: chrono::Utc::now(),
        };
        let resolved = resolve(Some(&own), &repo);
        assert_eq!(resolved.setup.as_deref(), Some("npm ci"));
        assert_eq!(resolved.dev.as_deref(), Some("vite --port $PORT"));
        assert_eq!(resolved.readiness_path, None);
        assert!(RunValues::parse(br#"{"setup": 3}"#).unwrap_err().contains("kosuke.json"));
    }
}
