//! Updating a session from its base branch, for the session's owner: the base fetched (within
//! the fetch bound), the checkout's uncommitted work committed, then a merge or a rebase
//! (`checkout::Checkout::update_from`), pushed when clean and the project has a remote. The
//! head before is kept on `refs/kosuke/update/{session_id}`. Stopped on conflicts, the session
//! records them (`chat_sessions.update_conflict`) until the agent's next turn concludes the
//! update (the turn's commit is the merge commit, or the rebase goes on) or the user aborts it.

use crate::access::ProjectAccess;
use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::services::checkpoints::audit;
use crate::services::{radar, sessions};
use crate::state::AppState;
use crate::store;
use crate::workspaces::blocking;
use actix_web::web;
use api_types::{
    ChatSession, ChatSessionStatus, ErrorCode, UpdateConflict, UpdateOutcome, UpdateResult, UpdateSessionRequest,
    UpdateStrategy,
};
use checkout::{Author, Checkout, Credentials, Mirror};
use entity::chat_session;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Where a session's head before its last update is kept (in the project's mirror).
fn backup_ref(session: &chat_session::Model) -> String {
    format!("refs/kosuke/update/{}", session.session_id)
}

/// What `chat_sessions.update_conflict` holds: the wire's conflict, and the commits a stopped
/// rebase already rewrote (the turns follow them once it is concluded).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Stored {
    #[serde(flatten)]
    conflict: UpdateConflict,
    #[serde(default)]
    rewritten: Vec<(String, String)>,
}

fn stored(session: &chat_session::Model) -> Option<Stored> {
    session.update_conflict.as_deref().and_then(|json| serde_json::from_str(json).ok())
}

fn strategy_of(strategy: UpdateStrategy) -> checkout::UpdateStrategy {
    match strategy {
        UpdateStrategy::Merge => checkout::UpdateStrategy::Merge,
        UpdateStrategy::Rebase => checkout::UpdateStrategy::Rebase,
    }
}

fn merge_message(base: &str, session: &chat_session::Model) -> String {
    format!("Merge {base} into {}", session.github_branch_name)
}

fn shas<T: ToString>(rewritten: &[(T, T)]) -> Vec<(String, String)> {
    rewritten.iter().map(|(old, new)| (old.to_string(), new.to_string())).collect()
}

