//! What the database was written to, as far as the read cache cares: a generation per table,
//! moved by each statement that writes to it (`Writes::statement`, from the connection's metric
//! callback) and for every table by each commit (`record_commit`).
//!
//! Each pool has its own generations (`Writes::for_pool`), so that servers sharing a process
//! (tests under plain `cargo test`) never move each other's: one test's writes cannot hide
//! another's missing invalidation. A commit finds its pool's generations through a marker
//! statement its transaction runs just before committing (`commit_marker`), which that pool's
//! callback sees.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex};

/// The tables cached answers are read from. Writes to other tables move no generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Users,
    AuthSessions,
    ApiTokens,
    Projects,
    ProjectMembers,
    ChatSessions,
    ChatMessages,
}

impl Table {
    const ALL: [Table; 7] = [
        Table::Users,
        Table::AuthSessions,
        Table::ApiTokens,
        Table::Projects,
        Table::ProjectMembers,
        Table::ChatSessions,
        Table::ChatMessages,
    ];

    fn name(self) -> &'static str {
        match self {
            Table::Users => "users",
            Table::AuthSessions => "auth_sessions",
            Table::ApiTokens => "api_tokens",
            Table::Projects => "projects",
            Table::ProjectMembers => "project_members",
            Table::ChatSessions => "chat_sessions",
            Table::ChatMessages => "chat_messages",
        }
    }
}

/// What a statement writes, as far as the caches care.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Written {
    Nothing,
    One(Table),
    /// A table no cache reads from.
    Other,
    /// Anything: a statement that does not name its one table plainly.
    Everything,
}

pub(super) fn written(sql: &str) -> Written {
    let mut words = sql.split_whitespace();
    let first = words.next().unwrap_or_default().to_ascii_uppercase();
    let table = match first.as_str() {
        "SELECT" => return Written::Nothing,
        "INSERT" | "DELETE" => match words.next() {
            Some(into) if into.eq_ignore_ascii_case("into") || into.eq_ignore_ascii_case("from") => words.next(),
            _ => None,
        },
        "UPDATE" => words.next(),
        _ => None,
    };
    let Some(table) = table.map(|t| t.trim_matches(|c| c == '"' || c == '`')) else {
        return Written::Everything;
    };
    if table.is_empty() || table.contains(['.', '(', '"', '`']) {
        return Written::Everything;
    }
    match Table::ALL.into_iter().find(|t| t.name() == table) {
        Some(t) => Written::One(t),
        None => Written::Other,
    }
}

/// The write generations: one sequence, and for each table (and "every table") the sequence
/// number of its last write.
pub struct Writes {
    sequence: AtomicU64,
    last: [AtomicU64; Table::ALL.len() + 1],
}

impl Writes {
    pub(super) const EVERY_TABLE: usize = Table::ALL.len();

    pub(super) const fn new() -> Self {
        Writes { sequence: AtomicU64::new(0), last: [const { AtomicU64::new(0) }; Table::ALL.len() + 1] }
    }

    pub(super) fn bump(&self, slot: usize) {
        let at = self.sequence.fetch_add(1, Ordering::SeqCst) + 1;
        self.last[slot].fetch_max(at, Ordering::SeqCst);
    }

    pub(super) fn statement(&self, sql: &str) {
        match written(sql) {
            Written::Nothing | Written::Other => {}
            Written::One(table) => self.bump(table as usize),
            Written::Everything => self.bump(Self::EVERY_TABLE),
        }
    }

    /// The generation of answers read from `tables`.
    pub(super) fn generation(&self, tables: &[Table]) -> u64 {
        let every = self.last[Self::EVERY_TABLE].load(Ordering::SeqCst);
        tables.iter().map(|&t| self.last[t as usize].load(Ordering::SeqCst)).fold(every, u64::max)
    }
}

impl Writes {
    /// Another node wrote to the table named `name` (announced by PostgreSQL, `nodes::listen`).
    pub fn table_written(&self, name: &str) {
        match Table::ALL.into_iter().find(|t| t.name() == name) {
            Some(table) => self.bump(table as usize),
            None => self.bump(Self::EVERY_TABLE),
        }
    }

    /// Anything may have been written (announcements were missed): every answer is dropped.
    pub fn everything_written(&self) {
        self.bump(Self::EVERY_TABLE);
    }

    /// Generations of their own, for one pool (made once per server: never freed).
    pub fn for_pool() -> &'static Writes {
        Box::leak(Box::new(Writes::new()))
    }

    /// Notes a statement that ran on this pool (see the module comment).
    pub fn record_statement(&'static self, sql: &str) {
        if let Some(token) = sql.strip_prefix(MARKER).and_then(|rest| rest.strip_suffix(" */")) {
            if let Ok(token) = token.parse() {
                pending().insert(token, self);
            }
            return;
        }
        self.statement(sql);
    }
}

const MARKER: &str = "SELECT 1 /* kosuke-commit ";

/// Commits whose pool's callback has seen their marker, by token.
static PENDING: LazyLock<Mutex<HashMap<u64, &'static Writes>>> = LazyLock::new(Default::default);

fn pending() -> std::sync::MutexGuard<'static, HashMap<u64, &'static Writes>> {
    PENDING.lock().unwrap_or_else(|p| p.into_inner())
}

/// The statement a transaction runs just before it commits, and its token for `record_commit`.
pub fn commit_marker() -> (u64, String) {
    let token = rand::random::<u64>();
    (token, format!("{MARKER}{token} */"))
}

/// Notes a committed transaction (its marker's token): its writes are now visible.
pub fn record_commit(token: u64) {
    if let Some(writes) = pending().remove(&token) {
        writes.bump(Writes::EVERY_TABLE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_name_what_they_write() {
        assert_eq!(written("SELECT 1"), Written::Nothing);
        assert_eq!(written("  select \"id\" FROM x"), Written::Nothing);
        assert_eq!(written("INSERT INTO \"chat_messages\" (\"a\") VALUES ($1)"), Written::One(Table::ChatMessages));
        assert_eq!(written("update chat_sessions set a = 1"), Written::One(Table::ChatSessions));
        assert_eq!(written("DELETE FROM \"auth_sessions\" WHERE 1"), Written::One(Table::AuthSessions));
        assert_eq!(written("UPDATE \"agent_runs\" SET x = 1"), Written::Other);
        for sql in [
            "WITH a AS (DELETE FROM x) SELECT 1",
            "CREATE TABLE x ()",
            "INSERT \"x\"",
            "UPDATE \"public\".\"users\" SET",
            "VACUUM",
            "",
        ] {
            assert_eq!(written(sql), Written::Everything, "{sql}");
        }
    }

    #[test]
    fn a_commit_moves_only_its_own_pools_generations() {
        let (ours, theirs) = (Writes::for_pool(), Writes::for_pool());
        let (token, marker) = commit_marker();
        ours.record_statement(&marker);
        assert_eq!(ours.generation(&[Table::Users]), 0, "the marker is no write");
        record_commit(token);
        assert!(ours.generation(&[Table::Users]) > 0);
        assert_eq!(theirs.generation(&[Table::Users]), 0, "another server's commit is not ours");
        theirs.record_statement("INSERT INTO users (id) VALUES ('x')");
        assert_eq!(theirs.generation(&[Table::Projects]), 0);
        assert!(theirs.generation(&[Table::Users]) > 0);
    }
}
