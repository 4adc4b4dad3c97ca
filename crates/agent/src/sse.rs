//! Server-sent events from a byte stream, parsed as the SSE standard says (WHATWG HTML,
//! "Parsing an event stream"): bytes are buffered until an event is whole — lines end in CRLF,
//! LF or CR, an event ends at a blank line — and only then decoded as UTF-8, so a character
//! split across two network reads arrives intact. `data:` lines join with a newline, `event:`
//! names the event, comments (`:`) and unknown fields are ignored, one leading space after the
//! colon is dropped. One field beyond the standard: llama.cpp's server writes a streamed error
//! as an `error:` line (`error: {"code":500,"message":…}`), kept here as [`SseEvent::error`].
//!
//! Silence longer than the stall bound is an error, never a hang; every byte (a keep-alive
//! comment too) restarts the clock, and the caller may lengthen the bound while it knows the
//! provider is composing something slow (a tool call's arguments).

use crate::AgentError;
use futures_util::{Stream, StreamExt};
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    pub event: Option<String>,
    pub data: String,
    /// The value of an `error:` field (llama.cpp), when the event had one.
    pub error: Option<String>,
}

pub struct SseReader<S> {
    stream: S,
    /// Bytes of the event being received, not yet whole.
    buffer: Vec<u8>,
    /// Where the line still open in `buffer` starts (the bytes before it were searched).
    scanned: usize,
    stall: Duration,
}

impl<S, E> SseReader<S>
where
    S: Stream<Item = Result<bytes::Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    pub fn new(stream: S, stall: Duration) -> Self {
        SseReader { stream, buffer: Vec::new(), scanned: 0, stall }
    }

    /// From now on, this much silence is a stall.
    pub fn set_stall(&mut self, stall: Duration) {
        self.stall = stall;
    }

    /// The next event; `None` at the end of the stream.
    pub async fn next(&mut self) -> Result<Option<SseEvent>, AgentError> {
        loop {
            if let Some(event) = self.take_event() {
                return Ok(Some(event));
            }
            match tokio::time::timeout(self.stall, self.stream.next()).await {
                Err(_) => return Err(AgentError::Stalled(self.stall)),
                Ok(None) => {
                    // A CR last in the stream ends its line (as CRLF would); an event the
                    // stream ends inside of is dropped, as the standard says.
                    if self.buffer.last() == Some(&b'\r') {
                        self.buffer.push(b'\n');
                        if let Some(event) = self.take_event() {
                            return Ok(Some(event));
                        }
                    }
                    return Ok(None);
                }
                Ok(Some(Err(err))) => return Err(AgentError::Unreachable(format!("the stream broke: {err}"))),
                Ok(Some(Ok(chunk))) => self.buffer.extend_from_slice(&chunk),
            }
        }
    }

    /// The first whole event in the buffer, if one has arrived (blocks of only comments or
    /// unknown fields are skipped).
    fn take_event(&mut self) -> Option<SseEvent> {
        loop {
            match event_end(&self.buffer, self.scanned) {
                Scan::Incomplete { resume_at } => {
                    self.scanned = resume_at;
                    return None;
                }
                Scan::Event { end } => {
                    let block: Vec<u8> = self.buffer.drain(..end).collect();
                    self.scanned = 0;
                    if let Some(event) = parse_event(&String::from_utf8_lossy(&block)) {
                        return Some(event);
                    }
                }
            }
        }
    }
}

enum Scan {
    /// An event ends just before `end` (past its blank line).
    Event { end: usize },
    /// No whole event yet; the line starting at `resume_at` is still open.
    Incomplete { resume_at: usize },
}

/// Looks for the blank line that ends the first event, line by line from `from` (a line start).
fn event_end(bytes: &[u8], from: usize) -> Scan {
    let mut line_start = from;
    let mut i = from;
    while i < bytes.len() {
        let after = match bytes[i] {
            b'\n' => i + 1,
            // CRLF is one terminator: a CR last in the buffer waits for the next byte.
            b'\r' => match bytes.get(i + 1) {
                None => break,
                Some(b'\n') => i + 2,
                Some(_) => i + 1,
            },
            _ => {
                i += 1;
                continue;
            }
        };
        if i == line_start {
            return Scan::Event { end: after };
        }
        line_start = after;
        i = after;
    }
    Scan::Incomplete { resume_at: line_start }
}

