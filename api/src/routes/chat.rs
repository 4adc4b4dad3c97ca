//! Chat turns and their live events (server-sent events).

use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::events::{EventHub, Sequenced};
use crate::extract::{Json, PathId};
use crate::runtime::SessionOwner;
use crate::services::{chat, sessions};
use crate::state::AppState;
use crate::store;
use actix_web::http::header::{ACCEPT, CACHE_CONTROL, ContentEncoding};
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, delete, get, post, put, web};
use api_types::{AgentInfo, AgentRun, AgentRunList, ChatAnswer, ChatRequest, ErrorBody, MessageId, RunEvent, RunId};
use futures_util::Stream;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::broadcast;

/// What the model banner shows: the provider and model, or why none is available.
#[utoipa::path(tag = "chat", responses((status = 200, body = AgentInfo)))]
#[get("/api/agent")]
pub async fn get_agent(state: web::Data<AppState>, user: CurrentUser) -> web::Json<AgentInfo> {
    web::Json(chat::agent_info(&state, &user))
}

/// Send a prompt to a session: stores it and starts an agent run (202). With
/// `Accept: text/event-stream`, streams the run's events instead, until it finishes. With
/// `queue: true` while the session is busy, keeps the prompt to start as a next turn (202,
/// `queued` with its place).
#[utoipa::path(tag = "chat", request_body = ChatRequest, responses(
    (status = 202, body = ChatAnswer), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
    (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
#[post("/api/chat")]
pub async fn post_chat(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    body: Json<ChatRequest>,
) -> Result<HttpResponse, ApiError> {
    let wants_stream = req
        .headers()
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/event-stream"));
    let session_pk = body.0.chat_session_id.0;
    // Another node runs the chat: the run's events are streamed from the table.
    let elsewhere = wants_stream && !holds(&state, body.0.project_id.0).await?;
    // Read before the run is admitted: its events come after this (a log made by the send
    // keeps everything since it was made; the run's stored events are numbered after the
    // last stored).
    let after = match elsewhere {
        true => store::events::last_seq(&state.db, session_pk).await?,
        false => state.runtime.existing(session_pk).map_or(0, |owner| owner.events.last_given()),
    };
    let accepted = match chat::send(&state, &user, body.0).await? {
        ChatAnswer::Accepted(accepted) => accepted,
        queued @ ChatAnswer::Queued(_) => {
            // Queued with nothing live (a queued start that failed earlier): start it now (on
            // the node that holds the chat: `start_next` leaves it to that node's keeper).
            if state.runtime.existing(session_pk).is_none_or(|owner| owner.live().is_none()) {
                let state = state.clone();
                tokio::spawn(async move { chat::queue::start_next(&state, session_pk).await });
            }
            return Ok(HttpResponse::Accepted().json(queued));
        }
    };
    if elsewhere {
        let source = Source::Table { session_id: session_pk, bell: state.runtime.events.bell() };
        return Ok(sse_response(events(state, source, Vec::new(), after, Some(accepted.run_id))));
    }
    if wants_stream && let Some(owner) = state.runtime.existing(session_pk) {
        let (backlog, receiver, _) = owner.events.subscribe(after);
        let source = Source::Owner { owner, receiver };
        return Ok(sse_response(events(state, source, backlog, after, Some(accepted.run_id))));
    }
    Ok(HttpResponse::Accepted().json(ChatAnswer::Accepted(accepted)))
}

/// Where an events stream starts when no `Last-Event-ID` is sent.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
pub struct EventsQuery {
    /// `latest`: events from now on, after a `run_snapshot` of the live run's message when one
    /// is live (no event is missed or sent twice against it). Without it, every event still in
    /// the session's log is replayed first.
    pub from: Option<String>,
}

/// The session's run events as server-sent events, with ids; send `Last-Event-ID` to resume.
#[utoipa::path(tag = "chat", params(("id" = i32, Path), ("session_pk" = i32, Path), EventsQuery), responses(
    (status = 200, description = "text/event-stream of run events", content_type = "text/event-stream", body = RunEvent),
    (status = 404, body = ErrorBody)))]
