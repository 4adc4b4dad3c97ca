//! The assistant message as a run writes it: agent events folded into content blocks, and the
//! sink that publishes each event and records it.

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
    pub version: u64,
}

impl Transcript {
    pub fn apply(&mut self, event: &AgentEvent) {
        match event {
            AgentEvent::Text(text) => match self.blocks.last_mut() {
                Some(ContentBlock::Text { text: last }) => last.push_str(text),
                _ => self.blocks.push(ContentBlock::Text { text: text.clone() }),
            },
            AgentEvent::ToolStarted { id, name, input } => self.blocks.push(ContentBlock::ToolUse {
                id: id.clone(),
                name: name.clone(),
                input: input.clone(),
                output: None,
                is_error: false,
            }),
            AgentEvent::ToolFinished { id, output, is_error, .. } => {
                for block in self.blocks.iter_mut().rev() {
                    if let ContentBlock::ToolUse { id: block_id, output: slot, is_error: error, .. } = block
                        && block_id == id
                    {
                        *slot = Some(output.clone());
                        *error = *is_error;
                        break;
                    }
                }
            }
            AgentEvent::Usage(usage) => *self.usage.get_or_insert_default() += *usage,
        }
        self.version += 1;
    }

    pub fn text(&self) -> String {
        self.blocks
            .iter()
            .filter_map(|b| match b {
                ContentBlock::Text { text } => Some(text.as_str()),
                _ => None,
            })
            .collect()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::to_value(&self.blocks).unwrap_or_default()
    }

    /// The message to save.
    pub fn message(&self) -> AssistantMessage {
        AssistantMessage { content: self.text(), blocks: self.json(), usage: self.usage }
    }
}

/// Publishes each agent event and records it in the transcript.
pub struct RunSink {
    pub state: web::Data<AppState>,
    pub session_pk: i32,
    pub run_id: RunId,
    pub transcript: Arc<Mutex<Transcript>>,
}

impl EventSink for RunSink {
    fn emit(&mut self, event: AgentEvent) {
        self.transcript.lock().unwrap_or_else(|p| p.into_inner()).apply(&event);
        let run_id = self.run_id;
        let published = match event {
            // Kept on the message, not streamed.
            AgentEvent::Usage(_) => return,
            AgentEvent::Text(text) => RunEvent::TextDelta { run_id, text },
            AgentEvent::ToolStarted { id, name, input } => {
                RunEvent::ToolStarted { run_id, tool_use_id: id, name, input }
            }
            AgentEvent::ToolFinished { id, name, output, is_error } => {
                RunEvent::ToolFinished { run_id, tool_use_id: id, name, output, is_error }
            }
        };
        self.state.events.publish(self.session_pk, published);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_transcript_folds_events_into_blocks() {
        let mut t = Transcript::default();
        t.apply(&AgentEvent::Text("Hel".into()));
        t.apply(&AgentEvent::Text("lo".into()));
        t.apply(&AgentEvent::ToolStarted {
            id: "t1".into(),
            name: "read_file".into(),
            input: serde_json::json!({"path": "a"}),
        });
        t.apply(&AgentEvent::ToolFinished {
            id: "t1".into(),
            name: "read_file".into(),
            output: "x".into(),
            is_error: false,
        });
        t.apply(&AgentEvent::Text("Done".into()));
        assert_eq!(t.text(), "HelloDone");
        assert_eq!(
            t.json(),
            serde_json::json!([
                {"type": "text", "text": "Hello"},
                {"type": "tool_use", "id": "t1", "name": "read_file", "input": {"path": "a"}, "output": "x", "is_error": false},
                {"type": "text", "text": "Done"}
            ])
        );
    }
}
