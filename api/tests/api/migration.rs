//! The ticket's migration on data shaped like the product before it: default sessions are
//! created with the right counts, every message is re-pointed, nothing is lost; down and up
//! again gives the same result.

use crate::db_test;
use crate::harness::TestDatabase;
use chrono::{DateTime, Duration, TimeZone, Utc};
use migration::{Migrator, MigratorTrait};
use sea_orm::sea_query::{Alias, Expr, Query, SimpleExpr};
use sea_orm::{ConnectionTrait, DatabaseConnection, QueryResult, Statement};

async fn insert(db: &DatabaseConnection, table: &str, columns: &[&str], values: Vec<SimpleExpr>) {
    let statement = Query::insert()
        .into_table(Alias::new(table))
        .columns(columns.iter().map(|c| Alias::new(*c)))
        .values_panic(values)
        .to_owned();
    db.execute_raw(db.get_database_backend().build(&statement)).await.unwrap();
}

async fn rows(db: &DatabaseConnection, sql: &str) -> Vec<QueryResult> {
    db.query_all_raw(Statement::from_string(db.get_database_backend(), sql)).await.unwrap()
}

fn t(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 1, 12, 0, 0).unwrap() + Duration::minutes(minutes)
}

/// (id, project_id, content) of every message, in id order.
async fn messages(db: &DatabaseConnection) -> Vec<(i64, i32, String)> {
    rows(db, "SELECT id, project_id, content FROM chat_messages ORDER BY id")
        .await
        .iter()
        .map(|r| {
            (r.try_get("", "id").unwrap(), r.try_get("", "project_id").unwrap(), r.try_get("", "content").unwrap())
        })
        .collect()
}

/// Seeds users, three projects (two with messages, one without) at the pre-ticket version.
async fn seed_pre_ticket(db: &DatabaseConnection) {
    for (id, email) in [("u_ann", "ann@example.test"), ("u_bob", "bob@example.test")] {
        insert(
            db,
            "users",
            &["id", "email", "display_name", "password_hash", "created_at"],
            vec![id.into(), email.into(), "x".into(), "not-a-real-hash".into(), t(0).into()],
        )
        .await;
    }
    for (id, owner) in [(1, "u_ann"), (2, "u_bob"), (3, "u_ann")] {
        insert(
            db,
            "projects",
            &["id", "user_id", "name", "repository_kind", "repository_location", "created_at", "updated_at"],
            vec![
                id.into(),
                owner.into(),
                format!("project {id}").into(),
                "empty".into(),
                "".into(),
                t(id as i64).into(),
                t(id as i64).into(),
            ],
        )
        .await;
        insert(
            db,
            "project_members",
            &["project_id", "user_id", "role", "created_at"],
            vec![id.into(), owner.into(), "owner".into(), t(0).into()],
        )
        .await;
    }
    // Project 1: 5 messages, project 2: 3, project 3: none. Interleaved ids.
    let plan = [1, 2, 1, 1, 2, 1, 2, 1];
    for (n, project) in plan.iter().enumerate() {
        let role = if n % 2 == 0 { "user" } else { "assistant" };
        insert(
            db,
            "chat_messages",
            &["project_id", "user_id", "role", "content", "model", "commit_sha", "created_at"],
            vec![
                (*project).into(),
                "u_ann".into(),
                role.into(),
                format!("message {n}").into(),
                Expr::value(if role == "assistant" { Some("model-x") } else { None }),
                Expr::value(None::<String>),
                t(10 + n as i64).into(),
            ],
        )
        .await;
    }
}