#[get("/api/projects/{id}/chat-sessions/{session_pk}/events")]
pub async fn get_events(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    path: web::Path<(PathId, PathId)>,
    query: web::Query<EventsQuery>,
) -> Result<HttpResponse, ApiError> {
    let (project_id, session_pk) = path.into_inner();
    let session = sessions::load(&state.db, &user, project_id.0, session_pk.0).await?;
    let last = req.headers().get("last-event-id").and_then(|v| v.to_str().ok());
    let latest = last.is_none() && query.from.as_deref() == Some("latest");
    if !holds(&state, session.project_id).await? {
        // Another node runs the session: its events are read from the table.
        let (pending, after) = match latest {
            true => table_snapshot(&state, session.id).await?,
            false => (Vec::new(), EventHub::resume_after(last)),
        };
        let source = Source::Table { session_id: session.id, bell: state.runtime.events.bell() };
        return Ok(sse_response(events(state, source, pending, after, None)));
    }
    let owner = state.runtime.owner(session.id);
    // Its numbering known, so "from now on" and a catch-up start from the right number.
    owner.events.ready(&state.runtime.events, &state.db).await?;
    let (pending, receiver, after) = match latest {
        true => from_snapshot(&owner),
        false => {
            let after = EventHub::resume_after(last);
            let (backlog, receiver) = owner.events.subscribe_from(&state.db, &state.secrets, after).await?;
            (backlog, receiver, after)
        }
    };
    Ok(sse_response(events(state, Source::Owner { owner, receiver }, pending, after, None)))
}

/// Whether this node runs the project's sessions (always, when it runs alone).
async fn holds(state: &AppState, project_id: i32) -> Result<bool, ApiError> {
    Ok(crate::nodes::held_elsewhere(state, project_id).await?.is_none())
}

/// Stop the session's live run (its changes so far are committed).
#[utoipa::path(tag = "chat", params(("id" = i32, Path), ("session_pk" = i32, Path)), responses(
    (status = 202, body = AgentRun), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[post("/api/projects/{id}/chat-sessions/{session_pk}/cancel")]
pub async fn cancel_run(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(PathId, PathId)>,
) -> Result<HttpResponse, ApiError> {
    let (project_id, session_pk) = path.into_inner();
    let run = chat::cancel(&state, &user, project_id.0, session_pk.0).await?;
    Ok(HttpResponse::Accepted().json(run))
}

/// The session's agent runs, newest first (the last 20).
#[utoipa::path(tag = "chat", params(("id" = i32, Path), ("session_pk" = i32, Path)), responses(
    (status = 200, body = AgentRunList), (status = 404, body = ErrorBody)))]
#[get("/api/projects/{id}/chat-sessions/{session_pk}/runs")]
pub async fn list_runs(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(PathId, PathId)>,
) -> Result<web::Json<AgentRunList>, ApiError> {
    let (project_id, session_pk) = path.into_inner();
    let session = sessions::load(&state.db, &user, project_id.0, session_pk.0).await?;
    let runs = store::runs::list(&state.db, session.id, 20).await?;
    Ok(web::Json(AgentRunList { runs: runs.into_iter().map(entity::convert::agent_run).collect() }))
}

pub(crate) fn sse_response(stream: impl Stream<Item = Result<Bytes, actix_web::Error>> + 'static) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((CACHE_CONTROL, "no-cache"))
        // Compression would hold events back in the encoder's buffer.
        .insert_header(ContentEncoding::Identity)
        .insert_header(("x-accel-buffering", "no"))
        .streaming(stream)
}

/// Where a watcher's live events come from.
enum Source {
    /// This node runs the session: its owner's broadcast (the owner, and its log, stays while
    /// it is watched).
    Owner { owner: Arc<SessionOwner>, receiver: broadcast::Receiver<Sequenced> },
    /// Another node runs it: the table, read again when the bell rings for the session (the
    /// listener heard it stored some, or lost its connection) and every [`TABLE_POLL`] besides.
    Table { session_id: i32, bell: broadcast::Receiver<i32> },
}

