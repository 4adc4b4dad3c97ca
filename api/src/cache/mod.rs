//! Answers to reads, kept in memory until a write to a table they were read from.
//!
//! kosuke is the only writer of its database while it runs (one server per data directory:
//! the checkouts live there too), and every statement it sends goes through sea-orm. The
//! connection's metric callback (`db::connect`) notes every statement that is not a `SELECT`,
//! after it ran, as a write to its table (`INSERT INTO t`, `UPDATE t`, `DELETE FROM t`; any
//! other statement counts as a write to every table), and `store::commit` notes each
//! transaction after its commit as a write to every table: so each table's write generation
//! moves after every change to it is visible to other connections.
//!
//! A cache names the tables its answers are read from. A reader takes their generation
//! *before* it queries and keeps its answer under that generation. A write that lands while
//! the reader queries moves the generation, so that answer is never served; a write inside a
//! transaction moves it before and after the commit, so an answer read between the two is
//! dropped at the commit.

mod writes;

pub use writes::{Table, Writes, commit_marker, record_commit};

use crate::auth::CurrentUser;
use crate::error::ApiError;
use actix_web::http::header::ContentType;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use tokio::sync::OnceCell;

/// Values of one kind of read, by key, all from one write generation of their tables.
pub struct ReadCache<K, V> {
    /// At most this much in all (`weigh` of each value); a value that would go over empties
    /// the cache first (answers are cheap to make again), one over a quarter is not kept.
    budget: usize,
    weigh: fn(&V) -> usize,
    /// The tables the values are read from: a write to any of them drops every value.
    tables: &'static [Table],
    /// The write generations of the server's pool (or a test's own).
    writes: &'static Writes,
    inner: Mutex<Generation<K, V>>,
    /// Loads under way, by key and the generation they started in.
    flights: Mutex<Flights<K, V>>,
}

/// Loads under way, by key and generation: each a cell its first caller fills.
type Flights<K, V> = HashMap<(K, u64), Arc<OnceCell<V>>>;

/// Loads under way at most (more are forgotten: their callers still get their answers).
const MAX_FLIGHTS: usize = 10_000;

struct Generation<K, V> {
    generation: u64,
    values: HashMap<K, V>,
    /// The sum of `weigh` over `values`.
    weight: usize,
}

impl<K: Eq + Hash + Clone, V: Clone> ReadCache<K, V> {
    /// A cache of up to `budget` values read from `tables` (written as `writes` says); 0 keeps
    /// and shares nothing.
    pub fn new(tables: &'static [Table], budget: usize, writes: &'static Writes) -> Self {
        Self::with_writes(tables, budget, |_| 1, writes)
    }

    /// A cache of values read from `tables`, weighing up to `budget` in all.
    pub fn weighed(tables: &'static [Table], budget: usize, weigh: fn(&V) -> usize, writes: &'static Writes) -> Self {
        Self::with_writes(tables, budget, weigh, writes)
    }

    fn with_writes(tables: &'static [Table], budget: usize, weigh: fn(&V) -> usize, writes: &'static Writes) -> Self {
        let generation = Generation { generation: writes.generation(tables), values: HashMap::new(), weight: 0 };
        ReadCache { budget, weigh, tables, writes, inner: Mutex::new(generation), flights: Mutex::default() }
    }

    fn generation(&self) -> u64 {
        self.writes.generation(self.tables)
    }

    /// The value of `key` from the current generation, else `load`'s answer, kept when no write
    /// landed while it loaded. Errors are never kept.
    pub async fn get_or_load<E>(&self, key: K, load: impl Future<Output = Result<V, E>>) -> Result<V, E> {
        self.get_or_load_if(key, |_| true, load).await
    }

    /// Like `get_or_load`, but a kept value that is not `fresh` is loaded again.
    pub async fn get_or_load_if<E>(
        &self,
        key: K,
        fresh: impl Fn(&V) -> bool,
        load: impl Future<Output = Result<V, E>>,
    ) -> Result<V, E> {
        if self.budget == 0 {
            // Off: every read is answered by its own load.
            return load.await;
        }
        let read_at = self.generation();
        if let Some(value) = self.get(&key, read_at).filter(|value| fresh(value)) {
            return Ok(value);
        }
        // Concurrent misses of one key in one generation share one load: the first caller's
        // (its read began after any write the others have seen). A failed load is not shared.
        let flight_key = (key.clone(), read_at);
        let flight = {
            let mut flights = self.flights.lock().unwrap_or_else(|p| p.into_inner());
            if flights.len() >= MAX_FLIGHTS {
                flights.clear();
            }
            flights.entry(flight_key.clone()).or_default().clone()
        };
        let shared = flight.get_or_try_init(|| load).await.cloned();
        {
            let mut flights = self.flights.lock().unwrap_or_else(|p| p.into_inner());
            if flights.get(&flight_key).is_some_and(|f| Arc::ptr_eq(f, &flight)) {
                flights.remove(&flight_key);
            }
        }
        let value = shared?;
        if fresh(&value) {
            self.insert(key, read_at, value.clone());
        }
        Ok(value)
    }

