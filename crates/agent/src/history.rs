//! The history a turn sends: earlier messages, tool calls and their results included, in the
//! shape providers take (roles alternating, starting with the user), fitted into a budget.

use crate::model_loop::{Message, ToolCall};
use crate::tools::ToolResult;
use crate::{HistoryBlock, HistoryMessage, Role, Turn};
use serde_json::Value;

/// Adds `message` after `messages`, merging it into the last one where providers want roles
/// to alternate: two user texts become one, and an assistant text without tool calls joins the
/// assistant message after it.
fn push_message(messages: &mut Vec<Message>, message: Message) {
    match (messages.last_mut(), message) {
        (Some(Message::User(last)), Message::User(text)) => {
            last.push_str("\n\n");
            last.push_str(&text);
        }
        (Some(Message::Assistant { text: last, tool_calls }), Message::Assistant { text, tool_calls: calls })
            if tool_calls.is_empty() =>
        {
            if !last.is_empty() && !text.is_empty() {
                last.push_str("\n\n");
            }
            last.push_str(&text);
            *tool_calls = calls;
        }
        (_, message) => messages.push(message),
    }
}

/// An earlier assistant message as the model saw it: each stretch of text with the tool calls
/// that followed it, then their results.
fn push_assistant(messages: &mut Vec<Message>, blocks: &[HistoryBlock]) {
    let mut text = String::new();
    let mut results: Vec<(ToolCall, ToolResult)> = Vec::new();
    let flush = |messages: &mut Vec<Message>, text: &mut String, results: &mut Vec<(ToolCall, ToolResult)>| {
        let tool_calls: Vec<ToolCall> = results.iter().map(|(call, _)| call.clone()).collect();
        if !text.trim().is_empty() || !tool_calls.is_empty() {
            push_message(messages, Message::Assistant { text: std::mem::take(text), tool_calls });
        }
        text.clear();
        if !results.is_empty() {
            messages.push(Message::ToolResults(std::mem::take(results)));
        }
    };
    for block in blocks {
        match block {
            HistoryBlock::Text(piece) if piece.trim().is_empty() => {}
            HistoryBlock::Text(piece) => {
                if !results.is_empty() {
                    flush(messages, &mut text, &mut results);
                }
                if !text.is_empty() {
                    text.push_str("\n\n");
                }
                text.push_str(piece);
            }
            HistoryBlock::ToolUse { id, name, input, output, is_error } => results.push((
                ToolCall { id: id.clone(), name: name.clone(), input: input.clone() },
                ToolResult { output: output.clone(), is_error: *is_error },
            )),
        }
    }
    flush(messages, &mut text, &mut results);
}

/// History first, tool calls and their results included (consecutive messages of one role
/// merged, empty ones dropped: providers want user and assistant to alternate, starting with
/// the user), then the prompt.
pub fn conversation(turn: &Turn) -> Vec<Message> {
    let mut messages = Vec::new();
    for message in &turn.history {
        match message.role {
            Role::User => {
                let text = joined_text(&message.blocks);
                if !text.trim().is_empty() {
                    push_message(&mut messages, Message::User(text));
                }
            }
            Role::Assistant => push_assistant(&mut messages, &message.blocks),
        }
    }
    let first_user = messages.iter().position(|m| matches!(m, Message::User(_))).unwrap_or(messages.len());
    messages.drain(..first_user);
    push_message(&mut messages, Message::User(turn.prompt.clone()));
    messages
}

fn joined_text(blocks: &[HistoryBlock]) -> String {
    let texts: Vec<&str> = blocks
        .iter()
        .filter_map(|b| match b {
            HistoryBlock::Text(text) => Some(text.as_str()),
            HistoryBlock::ToolUse { .. } => None,
        })
        .collect();
    texts.join("\n\n")
}

/// Tool output (or a string in a tool's input) longer than this is cut first when the history
/// is over its budget.
const KEPT_OF_LONG_TOOL_TEXT: usize = 200;

/// Fits `history` (oldest first) into `budget` characters: the oldest tool outputs and tool
/// inputs are cut down first, then the oldest messages are left out.
pub fn fit_history(history: &mut Vec<HistoryMessage>, budget: usize) {
    let mut total: usize = history.iter().map(message_size).sum();
    'cut: for message in history.iter_mut() {
        for block in &mut message.blocks {
            if total <= budget {
                break 'cut;
            }
            if let HistoryBlock::ToolUse { output, input, .. } = block {
                let before = block_size_of(output, input);
                *output = shortened(output);
                shorten_strings(input);
                total -= before - block_size_of(output, input);
            }
        }
    }
    while total > budget && !history.is_empty() {
        total -= message_size(&history.remove(0));
    }
}