/// How often a watcher of another node's session reads the table without a ring (the bell
/// rings for every one after a lost connection: this is the last resort).
const TABLE_POLL: Duration = Duration::from_secs(5);
/// How many stored events a watcher reads at once.
const TABLE_PAGE: u64 = 500;
/// A comment sent when nothing else was for this long, so proxies keep the stream open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

struct Watch {
    state: web::Data<AppState>,
    source: Source,
    pending: VecDeque<Sequenced>,
    last: u64,
    only_run: Option<RunId>,
    done: bool,
}

/// A live run's message as it stands, then the events after it; only the events from now on
/// when no run is live. The snapshot is taken under the transcript's lock, under which every
/// event of its blocks is published (`chat::transcript`), together with the subscription.
/// Returns what to send first, the subscription, and the sequence it follows.
fn from_snapshot(owner: &SessionOwner) -> (Vec<Sequenced>, broadcast::Receiver<Sequenced>, u64) {
    let Some(live) = owner.live() else {
        let (after, receiver) = owner.events.subscribe_latest();
        return (Vec::new(), receiver, after);
    };
    let transcript = live.transcript.lock().unwrap_or_else(|p| p.into_inner());
    let (after, receiver) = owner.events.subscribe_latest();
    let snapshot = RunEvent::RunSnapshot {
        run_id: RunId(live.run_id),
        assistant_message_id: MessageId(live.assistant_message_id),
        status: live.status(),
        blocks: transcript.blocks.clone(),
    };
    // Sent as the number it follows, so the events after it are the next ones.
    (vec![(after, snapshot)], receiver, after.saturating_sub(1))
}

/// `from_snapshot` for another node's session: its live run's message folded from the run's
/// stored events (its deltas are kept until it ends), and the number of the last of them.
async fn table_snapshot(state: &AppState, session_id: i32) -> Result<(Vec<Sequenced>, u64), ApiError> {
    let last = store::events::last_seq(&state.db, session_id).await?;
    let live = store::runs::list(&state.db, session_id, 1).await?.into_iter().next().filter(|run| run.status.is_live());
    let Some(run) = live else { return Ok((Vec::new(), last)) };
    let stored = crate::events::opened(&state.secrets, store::events::of_run(&state.db, session_id, run.id).await?);
    let after = stored.last().map_or(last, |(seq, _)| (*seq).max(last));
    let transcript = chat::Transcript::replay([stored.into_iter().map(|(_, event)| event).collect()]);
    let snapshot = RunEvent::RunSnapshot {
        run_id: RunId(run.id),
        assistant_message_id: MessageId(run.assistant_message_id.unwrap_or_default()),
        status: run.status,
        blocks: transcript.blocks,
    };
    Ok((vec![(after, snapshot)], after.saturating_sub(1)))
}

