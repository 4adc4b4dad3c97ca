//! OpenAI-compatible chat completions (OpenAI, Ollama, vLLM, llama.cpp), streaming, with tool
//! calls, as these servers really send them: a tool call starts at a new `index` or at a new
//! `id` on an index already used (Ollama numbers every call 0), several calls may come in one
//! chunk without `index` (older Ollama), errors come as an `error:` SSE field (llama.cpp), an
//! `error` object, or a top-level error object (vLLM).
//!
//! Each server's dialect is learned from its refusals and remembered ([`Dialect`]): whether it
//! takes `stream_options` (token counts), and whether it wants `max_completion_tokens`
//! (OpenAI's own API, where `max_tokens` is deprecated and refused by current models) or
//! `max_tokens` (most other servers).

use crate::model_loop::{Ask, Budget, Message, Reply, ToolCall};
use crate::sse::SseReader;
use crate::upstream::{self, Failure, send_error};
use crate::{Agent, AgentError, Usage};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicBool, Ordering};

/// What one server was found to accept.
pub struct Dialect {
    /// Ask for token counts (`stream_options.include_usage`).
    usage: AtomicBool,
    /// Name the token limit `max_completion_tokens` rather than `max_tokens`.
    completion_tokens: AtomicBool,
}

impl Dialect {
    /// The first guess for a server, before it refused anything.
    pub fn for_server(base_url: &str) -> Self {
        let host = reqwest::Url::parse(base_url).ok().and_then(|url| url.host_str().map(str::to_ascii_lowercase));
        let is_openai = host.is_some_and(|h| h == "api.openai.com" || h.ends_with(".openai.azure.com"));
        Dialect { usage: AtomicBool::new(true), completion_tokens: AtomicBool::new(is_openai) }
    }
}

/// A call being assembled from its pieces.
struct PartialCall {
    index: Option<u64>,
    id: String,
    name: String,
    arguments: String,
}

impl PartialCall {
    fn parsed(&self) -> Result<Value, serde_json::Error> {
        if self.arguments.trim().is_empty() { Ok(json!({})) } else { serde_json::from_str(&self.arguments) }
    }
}

/// Where a streamed tool-call piece belongs: the call it continues, or `None` for a new call.
fn call_for(calls: &[PartialCall], piece: &Value) -> Option<usize> {
    let id = piece["id"].as_str().filter(|id| !id.is_empty());
    let name = piece["function"]["name"].as_str().filter(|name| !name.is_empty());
    match piece["index"].as_u64() {
        // Without an index, a piece naming an id or a function is a whole call of its own.
        None if id.is_some() || name.is_some() => None,
        None => calls.len().checked_sub(1),
        Some(index) => {
            let at = calls.iter().rposition(|call| call.index == Some(index))?;
            let call = &calls[at];
            let other_id = id.is_some_and(|id| !call.id.is_empty() && call.id != id);
            let another_name = id.is_none() && name.is_some() && !call.name.is_empty() && call.parsed().is_ok();
            (!other_id && !another_name).then_some(at)
        }
    }
}

/// Adds one streamed tool-call piece to the call it belongs to, or as a new call.
fn add_piece(calls: &mut Vec<PartialCall>, piece: &Value) {
    let at = call_for(calls, piece).unwrap_or_else(|| {
        calls.push(PartialCall {
            index: piece["index"].as_u64(),
            id: String::new(),
            name: String::new(),
            arguments: String::new(),
        });
        calls.len() - 1
    });
    let call = &mut calls[at];
    if let Some(id) = piece["id"].as_str().filter(|id| !id.is_empty()) {
        id.clone_into(&mut call.id);
    }
    // Some servers repeat the whole name in every piece; OpenAI sends it once.
    if let Some(name) = piece["function"]["name"].as_str().filter(|n| call.name != *n) {
        call.name.push_str(name);
    }
    if let Some(arguments) = piece["function"]["arguments"].as_str() {
        call.arguments.push_str(arguments);
    }
}

fn request_body(agent: &Agent, ask: &Ask<'_>, messages: &[Message], usage: bool, completion_tokens: bool) -> Value {
    let config = &agent.config;
    let mut wire = vec![json!({"role": "system", "content": ask.system})];
    for message in messages {
        wire.extend(wire_messages(message));
    }
    let mut body = json!({
        "model": config.model,
        "stream": true,
        "messages": wire,
        "tools": ask.tools.iter().map(|t| json!({
            "type": "function",
            "function": {"name": t.name, "description": t.description, "parameters": t.input_schema},
        })).collect::<Vec<_>>(),
    });
    let limit = if completion_tokens { "max_completion_tokens" } else { "max_tokens" };
    body[limit] = json!(config.limits.max_tokens);
    if usage {
        body["stream_options"] = json!({"include_usage": true});
    }
    body
}

