//! The tool loop shared by the model providers: ask the model, run the tools it calls (in the
//! jail, on blocking threads), give it the results, until it stops calling tools. A call that
//! fails in a retryable way is made again (see [`call_with_retries`]).

use crate::tools::{ToolResult, Toolbox};
use crate::upstream::{Failure, Retry};
use crate::{
    Agent, AgentError, AgentEvent, EventSink, HistoryBlock, HistoryMessage, ProviderKind, Role, Turn, Usage, anthropic,
    openai,
};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// A tool call the model made.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub input: Value,
}

/// The conversation, in a provider-neutral shape.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    User(String),
    Assistant { text: String, tool_calls: Vec<ToolCall> },
    ToolResults(Vec<(ToolCall, ToolResult)>),
}

/// What one model call produced.
#[derive(Debug, Default)]
pub struct Reply {
    pub text: String,
    pub tool_calls: Vec<ToolCall>,
    /// The tokens the call used, when the provider said.
    pub usage: Option<Usage>,
}

impl Reply {
    /// Starts another text block of the same answer: blocks stay apart by a blank line.
    pub fn start_text_block(&mut self, budget: &mut Budget<'_>) -> Result<(), AgentError> {
        if !self.text.is_empty() && !self.text.ends_with("\n\n") {
            self.push_text("\n\n", budget)?;
        }
        Ok(())
    }

    pub fn push_text(&mut self, text: &str, budget: &mut Budget<'_>) -> Result<(), AgentError> {
        self.text.push_str(text);
        budget.text(text)
    }
}

/// Counts streamed text against the turn's output limit, and remembers what the current
/// attempt of a model call has shown (discarded if the attempt fails and is retried).
pub struct Budget<'a> {
    pub sink: &'a mut dyn EventSink,
    pub used: usize,
    pub limit: usize,
    pub attempt: String,
}

