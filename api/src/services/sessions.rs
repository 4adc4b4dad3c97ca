//! Chat sessions: create, list, change, delete, and their messages. A user works only in their
//! own sessions, in projects they are a member of.

use crate::access::ProjectAccess;
use crate::auth::{CurrentUser, secret};
use crate::error::ApiError;
use crate::pagination;
use crate::state::AppState;
use crate::store::{self, audit::AuditRecord, sessions::NewSession, sessions::SessionChanges, sessions::SessionFilter};
use crate::workspaces::Start;
use api_types::{
    AuditAction, ChatSession, ChatSessionDeleted, ChatSessionList, ChatSessionQuery, ChatSessionStatus,
    CreateChatSessionRequest, DuplicateChatSessionRequest, ErrorCode, MessageList, MessageOrder, MessageQuery,
    RepositoryState, UpdateChatSessionRequest, validate,
};
use checkout::Checkout;
use entity::chat_session;
use sea_orm::DatabaseConnection;
use serde_json::json;

fn title(raw: &str) -> Result<String, ApiError> {
    validate::session_title(raw).map_err(|message| ApiError::validation("title", message))
}

fn description(raw: &str) -> Result<Option<String>, ApiError> {
    validate::session_description(raw).map_err(|message| ApiError::validation("description", message))
}

/// Loads one of the caller's sessions (404 for anything else).
pub async fn load(
    db: &DatabaseConnection,
    user: &CurrentUser,
    project_id: i32,
    session_pk: i32,
) -> Result<chat_session::Model, ApiError> {
    let access = ProjectAccess::load(db, project_id, user).await?;
    Ok(store::sessions::load_for_user(db, access.id(), session_pk, &user.id).await?)
}

/// The project, checked to have its repository ready for sessions.
pub(crate) fn require_repository(access: &ProjectAccess) -> Result<(), ApiError> {
    match access.project.repository_state {
        RepositoryState::Ready => Ok(()),
        RepositoryState::Cloning => Err(ApiError::conflict(
            ErrorCode::RepositoryNotReady,
            "The project's repository is still being cloned; try again in a moment.",
        )),
        RepositoryState::Failed => Err(ApiError::conflict(
            ErrorCode::RepositoryNotReady,
            format!(
                "The project's repository could not be cloned: {}",
                access.project.repository_error.as_deref().unwrap_or("unknown error")
            ),
        )),
    }
}

/// Creates a session on its own branch. The remote is fetched first (within a time bound); the
/// checkout is made in the background (`workspace_state` turns `ready`).
pub async fn create(
    state: &AppState,
    user: &CurrentUser,
    project_id: i32,
    request: CreateChatSessionRequest,
) -> Result<ChatSession, ApiError> {
    let arrived = std::time::SystemTime::now();
    let db = &state.db;
    let access = ProjectAccess::load(db, project_id, user).await?;
    let title = title(&request.title)?;
    let description = request.description.as_deref().map(description).transpose()?.flatten();
    let base_branch = request.base_branch.unwrap_or_else(|| access.project.default_branch.clone());
    validate::branch_name(&base_branch).map_err(|message| ApiError::validation("base_branch", message))?;
    require_repository(&access)?;
    let credentials = crate::services::github::git_credentials(state, &user.id, &access.project).await?;
    let notice = state.workspaces.refresh(&access.project, credentials, arrived).await?;
    let base = base_branch.clone();
    let exists = state.workspaces.with_mirror(project_id, move |mirror| Ok(mirror.branch_exists(&base))).await?;
    if !exists {
        return Err(ApiError::validation(
            "base_branch",
            format!("The branch \"{}\" does not exist in the repository.", base_branch.escape_default()),
        ));
    }
    let new = NewSession {
        project_id,
        user_id: user.id.clone(),
        title,
        description,
        session_id: secret::new_session_id(),
        base_branch: base_branch.clone(),
    };
    let session = insert_with_audit(db, user, new, None, None).await?;
    let owner = state.runtime.owner(session.id);
    state.workspaces.start_provisioning(owner.checkout.clone(), session.clone(), Start::Branch(base_branch));
    let mut shown = entity::convert::chat_session(session);
    shown.notice = notice;
    Ok(shown)
}