/// Sends the request, and again without what the server refuses: `stream_options` (dropped),
/// the token limit's name (the other name tried once). What was learned is kept for every
/// later call to this server.
async fn send(agent: &Agent, ask: &Ask<'_>, messages: &[Message]) -> Result<reqwest::Response, Failure> {
    let config = &agent.config;
    let dialect = &agent.openai;
    let url = format!("{}/chat/completions", config.base_url.trim_end_matches('/'));
    let mut usage = dialect.usage.load(Ordering::Relaxed);
    let mut completion_tokens = dialect.completion_tokens.load(Ordering::Relaxed);
    let mut renamed_limit = false;
    loop {
        let body = request_body(agent, ask, messages, usage, completion_tokens);
        let mut request = agent.http.post(&url).json(&body);
        if let Some(key) = &config.api_key {
            request = request.bearer_auth(key);
        }
        let response = request.send().await.map_err(send_error)?;
        if !matches!(response.status().as_u16(), 400 | 422) {
            return Ok(response);
        }
        let failure = upstream::from_response(response).await;
        let AgentError::Upstream { message, .. } = &failure.error else { return Err(failure) };
        let limit = if completion_tokens { "max_completion_tokens" } else { "max_tokens" };
        if usage && message.contains("stream_options") {
            usage = false;
            dialect.usage.store(false, Ordering::Relaxed);
        } else if !renamed_limit && message.contains(limit) {
            renamed_limit = true;
            completion_tokens = !completion_tokens;
            dialect.completion_tokens.store(completion_tokens, Ordering::Relaxed);
        } else {
            return Err(failure);
        }
        tracing::info!(usage, completion_tokens, "the model server refused a request field; asking again without it");
    }
}

pub async fn call(
    agent: &Agent,
    ask: &Ask<'_>,
    messages: &[Message],
    budget: &mut Budget<'_>,
) -> Result<Reply, Failure> {
    let limits = &agent.config.limits;
    let response = send(agent, ask, messages).await?;
    if !response.status().is_success() {
        return Err(upstream::from_response(response).await);
    }
    let mut events = SseReader::new(response.bytes_stream(), limits.stall_timeout);
    let mut reply = Reply::default();
    let mut calls: Vec<PartialCall> = Vec::new();
    let mut finish_reason: Option<String> = None;
    let mut done = false;
    while let Some(event) = events.next().await? {
        if let Some(error) = event.error {
            let parsed: Value = serde_json::from_str(&error).unwrap_or(Value::Null);
            return Err(upstream::chunk_error(&json!({"error": parsed}))
                .unwrap_or_else(|| upstream::mid_stream(error.trim().to_owned(), None, None)));
        }
        if event.data.trim() == "[DONE]" {
            done = true;
            break;
        }
        if event.data.is_empty() {
            continue;
        }
        let data: Value = serde_json::from_str(&event.data)
            .map_err(|err| AgentError::Malformed(format!("a chunk is not JSON: {err}")))?;
        if let Some(failure) = upstream::chunk_error(&data) {
            return Err(failure);
        }
        if let Some(usage) = data["usage"].as_object() {
            let count = |key: &str| usage.get(key).and_then(Value::as_u64).unwrap_or(0);
            reply.usage =
                Some(Usage { input_tokens: count("prompt_tokens"), output_tokens: count("completion_tokens") });
        }
        let choice = &data["choices"][0];
        let delta = &choice["delta"];
        if let Some(text) = delta["content"].as_str() {
            reply.push_text(text, budget)?;
        }
        for piece in delta["tool_calls"].as_array().into_iter().flatten() {
            add_piece(&mut calls, piece);
            // The rest of a call's arguments may take the model a while.
            events.set_stall(limits.tool_stall_timeout);
        }
        if let Some(reason) = choice["finish_reason"].as_str() {
            finish_reason = Some(reason.to_owned());
            events.set_stall(limits.stall_timeout);
        }
    }
    match finish_reason.as_deref() {
        Some("length") => {
            let in_tool_call = calls.iter().any(|call| call.parsed().is_err());
            return Err(AgentError::TokenLimit { max_tokens: limits.max_tokens, in_tool_call }.into());
        }
        Some("content_filter") => {
            return Err(AgentError::Refused("its content filter ended the answer".into()).into());
        }
        None if !done => {
            return Err(AgentError::Malformed("the stream ended before the answer finished".into()).into());
        }
        _ => {}
    }
    for (n, call) in calls.iter().enumerate() {
        let input =
            call.parsed().map_err(|err| AgentError::Malformed(format!("tool call arguments are not JSON: {err}")))?;
        let id = if call.id.is_empty() { format!("call_{n}") } else { call.id.clone() };
        reply.tool_calls.push(ToolCall { id, name: call.name.clone(), input });
    }
    Ok(reply)
}

