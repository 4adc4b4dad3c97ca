//! Start-up after a crash: each run the server's end interrupted gets its message back from
//! its stored events and its own commit of what it wrote.

use super::commit::commit_message;
use super::transcript::Transcript;
use crate::store::{self, runs::RunEnd};
use crate::workspaces::blocking;
use api_types::{RunEvent, RunStatus};
use checkout::Checkout;

/// At start-up, each run the server's end interrupted gets its message back from its stored
/// events (what had streamed), and what it had written becomes its own commit (its processes died
/// with the server: nothing writes there any more), so that the next turn's commit holds only
/// the next turn's work.
pub async fn commit_interrupted(
    db: &sea_orm::DatabaseConnection,
    secrets: &crate::secrets::SecretBox,
    workspaces: &crate::workspaces::Workspaces,
    runs: &[entity::agent_run::Model],
) {
    for run in runs {
        let Ok(session) = store::sessions::find(db, run.chat_session_id).await else { continue };
        let prompt = match run.user_message_id {
            Some(id) => store::messages::find(db, id).await.ok().flatten().map(|m| secrets.open_message(m).content),
            None => None,
        };
        let mut message = commit_message(prompt.as_deref().unwrap_or("Agent changes"));
        message.push_str("\n\nThe agent's turn ended early (interrupted: the server stopped).");
        let path = workspaces.project_dir(session.project_id).checkout(&session.session_id);
        let author = checkout::Author { name: "kosuke".into(), email: "kosuke@localhost".into() };
        let committed = blocking(move || match Checkout::open(&path) {
            Ok(checkout) => Ok(checkout.commit_all(&message, &author)?.map(|oid| oid.to_string())),
            Err(_) => Ok(None),
        })
        .await;
        let commit_sha = match committed {
            Ok(Some(sha)) => {
                tracing::info!(run_id = run.id, %sha, "committed what an interrupted run wrote");
                Some(sha)
            }
            Ok(None) => None,
            Err(err) => {
                tracing::warn!(run_id = run.id, error = %err.body().error, "could not commit what an interrupted run wrote");
                None
            }
        };
        if let Err(err) =
            recover_message(db, secrets, run, commit_sha, "The server stopped while the run was live.").await
        {
            tracing::warn!(run_id = run.id, error = %crate::error::Report(&err), "could not recover an interrupted run's message");
        }
    }
}

/// Each run interrupted on a node that died gets its message back from its stored events (its
/// checkout, and what it wrote there, died with the node).
pub async fn recover_messages(
    db: &sea_orm::DatabaseConnection,
    secrets: &crate::secrets::SecretBox,
    runs: &[entity::agent_run::Model],
    error: &str,
) {
    for run in runs {
        if let Err(err) = recover_message(db, secrets, run, None, error).await {
            tracing::warn!(run_id = run.id, error = %crate::error::Report(&err), "could not recover a taken-over run's message");
        }
    }
}

/// An interrupted run's message, made again from its stored events (or the journal of a run
/// from before them).
async fn recover_message(
    db: &sea_orm::DatabaseConnection,
    secrets: &crate::secrets::SecretBox,
    run: &entity::agent_run::Model,
    commit_sha: Option<String>,
    error: &str,
) -> Result<(), store::StoreError> {
    let Some(message_id) = run.assistant_message_id else { return Ok(()) };
    let stored = crate::events::opened(secrets, store::events::of_run(db, run.chat_session_id, run.id).await?);
    let pieces: Vec<Vec<RunEvent>> = if stored.is_empty() {
        // A run from before events were stored: its journal.
        store::runs::journal(db, run.id)
            .await?
            .iter()
            .map(|piece| serde_json::from_str(&secrets.open(piece).unwrap_or_default()).unwrap_or_default())
            .collect()
    } else {
        vec![stored.into_iter().map(|(_, event)| event).collect()]
    };
    if pieces.is_empty() {
        // Nothing streamed: the message is as it was saved.
        return Ok(());
    }
    let message = Transcript::replay(pieces).sealed(secrets, &[error]);
    let end = RunEnd {
        run_id: run.id,
        status: RunStatus::Interrupted,
        error: Some(error.to_owned()),
        message_id,
        message,
        commit_sha,
        question: false,
    };
    store::runs::finish(db, end).await
}

/// Tells each interrupted run's watchers, on any node, that it ended: its `run_finished`
/// (`interrupted`) is published and stored after the events it had, and its deltas pruned.
pub async fn announce_interrupted(state: &crate::state::AppState, runs: &[entity::agent_run::Model]) {
    for run in runs {
        let owner = state.runtime.owner(run.chat_session_id);
        if let Err(err) = owner.events.ready(&state.runtime.events, &state.db).await {
            tracing::warn!(run_id = run.id, error = %crate::error::Report(&err), "could not announce an interrupted run");
            continue;
        }
        owner
            .events
            .publish(RunEvent::RunFinished { run_id: api_types::RunId(run.id), status: RunStatus::Interrupted });
        owner.events.prune(run.id);
    }
}
