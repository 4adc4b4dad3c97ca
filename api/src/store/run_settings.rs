//! A project's run settings and copied files (contents sealed by the caller), and each
//! session's setup: its state on the session row, its command and log in `session_setups`.

use super::{StoreError, now};
use api_types::SetupState;
use chrono::{DateTime, Utc};
use entity::{chat_session, project_file, project_run_settings, session_setup};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};

/// The project's own run settings; `None` when it never set any.
pub async fn find(
    db: &impl ConnectionTrait,
    project_id: i32,
) -> Result<Option<project_run_settings::Model>, StoreError> {
    Ok(project_run_settings::Entity::find_by_id(project_id).one(db).await?)
}

/// Replaces the project's run settings, in one statement.
pub async fn set(
    db: &impl ConnectionTrait,
    project_id: i32,
    setup: Option<String>,
    dev: Option<String>,
    readiness_path: Option<String>,
) -> Result<project_run_settings::Model, StoreError> {
    let row = project_run_settings::ActiveModel {
        project_id: Set(project_id),
        setup_command: Set(setup),
        dev_command: Set(dev),
        readiness_path: Set(readiness_path),
        updated_at: Set(now()),
    };
    let upsert = OnConflict::column(project_run_settings::Column::ProjectId)
        .update_columns([
            project_run_settings::Column::SetupCommand,
            project_run_settings::Column::DevCommand,
            project_run_settings::Column::ReadinessPath,
            project_run_settings::Column::UpdatedAt,
        ])
        .to_owned();
    Ok(project_run_settings::Entity::insert(row).on_conflict(upsert).exec_with_returning(db).await?)
}

/// The project's copied files, by path.
pub async fn files(db: &impl ConnectionTrait, project_id: i32) -> Result<Vec<project_file::Model>, StoreError> {
    Ok(project_file::Entity::find()
        .filter(project_file::Column::ProjectId.eq(project_id))
        .order_by_asc(project_file::Column::Path)
        .all(db)
        .await?)
}

/// The paths of the project's copied files (not their contents).
pub async fn file_paths(db: &impl ConnectionTrait, project_id: i32) -> Result<Vec<String>, StoreError> {
    Ok(project_file::Entity::find()
        .select_only()
        .column(project_file::Column::Path)
        .filter(project_file::Column::ProjectId.eq(project_id))
        .into_tuple()
        .all(db)
        .await?)
}

/// Adds a file or replaces the one at its path, in one statement.
pub async fn put_file(
    db: &impl ConnectionTrait,
    project_id: i32,
    path: &str,
    sealed: String,
    size: i64,
) -> Result<project_file::Model, StoreError> {
    let at = now();
    let row = project_file::ActiveModel {
        project_id: Set(project_id),
        path: Set(path.to_owned()),
        content_encrypted: Set(sealed),
        size: Set(size),
        created_at: Set(at),
        updated_at: Set(at),
        ..Default::default()
    };
    let upsert = OnConflict::columns([project_file::Column::ProjectId, project_file::Column::Path])
        .update_columns([
            project_file::Column::ContentEncrypted,
            project_file::Column::Size,
            project_file::Column::UpdatedAt,
        ])
        .to_owned();
    Ok(project_file::Entity::insert(row).on_conflict(upsert).exec_with_returning(db).await?)
}

/// Removes a file; its path, for the audit trail.
pub async fn delete_file(db: &impl ConnectionTrait, project_id: i32, file_id: i32) -> Result<String, StoreError> {
    let file = project_file::Entity::find_by_id(file_id)
        .filter(project_file::Column::ProjectId.eq(project_id))
        .one(db)
        .await?
        .ok_or(StoreError::NotFound("file"))?;
    project_file::Entity::delete_by_id(file.id).exec(db).await?;
    Ok(file.path)
}

/// Records where the session's setup stands (`None`: nothing to set up), with why it failed
/// (the session's `workspace_error`); `ready` also marks the checkout ready, in the same write.
pub async fn set_setup_state(
    db: &impl ConnectionTrait,
    session_pk: i32,
    state: Option<SetupState>,
    error: Option<String>,
    ready: bool,
) -> Result<(), StoreError> {
    chat_session::ActiveModel {
        id: sea_orm::ActiveValue::Unchanged(session_pk),
        setup_state: Set(state),
        workspace_error: Set(error),
        workspace_state: if ready { Set(api_types::WorkspaceState::Ready) } else { sea_orm::ActiveValue::NotSet },
        ..Default::default()
    }
    .update(db)
    .await?;
    Ok(())
}

/// A setup's record: what ran, what it printed, how it ended (`finished_at` none while it
/// runs).
pub struct SetupRecord<'a> {
    pub command: &'a str,
    pub log: &'a str,
    pub exit_code: Option<i32>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// Keeps the session's last setup (replacing an earlier one).
pub async fn save_setup(db: &impl ConnectionTrait, session_pk: i32, record: SetupRecord<'_>) -> Result<(), StoreError> {
    let row = session_setup::ActiveModel {
        chat_session_id: Set(session_pk),
        command: Set(record.command.to_owned()),
        log: Set(record.log.to_owned()),
        exit_code: Set(record.exit_code),
        started_at: Set(record.started_at),
        finished_at: Set(record.finished_at),
    };
    let upsert = OnConflict::column(session_setup::Column::ChatSessionId)
        .update_columns([
            session_setup::Column::Command,
            session_setup::Column::Log,
            session_setup::Column::ExitCode,
            session_setup::Column::StartedAt,
            session_setup::Column::FinishedAt,
        ])
        .to_owned();
    session_setup::Entity::insert(row).on_conflict(upsert).exec_without_returning(db).await?;
    Ok(())
}

/// The session's last setup, if one ran.
pub async fn setup(db: &impl ConnectionTrait, session_pk: i32) -> Result<Option<session_setup::Model>, StoreError> {
    Ok(session_setup::Entity::find_by_id(session_pk).one(db).await?)
}

/// Records the checkout's size on disk.
pub async fn set_disk_bytes(db: &impl ConnectionTrait, session_pk: i32, bytes: Option<i64>) -> Result<(), StoreError> {
    chat_session::ActiveModel {
        id: sea_orm::ActiveValue::Unchanged(session_pk),
        disk_bytes: Set(bytes),
        ..Default::default()
    }
    .update(db)
    .await?;
    Ok(())
}
