//! Agent runs and the messages they write. Each message insert changes the session's
//! `message_count` and `last_activity_at` in the same transaction.

use super::{StoreError, now};
use api_types::{MessageRole, RunStatus};
use entity::{agent_run, chat_message, chat_session, run_journal};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};

/// The assistant message as a run has written it so far.
#[derive(Clone)]
pub struct AssistantMessage {
    pub content: String,
    pub blocks: serde_json::Value,
    /// The tokens of the turn's model calls, when the provider counts them.
    pub usage: Option<agent::Usage>,
}

/// The messages and run a new turn starts with.
pub struct StartedRun {
    pub run: agent_run::Model,
    pub user_message: chat_message::Model,
    pub assistant_message: chat_message::Model,
}

/// A turn as [`start`] stores it: the contents sealed by the caller.
pub struct NewTurn {
    pub prompt: String,
    pub prompt_blocks: Option<serde_json::Value>,
    pub empty_answer: String,
    pub status: RunStatus,
    /// Started where it is stored; `false` when the node holding the project claims it
    /// ([`claim`]).
    pub claimed: bool,
}

/// Starts a run: the run row first (the live-run index refuses a second one: `Conflict`), then
/// the user's message and an empty assistant message, each counted on the session. The contents
/// come as they are stored (sealed by the caller).
pub async fn start<C: crate::store::Begin>(
    db: &C,
    session: &chat_session::Model,
    user_id: &str,
    turn: NewTurn,
) -> Result<StartedRun, StoreError> {
    let NewTurn { prompt, prompt_blocks, empty_answer, status, claimed } = turn;
    let txn = crate::store::begin(db).await?;
    let at = now();
    let run = agent_run::ActiveModel {
        chat_session_id: Set(session.id),
        status: Set(status),
        created_at: Set(at),
        started_at: Set((status == RunStatus::Running).then_some(at)),
        claimed_at: Set(claimed.then_some(at)),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    let user_message = insert_message(&txn, session, Some(user_id), MessageRole::User, prompt, prompt_blocks).await?;
    let assistant_message = insert_message(&txn, session, None, MessageRole::Assistant, empty_answer, None).await?;
    let mut active: agent_run::ActiveModel = run.into();
    active.user_message_id = Set(Some(user_message.id));
    active.assistant_message_id = Set(Some(assistant_message.id));
    let run = active.update(&txn).await?;
    // Its user is sending: what ended before is read.
    chat_session::Entity::update_many()
        .col_expr(chat_session::Column::TurnState, Expr::value("running"))
        .col_expr(chat_session::Column::UnreadTurns, Expr::value(0))
        .filter(chat_session::Column::Id.eq(session.id))
        .exec(&txn)
        .await?;
    super::commit(txn).await?;
    Ok(StartedRun { run, user_message, assistant_message })
}

async fn insert_message(
    db: &impl ConnectionTrait,
    session: &chat_session::Model,
    user_id: Option<&str>,
    role: MessageRole,
    content: String,
    blocks: Option<serde_json::Value>,
) -> Result<chat_message::Model, StoreError> {
    let at = now();
    chat_session::Entity::update_many()
        .col_expr(chat_session::Column::MessageCount, Expr::col(chat_session::Column::MessageCount).add(1))
        .col_expr(chat_session::Column::LastActivityAt, Expr::value(at))
        .filter(chat_session::Column::Id.eq(session.id))
        .exec(db)
        .await?;
    Ok(chat_message::ActiveModel {
        project_id: Set(session.project_id),
        chat_session_id: Set(session.id),
        user_id: Set(user_id.map(str::to_owned)),
        role: Set(role),
        content: Set(content),
        blocks: Set(blocks),
        created_at: Set(at),
        updated_at: Set(at),
        ..Default::default()
    }
    .insert(db)
    .await?)
}

/// Saves the assistant message whole. Contents come sealed (base64 text), so nothing in
/// them needs escaping for either backend: a NUL or a literal `\u0000` the model wrote
/// round-trips as it was.
async fn save_assistant(
    db: &impl ConnectionTrait,
    message_id: i64,
    message: AssistantMessage,
    commit_sha: Option<String>,
) -> Result<(), StoreError> {
    let AssistantMessage { content, blocks, usage } = message;
    let mut active = chat_message::ActiveModel {
        id: sea_orm::ActiveValue::Unchanged(message_id),
        content: Set(content),
        blocks: Set(Some(blocks)),
        updated_at: Set(now()),
        ..Default::default()
    };
    if commit_sha.is_some() {
        active.commit_sha = Set(commit_sha);
    }
    if let Some(usage) = usage {
        let column = |tokens: u64| Set(Some(i32::try_from(tokens).unwrap_or(i32::MAX)));
        active.input_tokens = column(usage.input_tokens);
        active.output_tokens = column(usage.output_tokens);
    }
    active.update(db).await?;
    Ok(())
}

/// The runs another node stored for the projects `node` holds, waiting to be claimed, oldest
/// first; those of projects being cloned (a takeover) wait for the mirror.
pub async fn unclaimed(db: &impl ConnectionTrait, node: i32) -> Result<Vec<agent_run::Model>, StoreError> {
    let sessions = super::nodes::sessions_held_where(node, Some(api_types::RepositoryState::Ready));
    Ok(agent_run::Entity::find()
        .filter(agent_run::Column::ClaimedAt.is_null())
        .filter(agent_run::Column::Status.eq(RunStatus::Queued))
        .filter(agent_run::Column::ChatSessionId.in_subquery(sessions))
        .order_by_asc(agent_run::Column::Id)
        .all(db)
        .await?)
}

/// Claims run `run_id` (stored by another node) to start or to cancel it; whether this call got
/// it. On PostgreSQL a row another transaction is claiming is skipped (`FOR UPDATE SKIP
/// LOCKED`), not waited for; a claimed row is never claimed again.
pub async fn claim(db: &impl ConnectionTrait, run_id: i32) -> Result<bool, StoreError> {
    use sea_orm::sea_query::{LockBehavior, LockType, Query};
    let mut waiting = Query::select()
        .column(agent_run::Column::Id)
        .from(agent_run::Entity)
        .and_where(agent_run::Column::Id.eq(run_id))
        .and_where(agent_run::Column::ClaimedAt.is_null())
        .to_owned();
    if db.get_database_backend() == sea_orm::DbBackend::Postgres {
        waiting.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let claimed = agent_run::Entity::update_many()
        .col_expr(agent_run::Column::ClaimedAt, Expr::value(now()))
        .filter(agent_run::Column::Id.in_subquery(waiting))
        .exec(db)
        .await?;
    Ok(claimed.rows_affected == 1)
}

pub async fn find(db: &impl ConnectionTrait, run_id: i32) -> Result<Option<agent_run::Model>, StoreError> {
    Ok(agent_run::Entity::find_by_id(run_id).one(db).await?)
}

/// The session's live run, if any (at most one: the partial unique index).
pub async fn live(db: &impl ConnectionTrait, session_pk: i32) -> Result<Option<agent_run::Model>, StoreError> {
    Ok(agent_run::Entity::find()
        .filter(agent_run::Column::ChatSessionId.eq(session_pk))
        .filter(agent_run::Column::Status.is_in([RunStatus::Queued, RunStatus::Running]))
        .one(db)
        .await?)
}

/// A queued run got its slot.
pub async fn set_running(db: &impl ConnectionTrait, run_id: i32) -> Result<(), StoreError> {
    agent_run::ActiveModel {
        id: sea_orm::ActiveValue::Unchanged(run_id),
        status: Set(RunStatus::Running),
        started_at: Set(Some(now())),
        ..Default::default()
    }
    .update(db)
    .await?;
    Ok(())
}

/// A run's journal pieces, in order (runs from before run events were stored journaled what
/// streamed in pieces).
pub async fn journal(db: &impl ConnectionTrait, run_id: i32) -> Result<Vec<String>, StoreError> {
    Ok(run_journal::Entity::find()
        .filter(run_journal::Column::AgentRunId.eq(run_id))
        .order_by_asc(run_journal::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|piece| piece.events)
        .collect())
}

/// How a run ended, as it is recorded.
#[derive(Clone)]
pub struct RunEnd {
    pub run_id: i32,
    pub status: RunStatus,
    pub error: Option<String>,
    pub message_id: i64,
    pub message: AssistantMessage,
    pub commit_sha: Option<String>,
    /// Its answer ends asking the user something.
    pub question: bool,
}

/// Records a run's end in one transaction: its message whole, its journal gone, its status,
/// and on its session how the turn ended, one more turn unread (a stopped one is not news).
pub async fn finish<C: crate::store::Begin>(db: &C, end: RunEnd) -> Result<(), StoreError> {
    let txn = crate::store::begin(db).await?;
    save_assistant(&txn, end.message_id, end.message, end.commit_sha).await?;
    run_journal::Entity::delete_many().filter(run_journal::Column::AgentRunId.eq(end.run_id)).exec(&txn).await?;
    record_end(&txn, end.run_id, end.status, end.error).await?;
    let (state, news) = match end.status {
        RunStatus::Succeeded if end.question => ("question", 1),
        RunStatus::Succeeded => ("succeeded", 1),
        RunStatus::Cancelled => ("succeeded", 0),
        // Counted when it was marked interrupted at start-up (`interrupt_live`).
        RunStatus::Interrupted => ("failed", 0),
        _ => ("failed", 1),
    };
    let session = sea_orm::sea_query::Query::select()
        .column(agent_run::Column::ChatSessionId)
        .from(agent_run::Entity)
        .and_where(agent_run::Column::Id.eq(end.run_id))
        .to_owned();
    chat_session::Entity::update_many()
        .col_expr(chat_session::Column::TurnState, Expr::value(state))
        .col_expr(chat_session::Column::UnreadTurns, Expr::col(chat_session::Column::UnreadTurns).add(news))
        .filter(chat_session::Column::Id.in_subquery(session))
        .exec(&txn)
        .await?;
    super::commit(txn).await?;
    Ok(())
}

/// Its user has read the session: no turn is unread.
pub async fn mark_read(db: &impl ConnectionTrait, session_pk: i32) -> Result<(), StoreError> {
    chat_session::Entity::update_many()
        .col_expr(chat_session::Column::UnreadTurns, Expr::value(0))
        .filter(chat_session::Column::Id.eq(session_pk))
        .filter(chat_session::Column::UnreadTurns.gt(0))
        .exec(db)
        .await?;
    Ok(())
}

/// Records a run's status at its end.
async fn record_end(
    db: &impl ConnectionTrait,
    run_id: i32,
    status: RunStatus,
    error: Option<String>,
) -> Result<(), StoreError> {
    agent_run::ActiveModel {
        id: sea_orm::ActiveValue::Unchanged(run_id),
        status: Set(status),
        error: Set(error),
        finished_at: Set(Some(now())),
        ..Default::default()
    }
    .update(db)
    .await?;
    Ok(())
}

/// The session's runs recorded live with nothing running them (their end could not be
/// recorded): they become `failed`, so the session takes prompts again.
pub async fn fail_orphaned(db: &impl ConnectionTrait, session_pk: i32) -> Result<u64, StoreError> {
    let result = agent_run::Entity::update_many()
        .col_expr(agent_run::Column::Status, Expr::value(RunStatus::Failed))
        .col_expr(agent_run::Column::Error, Expr::value("The run's end could not be recorded."))
        .col_expr(agent_run::Column::FinishedAt, Expr::value(now()))
        .filter(agent_run::Column::ChatSessionId.eq(session_pk))
        .filter(agent_run::Column::Status.is_in([RunStatus::Queued, RunStatus::Running]))
        // One waiting to be claimed has its node behind it.
        .filter(agent_run::Column::ClaimedAt.is_not_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// Start-up: runs that were live when the server stopped become `interrupted` (runs waiting to
/// be claimed stay: they start now).
pub async fn interrupt_live(db: &impl ConnectionTrait, node: Option<i32>) -> Result<Vec<agent_run::Model>, StoreError> {
    let sessions = node.map(super::nodes::sessions_held_by);
    interrupt_live_in(db, sessions, "The server stopped while the run was live.").await
}

/// The live runs of the sessions `sessions` selects (every session when `None`) become
/// `interrupted` with `error`.
pub async fn interrupt_live_in(
    db: &impl ConnectionTrait,
    sessions: Option<sea_orm::sea_query::SelectStatement>,
    error: &str,
) -> Result<Vec<agent_run::Model>, StoreError> {
    // A run not claimed yet never started: the node holding its project claims it next.
    let mut live = agent_run::Entity::find()
        .filter(agent_run::Column::Status.is_in([RunStatus::Queued, RunStatus::Running]))
        .filter(agent_run::Column::ClaimedAt.is_not_null());
    if let Some(sessions) = sessions {
        live = live.filter(agent_run::Column::ChatSessionId.in_subquery(sessions));
    }
    let live = live.all(db).await?;
    agent_run::Entity::update_many()
        .col_expr(agent_run::Column::Status, Expr::value(RunStatus::Interrupted))
        .col_expr(agent_run::Column::Error, Expr::value(error))
        .col_expr(agent_run::Column::FinishedAt, Expr::value(now()))
        .filter(agent_run::Column::Id.is_in(live.iter().map(|run| run.id)))
        .exec(db)
        .await?;
    chat_session::Entity::update_many()
        .col_expr(chat_session::Column::TurnState, Expr::value("failed"))
        .col_expr(chat_session::Column::UnreadTurns, Expr::col(chat_session::Column::UnreadTurns).add(1))
        .filter(chat_session::Column::Id.is_in(live.iter().map(|run| run.chat_session_id)))
        .exec(db)
        .await?;
    Ok(live)
}

/// The session's runs, newest first.
pub async fn list(db: &impl ConnectionTrait, session_pk: i32, limit: u64) -> Result<Vec<agent_run::Model>, StoreError> {
    Ok(agent_run::Entity::find()
        .filter(agent_run::Column::ChatSessionId.eq(session_pk))
        .order_by_desc(agent_run::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}

/// The session's messages before `before_id`, newest first, up to `limit` (history for a turn).
pub async fn history(
    db: &impl ConnectionTrait,
    session_pk: i32,
    before_id: i64,
    limit: u64,
) -> Result<Vec<chat_message::Model>, StoreError> {
    Ok(chat_message::Entity::find()
        .filter(chat_message::Column::ChatSessionId.eq(session_pk))
        .filter(chat_message::Column::Id.lt(before_id))
        .order_by_desc(chat_message::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}
