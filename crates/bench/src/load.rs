//! The load generator: `connections` loops, each sending its next request as soon as the last
//! one answered, for a fixed window; latency of every successful request is recorded.

use crate::session_creation::stats;
use std::future::Future;
use std::time::{Duration, Instant};

/// How long each (endpoint, connections) cell of reads is measured.
pub const WINDOW: Duration = Duration::from_secs(3);
/// Writes leave work behind (each new session's checkout is made in the background, one at a
/// time per project), so their cells are shorter.
pub const WRITE_WINDOW: Duration = Duration::from_secs(1);

pub const CONNECTIONS: [usize; 3] = [1, 16, 64];

/// Runs `request(connection, n)` from `connections` concurrent loops for `window`; it
/// answers whether the request succeeded.
pub async fn load<F, Fut>(window: Duration, connections: usize, request: F) -> serde_json::Value
where
    F: Fn(usize, u64) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = bool> + Send,
{
    let deadline = Instant::now() + window;
    // Collected at once, so every loop starts now (a lazy iterator would start each loop only
    // after the previous one ended).
    let loops: Vec<_> = (0..connections)
        .map(|connection| {
            let request = request.clone();
            tokio::spawn(async move {
                let (mut samples, mut errors, mut n) = (Vec::new(), 0u64, 0u64);
                while Instant::now() < deadline {
                    let started = Instant::now();
                    if request(connection, n).await {
                        samples.push(started.elapsed());
                    } else {
                        errors += 1;
                    }
                    n += 1;
                }
                (samples, errors)
            })
        })
        .collect();
    let (mut samples, mut errors) = (Vec::new(), 0);
    for handle in loops {
        let (s, e) = handle.await.unwrap();
        samples.extend(s);
        errors += e;
    }
    let count = samples.len();
    let mut row = if samples.is_empty() { serde_json::json!({}) } else { stats(samples) };
    row["requests_per_second"] = serde_json::json!(count as f64 / window.as_secs_f64());
    row["errors"] = serde_json::json!(errors);
    row
}

/// A GET with a bearer token that must answer 2xx; the body is read in full.
pub async fn get_ok(http: &reqwest::Client, url: &str, token: &str) -> bool {
    match http.get(url).bearer_auth(token).send().await {
        Ok(response) if response.status().is_success() => response.bytes().await.is_ok(),
        _ => false,
    }
}

/// "p50 / p99, N/s" for a table cell.
pub fn cell(row: &serde_json::Value) -> String {
    let number = |key: &str| row[key].as_f64().unwrap_or(f64::NAN);
    format!("{:.2} / {:.2}, {:.0}/s", number("median_ms"), number("p99_ms"), number("requests_per_second"))
}

/// Measures one endpoint at every connection count, prints its row and returns it as JSON.
pub async fn row<F, Fut>(name: &str, window: Duration, request: F) -> serde_json::Value
where
    F: Fn(usize, u64) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = bool> + Send,
{
    let mut cells = Vec::new();
    for connections in CONNECTIONS {
        cells.push(
            serde_json::json!({"connections": connections, "result": load(window, connections, request.clone()).await}),
        );
    }
    let text: Vec<String> = cells.iter().map(|c| cell(&c["result"])).collect();
    println!("{name:<50} {:>26} {:>26} {:>26}", text[0], text[1], text[2]);
    serde_json::json!({"endpoint": name, "by_connections": cells})
}

pub fn header(title: &str) {
    println!(
        "\n{title}, {} s per cell of reads, {} s of writes (p50 / p99 ms, requests per second)",
        WINDOW.as_secs(),
        WRITE_WINDOW.as_secs()
    );
    println!("{:<50} {:>26} {:>26} {:>26}", "endpoint", "1 connection", "16 connections", "64 connections");
}