/// Inserts the session and its audit record, and, for a duplicate, the source's messages: all
/// in one transaction, so a failure leaves nothing behind.
async fn insert_with_audit(
    db: &DatabaseConnection,
    user: &CurrentUser,
    new: NewSession,
    duplicated_from: Option<i32>,
    up_to: Option<i64>,
) -> Result<chat_session::Model, ApiError> {
    let project_id = new.project_id;
    let try_default = !store::sessions::has_default(db, project_id).await?;
    let txn = crate::store::begin(db).await.map_err(ApiError::internal)?;
    let mut session = store::sessions::insert(&txn, new, try_default).await?;
    if let Some(source) = duplicated_from {
        session = store::messages::copy_up_to(&txn, source, up_to, session).await?;
    }
    store::audit::record(
        &txn,
        AuditRecord {
            actor_id: &user.id,
            project_id,
            chat_session_id: Some(session.id),
            action: AuditAction::SessionCreated,
            detail: json!({"title": session.title, "branch": session.github_branch_name, "duplicated_from": duplicated_from}),
        },
    )
    .await?;
    store::commit(txn).await.map_err(ApiError::internal)?;
    Ok(session)
}

/// A new session whose branch starts at the source session's head, with its messages copied.
/// Refused (409 `session_busy`) while the source has a live run: its work is not committed
/// until the run ends.
pub async fn duplicate(
    state: &AppState,
    user: &CurrentUser,
    project_id: i32,
    session_pk: i32,
    request: DuplicateChatSessionRequest,
) -> Result<ChatSession, ApiError> {
    let db = &state.db;
    let source = load(db, user, project_id, session_pk).await?;
    // A title given is checked as given; the default one is cut to fit.
    let title = match request.title {
        Some(given) => title(&given)?,
        None => {
            title(&format!("Copy of {}", source.title).chars().take(api_types::MAX_TITLE_CHARS).collect::<String>())?
        }
    };
    let owner = state.runtime.owner(source.id);
    let _work = idle_work(&owner, "duplicate").await?;
    // Commit what the source checkout holds, so the copy starts from all of it.
    let path = state.workspaces.project_dir(project_id).checkout(&source.session_id);
    let (branch, author) = (source.github_branch_name.clone(), user.author());
    let head = state
        .workspaces
        .with_mirror(project_id, move |mirror| match Checkout::open(&path) {
            Ok(checkout) => {
                checkout.commit_all("kosuke: keep uncommitted work when duplicating", &author)?;
                Ok(checkout.head()?.to_string())
            }
            Err(_) => Ok(mirror.branch_head(&branch)?.to_string()),
        })
        .await?;
    let session = create_from(state, user, &source, title, None).await?;
    let copy = state.runtime.owner(session.id);
    state.workspaces.start_provisioning(copy.checkout.clone(), session.clone(), Start::Commit(head));
    Ok(entity::convert::chat_session(session))
}

/// A new session of the user beside `source` (its description and base branch), titled
/// `wanted`, with the source's messages copied (up to and including `up_to`, when given); its
/// checkout is for the caller to start.
pub(crate) async fn create_from(
    state: &AppState,
    user: &CurrentUser,
    source: &chat_session::Model,
    wanted: String,
    up_to: Option<i64>,
) -> Result<chat_session::Model, ApiError> {
    let new = NewSession {
        project_id: source.project_id,
        user_id: user.id.clone(),
        title: title(&wanted)?,
        description: source.description.clone(),
        session_id: secret::new_session_id(),
        base_branch: source.base_branch.clone().unwrap_or_else(|| "main".to_owned()),
    };
    insert_with_audit(&state.db, user, new, Some(source.id), up_to).await
}

/// The session's checkout, made (from its base branch) if it is not on disk.
pub(crate) async fn checkout(state: &AppState, session: &chat_session::Model) -> Result<std::path::PathBuf, ApiError> {
    let base = session.base_branch.clone().unwrap_or_else(|| "main".to_owned());
    let owner = state.runtime.owner(session.id);
    state.workspaces.ensure_checkout(&owner.checkout, session, Start::Branch(base)).await
}