async fn check_ticket_state(db: &DatabaseConnection, before: &[(i64, i32, String)]) {
    let sessions = rows(
        db,
        "SELECT id, project_id, user_id, title, session_id, github_branch_name, status, message_count, is_default, \
         last_activity_at FROM chat_sessions ORDER BY project_id",
    )
    .await;
    assert_eq!(sessions.len(), 3, "one default session per project, including the one without messages");
    let mut session_of_project = std::collections::HashMap::new();
    for (row, (project, owner, count, last)) in
        sessions.iter().zip([(1, "u_ann", 5, t(17)), (2, "u_bob", 3, t(16)), (3, "u_ann", 0, t(3))])
    {
        let project_id: i32 = row.try_get("", "project_id").unwrap();
        let session_id: String = row.try_get("", "session_id").unwrap();
        assert_eq!(project_id, project);
        assert_eq!(row.try_get::<String>("", "user_id").unwrap(), owner);
        assert_eq!(row.try_get::<String>("", "title").unwrap(), "Main Conversation");
        assert_eq!(row.try_get::<String>("", "status").unwrap(), "active");
        assert_eq!(row.try_get::<i32>("", "message_count").unwrap(), count, "project {project}");
        assert!(row.try_get::<bool>("", "is_default").unwrap());
        assert_eq!(row.try_get::<DateTime<Utc>>("", "last_activity_at").unwrap(), last, "project {project}");
        assert_eq!(session_id.len(), 20);
        assert!(session_id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
        assert_eq!(row.try_get::<String>("", "github_branch_name").unwrap(), format!("kosuke-chat-{session_id}"));
        session_of_project.insert(project_id, row.try_get::<i32>("", "id").unwrap());
    }
    let repointed = rows(db, "SELECT id, project_id, chat_session_id, content FROM chat_messages ORDER BY id").await;
    assert_eq!(messages(db).await, before, "every message kept, unchanged");
    for row in &repointed {
        let project: i32 = row.try_get("", "project_id").unwrap();
        let session: i32 = row.try_get("", "chat_session_id").unwrap();
        assert_eq!(
            Some(&session),
            session_of_project.get(&project),
            "message re-pointed to its project's default session"
        );
    }
    let branches = rows(db, "SELECT default_branch FROM projects").await;
    assert!(branches.iter().all(|r| r.try_get::<String>("", "default_branch").unwrap() == "main"));
    // NOT NULL now holds: a message without a session is refused.
    let orphan = db
        .execute_raw(Statement::from_string(
            db.get_database_backend(),
            "INSERT INTO chat_messages (project_id, role, content, created_at, updated_at) \
             VALUES (1, 'user', 'orphan', '2025-06-01T12:00:00+00:00', '2025-06-01T12:00:00+00:00')",
        ))
        .await;
    assert!(orphan.is_err(), "chat_session_id is NOT NULL");
}

async fn index_names(db: &DatabaseConnection) -> Vec<String> {
    let sql = match db.get_database_backend() {
        sea_orm::DbBackend::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'index' ORDER BY name",
        _ => "SELECT indexname AS name FROM pg_indexes WHERE schemaname = 'public' ORDER BY indexname",
    };
    rows(db, sql).await.iter().map(|r| r.try_get::<String>("", "name").unwrap()).collect()
}

db_test!(
    async fn the_ticket_migration_moves_messages_into_default_sessions_and_back(backend) {
        let database = TestDatabase::create(backend).await;
        let db = database.connect().await;
        Migrator::up(&db, Some(1)).await.unwrap();
        seed_pre_ticket(&db).await;
        let before = messages(&db).await;
        assert_eq!(before.len(), 8);

        Migrator::up(&db, None).await.unwrap();
        check_ticket_state(&db, &before).await;
        let indexes = index_names(&db).await;
        for name in [
            "idx_chat_sessions_project_id", "idx_chat_sessions_user_id", "idx_chat_sessions_session_id",
            "idx_chat_sessions_status", "idx_chat_messages_session_id", "idx_projects_default_branch",
        ] {
            assert!(indexes.iter().any(|i| i == name), "{name} in {indexes:?}");
        }

        let after_first = u32::try_from(Migrator::migrations().len() - 1).unwrap();
        Migrator::down(&db, Some(after_first)).await.unwrap();
        assert_eq!(messages(&db).await, before, "rolling back keeps every message, keyed by project again");
        assert!(db.execute_raw(Statement::from_string(db.get_database_backend(), "SELECT * FROM chat_sessions")).await.is_err());
        assert!(!index_names(&db).await.iter().any(|i| i == "idx_projects_default_branch"));

        Migrator::up(&db, None).await.unwrap();
        check_ticket_state(&db, &before).await;
        db.close().await.unwrap();
    }
);

/// Adds an audit entry to project 1, as the database takes it or refuses it.
async fn audit(db: &DatabaseConnection, action: &str) -> Result<(), sea_orm::DbErr> {
    let statement = Query::insert()
        .into_table(Alias::new("audit_events"))
        .columns(["actor_id", "project_id", "action", "detail", "created_at"].map(Alias::new))
        .values_panic(["u_ann".into(), 1.into(), action.into(), Expr::cust("'{}'"), t(9).into()])
        .to_owned();
    db.execute_raw(db.get_database_backend().build(&statement)).await.map(|_| ())
}

async fn audit_actions(db: &DatabaseConnection) -> Vec<String> {
    rows(db, "SELECT action FROM audit_events ORDER BY id")
        .await
        .iter()
        .map(|r| r.try_get("", "action").unwrap())
        .collect()
}

db_test!(
    async fn the_audit_trail_takes_environment_variable_changes_and_keeps_its_entries(backend) {
        let database = TestDatabase::create(backend).await;
        let db = database.connect().await;
        Migrator::up(&db, Some(1)).await.unwrap();
        seed_pre_ticket(&db).await;
        // Migrations 1 to 5 applied; the sixth takes the new actions.
        let before_env_vars = 5;
        Migrator::up(&db, Some(before_env_vars - 1)).await.unwrap();
        audit(&db, "session_created").await.unwrap();
        assert!(audit(&db, "env_var_set").await.is_err(), "not an action yet");

        Migrator::up(&db, None).await.unwrap();
        assert_eq!(audit_actions(&db).await, ["session_created"], "the rebuild keeps every entry");
        audit(&db, "env_var_set").await.unwrap();
        audit(&db, "env_var_deleted").await.unwrap();
        assert!(audit(&db, "bogus").await.is_err(), "the check still holds");

        // Down past the sixth (and every one after it).
        let from_the_sixth = Migrator::migrations().len() as u32 - before_env_vars;
        Migrator::down(&db, Some(from_the_sixth)).await.unwrap();
        assert_eq!(audit_actions(&db).await, ["session_created"], "down drops only what the old schema cannot hold");
        assert!(audit(&db, "env_var_set").await.is_err());
        Migrator::up(&db, None).await.unwrap();
        audit(&db, "env_var_set").await.unwrap();
        db.close().await.unwrap();
    }
);

db_test!(
    async fn the_oldest_account_becomes_the_admin_and_the_rest_stay_users(backend) {
        let database = TestDatabase::create(backend).await;
        let db = database.connect().await;
        Migrator::up(&db, Some(1)).await.unwrap();
        seed_pre_ticket(&db).await;
        Migrator::up(&db, None).await.unwrap();
        let admins: Vec<(String, bool)> = rows(&db, "SELECT id, is_admin FROM users ORDER BY id")
            .await
            .iter()
            .map(|r| (r.try_get("", "id").unwrap(), r.try_get("", "is_admin").unwrap()))
            .collect();
        assert_eq!(admins, [("u_ann".to_owned(), true), ("u_bob".to_owned(), false)]);
        let disabled = rows(&db, "SELECT id FROM users WHERE disabled_at IS NOT NULL").await;
        assert!(disabled.is_empty(), "nobody is disabled by the migration");
        Migrator::down(&db, Some(1)).await.unwrap();
        assert!(rows(&db, "SELECT id FROM users").await.len() == 2, "down keeps the accounts");
        Migrator::up(&db, None).await.unwrap();
        db.close().await.unwrap();
    }
);