fn wire_messages(message: &Message) -> Vec<Value> {
    match message {
        Message::User(text) => vec![json!({"role": "user", "content": text})],
        Message::Assistant { text, tool_calls } if tool_calls.is_empty() => {
            vec![json!({"role": "assistant", "content": text})]
        }
        Message::Assistant { text, tool_calls } => vec![json!({
            "role": "assistant",
            "content": if text.is_empty() { Value::Null } else { json!(text) },
            "tool_calls": tool_calls.iter().map(|call| json!({
                "id": call.id, "type": "function",
                "function": {"name": call.name, "arguments": call.input.to_string()},
            })).collect::<Vec<_>>(),
        })],
        Message::ToolResults(results) => results
            .iter()
            .map(|(call, result)| json!({"role": "tool", "tool_call_id": call.id, "content": result.output}))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assemble(chunks: &[Value]) -> Vec<(Option<u64>, String, String, String)> {
        let mut calls: Vec<PartialCall> = Vec::new();
        for piece in chunks.iter().flat_map(|chunk| chunk.as_array().into_iter().flatten()) {
            add_piece(&mut calls, piece);
        }
        calls.into_iter().map(|c| (c.index, c.id, c.name, c.arguments)).collect()
    }

    #[test]
    fn tool_calls_are_told_apart_as_servers_send_them() {
        // OpenAI: pieces keyed by index, the id and name only in the first.
        let openai = assemble(&[
            json!([{"index": 0, "id": "a", "function": {"name": "write_file", "arguments": "{\"pa"}}]),
            json!([{"index": 0, "function": {"arguments": "th\": 1}"}}]),
            json!([{"index": 1, "id": "b", "function": {"name": "read_file", "arguments": "{}"}}]),
        ]);
        assert_eq!(openai.iter().map(|c| c.3.as_str()).collect::<Vec<_>>(), ["{\"path\": 1}", "{}"]);
        // Current Ollama: every call whole, each in its own chunk, all at index 0.
        let ollama = assemble(&[
            json!([{"index": 0, "id": "call_x", "function": {"name": "write_file", "arguments": "{\"path\":\"a\"}"}}]),
            json!([{"index": 0, "id": "call_y", "function": {"name": "write_file", "arguments": "{\"path\":\"b\"}"}}]),
        ]);
        assert_eq!(ollama.iter().map(|c| c.1.as_str()).collect::<Vec<_>>(), ["call_x", "call_y"]);
        // Older Ollama: several calls in one chunk, no index, no id.
        let old = assemble(&[json!([
            {"function": {"name": "write_file", "arguments": "{\"path\":\"a\"}"}},
            {"function": {"name": "write_file", "arguments": "{\"path\":\"b\"}"}},
        ])]);
        assert_eq!(old.len(), 2);
        // A server that names the function again on one index, without ids.
        let renamed = assemble(&[
            json!([{"index": 0, "function": {"name": "read_file", "arguments": "{}"}}]),
            json!([{"index": 0, "function": {"name": "list_files", "arguments": "{}"}}]),
        ]);
        assert_eq!(renamed.iter().map(|c| c.2.as_str()).collect::<Vec<_>>(), ["read_file", "list_files"]);
    }

    #[test]
    fn openais_own_api_is_asked_for_max_completion_tokens_first() {
        let wants = |url: &str| Dialect::for_server(url).completion_tokens.load(Ordering::Relaxed);
        assert!(wants("https://api.openai.com/v1"));
        assert!(wants("https://kosuke.openai.azure.com/openai/deployments/x"));
        assert!(!wants("http://127.0.0.1:11434/v1"));
        assert!(!wants("https://openrouter.ai/api/v1"));
    }
}
