//! The assistant message as a run writes it: agent events folded into content blocks, and the
//! sink that records each event and publishes it.
//!
//! Recording and publishing happen under the transcript's lock, so that a snapshot taken under
//! the same lock together with a subscription to the session's events (`routes::chat`) holds
//! exactly the events before it, and the subscription exactly those after.

use crate::runtime::SessionOwner;
use crate::secrets::SecretBox;
use crate::state::AppState;
use crate::store::runs::AssistantMessage;
use actix_web::web;
use agent::{AgentEvent, EventSink, Usage};
use api_types::{ContentBlock, RunEvent, RunId};
use std::sync::{Arc, Mutex};

/// The assistant message as it is being written.
#[derive(Default)]
pub struct Transcript {
    pub blocks: Vec<ContentBlock>,
    /// The tokens of the turn's model calls so far (none from the command provider).
    pub usage: Option<Usage>,
}

impl Transcript {
    /// Records an agent event; returns the run event it is published as (token counts are
    /// kept on the message, not streamed).
    pub fn apply(&mut self, run_id: RunId, event: AgentEvent) -> Option<RunEvent> {
        let published = match event {
            AgentEvent::Usage(usage) => {
                *self.usage.get_or_insert_default() += usage;
                None
            }
            AgentEvent::Text(text) => Some(RunEvent::TextDelta { run_id, text }),
            AgentEvent::ToolStarted { id, name, input } => {
                Some(RunEvent::ToolStarted { run_id, tool_use_id: id, name, input })
            }
            AgentEvent::ToolOutput { id, text } => Some(RunEvent::ToolOutput { run_id, tool_use_id: id, text }),
            AgentEvent::ToolFinished { id, name, output, is_error } => {
                Some(RunEvent::ToolFinished { run_id, tool_use_id: id, name, output, is_error })
            }
            AgentEvent::Retrying { message, discarded } => Some(RunEvent::Retrying { run_id, message, discarded }),
        };
        if let Some(event) = &published {
            ContentBlock::fold(&mut self.blocks, event);
        }
        published
    }

    /// The transcript stored events describe (after a crash), in pieces (a journal's, from
    /// before run events were stored) or as one.
    pub fn replay(pieces: impl IntoIterator<Item = Vec<RunEvent>>) -> Transcript {
        let mut transcript = Transcript::default();
        for event in pieces.into_iter().flatten() {
            ContentBlock::fold(&mut transcript.blocks, &event);
        }
        transcript
    }

    pub fn text(&self) -> String {
        ContentBlock::text_of(&self.blocks)
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::to_value(&self.blocks).unwrap_or_default()
    }

    /// The message as it is stored, ending with an error block for each of `errors`, sealed
    /// with the server's key.
    pub fn sealed(&self, secrets: &SecretBox, errors: &[&str]) -> AssistantMessage {
        let mut blocks = self.blocks.clone();
        blocks.extend(errors.iter().map(|error| ContentBlock::Error { message: (*error).to_owned() }));
        let json = serde_json::to_value(&blocks).unwrap_or_default();
        let (content, sealed_blocks) = secrets.seal_message(&ContentBlock::text_of(&blocks), Some(&json));
        AssistantMessage { content, blocks: sealed_blocks.unwrap_or_default(), usage: self.usage }
    }
}

/// Records each agent event in the transcript and publishes it.
pub struct RunSink {
    pub state: web::Data<AppState>,
    pub owner: Arc<SessionOwner>,
    pub run_id: RunId,
    pub transcript: Arc<Mutex<Transcript>>,
}

impl EventSink for RunSink {
    fn emit(&mut self, event: AgentEvent) {
        let mut transcript = self.transcript.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(event) = transcript.apply(self.run_id, event) {
            self.state.runtime.publish(&self.owner, event);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_transcript_folds_events_into_blocks() {
        let mut t = Transcript::default();
        let run = RunId(1);
        let mut first = Vec::new();
        first.extend(t.apply(run, AgentEvent::Text("Hel".into())));
        first.extend(t.apply(run, AgentEvent::Text("lo".into())));
        first.extend(t.apply(
            run,
            AgentEvent::ToolStarted {
                id: "t1".into(),
                name: "read_file".into(),
                input: serde_json::json!({"path": "a"}),
            },
        ));
        let mut rest = Vec::new();
        rest.extend(t.apply(
            run,
            AgentEvent::ToolFinished { id: "t1".into(), name: "read_file".into(), output: "x".into(), is_error: false },
        ));
        rest.extend(t.apply(run, AgentEvent::Text("Done".into())));
        assert_eq!(t.text(), "Hello\n\nDone", "text blocks stay apart");
        assert_eq!(
            t.json(),
            serde_json::json!([
                {"type": "text", "text": "Hello"},
                {"type": "tool_use", "id": "t1", "name": "read_file", "input": {"path": "a"}, "output": "x", "is_error": false},
                {"type": "text", "text": "Done"}
            ])
        );
        let replayed = Transcript::replay([first, rest]);
        assert_eq!(replayed.json(), t.json(), "the published events make the same message");
    }
}
