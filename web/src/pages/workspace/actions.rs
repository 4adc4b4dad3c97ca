//! What a chat's menu does, against the API.

use crate::components::sidebar::SessionAction;
use crate::state::client;
use api_types::*;
use client::ClientError;

/// Where to go after an action.
pub enum After {
    /// With what the server said happened besides (a live run stopped first).
    Stay(Option<String>),
    /// The open chat's messages and files changed (a revert).
    Reload,
    /// Its files changed, and what happened is said (an update from the base).
    Changed(String),
    /// A new chat to open (a duplicate, a fork).
    Open(ChatSessionPk),
    /// The chat is gone; what else happened (a run stopped, the remote branch kept).
    Deleted(Option<String>),
}

pub async fn perform(project: ProjectId, session: ChatSessionPk, action: SessionAction) -> Result<After, ClientError> {
    let update = |status: Option<ChatSessionStatus>, title: Option<String>| UpdateChatSessionRequest {
        title,
        description: None,
        status,
    };
    let api = client();
    match action {
        SessionAction::Rename(title) => {
            api.update_chat_session(project, session, &update(None, Some(title))).await.map(|s| After::Stay(s.notice))
        }
        SessionAction::Archive => api
            .update_chat_session(project, session, &update(Some(ChatSessionStatus::Archived), None))
            .await
            .map(|s| After::Stay(s.notice)),
        SessionAction::Unarchive => api
            .update_chat_session(project, session, &update(Some(ChatSessionStatus::Active), None))
            .await
            .map(|s| After::Stay(s.notice)),
        SessionAction::Duplicate => api
            .duplicate_chat_session(project, session, &DuplicateChatSessionRequest::default())
            .await
            .map(|copy| After::Open(copy.id)),
        SessionAction::Delete => api.delete_chat_session(project, session).await.map(|d| After::Deleted(d.notice)),
        SessionAction::RevertTo(message) => api.revert(project, session, message).await.map(|_| After::Reload),
        SessionAction::UndoRevert => api.undo_revert(project, session).await.map(|_| After::Reload),
        SessionAction::Update => {
            api.update_session(project, session, &UpdateSessionRequest::default()).await.map(|done| {
                let base = done.session.base_branch.clone().unwrap_or_else(|| "the base".to_owned());
                let mut said = match (done.outcome, &done.session.update_conflict) {
                    (UpdateOutcome::UpToDate, _) => format!("Already up to date with {base}."),
                    (UpdateOutcome::Updated, _) if done.pushed => format!("Updated from {base} and pushed."),
                    (UpdateOutcome::Updated, _) => format!("Updated from {base}."),
                    (UpdateOutcome::Conflicted, Some(c)) => {
                        format!("Updating from {base} stopped on conflicts in {}.", c.paths.join(", "))
                    }
                    (UpdateOutcome::Conflicted, None) => format!("Updating from {base} stopped on conflicts."),
                };
                if let Some(notice) = done.notice {
                    said = format!("{said} {notice}");
                }
                After::Changed(said)
            })
        }
        SessionAction::AbortUpdate => api.abort_update(project, session).await.map(|_| After::Reload),
        SessionAction::ForkFrom(message) => api
            .fork(project, session, &ForkRequest { message_id: message, title: None })
            .await
            .map(|fork| After::Open(fork.id)),
    }
}