/// Brings the base branch's tip into the session branch.
pub async fn update(
    state: &web::Data<AppState>,
    user: &CurrentUser,
    project_id: i32,
    session_pk: i32,
    request: UpdateSessionRequest,
) -> Result<UpdateResult, ApiError> {
    let arrived = std::time::SystemTime::now();
    let access = ProjectAccess::load(&state.db, project_id, user).await?;
    let session = store::sessions::load_for_user(&state.db, access.id(), session_pk, &user.id).await?;
    if session.status == ChatSessionStatus::Archived {
        return Err(ApiError::conflict(ErrorCode::WorkspaceNotReady, "The session is archived; restore it first."));
    }
    if session.update_conflict.is_some() {
        return Err(checkout::CheckoutError::UpdateInProgress.into());
    }
    sessions::require_repository(&access)?;
    let strategy = request.strategy.unwrap_or(access.project.update_strategy);
    let owner = state.runtime.owner(session.id);
    let _work = sessions::idle_work(&owner, "update").await?;
    let credentials = crate::services::github::git_credentials(state, &user.id, &access.project).await?;
    let notice = state.workspaces.refresh(&access.project, credentials.clone(), arrived).await?;
    let root = sessions::checkout(state, &session).await?;
    let base = session.base_branch.clone().unwrap_or_else(|| access.project.default_branch.clone());
    let (mirror_path, backup, author) =
        (state.workspaces.project_dir(project_id).mirror(), backup_ref(&session), user.author());
    let (base_name, message) = (base.clone(), merge_message(&base, &session));
    let (base_sha, outcome) = blocking(move || {
        let base_oid = Mirror::open(&mirror_path)?.resolve_branch(&base_name)?;
        let checkout = Checkout::open(&root)?;
        checkout.commit_all(&format!("kosuke: keep uncommitted work before updating from {base_name}"), &author)?;
        let outcome = checkout.update_from(base_oid, strategy_of(strategy), &backup, &author, &message)?;
        Ok((base_oid.to_string(), outcome))
    })
    .await?;
    let (shown, head, rewritten, conflict) = match outcome {
        checkout::UpdateOutcome::UpToDate => (UpdateOutcome::UpToDate, None, Vec::new(), None),
        checkout::UpdateOutcome::Updated { head, rewritten } => {
            (UpdateOutcome::Updated, Some(head), shas(&rewritten), None)
        }
        checkout::UpdateOutcome::Conflicted { paths, rewritten } => {
            let conflict = UpdateConflict { strategy, base_branch: base.clone(), base_sha: base_sha.clone(), paths };
            (UpdateOutcome::Conflicted, None, Vec::new(), Some(Stored { conflict, rewritten: shas(&rewritten) }))
        }
    };
    let pushed = match head {
        Some(_) => push(state, &access.project, &session, credentials).await,
        None => false,
    };
    let txn = store::begin(&state.db).await.map_err(ApiError::internal)?;
    store::messages::rewrite_commits(&txn, session.id, &rewritten).await?;
    let recorded = conflict.as_ref().map(|c| serde_json::to_string(c).unwrap_or_default());
    let detail = json!({
        "updated_from": base, "base_sha": base_sha, "strategy": strategy, "outcome": shown,
        "conflicts": conflict.as_ref().map(|c| &c.conflict.paths), "pushed": pushed,
    });
    let session = match recorded {
        Some(json) => store::sessions::set_update_conflict(&txn, session, Some(json)).await?,
        None => session,
    };
    audit(&txn, user, &session, detail).await?;
    store::commit(txn).await.map_err(ApiError::internal)?;
    let head_sha = match head {
        Some(head) => {
            // The branch (and maybe the base) moved: the radar's merges, made ahead.
            radar::warm(state, access.project, user.id.clone());
            head.to_string()
        }
        None => head_of(state, &session).await?,
    };
    Ok(UpdateResult { outcome: shown, head_sha, pushed, session: entity::convert::chat_session(session), notice })
}

/// Abandons an update stopped on conflicts: the branch back at its head before, the checkout
/// clean.
pub async fn abort(
    state: &AppState,
    user: &CurrentUser,
    project_id: i32,
    session_pk: i32,
) -> Result<ChatSession, ApiError> {
    let session = sessions::load(&state.db, user, project_id, session_pk).await?;
    if session.update_conflict.is_none() {
        return Err(ApiError::conflict(ErrorCode::Conflict, "The chat has no update stopped on conflicts."));
    }
    let owner = state.runtime.owner(session.id);
    let _work = sessions::idle_work(&owner, "abort the update of").await?;
    let root = sessions::checkout(state, &session).await?;
    let backup = backup_ref(&session);
    let head = blocking(move || Checkout::open(&root)?.abort_update(&backup)).await?;
    let txn = store::begin(&state.db).await.map_err(ApiError::internal)?;
    let session = store::sessions::set_update_conflict(&txn, session, None).await?;
    audit(&txn, user, &session, json!({"update_aborted": true, "head": head.to_string()})).await?;
    store::commit(txn).await.map_err(ApiError::internal)?;
    Ok(entity::convert::chat_session(session))
}

