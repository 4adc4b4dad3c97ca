//! Reading internally tagged enums in one pass. serde's derive for `#[serde(tag = "type")]`
//! buffers every field of the object before it knows the variant (its `Content` tree), which in
//! the web bundle cost ~30 KB of wasm for `RunEvent` alone. Here the object is read once into a
//! flat struct of every variant's fields, then checked for the fields its variant needs. The
//! wire format is the derive's, unchanged (tests below and in `api/tests` read it both ways).

use crate::chat::{ContentBlock, RunEvent, RunId, RunStatus};
use crate::ids::MessageId;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum RunEventType {
    RunQueued,
    RunStarted,
    RunSnapshot,
    TextDelta,
    ToolStarted,
    ToolOutput,
    ToolFinished,
    CommitCreated,
    RunFinished,
    Error,
    Retrying,
}

/// Every field any `RunEvent` variant has.
#[derive(Deserialize)]
pub(crate) struct RunEventWire {
    #[serde(rename = "type")]
    kind: RunEventType,
    run_id: RunId,
    assistant_message_id: Option<MessageId>,
    text: Option<String>,
    tool_use_id: Option<String>,
    name: Option<String>,
    #[serde(default)]
    input: serde_json::Value,
    output: Option<String>,
    is_error: Option<bool>,
    sha: Option<String>,
    branch: Option<String>,
    pushed: Option<bool>,
    status: Option<RunStatus>,
    message: Option<String>,
    discarded: Option<String>,
    blocks: Option<Vec<ContentBlock>>,
}

fn need<T>(value: Option<T>, field: &str) -> Result<T, String> {
    value.ok_or_else(|| format!("missing field `{field}`"))
}

impl TryFrom<RunEventWire> for RunEvent {
    type Error = String;