/// The session's work lock, when no run is live (else 409 `session_busy`): for operations
/// that commit what the checkout holds and must not do it beside a run.
pub(crate) async fn idle_work(
    owner: &crate::runtime::SessionOwner,
    what: &str,
) -> Result<tokio::sync::OwnedMutexGuard<()>, ApiError> {
    if owner.live().is_some() {
        return Err(ApiError::conflict(
            ErrorCode::SessionBusy,
            format!("The session has a live run; {what} it once the run has ended (or stop the run)."),
        ));
    }
    // A run admitted from here on waits for this lock before it touches the checkout.
    Ok(owner.work().await)
}

/// What the response says about a run stopped before an operation.
fn stopped_notice(finished: &crate::runtime::Finished, before: &str) -> String {
    match &finished.commit_sha {
        Some(sha) => format!(
            "The live run was stopped before {before}; what it wrote is committed ({}).",
            &sha[..sha.len().min(7)]
        ),
        None => format!("The live run was stopped before {before}; it had changed no file."),
    }
}

pub async fn list(
    db: &DatabaseConnection,
    user: &CurrentUser,
    project_id: i32,
    query: ChatSessionQuery,
) -> Result<ChatSessionList, ApiError> {
    let access = ProjectAccess::load(db, project_id, user).await?;
    let limit = pagination::limit(query.limit)?;
    let after = pagination::decode_activity(query.cursor.as_deref())?;
    let search = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    let filter = SessionFilter { project_id: access.id(), user_id: &user.id, status: query.status, search };
    let (rows, total) = store::sessions::list(db, filter, after, limit + 1).await?;
    let (rows, next_cursor) =
        pagination::finish_page(rows, limit, |s| pagination::encode_activity(s.last_activity_at, s.id));
    Ok(ChatSessionList { sessions: rows.into_iter().map(entity::convert::chat_session).collect(), total, next_cursor })
}

/// Renames, describes or changes the status of a session. Archiving commits what the checkout
/// holds and releases it; leaving the archive makes the checkout again.
pub async fn update(
    state: &AppState,
    user: &CurrentUser,
    project_id: i32,
    session_pk: i32,
    request: UpdateChatSessionRequest,
) -> Result<ChatSession, ApiError> {
    let db = &state.db;
    let session = load(db, user, project_id, session_pk).await?;
    let changes = SessionChanges {
        title: request.title.as_deref().map(title).transpose()?,
        description: request.description.as_deref().map(description).transpose()?,
        status: request.status,
    };
    let detail = json!({
        "title": changes.title,
        "description_changed": changes.description.is_some(),
        "status": changes.status.map(|s| s.as_str()),
        "previous_status": session.status.as_str(),
    });
    let was_archived = session.status == ChatSessionStatus::Archived;
    let owner = state.runtime.owner(session.id);
    let mut notice = None;
    // Held until the new status is recorded: a run waiting for the session sees it.
    let _work = match changes.status {
        Some(ChatSessionStatus::Archived) if !was_archived => {
            let (stopped, work) = owner.take_over().await;
            notice = stopped.map(|finished| stopped_notice(&finished, "archiving"));
            state.previews.remove(session.id).await;
            state.workspaces.release(&owner.checkout, &session, user.author()).await?;
            Some(work)
        }
        Some(status) if was_archived && status != ChatSessionStatus::Archived => {
            let work = owner.work().await;
            let start = Start::Branch(session.base_branch.clone().unwrap_or_else(|| "main".to_owned()));
            state.workspaces.ensure_checkout(&owner.checkout, &session, start).await?;
            Some(work)
        }
        _ => None,
    };
    let session = store::sessions::load_for_user(db, project_id, session_pk, &user.id).await?;
    let txn = crate::store::begin(db).await.map_err(ApiError::internal)?;
    let session = store::sessions::update(&txn, session, changes).await?;
    store::audit::record(
        &txn,
        AuditRecord {
            actor_id: &user.id,
            project_id,
            chat_session_id: Some(session.id),
            action: AuditAction::SessionUpdated,
            detail,
        },
    )
    .await?;
    store::commit(txn).await.map_err(ApiError::internal)?;
    let mut shown = entity::convert::chat_session(session);
    shown.notice = notice;
    Ok(shown)
}

