//! Chat sessions: create, list, change, delete, and their messages. A user works only in their
//! own sessions, in projects they are a member of.

use crate::access::ProjectAccess;
use crate::auth::{CurrentUser, secret};
use crate::error::ApiError;
use crate::pagination;
use crate::store::{
    self, audit::AuditRecord, sessions::NewSession, sessions::SessionChanges,
    sessions::SessionFilter,
};
use api_types::{
    AuditAction, ChatSession, ChatSessionList, ChatSessionQuery, CreateChatSessionRequest,
    ErrorCode, MessageList, MessageOrder, MessageQuery, UpdateChatSessionRequest, validate,
};
use entity::chat_session;
use sea_orm::{DatabaseConnection, TransactionTrait};
use serde_json::json;

fn title(raw: &str) -> Result<String, ApiError> {
    validate::session_title(raw).map_err(|message| ApiError::validation("title", message))
}

fn description(raw: &str) -> Result<Option<String>, ApiError> {
    validate::session_description(raw)
        .map_err(|message| ApiError::validation("description", message))
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

pub async fn create(
    db: &DatabaseConnection,
    user: &CurrentUser,
    project_id: i32,
    request: CreateChatSessionRequest,
) -> Result<ChatSession, ApiError> {
    let access = ProjectAccess::load(db, project_id, user).await?;
    let title = title(&request.title)?;
    let description = request
        .description
        .as_deref()
        .map(description)
        .transpose()?
        .flatten();
    let base_branch = request
        .base_branch
        .unwrap_or_else(|| access.project.default_branch.clone());
    validate::branch_name(&base_branch)
        .map_err(|message| ApiError::validation("base_branch", message))?;
    let new = NewSession {
        project_id,
        user_id: user.id.clone(),
        title,
        description,
        session_id: secret::new_session_id(),
        base_branch,
    };
    let try_default = !store::sessions::has_default(db, project_id).await?;
    let txn = db.begin().await.map_err(ApiError::internal)?;
    let session = store::sessions::insert(&txn, new, try_default).await?;
    store::audit::record(
        &txn,
        AuditRecord {
            actor_id: &user.id,
            project_id,
            chat_session_id: Some(session.id),
            action: AuditAction::SessionCreated,
            detail: json!({"title": session.title, "branch": session.github_branch_name}),
        },
    )
    .await?;
    txn.commit().await.map_err(ApiError::internal)?;
    Ok(entity::convert::chat_session(session))
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
    let filter = SessionFilter {
        project_id: access.id(),
        user_id: &user.id,
        status: query.status,
        search,
    };
    let (rows, total) = store::sessions::list(db, filter, after, limit + 1).await?;
    let (rows, next_cursor) = pagination::finish_page(rows, limit, |s| {
        pagination::encode_activity(s.last_activity_at, s.id)
    });
    Ok(ChatSessionList {
        sessions: rows
            .into_iter()
            .map(entity::convert::chat_session)
            .collect(),
        total,
        next_cursor,
    })
}

pub async fn update(
    db: &DatabaseConnection,
    user: &CurrentUser,
    project_id: i32,
    session_pk: i32,
    request: UpdateChatSessionRequest,
) -> Result<ChatSession, ApiError> {
    let session = load(db, user, project_id, session_pk).await?;
    let changes = SessionChanges {
        title: request.title.as_deref().map(title).transpose()?,
        description: request
            .description
            .as_deref()
            .map(description)
            .transpose()?,
        status: request.status,
    };
    let detail = json!({
        "title": changes.title,
        "description_changed": changes.description.is_some(),
        "status": changes.status.map(|s| s.as_str()),
        "previous_status": session.status.as_str(),
    });
    let txn = db.begin().await.map_err(ApiError::internal)?;
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
    txn.commit().await.map_err(ApiError::internal)?;
    Ok(entity::convert::chat_session(session))
}

pub async fn delete(
    db: &DatabaseConnection,
    user: &CurrentUser,
    project_id: i32,
    session_pk: i32,
) -> Result<(), ApiError> {
    let session = load(db, user, project_id, session_pk).await?;
    if session.is_default {
        return Err(ApiError::conflict(
            ErrorCode::DefaultSession,
            "The project's default session cannot be deleted; archive it instead.",
        ));
    }
    let txn = db.begin().await.map_err(ApiError::internal)?;
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
    txn.commit().await.map_err(ApiError::internal)?;
    Ok(())
}

pub async fn messages(
    db: &DatabaseConnection,
    user: &CurrentUser,
    project_id: i32,
    session_pk: i32,
    query: MessageQuery,
) -> Result<MessageList, ApiError> {
    let session = load(db, user, project_id, session_pk).await?;
    let limit = pagination::limit(query.limit)?;
    let after = pagination::decode_id(query.cursor.as_deref())?;
    let order = query.order.unwrap_or(MessageOrder::Asc);
    let (rows, total) = store::messages::list(db, session.id, order, after, limit + 1).await?;
    let (rows, next_cursor) = pagination::finish_page(rows, limit, |m| pagination::encode_id(m.id));
    Ok(MessageList {
        messages: rows
            .into_iter()
            .map(entity::convert::chat_message)
            .collect(),
        total,
        next_cursor,
    })
}