    fn try_from(wire: RunEventWire) -> Result<Self, String> {
        let run_id = wire.run_id;
        Ok(match wire.kind {
            RunEventType::RunStarted => RunEvent::RunStarted {
                run_id,
                assistant_message_id: need(wire.assistant_message_id, "assistant_message_id")?,
            },
            RunEventType::RunQueued => RunEvent::RunQueued {
                run_id,
                assistant_message_id: need(wire.assistant_message_id, "assistant_message_id")?,
            },
            RunEventType::RunSnapshot => RunEvent::RunSnapshot {
                run_id,
                assistant_message_id: need(wire.assistant_message_id, "assistant_message_id")?,
                status: need(wire.status, "status")?,
                blocks: need(wire.blocks, "blocks")?,
            },
            RunEventType::TextDelta => RunEvent::TextDelta { run_id, text: need(wire.text, "text")? },
            RunEventType::ToolStarted => RunEvent::ToolStarted {
                run_id,
                tool_use_id: need(wire.tool_use_id, "tool_use_id")?,
                name: need(wire.name, "name")?,
                input: wire.input,
            },
            RunEventType::ToolOutput => RunEvent::ToolOutput {
                run_id,
                tool_use_id: need(wire.tool_use_id, "tool_use_id")?,
                text: need(wire.text, "text")?,
            },
            RunEventType::ToolFinished => RunEvent::ToolFinished {
                run_id,
                tool_use_id: need(wire.tool_use_id, "tool_use_id")?,
                name: need(wire.name, "name")?,
                output: need(wire.output, "output")?,
                is_error: need(wire.is_error, "is_error")?,
            },
            RunEventType::CommitCreated => RunEvent::CommitCreated {
                run_id,
                sha: need(wire.sha, "sha")?,
                branch: need(wire.branch, "branch")?,
                pushed: need(wire.pushed, "pushed")?,
            },
            RunEventType::RunFinished => RunEvent::RunFinished { run_id, status: need(wire.status, "status")? },
            RunEventType::Error => RunEvent::Error { run_id, message: need(wire.message, "message")? },
            RunEventType::Retrying => RunEvent::Retrying {
                run_id,
                message: need(wire.message, "message")?,
                discarded: need(wire.discarded, "discarded")?,
            },
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum ContentBlockType {
    Text,
    ToolUse,
    Error,
    Retry,
    Review,
}

/// Every field any `ContentBlock` variant has.
#[derive(Deserialize)]
pub(crate) struct ContentBlockWire {
    #[serde(rename = "type")]
    kind: ContentBlockType,
    text: Option<String>,
    id: Option<String>,
    name: Option<String>,
    #[serde(default)]
    input: serde_json::Value,
    output: Option<String>,
    is_error: Option<bool>,
    live: Option<String>,
    message: Option<String>,
    discarded: Option<String>,
    comments: Option<Vec<crate::review::ReviewComment>>,
}

impl TryFrom<ContentBlockWire> for ContentBlock {
    type Error = String;

    fn try_from(wire: ContentBlockWire) -> Result<Self, String> {
        Ok(match wire.kind {
            ContentBlockType::Text => ContentBlock::Text { text: need(wire.text, "text")? },
            ContentBlockType::ToolUse => ContentBlock::ToolUse {
                id: need(wire.id, "id")?,
                name: need(wire.name, "name")?,
                input: wire.input,
                output: wire.output,
                is_error: need(wire.is_error, "is_error")?,
                live: wire.live,
            },
            ContentBlockType::Error => ContentBlock::Error { message: need(wire.message, "message")? },
            ContentBlockType::Retry => ContentBlock::Retry {
                message: need(wire.message, "message")?,
                discarded: need(wire.discarded, "discarded")?,
            },
            ContentBlockType::Review => ContentBlock::Review { comments: need(wire.comments, "comments")? },
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_run_event_reads_back_what_it_wrote() {
        let run_id = RunId(7);
        let events = [
            RunEvent::RunQueued { run_id, assistant_message_id: MessageId(3) },
            RunEvent::RunStarted { run_id, assistant_message_id: MessageId(3) },
            RunEvent::RunSnapshot {
                run_id,
                assistant_message_id: MessageId(3),
                status: RunStatus::Running,
                blocks: vec![ContentBlock::Text { text: "so far".into() }],
            },
            RunEvent::TextDelta { run_id, text: "hé \"quoted\"".into() },
            RunEvent::ToolStarted {
                run_id,
                tool_use_id: "t1".into(),
                name: "write_file".into(),
                input: json!({"path": "a.txt", "nested": [1, null, {"type": "x"}]}),
            },
            RunEvent::ToolStarted { run_id, tool_use_id: "t2".into(), name: "noop".into(), input: json!(null) },
            RunEvent::ToolOutput { run_id, tool_use_id: "t1".into(), text: "line\n".into() },
            RunEvent::ToolFinished {
                run_id,
                tool_use_id: "t1".into(),
                name: "write_file".into(),
                output: "ok".into(),
                is_error: false,
            },
            RunEvent::CommitCreated { run_id, sha: "abc".into(), branch: "kosuke-chat-x".into(), pushed: true },
            RunEvent::RunFinished { run_id, status: RunStatus::Succeeded },
            RunEvent::Error { run_id, message: "boom".into() },
            RunEvent::Retrying { run_id, message: "busy".into(), discarded: "half an answ".into() },
        ];
        // Every variant is here: NAMES lists them all.
        let mut named: Vec<&str> = events.iter().map(RunEvent::name).collect();
        named.sort();
        named.dedup();
        let mut names = RunEvent::NAMES.to_vec();
        names.sort();
        assert_eq!(named, names, "RunEvent::NAMES lists every event name");
        for event in events {
            let text = serde_json::to_string(&event).unwrap();
            let value: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(value["type"], event.name(), "{text}");
            assert_eq!(serde_json::from_str::<RunEvent>(&text).unwrap(), event, "{text}");
            assert_eq!(serde_json::from_value::<RunEvent>(value).unwrap(), event, "{text}");
        }
    }

    #[test]
    fn every_content_block_reads_back_what_it_wrote() {
        let blocks = vec![
            ContentBlock::Text { text: "hello".into() },
            ContentBlock::ToolUse {
                id: "t1".into(),
                name: "run".into(),
                input: json!({"command": "ls", "type": "not the tag"}),
                output: Some("a.txt".into()),
                is_error: true,
                live: None,
            },
            ContentBlock::ToolUse {
                id: "t2".into(),
                name: "run".into(),
                input: json!([]),
                output: None,
                is_error: false,
                live: Some("so far\n".into()),
            },
            ContentBlock::Error { message: "stalled".into() },
            ContentBlock::Retry { message: "busy".into(), discarded: "".into() },
        ];
        let text = serde_json::to_string(&blocks).unwrap();
        assert_eq!(serde_json::from_str::<Vec<ContentBlock>>(&text).unwrap(), blocks, "{text}");
        // As the server stores them: a JSON value with its keys sorted.
        let stored = serde_json::to_value(&blocks).unwrap();
        assert_eq!(serde_json::from_value::<Vec<ContentBlock>>(stored).unwrap(), blocks);
        let missing = serde_json::from_str::<ContentBlock>(r#"{"type":"tool_use","id":"x","name":"y"}"#).unwrap_err();
        assert!(missing.to_string().contains("missing field `is_error`"), "{missing}");
    }

    #[test]
    fn a_retry_moves_the_failed_attempts_text_out_of_the_answer() {
        let run_id = RunId(1);
        let mut blocks = Vec::new();
        for event in [
            RunEvent::TextDelta { run_id, text: "Let me look.".into() },
            RunEvent::ToolStarted { run_id, tool_use_id: "t".into(), name: "list_files".into(), input: json!({}) },
            RunEvent::ToolFinished {
                run_id,
                tool_use_id: "t".into(),
                name: "list_files".into(),
                output: "a".into(),
                is_error: false,
            },
            RunEvent::TextDelta { run_id, text: "Half an ".into() },
            RunEvent::TextDelta { run_id, text: "answer".into() },
            RunEvent::Retrying { run_id, message: "busy".into(), discarded: "Half an answer".into() },
            RunEvent::TextDelta { run_id, text: "The answer.".into() },
        ] {
            ContentBlock::fold(&mut blocks, &event);
        }
        assert_eq!(blocks.len(), 4, "{blocks:?}");
        assert_eq!(blocks[2], ContentBlock::Retry { message: "busy".into(), discarded: "Half an answer".into() });
        assert_eq!(ContentBlock::text_of(&blocks), "Let me look.\n\nThe answer.");
    }

    #[test]
    fn a_run_event_missing_its_fields_or_of_an_unknown_type_is_refused() {
        let missing = serde_json::from_str::<RunEvent>(r#"{"type":"text_delta","run_id":1}"#).unwrap_err();
        assert!(missing.to_string().contains("missing field `text`"), "{missing}");
        let unknown = serde_json::from_str::<RunEvent>(r#"{"type":"nope","run_id":1}"#).unwrap_err();
        assert!(unknown.to_string().contains("unknown variant `nope`"), "{unknown}");
        assert!(serde_json::from_str::<RunEvent>(r#"{"type":"run_finished","status":"succeeded"}"#).is_err());
    }
}