impl Budget<'_> {
    pub fn text(&mut self, text: &str) -> Result<(), AgentError> {
        self.used += text.len();
        if self.used > self.limit {
            return Err(AgentError::OutputTooLarge(self.limit));
        }
        if !text.is_empty() {
            self.attempt.push_str(text);
            self.sink.emit(AgentEvent::Text(text.to_owned()));
        }
        Ok(())
    }
}

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
fn conversation(turn: &Turn) -> Vec<Message> {
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

pub async fn run(agent: &Agent, turn: &Turn, sink: &mut dyn EventSink) -> Result<(), AgentError> {
    let config = &agent.config;
    let toolbox = Arc::new(
        Toolbox::new(&turn.workdir)
            .map_err(|err| AgentError::Misconfigured(format!("the checkout is not usable: {err}")))?,
    );
    let mut messages = conversation(turn);
    let mut budget = Budget { sink, used: 0, limit: config.limits.max_output_chars, attempt: String::new() };
    for _ in 0..config.limits.max_iterations {
        let reply = call_with_retries(agent, &turn.system, &messages, &mut budget).await?;
        if let Some(usage) = reply.usage {
            budget.sink.emit(AgentEvent::Usage(usage));
        }
        if reply.tool_calls.is_empty() {
            return Ok(());
        }
        let mut results = Vec::new();
        for call in &reply.tool_calls {
            budget.sink.emit(AgentEvent::ToolStarted {
                id: call.id.clone(),
                name: call.name.clone(),
                input: call.input.clone(),
            });
            let (tools, name, input) = (toolbox.clone(), call.name.clone(), call.input.clone());
            let result = tokio::task::spawn_blocking(move || tools.run(&name, &input))
                .await
                .unwrap_or_else(|err| ToolResult { output: format!("the tool crashed: {err}"), is_error: true });
            budget.sink.emit(AgentEvent::ToolFinished {
                id: call.id.clone(),
                name: call.name.clone(),
                output: result.output.clone(),
                is_error: result.is_error,
            });
            results.push((call.clone(), result));
        }
        messages.push(Message::Assistant { text: reply.text, tool_calls: reply.tool_calls });
        messages.push(Message::ToolResults(results));
    }
    Err(AgentError::TooManyIterations(config.limits.max_iterations))
}

/// One model call, made again (up to `max_retries` more times) while it fails in a way worth
/// retrying: after the provider's `Retry-After` when it names one within `retry_max_wait`,
/// else after an exponential backoff with jitter. Each retry is an event (with the text the
/// failed attempt had shown, now discarded) and a log line.
async fn call_with_retries(
    agent: &Agent,
    system: &str,
    messages: &[Message],
    budget: &mut Budget<'_>,
) -> Result<Reply, AgentError> {
    let limits = &agent.config.limits;
    let mut retries = 0;
    loop {
        budget.attempt.clear();
        let outcome = match agent.config.kind {
            ProviderKind::Anthropic => anthropic::call(agent, system, messages, budget).await,
            _ => openai::call(agent, system, messages, budget).await,
        };
        let Failure { error, retry } = match outcome {
            Ok(reply) => return Ok(reply),
            Err(failure) => failure,
        };
        let Retry::Yes { after } = retry else { return Err(error) };
        if retries >= limits.max_retries {
            return Err(error);
        }
        let delay = match after {
            Some(after) if after > limits.retry_max_wait => {
                return Err(AgentError::Upstream {
                    status: upstream_status(&error),
                    message: format!(
                        "{}; it asks to wait {} s before trying again, longer than the {} s kosuke waits",
                        upstream_message(&error),
                        after.as_secs_f64().ceil(),
                        limits.retry_max_wait.as_secs()
                    ),
                });
            }
            Some(after) => after,
            None => backoff(limits.retry_backoff, retries),
        };
        retries += 1;
        let discarded = std::mem::take(&mut budget.attempt);
        budget.used = budget.used.saturating_sub(discarded.len());
        let message = format!(
            "The model provider is busy ({}); retrying in {} (retry {retries} of {}).",
            upstream_message(&error),
            seconds(delay),
            limits.max_retries
        );
        tracing::warn!(retry = retries, delay_ms = delay.as_millis() as u64, error = %error, "model call failed; retrying");
        budget.sink.emit(AgentEvent::Retrying { message, discarded });
        tokio::time::sleep(delay).await;
    }
}

fn upstream_status(error: &AgentError) -> u16 {
    match error {
        AgentError::Upstream { status, .. } => *status,
        _ => 502,
    }
}

fn upstream_message(error: &AgentError) -> String {
    match error {
        AgentError::Upstream { status: 200, message } => message.clone(),
        AgentError::Upstream { status, message } => format!("{status}: {message}"),
        other => other.to_string(),
    }
}

/// `first` doubled per retry, at most 8 s, less up to a quarter at random (as the providers'
/// own SDKs do), so that many turns failing at once do not retry at once.
fn backoff(first: Duration, retries: u32) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    let base = first.saturating_mul(2u32.saturating_pow(retries)).min(Duration::from_secs(8));
    let random = std::collections::hash_map::RandomState::new().build_hasher().finish();
    let jitter = 1.0 - 0.25 * (random % 1000) as f64 / 1000.0;
    base.mul_f64(jitter)
}

fn seconds(delay: Duration) -> String {
    let secs = delay.as_secs_f64();
    if secs >= 10.0 || (secs - secs.round()).abs() < 0.05 {
        format!("{} s", secs.round())
    } else {
        format!("{secs:.1} s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn turn(history: Vec<HistoryMessage>) -> Turn {
        Turn {
            prompt: "now this".into(),
            history,
            workdir: ".".into(),
            env: vec![],
            git: None,
            hidden: vec![],
            system: String::new(),
        }
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

    #[test]
    fn backoff_doubles_within_bounds() {
        let first = Duration::from_millis(500);
        for (retries, full) in [(0, 500), (1, 1_000), (2, 2_000), (6, 8_000)] {
            let delay = backoff(first, retries).as_millis();
            assert!(delay <= full && delay >= full * 3 / 4, "{retries}: {delay}");
        }
        assert_eq!(seconds(Duration::from_secs(2)), "2 s");
        assert_eq!(seconds(Duration::from_millis(1_500)), "1.5 s");
    }
}