    fn get(&self, key: &K, read_at: u64) -> Option<V> {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if inner.generation != read_at {
            return None;
        }
        inner.values.get(key).cloned()
    }

    fn insert(&self, key: K, read_at: u64, value: V) {
        let weight = (self.weigh)(&value);
        if weight > self.budget.div_ceil(4) {
            return;
        }
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if self.generation() != read_at || inner.generation > read_at {
            return;
        }
        if inner.generation != read_at || inner.weight + weight > self.budget {
            inner.values.clear();
            inner.weight = 0;
            inner.generation = read_at;
        }
        inner.weight += weight;
        if let Some(replaced) = inner.values.insert(key, value) {
            inner.weight -= (self.weigh)(&replaced);
        }
    }
}

/// The reads the server keeps: who a token belongs to, and the bodies of the hottest GETs (the
/// session list and message pages, which a busy sidebar asks for again and again).
pub struct Reads {
    /// By token kind and SHA-256: the user, and until when that answer may be used (a sign-in's
    /// expiry; for a personal access token, when its use should be noted again).
    pub users: ReadCache<(TokenKind, String), (CurrentUser, DateTime<Utc>)>,
    /// Session lists, by user and the request's path and query: the JSON body.
    pub sessions: ReadCache<(String, String), Bytes>,
    /// Message pages, likewise. Apart from the lists: a streaming run writes its message every
    /// moment, which leaves the lists kept.
    pub messages: ReadCache<(String, String), Bytes>,
}

/// The bytes of response bodies each cache keeps at most (a message page can be large; one
/// over a quarter of this is not kept).
const RESPONSE_BYTES: usize = 16 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenKind {
    Login,
    ApiToken,
}

impl Reads {
    /// With `enabled` false nothing is kept. Each cache names every table its answers are read
    /// from (a table left out would leave stale answers after writes to it).
    /// `writes`: the generations of the server's pool (`db::connect`).
    pub fn new(enabled: bool, writes: &'static Writes) -> Self {
        use Table::*;
        let budget = |n| if enabled { n } else { 0 };
        Reads {
            users: ReadCache::new(&[Users, AuthSessions, ApiTokens], budget(10_000), writes),
            // `sessions::list`: project access, then the sessions.
            sessions: ReadCache::weighed(
                &[Projects, ProjectMembers, ChatSessions],
                budget(RESPONSE_BYTES),
                Bytes::len,
                writes,
            ),
            // `sessions::messages`: project access, the session (its message count), the messages.
            messages: ReadCache::weighed(
                &[Projects, ProjectMembers, ChatSessions, ChatMessages],
                budget(RESPONSE_BYTES),
                Bytes::len,
                writes,
            ),
        }
    }
}

