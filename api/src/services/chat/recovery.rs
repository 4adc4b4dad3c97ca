//! Start-up after a crash: each run the server's end interrupted gets its message back from
//! its journal and its own commit of what it wrote.

use super::commit::commit_message;
use super::transcript::Transcript;
use crate::store::{self, runs::RunEnd};
use crate::workspaces::blocking;
use api_types::{RunEvent, RunStatus};
use checkout::Checkout;

/// At start-up, each run the server's end interrupted gets its message back from its journal
/// (what had streamed), and what it had written becomes its own commit (its processes died
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
        if let Err(err) = recover_message(db, secrets, run, commit_sha).await {
            tracing::warn!(run_id = run.id, error = %crate::error::Report(&err), "could not recover an interrupted run's message");
        }
    }
}

/// An interrupted run's message, made again from its journal.
async fn recover_message(
    db: &sea_orm::DatabaseConnection,
    secrets: &crate::secrets::SecretBox,
    run: &entity::agent_run::Model,
    commit_sha: Option<String>,
) -> Result<(), store::StoreError> {
    let Some(message_id) = run.assistant_message_id else { return Ok(()) };
    let pieces = store::runs::journal(db, run.id).await?;
    if pieces.is_empty() {
        // Nothing streamed, or a run from before journals: the message is as it was saved.
        return Ok(());
    }
    let events = pieces.iter().map(|piece| {
        let opened = secrets.open(piece).unwrap_or_default();
        serde_json::from_str::<Vec<RunEvent>>(&opened).unwrap_or_default()
    });
    let message = Transcript::replay(events).sealed(secrets, &["The server stopped during the turn."]);
    let end = RunEnd {
        run_id: run.id,
        status: RunStatus::Interrupted,
        error: Some("The server stopped while the run was live.".to_owned()),
        message_id,
        message,
        commit_sha,
        question: false,
    };
    store::runs::finish(db, end).await
}
