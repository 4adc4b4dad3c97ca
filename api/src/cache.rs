//! Answers to reads, kept in memory until the next write to the database.
//!
//! kosuke is the only writer of its database while it runs (one server per data directory:
//! the checkouts live there too), and every statement it sends goes through sea-orm. The
//! connection's metric callback (`db::connect`) counts every statement that is not a `SELECT`
//! as a write, after it ran, and `store::commit` counts each transaction after its commit: the
//! write generation moves after every change is visible to other connections.
//!
//! A reader takes the generation *before* it queries and keeps its answer under that
//! generation. A write that lands while the reader queries moves the generation, so that answer
//! is never served; a write inside a transaction moves it before and after the commit, so an
//! answer read between the two is dropped at the commit. Any write drops every answer: coarse,
//! but it cannot miss one.

use crate::auth::CurrentUser;
use crate::error::ApiError;
use actix_web::http::header::ContentType;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Writes seen by this process. Process-wide rather than per server: a test process runs many
/// servers, and a write in one only costs the others a cache miss.
static WRITES: AtomicU64 = AtomicU64::new(0);

/// Notes a write (see the module comment for when it must be called).
pub fn record_write() {
    WRITES.fetch_add(1, Ordering::SeqCst);
}

/// Whether a statement may change the database: anything but a `SELECT`.
pub fn is_write(sql: &str) -> bool {
    let head = sql.trim_start().get(..6).unwrap_or_default();
    !head.eq_ignore_ascii_case("select")
}

/// Values of one kind of read, by key, all from one write generation.
pub struct ReadCache<K, V> {
    /// At most this many values; a full cache is emptied (answers are cheap to make again).
    capacity: usize,
    /// The write counter: `WRITES`, or a test's own.
    writes: &'static AtomicU64,
    inner: Mutex<Generation<K, V>>,
}

struct Generation<K, V> {
    generation: u64,
    values: HashMap<K, V>,
}

impl<K: Eq + Hash, V: Clone> ReadCache<K, V> {
    /// A cache of up to `capacity` values; 0 keeps nothing.
    pub fn new(capacity: usize) -> Self {
        Self::counting(capacity, &WRITES)
    }

    fn counting(capacity: usize, writes: &'static AtomicU64) -> Self {
        let generation = Generation { generation: writes.load(Ordering::SeqCst), values: HashMap::new() };
        ReadCache { capacity, writes, inner: Mutex::new(generation) }
    }

    fn generation(&self) -> u64 {
        self.writes.load(Ordering::SeqCst)
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
        let read_at = self.generation();
        if let Some(value) = self.get(&key, read_at).filter(|value| fresh(value)) {
            return Ok(value);
        }
        let value = load.await?;
        self.insert(key, read_at, value.clone());
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
        if self.capacity == 0 {
            return;
        }
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if self.generation() != read_at || inner.generation > read_at {
            return;
        }
        if inner.generation != read_at || inner.values.len() >= self.capacity {
            inner.values.clear();
            inner.generation = read_at;
        }
        inner.values.insert(key, value);
    }
}

/// The reads the server keeps: who a token belongs to, and the bodies of the hottest GETs (the
/// session list and message pages, which a busy sidebar asks for again and again).
pub struct Reads {
    /// By token kind and SHA-256: the user, and until when that answer may be used (a sign-in's
    /// expiry; for a personal access token, when its use should be noted again).
    pub users: ReadCache<(TokenKind, String), (CurrentUser, DateTime<Utc>)>,
    /// By user and the request's path and query: the JSON body.
    responses: ReadCache<(String, String), Bytes>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenKind {
    Login,
    ApiToken,
}

impl Reads {
    /// With `enabled` false nothing is kept.
    pub fn new(enabled: bool) -> Self {
        let capacity = |n| if enabled { n } else { 0 };
        Reads { users: ReadCache::new(capacity(10_000)), responses: ReadCache::new(capacity(1_000)) }
    }

    /// The JSON answer to `user`'s GET of `request`: the body of the same GET made since the
    /// last write, else `make`'s answer.
    pub async fn json<T: Serialize>(
        &self,
        user: &CurrentUser,
        request: &HttpRequest,
        make: impl Future<Output = Result<T, ApiError>>,
    ) -> Result<HttpResponse, ApiError> {
        let key = (user.id.clone(), request.uri().to_string());
        let body = self
            .responses
            .get_or_load(key, async { serde_json::to_vec(&make.await?).map(Bytes::from).map_err(ApiError::internal) })
            .await?;
        Ok(HttpResponse::Ok().insert_header(ContentType::json()).body(body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;

    /// Each test counts its own writes: tests run in parallel.
    fn counted(capacity: usize) -> (ReadCache<u32, u32>, &'static AtomicU64) {
        let writes: &'static AtomicU64 = Box::leak(Box::new(AtomicU64::new(0)));
        (ReadCache::counting(capacity, writes), writes)
    }

    async fn load(cache: &ReadCache<u32, u32>, key: u32, value: u32) -> u32 {
        cache.get_or_load(key, async { Ok::<_, Infallible>(value) }).await.unwrap()
    }

    #[actix_web::test]
    async fn answers_are_kept_until_a_write() {
        let (cache, writes) = counted(10);
        assert_eq!(load(&cache, 1, 10).await, 10);
        assert_eq!(load(&cache, 1, 11).await, 10, "kept");
        writes.fetch_add(1, Ordering::SeqCst);
        assert_eq!(load(&cache, 1, 12).await, 12, "dropped after a write");
    }

    #[actix_web::test]
    async fn an_answer_read_while_a_write_landed_is_not_kept() {
        let (cache, writes) = counted(10);
        let value = cache
            .get_or_load(1, async {
                writes.fetch_add(1, Ordering::SeqCst);
                Ok::<_, Infallible>(20)
            })
            .await
            .unwrap();
        assert_eq!(value, 20);
        assert_eq!(load(&cache, 1, 21).await, 21);
    }

    #[actix_web::test]
    async fn errors_are_not_kept_and_capacity_zero_keeps_nothing() {
        let (cache, _) = counted(10);
        assert!(cache.get_or_load(1, async { Err::<u32, _>("no") }).await.is_err());
        assert_eq!(load(&cache, 1, 30).await, 30);
        let (off, _) = counted(0);
        assert_eq!(load(&off, 1, 31).await, 31);
        assert_eq!(load(&off, 1, 32).await, 32);
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

    #[test]
    fn only_selects_are_reads() {
        assert!(!is_write("SELECT 1"));
        assert!(!is_write("  select \"id\" FROM x"));
        for sql in ["INSERT INTO x", "UPDATE x SET", "DELETE FROM x", "WITH a AS (DELETE", "CREATE TABLE", "up"] {
            assert!(is_write(sql), "{sql}");
        }
    }
}
