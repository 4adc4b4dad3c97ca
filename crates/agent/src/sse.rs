//! Server-sent events from a byte stream: `event:` and `data:` fields, events split by a blank
//! line. Silence longer than the stall timeout is an error, never a hang.

use crate::AgentError;
use futures_util::{Stream, StreamExt};
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    pub event: Option<String>,
    pub data: String,
}

pub struct SseReader<S> {
    stream: S,
    buffer: String,
    stall: Duration,
}

impl<S, E> SseReader<S>
where
    S: Stream<Item = Result<bytes::Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    pub fn new(stream: S, stall: Duration) -> Self {
        SseReader { stream, buffer: String::new(), stall }
    }

    /// The next event; `None` at the end of the stream.
    pub async fn next(&mut self) -> Result<Option<SseEvent>, AgentError> {
        loop {
            if let Some(event) = self.take_event() {
                return Ok(Some(event));
            }
            match tokio::time::timeout(self.stall, self.stream.next()).await {
                Err(_) => return Err(AgentError::Stalled(self.stall)),
                Ok(None) => return Ok(None),
                Ok(Some(Err(err))) => return Err(AgentError::Unreachable(format!("the stream broke: {err}"))),
                Ok(Some(Ok(chunk))) => self.buffer.push_str(&String::from_utf8_lossy(&chunk).replace("\r\n", "\n")),
            }
        }
    }

    fn take_event(&mut self) -> Option<SseEvent> {
        loop {
            let end = self.buffer.find("\n\n")?;
            let block: String = self.buffer.drain(..end + 2).collect();
            let mut event = None;
            let mut data = Vec::new();
            for line in block.lines() {
                if let Some(value) = line.strip_prefix("event:") {
                    event = Some(value.trim().to_owned());
                } else if let Some(value) = line.strip_prefix("data:") {
                    data.push(value.strip_prefix(' ').unwrap_or(value).to_owned());
                }
            }
            if event.is_some() || !data.is_empty() {
                return Some(SseEvent { event, data: data.join("\n") });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn events_split_across_chunks_are_joined() {
        let chunks: Vec<Result<bytes::Bytes, String>> =
            vec![Ok("event: a\ndata: {\"x\"".into()), Ok(": 1}\n\n: comment\n\ndata: two\r\n\r\n".into())];
        let mut reader = SseReader::new(futures_util::stream::iter(chunks), Duration::from_secs(1));
        assert_eq!(
            reader.next().await.ok().flatten(),
            Some(SseEvent { event: Some("a".into()), data: "{\"x\": 1}".into() })
        );
        assert_eq!(reader.next().await.ok().flatten(), Some(SseEvent { event: None, data: "two".into() }));
        assert_eq!(reader.next().await.ok().flatten(), None);
    }
}