fn message_size(message: &HistoryMessage) -> usize {
    message
        .blocks
        .iter()
        .map(|block| match block {
            HistoryBlock::Text(text) => text.len(),
            HistoryBlock::ToolUse { name, output, input, .. } => name.len() + block_size_of(output, input),
        })
        .sum()
}

fn block_size_of(output: &str, input: &Value) -> usize {
    output.len() + input.to_string().len()
}

fn shortened(text: &str) -> String {
    if text.len() <= KEPT_OF_LONG_TOOL_TEXT * 2 {
        return text.to_owned();
    }
    let mut end = KEPT_OF_LONG_TOOL_TEXT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}\n[… {} more characters left out of the history]", &text[..end], text.len() - end)
}

fn shorten_strings(value: &mut Value) {
    match value {
        Value::String(text) => *text = shortened(text),
        Value::Array(items) => items.iter_mut().for_each(shorten_strings),
        Value::Object(fields) => fields.values_mut().for_each(shorten_strings),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Place;
    use serde_json::json;

    fn turn(history: Vec<HistoryMessage>) -> Turn {
        Turn { prompt: "now this".into(), history, place: Place::dir("."), system: String::new(), preview: None }
    }

    #[test]
    fn history_alternates_and_ends_with_the_prompt() {
        let turn = turn(vec![
            HistoryMessage::text(Role::Assistant, "orphan"),
            HistoryMessage::text(Role::User, "first"),
            HistoryMessage::text(Role::Assistant, ""),
            HistoryMessage::text(Role::User, "second"),
            HistoryMessage::text(Role::Assistant, "answer"),
        ]);
        assert_eq!(
            conversation(&turn),
            vec![
                Message::User("first\n\nsecond".into()),
                Message::Assistant { text: "answer".into(), tool_calls: vec![] },
                Message::User("now this".into()),
            ]
        );
    }

    fn tool_use(id: &str, output: &str) -> HistoryBlock {
        HistoryBlock::ToolUse {
            id: id.into(),
            name: "read_file".into(),
            input: json!({"path": id}),
            output: output.into(),
            is_error: false,
        }
    }

    fn call(id: &str) -> ToolCall {
        ToolCall { id: id.into(), name: "read_file".into(), input: json!({"path": id}) }
    }

    fn result(output: &str) -> ToolResult {
        ToolResult { output: output.into(), is_error: false }
    }

    #[test]
    fn earlier_tool_calls_and_results_are_part_of_the_history() {
        let turn = turn(vec![
            HistoryMessage::text(Role::User, "look"),
            HistoryMessage {
                role: Role::Assistant,
                blocks: vec![
                    HistoryBlock::Text("Let me look.".into()),
                    tool_use("a", "A"),
                    tool_use("b", "B"),
                    HistoryBlock::Text("Then".into()),
                    HistoryBlock::Text("more.".into()),
                    tool_use("c", "C"),
                    HistoryBlock::Text("Done.".into()),
                ],
            },
        ]);
        assert_eq!(
            conversation(&turn),
            vec![
                Message::User("look".into()),
                Message::Assistant { text: "Let me look.".into(), tool_calls: vec![call("a"), call("b")] },
                Message::ToolResults(vec![(call("a"), result("A")), (call("b"), result("B"))]),
                Message::Assistant { text: "Then\n\nmore.".into(), tool_calls: vec![call("c")] },
                Message::ToolResults(vec![(call("c"), result("C"))]),
                Message::Assistant { text: "Done.".into(), tool_calls: vec![] },
                Message::User("now this".into()),
            ]
        );
    }

    #[test]
    fn over_budget_the_oldest_tool_outputs_are_cut_first_then_the_oldest_messages() {
        let long = "x".repeat(5_000);
        let mut history = vec![
            HistoryMessage::text(Role::User, "one"),
            HistoryMessage {
                role: Role::Assistant,
                blocks: vec![tool_use("a", &long), HistoryBlock::Text("ok".into())],
            },
            HistoryMessage::text(Role::User, "two"),
            HistoryMessage { role: Role::Assistant, blocks: vec![tool_use("b", &long)] },
        ];
        fit_history(&mut history, 6_000);
        let outputs: Vec<usize> = history
            .iter()
            .flat_map(|m| &m.blocks)
            .filter_map(|b| match b {
                HistoryBlock::ToolUse { output, .. } => Some(output.len()),
                HistoryBlock::Text(_) => None,
            })
            .collect();
        assert_eq!(history.len(), 4, "cutting the oldest output was enough");
        assert!(outputs[0] < 300 && outputs[1] == 5_000, "{outputs:?}");
        fit_history(&mut history, 300);
        assert_eq!(history.len(), 2, "then the oldest messages went");
        assert!(history.iter().map(message_size).sum::<usize>() <= 300);
    }
}
