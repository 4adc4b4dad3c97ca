//! The tool loop shared by the model providers: ask the model, run the tools it calls (in the
//! jail, on blocking threads), give it the results, until it stops calling tools. A call that
//! fails in a retryable way is made again (see [`call_with_retries`]).

use crate::history::conversation;
use crate::tools::{ToolResult, Toolbox};
use crate::upstream::{Failure, Retry};
use crate::{Agent, AgentError, AgentEvent, EventSink, ProviderKind, Turn, Usage, anthropic, openai, run_command};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// What every model call of a turn sends besides the conversation: the instructions and the
/// tools offered.
pub struct Ask<'a> {
    pub system: &'a str,
    pub tools: &'a [crate::tools::ToolSpec],
}

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

pub async fn run(agent: &Agent, turn: &Turn, sink: &mut dyn EventSink) -> Result<(), AgentError> {
    let config = &agent.config;
    let toolbox = Arc::new(
        Toolbox::new(&turn.place.workdir)
            .map_err(|err| AgentError::Misconfigured(format!("the checkout is not usable: {err}")))?,
    );
    let mut messages = conversation(turn);
    let tools = crate::tools::specs(config.sandbox.is_ok(), turn.preview.is_some());
    let ask = Ask { system: &turn.system, tools: &tools };
    let mut budget = Budget { sink, used: 0, limit: config.limits.max_output_chars, attempt: String::new() };
    for _ in 0..config.limits.max_iterations {
        let reply = call_with_retries(agent, &ask, &messages, &mut budget).await?;
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
            let result = if call.name == run_command::NAME && config.sandbox.is_ok() {
                run_command::run(config, turn, &call.id, &call.input, budget.sink).await
            } else if let (crate::tools::RESTART_PREVIEW, Some(preview)) = (call.name.as_str(), &turn.preview) {
                match preview.0.restart().await {
                    Ok(output) => ToolResult { output, is_error: false },
                    Err(output) => ToolResult { output, is_error: true },
                }
            } else {
                let (tools, name, input) = (toolbox.clone(), call.name.clone(), call.input.clone());
                tokio::task::spawn_blocking(move || tools.run(&name, &input))
                    .await
                    .unwrap_or_else(|err| ToolResult { output: format!("the tool crashed: {err}"), is_error: true })
            };
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
    ask: &Ask<'_>,
    messages: &[Message],
    budget: &mut Budget<'_>,
) -> Result<Reply, AgentError> {
    let limits = &agent.config.limits;
    let mut retries = 0;
    loop {
        budget.attempt.clear();
        let outcome = match agent.config.kind {
            ProviderKind::Anthropic => anthropic::call(agent, ask, messages, budget).await,
            _ => openai::call(agent, ask, messages, budget).await,
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
