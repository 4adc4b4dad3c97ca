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