/// The JSON answer to `user`'s GET of `request` from `cache`: the body of the same GET made
/// since the last write to the cache's tables, else `make`'s answer.
pub async fn json<T: Serialize>(
    cache: &ReadCache<(String, String), Bytes>,
    user: &CurrentUser,
    request: &HttpRequest,
    make: impl Future<Output = Result<T, ApiError>>,
) -> Result<HttpResponse, ApiError> {
    let key = (user.id.clone(), request.uri().to_string());
    let body = cache
        .get_or_load(key, async { serde_json::to_vec(&make.await?).map(Bytes::from).map_err(ApiError::internal) })
        .await?;
    Ok(HttpResponse::Ok().insert_header(ContentType::json()).body(body))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::convert::Infallible;

    /// Each test has its own writes: tests run in parallel.
    fn counted(budget: usize) -> (ReadCache<u32, u32>, &'static Writes) {
        let writes: &'static Writes = Box::leak(Box::new(Writes::new()));
        (ReadCache::with_writes(&[Table::ChatSessions], budget, |_| 1, writes), writes)
    }

    async fn load(cache: &ReadCache<u32, u32>, key: u32, value: u32) -> u32 {
        cache.get_or_load(key, async { Ok::<_, Infallible>(value) }).await.unwrap()
    }

    #[actix_web::test]
    async fn answers_are_kept_until_a_write() {
        let (cache, writes) = counted(10);
        assert_eq!(load(&cache, 1, 10).await, 10);
        assert_eq!(load(&cache, 1, 11).await, 10, "kept");
        writes.statement("INSERT INTO \"chat_messages\" (\"id\") VALUES ($1)");
        writes.statement("UPDATE \"agent_runs\" SET \"status\" = $1");
        assert_eq!(load(&cache, 1, 12).await, 10, "kept after writes to other tables");
        writes.statement("UPDATE \"chat_sessions\" SET \"title\" = $1 WHERE \"id\" = $2");
        assert_eq!(load(&cache, 1, 13).await, 13, "dropped after a write to its table");
        writes.bump(Writes::EVERY_TABLE);
        assert_eq!(load(&cache, 1, 14).await, 14, "dropped after a commit");
    }

    #[actix_web::test]
    async fn an_answer_read_while_a_write_landed_is_not_kept() {
        let (cache, writes) = counted(10);
        let value = cache
            .get_or_load(1, async {
                writes.statement("DELETE FROM chat_sessions WHERE id = 1");
                Ok::<_, Infallible>(20)
            })
            .await
            .unwrap();
        assert_eq!(value, 20);
        assert_eq!(load(&cache, 1, 21).await, 21);
    }

    #[actix_web::test]
    async fn errors_are_not_kept_and_a_zero_budget_keeps_nothing() {
        let (cache, _) = counted(10);
        assert!(cache.get_or_load(1, async { Err::<u32, _>("no") }).await.is_err());
        assert_eq!(load(&cache, 1, 30).await, 30);
        let (off, _) = counted(0);
        assert_eq!(load(&off, 1, 31).await, 31);
        assert_eq!(load(&off, 1, 32).await, 32);
        let slow = |value: u32| async move {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            Ok::<_, Infallible>(value)
        };
        let (a, b) = futures_util::join!(off.get_or_load(1, slow(33)), off.get_or_load(1, slow(34)));
        assert_eq!((a.unwrap(), b.unwrap()), (33, 34), "nor are loads shared");
    }

    #[actix_web::test]
    async fn a_full_cache_starts_over() {
        let (cache, _) = counted(2);
        load(&cache, 1, 1).await;
        load(&cache, 2, 2).await;
        load(&cache, 3, 3).await;
        assert_eq!(load(&cache, 3, 4).await, 3);
        assert_eq!(load(&cache, 1, 5).await, 5, "emptied when full");
    }

    #[actix_web::test]
    async fn values_are_kept_by_weight() {
        let writes: &'static Writes = Box::leak(Box::new(Writes::new()));
        let cache: ReadCache<u32, u32> = ReadCache::with_writes(&[], 100, |v| *v as usize, writes);
        assert_eq!(load(&cache, 1, 26).await, 26);
        assert_eq!(load(&cache, 1, 0).await, 0, "over a quarter of the budget: not kept");
        for key in 2..6 {
            load(&cache, key, 25).await;
        }
        assert_eq!(load(&cache, 2, 0).await, 25, "four quarters fit");
        load(&cache, 6, 25).await;
        assert_eq!(load(&cache, 2, 0).await, 0, "a fifth emptied the cache");
    }

    #[actix_web::test]
    async fn concurrent_misses_share_one_load_unless_a_write_comes_between() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let (cache, writes) = counted(10);
        let loads = AtomicUsize::new(0);
        let slow = |value: u32| {
            let loads = &loads;
            async move {
                loads.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                Ok::<_, Infallible>(value)
            }
        };
        let answers = futures_util::future::join_all((0..10).map(|n| cache.get_or_load(1, slow(n)))).await;
        assert!(answers.iter().all(|a| *a.as_ref().unwrap() == 0), "{answers:?}");
        assert_eq!(loads.load(Ordering::SeqCst), 1);

        writes.statement("UPDATE chat_sessions SET title = 'x'");
        let first = cache.get_or_load(1, slow(20));
        let after_a_write = async {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            writes.statement("UPDATE chat_sessions SET title = 'y'");
            cache.get_or_load(1, slow(21)).await
        };
        let (first, second) = futures_util::join!(first, after_a_write);
        assert_eq!((first.unwrap(), second.unwrap()), (20, 21), "a read after a write is its own");
        assert_eq!(loads.load(Ordering::SeqCst), 3);
    }
}
