//! Chat transcripts sealed at rest: nothing of a conversation is readable in the database file
//! (SQLite) or a dump (PostgreSQL) — rows from before sealing included, once the server has
//! started — while the API shows every word, and `kosuke secrets rotate` keeps it so.

use crate::chat::{assistant, chat, finished, setup};
use crate::chat_events::read_until_finished;
use crate::db_test;
use crate::harness::{Backend, TestApp, insert_message, spawn_app};
use api_types::*;
use fakes::model::{Reply, text, tool};
use serde_json::json;

const PHRASE: &str = "purple-elephant-4242";

/// Waits until no message is stored in plain text (the start-up sealing runs in the background).
async fn wait_until_all_sealed(app: &TestApp) {
    let db = app.database.connect().await;
    for _ in 0..400 {
        if api::store::messages::plaintext(&db, 1).await.unwrap().is_empty() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("messages are still stored in plain text");
}

/// Every byte the database keeps: the SQLite file and its write-ahead log after a checkpoint,
/// or a data dump of the PostgreSQL database.
async fn raw_database(app: &TestApp, backend: Backend) -> Vec<u8> {
    let url = app.database.url.clone();
    match backend {
        Backend::Sqlite => {
            use sea_orm::ConnectionTrait;
            let db = app.database.connect().await;
            db.execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)").await.unwrap();
            let path = url.trim_start_matches("sqlite://").split('?').next().unwrap().to_owned();
            let mut bytes = std::fs::read(&path).unwrap();
            bytes.extend(std::fs::read(format!("{path}-wal")).unwrap_or_default());
            bytes
        }
        Backend::Postgres => {
            let dump = std::process::Command::new("pg_dump").args(["--data-only", &url]).output().unwrap();
            assert!(dump.status.success(), "{}", String::from_utf8_lossy(&dump.stderr));
            dump.stdout
        }
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

db_test!(
    async fn transcripts_are_sealed_at_rest_and_read_back_intact_through_a_key_rotation(backend) {
        let mut app = spawn_app(backend).await;
        let (owner, project, session) = setup(&app).await;
        let me = owner.me().await.unwrap();
        // A message from before transcripts were sealed, as an older kosuke stored it.
        let db = app.database.connect().await;
        insert_message(&db, &session, &me, MessageRole::User, format!("from before: {PHRASE}")).await;
        // A turn now: the prompt, the answer and a tool call all carry the phrase.
        app.model.script([
            Reply::Parts(vec![text(&format!("Writing {PHRASE}.")), tool("write_file", json!({"path": "p.txt", "content": PHRASE}))]),
            Reply::Parts(vec![text("Done.")]),
        ]);
        owner.send_chat(&chat(&project, &session, &format!("Plant {PHRASE}"))).await.unwrap();
        assert_eq!(finished(&owner, project.id, session.id).await.status, RunStatus::Succeeded);

        app.restart().await;
        wait_until_all_sealed(&app).await;
        assert!(!contains(&raw_database(&app, backend).await, PHRASE), "the phrase is nowhere in the raw database");

        let check_intact = |client: client::Client| async move {
            let page = client.list_messages(project.id, session.id, &MessageQuery::default()).await.unwrap();
            let contents: Vec<String> = page.messages.iter().map(|m| m.content.clone()).collect();
            assert!(contents[0].contains(&format!("from before: {PHRASE}")), "{contents:?}");
            assert!(contents.iter().any(|c| c == &format!("Plant {PHRASE}")), "{contents:?}");
            let answer = assistant(&client, project.id, session.id).await;
            assert!(answer.content.starts_with(&format!("Writing {PHRASE}.")), "{}", answer.content);
            let blocks = answer.blocks.unwrap();
            assert!(matches!(&blocks[1], ContentBlock::ToolUse { input, .. } if input["content"] == PHRASE), "{blocks:?}");
        };
        let signed_in = |app: &TestApp| {
            let client = app.client();
            async move {
                let login = LoginRequest { email: "ann@example.test".into(), password: "ann-password".into() };
                client.login(&login).await.unwrap();
                client
            }
        };
        check_intact(signed_in(&app).await).await;

        // Rotation (with the server stopped, as the command says; here a new server follows).
        let old_key = std::fs::read_to_string(app.data_dir.path().join("secret.key")).unwrap();
        let rotated = std::process::Command::new(env!("CARGO_BIN_EXE_kosuke"))
            .args(["secrets", "rotate", "--data-dir"])
            .arg(app.data_dir.path())
            .args(["--database-url", &app.database.url])
            .env_remove("KOSUKE_SECRET_KEY")
            .output()
            .unwrap();
        assert!(rotated.status.success(), "{}", String::from_utf8_lossy(&rotated.stderr));
        let new_key = std::fs::read_to_string(app.data_dir.path().join("secret.key")).unwrap();
        assert_ne!(old_key, new_key);
        let old = api::secrets::SecretBox::load(Some(&old_key), app.data_dir.path()).unwrap();
        let stored = api::store::messages::all_after(&db, 0, 100).await.unwrap();
        assert!(stored.iter().all(|m| old.try_open_message(m).is_err()), "nothing opens with the old key any more");
        app.restart().await;
        let client = signed_in(&app).await;
        // The run's stored events were re-sealed too: they replay with the phrase.
        let token = client.create_api_token(&CreateApiTokenRequest { name: "sse".into() }).await.unwrap().token;
        let url = app.url(&format!("/api/projects/{}/chat-sessions/{}/events", project.id, session.id));
        let replay = read_until_finished(reqwest::Client::new().get(&url).bearer_auth(&token).send().await.unwrap()).await;
        assert!(replay.iter().any(|(_, e)| matches!(e, RunEvent::ToolStarted { input, .. } if input["content"] == PHRASE)), "{replay:?}");
        check_intact(client).await;
        assert!(!contains(&raw_database(&app, backend).await, PHRASE));
    }
);
