//! The spare checkout's setup, made ahead: run in the spare under the project's checkout queue
//! (so no session adopts it half set up), its outcome kept beside it in
//! `{project}/spare-setup.json` with the commit and a digest of the command and the files. A
//! session adopting the spare takes the outcome (`SpareTaken`) instead of running the setup
//! again, when the digest still matches.

use super::setup::{Outcome, RunValues, resolve};
use super::{Workspaces, blocking};
use crate::process_log::ProcessLog;
use agent::process::ProcessEnd;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// How a spare's setup went, kept beside it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SpareSetup {
    commit: String,
    digest: String,
    command: String,
    log: String,
    exit_code: Option<i32>,
    started_at: chrono::DateTime<chrono::Utc>,
    finished_at: chrono::DateTime<chrono::Utc>,
}

impl Workspaces {
    /// Sets up the project's spare checkout ahead (the caller holds the project's checkout
    /// queue, so no session adopts it half set up), unless it was set up for this commit and
    /// digest already.
    pub(super) async fn set_up_spare(&self, project_id: i32) {
        let dir = self.project_dir(project_id);
        let (spare, record_path, mirror_path) = (dir.spare(), spare_record(&dir), dir.mirror());
        let commit = {
            let spare = spare.clone();
            match blocking(move || Ok(checkout::Mirror::open(&mirror_path)?.spare_at(&spare))).await {
                Ok(Some(oid)) => oid.to_string(),
                _ => return,
            }
        };
        let plan = match self.plan(project_id).await {
            Ok(plan) => plan,
            Err(err) => {
                return tracing::warn!(project_id, error = %err, "could not load the run settings for the spare");
            }
        };
        if self.place_files(project_id, &spare, &plan).await.is_err() {
            return;
        }
        let Some(command) = resolve(plan.own.as_ref(), &RunValues::of_checkout(&spare)).setup else { return };
        let digest = plan.digest(&command);
        let kept = read_record(&record_path);
        if kept.is_some_and(|kept| kept.commit == commit && kept.digest == digest) {
            return;
        }
        let _ = std::fs::remove_file(&record_path);
        let log = ProcessLog::new();
        let outcome = self.run_setup(&spare, &plan, command, &log).await;
        let record = SpareSetup {
            commit,
            digest,
            command: outcome.command,
            log: outcome.log,
            exit_code: outcome.end.code(),
            started_at: outcome.started_at,
            finished_at: outcome.finished_at,
        };
        if let Err(err) = serde_json::to_vec(&record)
            .map_err(std::io::Error::other)
            .and_then(|bytes| std::fs::write(&record_path, bytes))
        {
            tracing::warn!(project_id, error = %err, "could not keep the spare's setup");
        }
    }

    /// Takes the adopted spare's setup record (at the adopted commit), removing it.
    pub(super) fn take_spare_setup(dir: &checkout::ProjectDir, commit: &str) -> Option<SpareTaken> {
        let path = spare_record(dir);
        let record = read_record(&path);
        let _ = std::fs::remove_file(&path);
        record.filter(|record| record.commit == commit).map(|record| SpareTaken { record })
    }
}

/// The setup record of a spare a session adopted.
pub(super) struct SpareTaken {
    record: SpareSetup,
}

impl SpareTaken {
    pub(super) fn digest(&self) -> &str {
        &self.record.digest
    }

    /// The spare's setup as the session's own.
    pub(super) fn into_outcome(self) -> Outcome {
        let record = self.record;
        let end = record.exit_code.map_or(ProcessEnd::Failed("it was stopped".into()), ProcessEnd::Exited);
        Outcome {
            command: record.command,
            log: record.log,
            end,
            started_at: record.started_at,
            finished_at: record.finished_at,
        }
    }
}

fn read_record(path: &Path) -> Option<SpareSetup> {
    std::fs::read(path).ok().and_then(|bytes| serde_json::from_slice(&bytes).ok())
}

fn spare_record(dir: &checkout::ProjectDir) -> PathBuf {
    dir.root().join("spare-setup.json")
}
