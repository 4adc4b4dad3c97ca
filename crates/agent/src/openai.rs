//! OpenAI-compatible chat completions (OpenAI, Ollama, vLLM, llama.cpp), streaming, with tool
//! calls.

use crate::model_loop::{Budget, Message, Reply, ToolCall, send_error, upstream_error};
use crate::sse::SseReader;
use crate::{Agent, AgentError, Usage, tools};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

pub async fn call(
    agent: &Agent,
    system: &str,
    messages: &[Message],
    budget: &mut Budget<'_>,
) -> Result<Reply, AgentError> {
    let config = &agent.config;
    let mut wire = vec![json!({"role": "system", "content": system})];
    for message in messages {
        wire.extend(wire_messages(message));
    }
    let mut body = json!({
        "model": config.model,
        "stream": true,
        "max_tokens": config.limits.max_tokens,
        "messages": wire,
        "tools": tools::specs().iter().map(|t| json!({
            "type": "function",
            "function": {"name": t.name, "description": t.description, "parameters": t.input_schema},
        })).collect::<Vec<_>>(),
    });
    let url = format!("{}/chat/completions", config.base_url.trim_end_matches('/'));
    let send = |body: &Value| {
        let mut request = agent.http.post(&url).json(body);
        if let Some(key) = &config.api_key {
            request = request.bearer_auth(key);
        }
        request.send()
    };
    // Token counts come in a last chunk (no choices) when asked for. A server strict about
    // unknown fields refuses `stream_options`: it gets the request again without it, and every
    // later one too.
    let asks_usage = agent.openai_usage.load(Ordering::Relaxed);
    if asks_usage {
        body["stream_options"] = json!({"include_usage": true});
    }
    let mut response = send(&body).await.map_err(send_error)?;
    if asks_usage && matches!(response.status().as_u16(), 400 | 422) {
        match upstream_error(response).await {
            AgentError::Upstream { message, .. } if message.contains("stream_options") => {
                agent.openai_usage.store(false, Ordering::Relaxed);
                if let Some(fields) = body.as_object_mut() {
                    fields.remove("stream_options");
                }
                response = send(&body).await.map_err(send_error)?;
            }
            refused => return Err(refused),
        }
    }
    if !response.status().is_success() {
        return Err(upstream_error(response).await);
    }
    let mut events = SseReader::new(response.bytes_stream(), config.limits.stall_timeout);
    let mut reply = Reply::default();
    // Tool calls arrive in pieces keyed by index: (id, name, arguments so far).
    let mut calls: BTreeMap<u64, (String, String, String)> = BTreeMap::new();
    let mut finished = false;
    while let Some(event) = events.next().await? {
        if event.data.trim() == "[DONE]" {
            finished = true;
            break;
        }
        if event.data.is_empty() {
            continue;
        }
        let data: Value = serde_json::from_str(&event.data)
            .map_err(|err| AgentError::Malformed(format!("a chunk is not JSON: {err}")))?;
        if let Some(message) = data["error"]["message"].as_str() {
            return Err(AgentError::Upstream { status: 200, message: message.to_owned() });
        }
        if let Some(usage) = data["usage"].as_object() {
            let count = |key: &str| usage.get(key).and_then(Value::as_u64).unwrap_or(0);
            reply.usage =
                Some(Usage { input_tokens: count("prompt_tokens"), output_tokens: count("completion_tokens") });
        }
        let choice = &data["choices"][0];
        let delta = &choice["delta"];
        if let Some(text) = delta["content"].as_str() {
            reply.text.push_str(text);
            budget.text(text)?;
        }
        for piece in delta["tool_calls"].as_array().into_iter().flatten() {
            let entry = calls.entry(piece["index"].as_u64().unwrap_or(0)).or_default();
            if let Some(id) = piece["id"].as_str() {
                entry.0 = id.to_owned();
            }
            if let Some(name) = piece["function"]["name"].as_str() {
                entry.1.push_str(name);
            }
            if let Some(arguments) = piece["function"]["arguments"].as_str() {
                entry.2.push_str(arguments);
            }
        }
        if choice["finish_reason"].is_string() {
            finished = true;
        }
    }
    if !finished {
        return Err(AgentError::Malformed("the stream ended before the answer finished".into()));
    }
    for (index, (id, name, arguments)) in calls {
        let input = if arguments.trim().is_empty() {
            json!({})
        } else {
            serde_json::from_str(&arguments)
                .map_err(|err| AgentError::Malformed(format!("tool call arguments are not JSON: {err}")))?
        };
        let id = if id.is_empty() { format!("call_{index}") } else { id };
        reply.tool_calls.push(ToolCall { id, name, input });
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