/// Deletes a session and its messages, then its checkout and local branch, and the remote
/// branch when asked (with the user's credentials; its failure is reported, not fatal). A live
/// run is stopped first and its end waited for.
pub async fn delete(
    state: &AppState,
    user: &CurrentUser,
    project_id: i32,
    session_pk: i32,
    delete_remote_branch: bool,
) -> Result<ChatSessionDeleted, ApiError> {
    let db = &state.db;
    let access = ProjectAccess::load(db, project_id, user).await?;
    let session = store::sessions::load_for_user(db, access.id(), session_pk, &user.id).await?;
    if session.is_default {
        return Err(ApiError::conflict(
            ErrorCode::DefaultSession,
            "The project's default session cannot be deleted; archive it instead.",
        ));
    }
    let owner = state.runtime.owner(session.id);
    let (stopped, _work) = owner.take_over().await;
    state.previews.remove(session.id).await;
    let mut notices: Vec<String> = stopped.iter().map(|finished| stopped_notice(finished, "deleting")).collect();
    let txn = crate::store::begin(db).await.map_err(ApiError::internal)?;
    store::sessions::delete_non_default(&txn, session.id).await?;
    store::audit::record(
        &txn,
        AuditRecord {
            actor_id: &user.id,
            project_id,
            chat_session_id: Some(session.id),
            action: AuditAction::SessionDeleted,
            detail: json!({"title": session.title, "branch": session.github_branch_name}),
        },
    )
    .await?;
    store::commit(txn).await.map_err(ApiError::internal)?;
    let mut remote_branch_deleted = false;
    if delete_remote_branch {
        let credentials = crate::services::github::git_credentials(state, &user.id, &access.project).await;
        let deleted = match credentials {
            Ok(credentials) => state.workspaces.delete_remote_branch(&session, credentials).await,
            Err(err) => Err(err),
        };
        match deleted {
            Ok(deleted) => remote_branch_deleted = deleted,
            Err(err) => notices.push(format!(
                "The branch {} is still on the remote: {}",
                session.github_branch_name,
                err.body().error
            )),
        }
    }
    let removed = state.workspaces.remove(&owner.checkout, &session).await;
    state.runtime.forget(session.id);
    removed?;
    Ok(ChatSessionDeleted { remote_branch_deleted, notice: (!notices.is_empty()).then(|| notices.join(" ")) })
}

pub async fn messages(
    db: &DatabaseConnection,
    secrets: &crate::secrets::SecretBox,
    user: &CurrentUser,
    project_id: i32,
    session_pk: i32,
    query: MessageQuery,
    live: Option<&crate::runtime::LiveRun>,
) -> Result<MessageList, ApiError> {
    let session = load(db, user, project_id, session_pk).await?;
    let limit = pagination::limit(query.limit)?;
    let after = pagination::decode_id(query.cursor.as_deref())?;
    let order = query.order.unwrap_or(MessageOrder::Asc);
    // The session's counter changes in the same transaction as every message insert, so it is
    // the total without counting the rows of a long conversation on every page.
    let total = u64::try_from(session.message_count).unwrap_or(0);
    let rows = store::messages::list(db, session.id, order, after, limit + 1).await?;
    let (rows, next_cursor) = pagination::finish_page(rows, limit, |m| pagination::encode_id(m.id));
    let mut messages: Vec<api_types::ChatMessage> =
        rows.into_iter().map(|row| entity::convert::chat_message(secrets.open_message(row))).collect();
    if let Some(live) = live
        && let Some(message) = messages.iter_mut().find(|m| m.id.0 == live.assistant_message_id)
    {
        let transcript = live.transcript.lock().unwrap_or_else(|p| p.into_inner());
        message.content = transcript.text();
        message.blocks = Some(transcript.blocks.clone());
    }
    Ok(MessageList { messages, total, next_cursor })
}