/// The events of `backlog` (after `after`), then live ones; only one run's, ending with it,
/// when `only_run`.
fn events(
    state: web::Data<AppState>,
    source: Source,
    backlog: Vec<Sequenced>,
    after: u64,
    only_run: Option<RunId>,
) -> impl Stream<Item = Result<Bytes, actix_web::Error>> {
    let watch = Watch { state, source, pending: backlog.into(), last: after, only_run, done: false };
    futures_util::stream::unfold(watch, |mut watch| async move {
        if watch.done {
            return None;
        }
        let quiet_since = Instant::now();
        loop {
            if let Some((sequence, event)) = watch.pending.pop_front() {
                if sequence <= watch.last {
                    continue;
                }
                watch.last = sequence;
                if let Some(run) = watch.only_run {
                    if event.run_id() != run {
                        continue;
                    }
                    watch.done = matches!(event, RunEvent::RunFinished { .. });
                }
                let frame = format!(
                    "id: {}\nevent: {}\ndata: {}\n\n",
                    EventHub::id(sequence),
                    event.name(),
                    serde_json::to_string(&event).unwrap_or_default()
                );
                return Some((Ok(Bytes::from(frame)), watch));
            }
            if quiet_since.elapsed() >= KEEP_ALIVE {
                return Some((Ok(Bytes::from_static(b": keep-alive\n\n")), watch));
            }
            let wait = KEEP_ALIVE.saturating_sub(quiet_since.elapsed());
            let Watch { state, source, pending, last, .. } = &mut watch;
            match source {
                Source::Owner { owner, receiver } => tokio::select! {
                    received = receiver.recv() => match received {
                        Ok(item) => pending.push_back(item),
                        Err(broadcast::error::RecvError::Lagged(_)) => {
                            match owner.events.subscribe_from(&state.db, &state.secrets, *last).await {
                                Ok((missed, again)) => {
                                    pending.extend(missed);
                                    *receiver = again;
                                }
                                Err(err) => {
                                    tracing::warn!(error = %crate::error::Report(&err), "a watcher that fell behind could not catch up");
                                    return None;
                                }
                            }
                        }
                        Err(broadcast::error::RecvError::Closed) => return None,
                    },
                    () = tokio::time::sleep(wait) => {}
                },
                Source::Table { session_id, bell } => {
                    match crate::events::stored(&state.db, &state.secrets, *session_id, *last, None, TABLE_PAGE).await {
                        Ok(stored) if !stored.is_empty() => {
                            pending.extend(stored);
                            continue;
                        }
                        Ok(_) => {}
                        Err(err) => {
                            tracing::warn!(error = %crate::error::Report(&err), "stored run events could not be read; trying again")
                        }
                    }
                    let rung = async {
                        loop {
                            match bell.recv().await {
                                Ok(id) if id == *session_id || id == crate::events::EVERY_SESSION => return,
                                Ok(_) => {}
                                // Missed rings may have been ours: read again.
                                Err(broadcast::error::RecvError::Lagged(_)) => return,
                                Err(broadcast::error::RecvError::Closed) => std::future::pending().await,
                            }
                        }
                    };
                    tokio::select! {
                        () = rung => {}
                        () = tokio::time::sleep(TABLE_POLL.min(wait)) => {}
                    }
                }
            }
        }
    })
}

/// Messages waiting for the session's live run to end, in the order they start.
#[utoipa::path(tag = "chat", params(("id" = i32, Path), ("session_pk" = i32, Path)), responses(
    (status = 200, body = api_types::QueuedPromptList), (status = 404, body = ErrorBody)))]
#[get("/api/projects/{id}/chat-sessions/{session_pk}/queue")]
pub async fn list_queue(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(PathId, PathId)>,
) -> Result<web::Json<api_types::QueuedPromptList>, ApiError> {
    let (project_id, session_pk) = path.into_inner();
    Ok(web::Json(chat::queue::list(&state, &user, project_id.0, session_pk.0).await?))
}

/// Change a queued message before it starts.
#[utoipa::path(tag = "chat", params(("id" = i32, Path), ("session_pk" = i32, Path), ("queued_id" = i32, Path)),
    request_body = api_types::UpdateQueuedPromptRequest, responses(
    (status = 200, body = api_types::QueuedPrompt), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[put("/api/projects/{id}/chat-sessions/{session_pk}/queue/{queued_id}")]
pub async fn edit_queued(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(PathId, PathId, PathId)>,
    body: Json<api_types::UpdateQueuedPromptRequest>,
) -> Result<web::Json<api_types::QueuedPrompt>, ApiError> {
    let (project_id, session_pk, queued_id) = path.into_inner();
    let shown = chat::queue::edit(&state, &user, project_id.0, session_pk.0, queued_id.0, &body.0.prompt).await?;
    Ok(web::Json(shown))
}

/// Cancel a queued message before it starts.
#[utoipa::path(tag = "chat", params(("id" = i32, Path), ("session_pk" = i32, Path), ("queued_id" = i32, Path)), responses(
    (status = 204), (status = 404, body = ErrorBody)))]
#[delete("/api/projects/{id}/chat-sessions/{session_pk}/queue/{queued_id}")]
pub async fn cancel_queued(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(PathId, PathId, PathId)>,
) -> Result<HttpResponse, ApiError> {
    let (project_id, session_pk, queued_id) = path.into_inner();
    chat::queue::cancel(&state, &user, project_id.0, session_pk.0, queued_id.0).await?;
    Ok(HttpResponse::NoContent().finish())
}