/// A turn's end on a session whose update stopped on conflicts: the update concluded with the
/// files as the turn left them (`Some(head)`: the merge commit, or the rebase's last commit),
/// or still stopped (`None`, nothing committed: markers remain). Run in place of the turn's
/// own commit.
pub(crate) async fn conclude_after_turn(
    state: &AppState,
    session_pk: i32,
    root: std::path::PathBuf,
    author: Author,
) -> Result<Option<String>, ApiError> {
    let session = store::sessions::find(&state.db, session_pk).await?;
    let Some(mut kept) = stored(&session) else { return Ok(None) };
    let message = merge_message(&kept.conflict.base_branch, &session);
    let outcome = blocking(move || Checkout::open(&root)?.conclude_update(&author, &message)).await?;
    let (head, recorded) = match outcome {
        checkout::UpdateOutcome::Conflicted { paths, rewritten } => {
            kept.conflict.paths = paths;
            kept.rewritten.extend(shas(&rewritten));
            (None, Some(serde_json::to_string(&kept).unwrap_or_default()))
        }
        checkout::UpdateOutcome::Updated { head, rewritten } => {
            kept.rewritten.extend(shas(&rewritten));
            (Some(head.to_string()), None)
        }
        checkout::UpdateOutcome::UpToDate => (None, None),
    };
    let txn = store::begin(&state.db).await.map_err(ApiError::internal)?;
    if head.is_some() {
        store::messages::rewrite_commits(&txn, session.id, &kept.rewritten).await?;
    }
    store::sessions::set_update_conflict(&txn, session, recorded).await?;
    store::commit(txn).await.map_err(ApiError::internal)?;
    Ok(head)
}

/// What the agent is told on a session whose update stopped on conflicts: the files, which
/// side is which, and the conflicted regions as they are in the checkout (bounded).
pub(crate) async fn instructions(
    session: &chat_session::Model,
    root: std::path::PathBuf,
) -> Result<Option<String>, ApiError> {
    let Some(kept) = stored(session) else { return Ok(None) };
    let paths = kept.conflict.paths.clone();
    let regions = blocking(move || Checkout::open(&root)?.conflict_regions(&paths, 8 * 1024, 32 * 1024)).await?;
    let (ours, theirs) = match kept.conflict.strategy {
        UpdateStrategy::Merge => ("this chat's branch", format!("{} (the base)", kept.conflict.base_branch)),
        // A rebase replays the chat's commits onto the base: "ours" is the base.
        UpdateStrategy::Rebase => {
            ("the base, with this chat's earlier commits replayed", "this chat's commit being replayed".to_owned())
        }
    };
    let mut text = format!(
        "<merge_conflicts>\nUpdating this chat's branch from {base} ({strategy}) stopped on conflicts in {n} file(s). \
         Each conflict is marked in the file: the lines after `<<<<<<< ` are {ours}'s, after `=======` {theirs}'s, \
         until `>>>>>>> `. Edit each file so it keeps what both sides meant, with no marker line left; your turn's \
         commit then concludes the update.\n",
        base = kept.conflict.base_branch,
        strategy = if kept.conflict.strategy == UpdateStrategy::Merge { "merge" } else { "rebase" },
        n = kept.conflict.paths.len(),
    );
    for (path, region) in regions {
        text.push_str(&format!("\n{path}:\n```\n{region}\n```\n"));
    }
    text.push_str("</merge_conflicts>");
    Ok(Some(text))
}

/// Pushes the session branch when the project has a remote; a failed push is logged and said
/// by `pushed: false` (the branch status shows it unpushed).
async fn push(
    state: &AppState,
    project: &entity::project::Model,
    session: &chat_session::Model,
    credentials: Option<Credentials>,
) -> bool {
    let pushed = state.workspaces.push_branch(project.id, &session.github_branch_name, credentials).await;
    pushed.unwrap_or_else(|err| {
        tracing::warn!(session_pk = session.id, error = %err.body().error, "the updated branch was not pushed");
        false
    })
}

async fn head_of(state: &AppState, session: &chat_session::Model) -> Result<String, ApiError> {
    let branch = session.github_branch_name.clone();
    state.workspaces.with_mirror(session.project_id, move |mirror| Ok(mirror.branch_head(&branch)?.to_string())).await
}
