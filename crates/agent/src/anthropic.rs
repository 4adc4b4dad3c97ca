//! The Anthropic Messages API, streaming, with tool use. The stop reason is read: an answer cut
//! at `max_tokens` fails the call saying so (inside a tool call too), a `refusal` says the
//! model declined. Mid-stream `error` events fail the call; an overload there is retryable.

use crate::model_loop::{Ask, Budget, Message, Reply, ToolCall};
use crate::sse::SseReader;
use crate::upstream::{self, Failure, send_error};
use crate::{Agent, AgentError, Usage};
use serde_json::{Value, json};

pub async fn call(
    agent: &Agent,
    ask: &Ask<'_>,
    messages: &[Message],
    budget: &mut Budget<'_>,
) -> Result<Reply, Failure> {
    let config = &agent.config;
    let limits = &config.limits;
    let body = json!({
        "model": config.model,
        "max_tokens": limits.max_tokens,
        "system": ask.system,
        "stream": true,
        "tools": ask.tools.iter().map(|t| json!({
            "name": t.name, "description": t.description, "input_schema": t.input_schema,
        })).collect::<Vec<_>>(),
        "messages": wire_messages(messages),
    });
    let url = format!("{}/v1/messages", config.base_url.trim_end_matches('/'));
    let mut request = agent.http.post(url).header("anthropic-version", "2023-06-01").json(&body);
    if let Some(key) = &config.api_key {
        request = request.header("x-api-key", key);
    }
    let response = request.send().await.map_err(send_error)?;
    if !response.status().is_success() {
        return Err(upstream::from_response(response).await);
    }
    let mut events = SseReader::new(response.bytes_stream(), limits.stall_timeout);
    let mut reply = Reply::default();
    // Open tool-use blocks by index, with their input JSON so far.
    let mut tool_blocks: std::collections::HashMap<u64, (ToolCall, String)> = Default::default();
    // Tool blocks that closed with input that is not JSON: an error, unless the answer was cut.
    let mut cut_tool = None;
    let mut stop_reason: Option<String> = None;
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
                if let Some(reason) = data["delta"]["stop_reason"].as_str() {
                    stop_reason = Some(reason.to_owned());
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
                    // Nothing comes while the model composes the input.
                    events.set_stall(limits.tool_stall_timeout);
                } else if block["type"] == "text" {
                    reply.start_text_block(budget)?;
                    reply.push_text(block["text"].as_str().unwrap_or_default(), budget)?;
                }
            }
            "content_block_delta" => {
                let delta = &data["delta"];
                match delta["type"].as_str() {
                    Some("text_delta") => reply.push_text(delta["text"].as_str().unwrap_or_default(), budget)?,
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
                    let input = if json.trim().is_empty() { Ok(json!({})) } else { serde_json::from_str(&json) };
                    match input {
                        Ok(input) => {
                            call.input = input;
                            reply.tool_calls.push(call);
                        }
                        Err(err) => cut_tool = Some(format!("a tool input is not JSON: {err}")),
                    }
                }
                if tool_blocks.is_empty() {
                    events.set_stall(limits.stall_timeout);
                }
            }
            "message_stop" => {
                finished = true;
                break;
            }
            "error" => {
                let error = &data["error"];
                let message = error["message"].as_str().unwrap_or("unknown error").to_owned();
                return Err(upstream::mid_stream(message, error["type"].as_str(), None));
            }
            _ => {}
        }
    }
    let cut_in_tool = cut_tool.is_some() || !tool_blocks.is_empty();
    match stop_reason.as_deref() {
        Some("max_tokens") => {
            return Err(AgentError::TokenLimit { max_tokens: limits.max_tokens, in_tool_call: cut_in_tool }.into());
        }
        Some("refusal") => return Err(AgentError::Refused("the model declined to answer".into()).into()),
        _ => {}
    }
    if !finished {
        return Err(AgentError::Malformed("the stream ended before message_stop".into()).into());
    }
    if let Some(cut) = cut_tool {
        return Err(AgentError::Malformed(cut).into());
    }
    Ok(reply)
}

/// The conversation as Anthropic takes it: tool results are user content, and a user message
/// right after them joins the same turn.
fn wire_messages(messages: &[Message]) -> Vec<Value> {
    let mut wire: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for message in messages {
        let (role, content) = match message {
            Message::User(text) => ("user", vec![json!({"type": "text", "text": text})]),
            Message::Assistant { text, tool_calls } => {
                let mut content = Vec::new();
                if !text.is_empty() {
                    content.push(json!({"type": "text", "text": text}));
                }
                for call in tool_calls {
                    content.push(json!({"type": "tool_use", "id": call.id, "name": call.name, "input": call.input}));
                }
                ("assistant", content)
            }
            Message::ToolResults(results) => (
                "user",
                results
                    .iter()
                    .map(|(call, result)| json!({
                        "type": "tool_result", "tool_use_id": call.id, "content": result.output, "is_error": result.is_error,
                    }))
                    .collect(),
            ),
        };
        match wire.last_mut() {
            Some((last, blocks)) if *last == role => blocks.extend(content),
            _ => wire.push((role, content)),
        }
    }
    wire.into_iter()
        .map(|(role, content)| match (role, content.as_slice()) {
            // A user message of one text is sent as a plain string, as most clients do.
            ("user", [only]) if only["type"] == "text" => json!({"role": role, "content": only["text"]}),
            _ => json!({"role": role, "content": content}),
        })
        .collect()
}
