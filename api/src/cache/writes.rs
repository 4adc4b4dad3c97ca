//! What the database was written to, as far as the read cache cares: a generation per table,
//! moved by each statement that writes to it (`record_statement`, from the connection's metric
//! callback) and for every table by each commit (`record_commit`).

use std::sync::atomic::{AtomicU64, Ordering};

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

/// Writes seen by this process. Process-wide rather than per server: a test process runs many
/// servers, and a write in one only costs the others a cache miss.
pub(super) static WRITES: Writes = Writes::new();

/// Notes a statement that ran (see the module comment).
pub fn record_statement(sql: &str) {
    WRITES.statement(sql);
}

/// Notes a committed transaction: its writes are now visible.
pub fn record_commit() {
    WRITES.bump(Writes::EVERY_TABLE);
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
}
