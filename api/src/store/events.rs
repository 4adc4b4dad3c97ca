//! `session_events`: run events as stored (sealed JSON), in each session's own order.

use super::{StoreError, now};
use entity::session_event;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};

/// One event to store: its session, its place in the session's order, its run and type, and
/// its sealed JSON.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub session_id: i32,
    pub seq: u64,
    pub run_id: i32,
    pub kind: &'static str,
    pub payload: String,
}

/// Stores events in one statement.
pub async fn insert(db: &impl ConnectionTrait, events: Vec<NewEvent>) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let at = now();
    let rows = events.into_iter().map(|event| session_event::ActiveModel {
        session_id: Set(event.session_id),
        seq: Set(event.seq as i64),
        run_id: Set(event.run_id),
        kind: Set(event.kind.to_owned()),
        payload: Set(event.payload),
        created_at: Set(at),
        ..Default::default()
    });
    // A number already stored (two nodes that both took the session for a moment) keeps the
    // first; the rest of the batch, other sessions' events too, is stored all the same.
    let keep_first =
        OnConflict::columns([session_event::Column::SessionId, session_event::Column::Seq]).do_nothing().to_owned();
    session_event::Entity::insert_many(rows).on_conflict(keep_first).try_insert().exec(db).await?;
    Ok(())
}

/// The last sequence number stored for the session (0 when none).
pub async fn last_seq(db: &impl ConnectionTrait, session_id: i32) -> Result<u64, StoreError> {
    let last: Option<Option<i64>> = session_event::Entity::find()
        .select_only()
        .column_as(session_event::Column::Seq.max(), "last")
        .filter(session_event::Column::SessionId.eq(session_id))
        .into_tuple()
        .one(db)
        .await?;
    Ok(last.flatten().unwrap_or(0) as u64)
}

/// The session's events after `after` (and before `before`, when given), in order, at most
/// `limit`: `(seq, sealed payload)`.
pub async fn after(
    db: &impl ConnectionTrait,
    session_id: i32,
    after: u64,
    before: Option<u64>,
    limit: u64,
) -> Result<Vec<(u64, String)>, StoreError> {
    let mut query = of_session(session_id).filter(session_event::Column::Seq.gt(after as i64));
    if let Some(before) = before {
        query = query.filter(session_event::Column::Seq.lt(before as i64));
    }
    rows(db, query.limit(limit)).await
}

/// The stored events of one run, in order (to rebuild a live run's message on a node that
/// does not hold it).
pub async fn of_run(db: &impl ConnectionTrait, session_id: i32, run_id: i32) -> Result<Vec<(u64, String)>, StoreError> {
    rows(db, of_session(session_id).filter(session_event::Column::RunId.eq(run_id))).await
}

/// The session's events, in order, as `(seq, payload)`.
fn of_session(session_id: i32) -> sea_orm::Select<session_event::Entity> {
    session_event::Entity::find()
        .select_only()
        .columns([session_event::Column::Seq, session_event::Column::Payload])
        .filter(session_event::Column::SessionId.eq(session_id))
        .order_by_asc(session_event::Column::Seq)
}

async fn rows(
    db: &impl ConnectionTrait,
    query: sea_orm::Select<session_event::Entity>,
) -> Result<Vec<(u64, String)>, StoreError> {
    let rows: Vec<(i64, String)> = query.into_tuple().all(db).await?;
    Ok(rows.into_iter().map(|(seq, payload)| (seq as u64, payload)).collect())
}

/// Deletes a finished run's events of the given kinds (its deltas, once its message is
/// saved whole). Returns how many.
pub async fn prune(db: &impl ConnectionTrait, run_id: i32, kinds: &[&str]) -> Result<u64, StoreError> {
    let deleted = session_event::Entity::delete_many()
        .filter(session_event::Column::RunId.eq(run_id))
        .filter(session_event::Column::Kind.is_in(kinds.iter().copied()))
        .exec(db)
        .await?;
    Ok(deleted.rows_affected)
}

/// Deletes the events of the given kinds of every run that finished before `finished_before`
/// (deltas whose delayed prune a stop cut short). Returns how many.
pub async fn prune_finished(
    db: &impl ConnectionTrait,
    kinds: &[&str],
    finished_before: chrono::DateTime<chrono::Utc>,
) -> Result<u64, StoreError> {
    use entity::agent_run;
    use sea_orm::sea_query::Query;
    let finished = Query::select()
        .column(agent_run::Column::Id)
        .from(agent_run::Entity)
        .and_where(agent_run::Column::FinishedAt.lt(finished_before))
        .to_owned();
    let deleted = session_event::Entity::delete_many()
        .filter(session_event::Column::Kind.is_in(kinds.iter().copied()))
        .filter(session_event::Column::RunId.in_subquery(finished))
        .exec(db)
        .await?;
    Ok(deleted.rows_affected)
}
