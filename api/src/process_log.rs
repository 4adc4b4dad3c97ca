//! The log of a project process (a checkout's setup, a session's dev server): its lines as
//! they come, numbered from 1, the last 64 KiB of them kept, watchers woken at each line, and
//! an event stream that resumes after the last line a watcher saw (`Last-Event-ID`).

use actix_web::web::Bytes;
use api_types::{LogEnd, LogLine};
use futures_util::Stream;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// How much of a log is kept, in bytes.
pub const KEPT_BYTES: usize = 64 * 1024;
/// The longest line kept, in bytes (longer ones are cut).
const MAX_LINE_BYTES: usize = 4096;

pub struct ProcessLog {
    inner: Mutex<Inner>,
    /// The number of the last line, sent at each line and at the end: watchers wake on it.
    changed: watch::Sender<u64>,
}

#[derive(Default)]
struct Inner {
    lines: VecDeque<LogLine>,
    bytes: usize,
    last: u64,
    /// Set when the process ended: the state it left.
    ended: Option<String>,
}

impl Default for ProcessLog {
    fn default() -> Self {
        ProcessLog { inner: Mutex::new(Inner::default()), changed: watch::Sender::new(0) }
    }
}

impl ProcessLog {
    pub fn new() -> Arc<ProcessLog> {
        Arc::new(ProcessLog::default())
    }

    /// A log that starts with `text` (a kept log read back), already ended in `state`.
    pub fn ended_with(text: &str, state: &str) -> Arc<ProcessLog> {
        let log = ProcessLog::new();
        for line in text.lines() {
            log.push(line.to_owned());
        }
        log.end(state);
        log
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn push(&self, mut text: String) {
        if text.len() > MAX_LINE_BYTES {
            let mut cut = MAX_LINE_BYTES;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
            text.push('…');
        }
        let last = {
            let mut inner = self.lock();
            inner.last += 1;
            inner.bytes += text.len() + 1;
            let n = inner.last;
            inner.lines.push_back(LogLine { n, text });
            while inner.bytes > KEPT_BYTES
                && let Some(old) = inner.lines.pop_front()
            {
                inner.bytes -= old.text.len() + 1;
            }
            n
        };
        self.changed.send_replace(last);
    }

    /// Marks the end of the process, in `state`.
    pub fn end(&self, state: &str) {
        let last = {
            let mut inner = self.lock();
            inner.ended = Some(state.to_owned());
            inner.last
        };
        // Watchers compare the end, not only the number: wake them all the same.
        self.changed.send_modify(|seen| *seen = last);
    }

    /// The kept lines after line `after`, and the end state once ended.
    pub fn after(&self, after: u64) -> (Vec<LogLine>, Option<String>) {
        let inner = self.lock();
        let lines = inner.lines.iter().filter(|line| line.n > after).cloned().collect();
        (lines, inner.ended.clone())
    }

    /// The kept lines as text (one per line).
    pub fn text(&self) -> String {
        let inner = self.lock();
        let mut text = String::with_capacity(inner.bytes);
        for line in &inner.lines {
            text.push_str(&line.text);
            text.push('\n');
        }
        text
    }

    /// The log as server-sent events: `line` events (id: the line's number) after line
    /// `after`, then live ones, then one `end` event once the process ended.
    pub fn events(self: Arc<Self>, after: u64) -> impl Stream<Item = Result<Bytes, actix_web::Error>> + 'static {
        let receiver = self.changed.subscribe();
        futures_util::stream::unfold(
            (self, receiver, after, false),
            |(log, mut receiver, mut after, done)| async move {
                if done {
                    return None;
                }
                loop {
                    receiver.mark_unchanged();
                    let (lines, ended) = log.after(after);
                    if !lines.is_empty() {
                        let mut frames = String::new();
                        for line in lines {
                            after = line.n;
                            let data = serde_json::to_string(&line).unwrap_or_default();
                            frames.push_str(&format!("id: {}\nevent: line\ndata: {data}\n\n", line.n));
                        }
                        return Some((Ok(Bytes::from(frames)), (log, receiver, after, false)));
                    }
                    if let Some(state) = ended {
                        let data = serde_json::to_string(&LogEnd { state }).unwrap_or_default();
                        let frame = format!("event: end\ndata: {data}\n\n");
                        return Some((Ok(Bytes::from(frame)), (log, receiver, after, true)));
                    }
                    tokio::select! {
                        changed = receiver.changed() => if changed.is_err() { return None },
                        () = tokio::time::sleep(Duration::from_secs(15)) => {
                            return Some((Ok(Bytes::from_static(b": keep-alive\n\n")), (log, receiver, after, false)));
                        }
                    }
                }
            },
        )
    }
}

/// The last lines of a log's text (at most `count`), for an error message.
pub fn tail(text: &str, count: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(count)..].join("\n")
}

/// The line after which a stream resumes: the `Last-Event-ID` a watcher sends back.
pub fn resume_after(last_event_id: Option<&str>) -> u64 {
    last_event_id.and_then(|id| id.trim().parse().ok()).unwrap_or(0)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_64_kib_numbered_from_one() {
        let log = ProcessLog::new();
        for n in 0..2_000 {
            log.push(format!("{n:>99}"));
        }
        let (lines, ended) = log.after(0);
        assert!(ended.is_none());
        assert_eq!(lines.last().unwrap().n, 2_000);
        assert!(lines.len() * 100 <= KEPT_BYTES && lines.len() * 100 > KEPT_BYTES - 100, "{}", lines.len());
        assert_eq!(log.after(1_999).0.len(), 1);
        assert_eq!(tail(&log.text(), 2), format!("{:>99}\n{:>99}", 1_998, 1_999));
    }

    #[test]
    fn long_lines_are_cut_at_a_character_boundary() {
        let log = ProcessLog::new();
        log.push("é".repeat(3_000));
        let text = log.text();
        assert!(text.ends_with("…\n") && text.len() <= MAX_LINE_BYTES + 5, "{}", text.len());
    }

    #[tokio::test]
    async fn the_stream_resumes_after_a_line_and_ends_with_the_process() {
        use futures_util::StreamExt;
        let log = ProcessLog::new();
        log.push("one".into());
        log.push("two".into());
        let stream = log.clone().events(1);
        let pusher = {
            let log = log.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(50)).await;
                log.push("three".into());
                log.end("ready");
            })
        };
        let frames: Vec<Bytes> = stream.map(|frame| frame.unwrap()).collect().await;
        pusher.await.unwrap();
        let text: String = frames.iter().map(|f| String::from_utf8_lossy(f).into_owned()).collect();
        assert!(!text.contains("\"one\""), "{text}");
        assert!(text.contains("id: 2\nevent: line\ndata: {\"n\":2,\"text\":\"two\"}"), "{text}");
        assert!(text.contains("id: 3\n"), "{text}");
        assert!(text.ends_with("event: end\ndata: {\"state\":\"ready\"}\n\n"), "{text}");
    }
}
