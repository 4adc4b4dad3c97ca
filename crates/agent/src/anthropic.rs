//! The Anthropic Messages API, streaming, with tool use.

use crate::model_loop::{Budget, Message, Reply, ToolCall, send_error, upstream_error};
use crate::sse::SseReader;
use crate::{Agent, AgentError, Usage, tools};
use serde_json::{Value, json};

pub async fn call(
    agent: &Agent,
    system: &str,
    messages: &[Message],
    budget: &mut Budget<'_>,
) -> Result<Reply, AgentError> {
    let config = &agent.config;
    let body = json!({
        "model": config.model,
        "max_tokens": config.limits.max_tokens,
        "system": system,
        "stream": true,
        "tools": tools::specs().iter().map(|t| json!({
            "name": t.name, "description": t.description, "input_schema": t.input_schema,
        })).collect::<Vec<_>>(),
        "messages": messages.iter().map(wire_message).collect::<Vec<_>>(),
    });
    let url = format!("{}/v1/messages", config.base_url.trim_end_matches('/'));
    let mut request = agent.http.post(url).header("anthropic-version", "2023-06-01").json(&body);
    if let Some(key) = &config.api_key {
        request = request.header("x-api-key", key);
    }
    let response = request.send().await.map_err(send_error)?;
    if !response.status().is_success() {
        return Err(upstream_error(response).await);
    }
    let mut events = SseReader::new(response.bytes_stream(), config.limits.stall_timeout);
    let mut reply = Reply::default();
    // Open content blocks by index: text, or a tool call with its input JSON so far.
    let mut tool_blocks: std::collections::HashMap<u64, (ToolCall, String)> = Default::default();
    let mut finished = false;
    while let Some(event) = events.next().await? {
        if event.data.is_empty() {
            continue;
        }
        let data: Value = serde_json::from_str(&event.data)
            .map_err(|err| AgentError::Malformed(format!("an event is not JSON: {err}")))?;
        let index = data["index"].as_u64().unwrap_or(0);
        match data["type"].as_str().or(event.event.as_deref()).unwrap_or_default() {
            // The input's tokens come first; the output's count, cumulative, with each
            // `message_delta`.
            "message_start" => {
                let usage = &data["message"]["usage"];
                reply.usage = Some(Usage {
                    input_tokens: usage["input_tokens"].as_u64().unwrap_or(0),
                    output_tokens: usage["output_tokens"].as_u64().unwrap_or(0),
                });
            }
            "message_delta" => {
                if let Some(output) = data["usage"]["output_tokens"].as_u64() {
                    reply.usage.get_or_insert_default().output_tokens = output;
                }
            }
            "content_block_start" => {
                let block = &data["content_block"];
                if block["type"] == "tool_use" {
                    let call = ToolCall {
                        id: block["id"].as_str().unwrap_or_default().to_owned(),
                        name: block["name"].as_str().unwrap_or_default().to_owned(),
                        input: Value::Null,
                    };
                    tool_blocks.insert(index, (call, String::new()));
                } else if let Some(text) = block["text"].as_str() {
                    reply.text.push_str(text);
                    budget.text(text)?;
                }
            }
            "content_block_delta" => {
                let delta = &data["delta"];
                match delta["type"].as_str() {
                    Some("text_delta") => {
                        let text = delta["text"].as_str().unwrap_or_default();
                        reply.text.push_str(text);
                        budget.text(text)?;
                    }
                    Some("input_json_delta") => {
                        if let Some((_, json)) = tool_blocks.get_mut(&index) {
                            json.push_str(delta["partial_json"].as_str().unwrap_or_default());
                        }
                    }
                    _ => {}
                }
            }
            "content_block_stop" => {
                if let Some((mut call, json)) = tool_blocks.remove(&index) {
                    call.input = if json.trim().is_empty() {
                        json!({})
                    } else {
                        serde_json::from_str(&json)
                            .map_err(|err| AgentError::Malformed(format!("a tool input is not JSON: {err}")))?
                    };
                    reply.tool_calls.push(call);
                }
            }
            "message_stop" => {
                finished = true;
                break;
            }
            "error" => {
                let message = data["error"]["message"].as_str().unwrap_or("unknown error").to_owned();
                return Err(AgentError::Upstream { status: 200, message });
            }
            _ => {}
        }
    }
    if !finished {
        return Err(AgentError::Malformed("the stream ended before message_stop".into()));
    }
    Ok(reply)
}

fn wire_message(message: &Message) -> Value {
    match message {
        Message::User(text) => json!({"role": "user", "content": text}),
        Message::Assistant { text, tool_calls } => {
            let mut content = Vec::new();
            if !text.is_empty() {
                content.push(json!({"type": "text", "text": text}));
            }
            for call in tool_calls {
                content.push(json!({"type": "tool_use", "id": call.id, "name": call.name, "input": call.input}));
            }
            json!({"role": "assistant", "content": content})
        }
        Message::ToolResults(results) => json!({
            "role": "user",
            "content": results.iter().map(|(call, result)| json!({
                "type": "tool_result", "tool_use_id": call.id, "content": result.output, "is_error": result.is_error,
            })).collect::<Vec<_>>(),
        }),
    }
}
