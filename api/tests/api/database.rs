//! How kosuke sets up its database connections.

use std::ffi::c_int;

/// Every pooled SQLite connection has the query planner stability guarantee on, so cached
/// statements are not planned again for each new binding (see `api::db::connect`).
#[tokio::test]
async fn sqlite_connections_keep_one_plan_per_statement() {
    let dir = tempfile::TempDir::new().unwrap();
    let db = api::db::connect(&format!("sqlite://{}?mode=rwc", dir.path().join("plans.db").display())).await.unwrap();
    for _ in 0..2 {
        let mut connection = db.get_sqlite_connection_pool().acquire().await.unwrap();
        let mut handle = connection.lock_handle().await.unwrap();
        let mut enabled: c_int = -1;
        // SAFETY: the handle is held exclusively; -1 asks for the current value, written to `enabled`.
        let code = unsafe {
            libsqlite3_sys::sqlite3_db_config(
                handle.as_raw_handle().as_ptr(),
                libsqlite3_sys::SQLITE_DBCONFIG_ENABLE_QPSG,
                -1 as c_int,
                &mut enabled as *mut c_int,
            )
        };
        assert_eq!(code, libsqlite3_sys::SQLITE_OK);
        assert_eq!(enabled, 1, "QPSG is on for this connection");
    }
}

crate::db_test!(
    /// Writes that arrive together all land: none fails because another holds the database
    /// (on SQLite a transaction that read first and then writes could not take the write lock
    /// once another writer committed, and answered 500 "database is locked").
    async fn concurrent_writes_all_succeed_or_conflict(backend) {
        let app = crate::harness::spawn_app(backend).await;
        let (owner, _) = app.user("ann").await;
        let project = app.project(&owner, "p").await;
        let sets = (0..16).map(|n| {
            let owner = owner.clone();
            async move { owner.set_env_var(project.id, &format!("KEY_{}", n % 4), &format!("value {n}")).await }
        });
        let signups = (0..16).map(|n| {
            let client = app.client();
            async move {
                client
                    .signup(&api_types::SignupRequest {
                        email: format!("racer{}@example.test", n % 8),
                        password: "racer-password".into(),
                        display_name: "Racer".into(),
                    })
                    .await
                    .map(drop)
            }
        });
        app.github.accept_token("ghp_race", "octocat", "repo");
        let connects = (0..8).map(|_| {
            let owner = owner.clone();
            async move { owner.connect_github(&api_types::ConnectGitHubRequest { token: "ghp_race".into() }).await }
        });
        let (sets, signups, connects) = tokio::join!(
            futures_util::future::join_all(sets),
            futures_util::future::join_all(signups),
            futures_util::future::join_all(connects)
        );
        for result in sets {
            result.expect("every env var write lands");
        }
        for result in connects {
            result.expect("every GitHub connect lands");
        }
        let mut taken = 0;
        for result in signups {
            match result {
                Ok(()) => {}
                Err(err) if err.status() == Some(409) => taken += 1,
                Err(err) => panic!("a sign-up failed instead of landing or conflicting: {err:?}"),
            }
        }
        assert_eq!(taken, 8, "each of the 8 addresses is taken by exactly one sign-up");
        let keys = owner.list_env_vars(project.id).await.unwrap();
        assert_eq!(keys.variables.len(), 4);
    }
);

/// SQLite's write transactions take turns in the server's own lane (`store::Txn`) before they
/// ask the pool for a connection: with one open and more waiting to begin than the pool has
/// connections, a read still gets one at once, and every waiter then writes in turn. Before,
/// each waiter sat in SQLite's busy handler on a pooled connection, and with the pool taken the
/// read waited for the open transaction to end.
#[tokio::test]
async fn writers_waiting_for_their_turn_leave_the_pool_to_readers() {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    let dir = tempfile::TempDir::new().unwrap();
    let db = api::db::connect(&format!("sqlite://{}?mode=rwc", dir.path().join("lane.db").display())).await.unwrap();
    db.execute_unprepared("CREATE TABLE turns (n INTEGER NOT NULL)").await.unwrap();
    let count = || db.query_one_raw(Statement::from_string(DbBackend::Sqlite, "SELECT count(*) AS c FROM turns"));

    let open = api::store::begin(&db).await.unwrap();
    open.execute_unprepared("INSERT INTO turns VALUES (0)").await.unwrap();
    let waiting: Vec<_> = (1..=12)
        .map(|n| {
            let db = db.clone();
            tokio::spawn(async move {
                let txn = api::store::begin(&db).await.unwrap();
                txn.execute_unprepared(&format!("INSERT INTO turns VALUES ({n})")).await.unwrap();
                api::store::commit(txn).await.unwrap();
            })
        })
        .collect();
    // Give the twelve time to take whatever they take while they wait.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let read = tokio::time::timeout(std::time::Duration::from_secs(10), count())
        .await
        .expect("a read gets a pooled connection while twelve writers wait for their turn")
        .unwrap()
        .unwrap();
    assert_eq!(read.try_get::<i64>("", "c").unwrap(), 0, "the open transaction's row is not visible yet");

    api::store::commit(open).await.unwrap();
    for writer in waiting {
        writer.await.unwrap();
    }
    let all = count().await.unwrap().unwrap();
    assert_eq!(all.try_get::<i64>("", "c").unwrap(), 13, "every waiting writer wrote in its turn");
}
