//! The turn's one commit: what the run changed, with a message from the prompt, pushed when
//! the project has a remote (with the user's GitHub credentials).

use super::run::Job;
use crate::state::AppState;
use crate::workspaces::blocking;
use api_types::{RepositoryKind, RunStatus};
use checkout::{Checkout, Credentials};

/// Commits what the turn changed (message from the prompt) and pushes it when the project has
/// a remote. `(sha, pushed, why the push failed)`, or `None` when nothing changed.
pub(super) async fn commit_turn(
    state: &AppState,
    job: &Job,
    status: RunStatus,
) -> Result<Option<(String, bool, Option<String>)>, String> {
    let dir = state.workspaces.project_dir(job.project.id);
    let path = dir.checkout(&job.session.session_id);
    let mut message = commit_message(&job.prompt);
    if status != RunStatus::Succeeded {
        message.push_str(&format!("\n\nThe agent's turn ended early ({}).", status_word(status)));
    }
    let author = job.user.author();
    let committed = if job.session.update_conflict.is_some() {
        // The turn on a conflicted update concludes it (its commit is the merge commit), or
        // commits nothing while markers remain.
        crate::services::update::conclude_after_turn(state, job.session.id, path, author).await
    } else {
        blocking(move || match Checkout::open(&path) {
            Ok(checkout) => Ok(checkout.commit_all(&message, &author)?.map(|oid| oid.to_string())),
            Err(_) => Ok(None),
        })
        .await
    }
    .map_err(|err| err.body().error)?;
    let Some(sha) = committed else { return Ok(None) };
    let credentials = push_credentials(state, job).await;
    let pushed = state.workspaces.push_branch(job.project.id, &job.session.github_branch_name, credentials).await;
    Ok(match pushed {
        Ok(pushed) => Some((sha, pushed, None)),
        Err(err) => Some((sha, false, Some(format!("The commit was made but not pushed: {}", err.body().error)))),
    })
}

async fn push_credentials(state: &AppState, job: &Job) -> Option<Credentials> {
    if job.project.repository_kind != RepositoryKind::Github {
        return None;
    }
    if let Some(token) = job.github_token.clone().filter(|t| !t.trim().is_empty()) {
        return Some(Credentials::github_token(token));
    }
    crate::services::github::git_credentials(state, &job.user.id, &job.project).await.ok().flatten()
}

/// The first line of the prompt, cut to 72 characters.
pub(super) fn commit_message(prompt: &str) -> String {
    let first = prompt.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("Agent changes");
    if first.chars().count() > 72 {
        format!("{}…", first.chars().take(71).collect::<String>())
    } else {
        first.to_owned()
    }
}

fn status_word(status: RunStatus) -> &'static str {
    match status {
        RunStatus::Cancelled => "cancelled",
        RunStatus::Failed => "failed",
        RunStatus::Interrupted => "interrupted",
        _ => "unfinished",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_messages_come_from_the_prompts_first_line() {
        assert_eq!(commit_message("\n  Add a login page\nwith details"), "Add a login page");
        assert_eq!(commit_message(&"x".repeat(100)).chars().count(), 72);
    }
}