/// One event's fields, from its lines.
fn parse_event(block: &str) -> Option<SseEvent> {
    let mut event = SseEvent::default();
    let mut data: Vec<&str> = Vec::new();
    let mut has_data = false;
    for line in block.split(['\n', '\r']).filter(|l| !l.is_empty()) {
        if line.starts_with(':') {
            continue;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "data" => {
                data.push(value);
                has_data = true;
            }
            "event" => event.event = Some(value.to_owned()),
            "error" => event.error = Some(value.to_owned()),
            _ => {}
        }
    }
    event.data = data.join("\n");
    (has_data || event.error.is_some()).then_some(event)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(chunks: Vec<Vec<u8>>) -> SseReader<impl Stream<Item = Result<bytes::Bytes, String>> + Unpin> {
        let chunks: Vec<Result<bytes::Bytes, String>> = chunks.into_iter().map(|c| Ok(bytes::Bytes::from(c))).collect();
        SseReader::new(futures_util::stream::iter(chunks), Duration::from_secs(1))
    }

    async fn all(mut reader: SseReader<impl Stream<Item = Result<bytes::Bytes, String>> + Unpin>) -> Vec<SseEvent> {
        let mut events = Vec::new();
        while let Some(event) = reader.next().await.expect("no stall in memory") {
            events.push(event);
        }
        events
    }

    fn data(event: Option<&str>, data: &str) -> SseEvent {
        SseEvent { event: event.map(str::to_owned), data: data.to_owned(), error: None }
    }

    #[tokio::test]
    async fn events_split_across_chunks_are_joined() {
        let events =
            all(reader(vec![b"event: a\ndata: {\"x\"".to_vec(), b": 1}\n\n: comment\n\ndata: two\r\n\r\n".to_vec()]))
                .await;
        assert_eq!(events, [data(Some("a"), "{\"x\": 1}"), data(None, "two")]);
    }

    #[tokio::test]
    async fn every_line_ending_and_field_rule_of_the_standard() {
        let stream = "data: one\r\rdata:two\r\ndata:  three\n\n\
                      event: e\nid: 7\nretry: 10\nunknown: x\ndata\ndata: second line\n\n\
                      : only a comment\n\nnot-a-field\n\n\
                      error: {\"code\":500}\n\ndata: tail without its blank line";
        let events = all(reader(vec![stream.as_bytes().to_vec()])).await;
        assert_eq!(
            events,
            [
                data(None, "one"),
                data(None, "two\n three"),
                data(Some("e"), "\nsecond line"),
                SseEvent { event: None, data: String::new(), error: Some("{\"code\":500}".into()) },
            ]
        );
    }

    /// Every split of a stream into two reads, at every byte offset (inside multi-byte
    /// characters, between CR and LF), gives the same events as reading it whole.
    #[tokio::test]
    async fn a_split_at_any_byte_never_changes_an_event() {
        let stream = "event: content_block_delta\r\ndata: {\"text\": \"# こんにちは / print('héllo 🎉')\"}\r\n\r\n\
                      data: ü€𝄞\n\ndata: last\r\r";
        let bytes = stream.as_bytes();
        let whole = all(reader(vec![bytes.to_vec()])).await;
        assert_eq!(whole.len(), 3);
        assert_eq!(whole[0].data, "{\"text\": \"# こんにちは / print('héllo 🎉')\"}");
        for at in 0..=bytes.len() {
            let split = all(reader(vec![bytes[..at].to_vec(), bytes[at..].to_vec()])).await;
            assert_eq!(split, whole, "split at byte {at}");
        }
        let one_by_one = all(reader(bytes.iter().map(|b| vec![*b]).collect())).await;
        assert_eq!(one_by_one, whole, "one byte per read");
    }
}
