//! A prompt sent to a node that does not hold the chat's project is stored there and claimed by
//! the node that does: woken by PostgreSQL's announcement (the keeper's poll is an hour here,
//! so nothing else could start it), answered while the owner is frozen, refused or queued on a
//! busy chat from either node, and stopped before it was claimed.

use crate::nodes::{signed_in, two_nodes_with};
use api_types::RunId;
use std::time::Duration;

/// Whether run `id` is still waiting to be claimed, read from the database.
async fn unclaimed(db: &sea_orm::DatabaseConnection, id: api_types::RunId) -> bool {
    use sea_orm::{ConnectionTrait, Statement};
    let sql = format!("SELECT claimed_at IS NULL AS waiting FROM agent_runs WHERE id = {}", id.0);
    let row = db.query_one_raw(Statement::from_string(db.get_database_backend(), sql)).await.unwrap().unwrap();
    row.try_get::<bool>("", "waiting").unwrap()
}

/// How many of run `id`'s deltas the table keeps.
async fn deltas(db: &sea_orm::DatabaseConnection, id: RunId) -> i64 {
    use sea_orm::{ConnectionTrait, Statement};
    let sql = format!(
        "SELECT COUNT(*) AS n FROM session_events WHERE run_id = {} AND kind IN ('text_delta', 'tool_output')",
        id.0
    );
    let row = db.query_one_raw(Statement::from_string(db.get_database_backend(), sql)).await.unwrap().unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

/// PostgreSQL only (several nodes need it).
mod a_prompt_through_b_is_stored_there_and_claimed_by_a_woken_by_postgresql {
    use super::*;
    use crate::chat::{assistant, chat, finished, setup};
    use crate::chat_events::{one_turn_of_text, read_until_finished};
    use api_types::*;
    use fakes::model::{Reply, text};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        // Beats every 10 s: a lease of 30 s, so A frozen for a moment is still alive.
        let extra = [("KOSUKE_QUEUE_POLL_SECS", "3600"), ("KOSUKE_NODE_HEARTBEAT_SECS", "10")];
        let (a, b) = two_nodes_with(&extra).await;
        // From a directory on A's disk: A holds the project, and it cannot move.
        let (via_a, project, session) = setup(&a).await;
        let via_b = signed_in(b.client()).await;
        let db = a.database.connect().await;

        // Sent through B (asking for the run's events in the answer), run on A, streamed by B.
        let token = via_b.create_api_token(&CreateApiTokenRequest { name: "sse".into() }).await.unwrap().token;
        a.model.script([Reply::Parts(vec![text("Claimed.")])]);
        let streamed = reqwest::Client::new()
            .post(format!("{}/api/chat", b.address))
            .bearer_auth(&token)
            .header("accept", "text/event-stream")
            .json(&chat(&project, &session, "Who runs this?"))
            .send()
            .await
            .unwrap();
        assert_eq!(streamed.headers()["content-type"], "text/event-stream");
        let seen = read_until_finished(streamed).await;
        assert_eq!(one_turn_of_text(&seen), "Claimed.");
        assert_eq!(finished(&via_a, project.id, session.id).await.status, RunStatus::Succeeded);
        let sent = via_a.list_runs(project.id, session.id).await.unwrap().runs[0].id;
        assert!(seen.iter().all(|(_, event)| event.run_id() == sent), "{seen:?}");
        assert!(!unclaimed(&db, sent).await, "A claimed it");
        assert_eq!(a.model.requests().len(), 1);

        // A frozen: B still takes the prompt at once (it only stores it) ...
        a.signal_binary("-STOP");
        a.model.script([Reply::Parts(vec![text("After the thaw.")]), Reply::Parts(vec![text("Queued too.")])]);
        let stored =
            tokio::time::timeout(Duration::from_secs(20), via_b.send_chat(&chat(&project, &session, "While A sleeps")))
                .await
                .expect("B answers while A is frozen")
                .unwrap();
        assert!(unclaimed(&db, stored.run_id).await, "waiting for A");
        // ... a second prompt on the busy chat is refused, or queued when asked.
        let refused = via_b.send_chat(&chat(&project, &session, "And now?")).await.unwrap_err();
        assert_eq!((refused.status(), refused.code()), (Some(409), Some(ErrorCode::SessionBusy)), "{refused:?}");
        let mut queued = chat(&project, &session, "Then this");
        queued.queue = true;
        let answer = via_b.send_chat_or_queue(&queued).await.unwrap();
        assert!(matches!(&answer, ChatAnswer::Queued(q) if q.queued.position == 1), "{answer:?}");
        // Thawed, A claims the stored run and then starts the queued message.
        a.signal_binary("-CONT");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let runs = via_b.list_runs(project.id, session.id).await.unwrap().runs;
            if runs.len() == 3 && runs.iter().all(|r| r.status == RunStatus::Succeeded) {
                assert_eq!(runs[1].id, stored.run_id, "{runs:?}");
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "not both run: {runs:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(assistant(&via_b, project.id, session.id).await.content.contains("Queued too."));
        assert_eq!(a.model.requests().len(), 3, "each once");

        // Stopped through B before A claimed it: it ends cancelled, never left live.
        a.signal_binary("-STOP");
        a.model.script([Reply::Slow { chunks: 200, every: Duration::from_millis(50) }]);
        let stopped = via_b.send_chat(&chat(&project, &session, "Never mind")).await.unwrap();
        assert!(unclaimed(&db, stopped.run_id).await, "waiting for A");
        // (The cancel goes to A, which holds the chat: it is answered once A is thawed.)
        let cancel = tokio::spawn({
            let via_b = via_b.clone();
            async move { via_b.cancel_run(project.id, session.id).await }
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        a.signal_binary("-CONT");
        let cancelled = cancel.await.unwrap().unwrap();
        assert_eq!(cancelled.id, stopped.run_id);
        assert_eq!(finished(&via_b, project.id, session.id).await.status, RunStatus::Cancelled);

        // With several nodes a finished run's deltas wait a minute before they are pruned (the
        // other nodes' watchers read them a moment behind); a stop cuts that wait short, and
        // the next start prunes what finished over a minute before.
        assert!(deltas(&db, sent).await > 0, "the first run's deltas are still kept");
        let mut a = a;
        let env = a.binary_env();
        assert!(a.terminate_binary().await);
        sea_orm::ConnectionTrait::execute_unprepared(
            &db,
            "UPDATE agent_runs SET finished_at = finished_at - interval '2 minutes'",
        )
        .await
        .unwrap();
        a.start_binary_again(env).await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while deltas(&db, sent).await > 0 {
            assert!(tokio::time::Instant::now() < deadline, "the finished run's deltas stayed");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        drop(b);
    }
}
