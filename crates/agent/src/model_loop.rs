//! The tool loop shared by the model providers: ask the model, run the tools it calls (in the
//! jail, on blocking threads), give it the results, until it stops calling tools.

use crate::tools::{ToolResult, Toolbox};
use crate::{Agent, AgentError, AgentEvent, EventSink, ProviderKind, Role, Turn, Usage, anthropic, openai};
use serde_json::Value;
use std::sync::Arc;

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

/// Counts streamed text against the turn's output limit.
pub struct Budget<'a> {
    pub sink: &'a mut dyn EventSink,
    pub used: usize,
    pub limit: usize,
}

impl Budget<'_> {
    pub fn text(&mut self, text: &str) -> Result<(), AgentError> {
        self.used += text.len();
        if self.used > self.limit {
            return Err(AgentError::OutputTooLarge(self.limit));
        }
        if !text.is_empty() {
            self.sink.emit(AgentEvent::Text(text.to_owned()));
        }
        Ok(())
    }
}

/// History first (consecutive messages of one role merged, empty ones dropped: providers want
/// user and assistant to alternate), then the prompt.
fn conversation(turn: &Turn) -> Vec<Message> {
    let mut messages: Vec<(Role, String)> = Vec::new();
    for message in turn.history.iter().filter(|m| !m.text.trim().is_empty()) {
        match messages.last_mut() {
            Some((role, text)) if *role == message.role => {
                text.push_str("\n\n");
                text.push_str(&message.text);
            }
            _ => messages.push((message.role, message.text.clone())),
        }
    }
    while messages.first().is_some_and(|(role, _)| *role == Role::Assistant) {
        messages.remove(0);
    }
    match messages.last_mut() {
        Some((Role::User, text)) => {
            text.push_str("\n\n");
            text.push_str(&turn.prompt);
        }
        _ => messages.push((Role::User, turn.prompt.clone())),
    }
    messages
        .into_iter()
        .map(|(role, text)| match role {
            Role::User => Message::User(text),
            Role::Assistant => Message::Assistant { text, tool_calls: Vec::new() },
        })
        .collect()
}

pub async fn run(agent: &Agent, turn: &Turn, sink: &mut dyn EventSink) -> Result<(), AgentError> {
    let config = &agent.config;
    let toolbox = Arc::new(
        Toolbox::new(&turn.workdir)
            .map_err(|err| AgentError::Misconfigured(format!("the checkout is not usable: {err}")))?,
    );
    let mut messages = conversation(turn);
    let mut budget = Budget { sink, used: 0, limit: config.limits.max_output_chars };
    for _ in 0..config.limits.max_iterations {
        let reply = match config.kind {
            ProviderKind::Anthropic => anthropic::call(agent, &turn.system, &messages, &mut budget).await?,
            _ => openai::call(agent, &turn.system, &messages, &mut budget).await?,
        };
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

/// The error sentence of a failed provider response (never its headers).
pub async fn upstream_error(response: reqwest::Response) -> AgentError {
    let status = response.status().as_u16();
    let body = response.text().await.unwrap_or_default();
    let parsed: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let message = parsed["error"]["message"]
        .as_str()
        .or_else(|| parsed["error"].as_str())
        .or_else(|| parsed["message"].as_str())
        .map(str::to_owned)
        .unwrap_or_else(|| match status {
            401 | 403 => "the API key was refused".to_owned(),
            429 => "rate limited".to_owned(),
            _ => "no details".to_owned(),
        });
    AgentError::Upstream { status, message }
}

pub fn send_error(err: reqwest::Error) -> AgentError {
    if err.is_timeout() {
        AgentError::Unreachable("the request timed out".into())
    } else {
        AgentError::Unreachable(err.without_url().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::HistoryMessage;

    #[test]
    fn history_alternates_and_ends_with_the_prompt() {
        let turn = Turn {
            prompt: "now this".into(),
            history: vec![
                HistoryMessage { role: Role::Assistant, text: "orphan".into() },
                HistoryMessage { role: Role::User, text: "first".into() },
                HistoryMessage { role: Role::Assistant, text: "".into() },
                HistoryMessage { role: Role::User, text: "second".into() },
                HistoryMessage { role: Role::Assistant, text: "answer".into() },
            ],
            workdir: ".".into(),
            env: vec![],
            system: String::new(),
        };
        assert_eq!(
            conversation(&turn),
            vec![
                Message::User("first\n\nsecond".into()),
                Message::Assistant { text: "answer".into(), tool_calls: vec![] },
                Message::User("now this".into()),
            ]
        );
    }
}
