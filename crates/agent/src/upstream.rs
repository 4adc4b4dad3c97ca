//! What a provider's failure says, whatever shape it comes in, and whether it is worth another
//! attempt. Error bodies are read the ways servers write them: OpenAI's and Anthropic's
//! `{"error": {"message"}}`, a bare `{"error": "…"}`, vLLM's and llama.cpp's top-level
//! `{"message"}`, FastAPI's 422 `{"detail": [{"loc", "msg"}]}` or `{"detail": "…"}`.
//!
//! Retryable: 408, 409, 429, 500, 502, 503, 504 and 529 (Anthropic's "overloaded"), and
//! mid-stream errors that say the same (`overloaded_error`, `rate_limit_error`, `api_error`,
//! `timeout_error`, or a numeric code among those statuses). `Retry-After` (seconds) and
//! `retry-after-ms` are honoured.

use crate::AgentError;
use serde_json::Value;
use std::time::Duration;

/// A failed model call: what went wrong, and whether it may be tried again.
#[derive(Debug)]
pub struct Failure {
    pub error: AgentError,
    pub retry: Retry,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    No,
    /// Worth another attempt, after the provider's own delay when it gave one.
    Yes {
        after: Option<Duration>,
    },
}

impl From<AgentError> for Failure {
    fn from(error: AgentError) -> Self {
        Failure { error, retry: Retry::No }
    }
}

pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 409 | 429 | 500 | 502 | 503 | 504 | 529)
}

/// The provider's own sentence in an error body of any known shape.
pub fn provider_message(body: &Value) -> Option<String> {
    let text = |v: &Value| v.as_str().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
    if let Some(message) = text(&body["error"]["message"]).or_else(|| text(&body["error"])) {
        return Some(message);
    }
    if let Some(message) = text(&body["message"]) {
        return Some(message);
    }
    match &body["detail"] {
        Value::String(_) => text(&body["detail"]),
        Value::Array(items) => {
            let parts: Vec<String> = items
                .iter()
                .filter_map(|item| {
                    let msg = text(&item["msg"])?;
                    let loc: Vec<String> = item["loc"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|p| p.as_str().map(str::to_owned).unwrap_or_else(|| p.to_string()))
                        .collect();
                    Some(if loc.is_empty() { msg } else { format!("{}: {msg}", loc.join(".")) })
                })
                .collect();
            (!parts.is_empty()).then(|| parts.join("; "))
        }
        _ => None,
    }
}

/// Whether a streamed JSON chunk is an error rather than part of an answer: an `error` key, or
/// a top-level error object (`"object": "error"`, `"type": "error"`, or a message with no
/// answer fields around it).
pub fn chunk_error(chunk: &Value) -> Option<Failure> {
    let fields = chunk.as_object()?;
    let is_error = fields.contains_key("error")
        || chunk["object"] == "error"
        || chunk["type"] == "error"
        || (!fields.contains_key("choices") && (fields.contains_key("message") || fields.contains_key("detail")));
    if !is_error {
        return None;
    }
    let message = provider_message(chunk).unwrap_or_else(|| "the provider reported an error".to_owned());
    let kind = chunk["error"]["type"].as_str().or(chunk["type"].as_str().filter(|t| *t != "error"));
    let code = chunk["error"]["code"].as_u64().or(chunk["code"].as_u64());
    Some(mid_stream(message, kind, code))
}

/// An error event in the middle of a stream.
pub fn mid_stream(message: String, kind: Option<&str>, code: Option<u64>) -> Failure {
    let busy = matches!(kind, Some("overloaded_error" | "rate_limit_error" | "api_error" | "timeout_error"))
        || code.and_then(|c| u16::try_from(c).ok()).is_some_and(is_retryable_status);
    Failure {
        error: AgentError::Upstream { status: 200, message },
        retry: if busy { Retry::Yes { after: None } } else { Retry::No },
    }
}

/// A non-success HTTP answer (its headers are read for the retry delay, never shown).
pub async fn from_response(response: reqwest::Response) -> Failure {
    let status = response.status().as_u16();
    let after = retry_after(response.headers());
    let body = response.text().await.unwrap_or_default();
    let parsed: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let message = provider_message(&parsed).unwrap_or_else(|| {
        match status {
            401 | 403 => "the API key was refused",
            429 => "rate limited",
            529 => "overloaded",
            _ => "no details",
        }
        .to_owned()
    });
    let retry = if is_retryable_status(status) { Retry::Yes { after } } else { Retry::No };
    Failure { error: AgentError::Upstream { status, message }, retry }
}

/// `retry-after-ms` (Anthropic's and OpenAI's SDKs read it first), else `Retry-After` in
/// seconds. An HTTP date is not read: the backoff applies then.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let number = |name: &str| -> Option<f64> {
        headers.get(name)?.to_str().ok()?.trim().parse::<f64>().ok().filter(|n| n.is_finite() && *n >= 0.0)
    };
    number("retry-after-ms")
        .map(|ms| Duration::from_secs_f64(ms / 1000.0))
        .or_else(|| number("retry-after").map(Duration::from_secs_f64))
}

pub fn send_error(err: reqwest::Error) -> AgentError {
    if err.is_timeout() {
        AgentError::Unreachable("the request timed out".into())
    } else {
        AgentError::Unreachable(err.without_url().to_string())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_providers_sentence_is_found_in_every_known_shape() {
        let cases = [
            (
                json!({"error": {"message": "Unsupported parameter: 'max_tokens'", "type": "invalid_request_error"}}),
                "Unsupported parameter: 'max_tokens'",
            ),
            (json!({"error": "model not found"}), "model not found"),
            (
                json!({"object": "error", "message": "vLLM says no", "type": "BadRequestError", "code": 400}),
                "vLLM says no",
            ),
            (
                json!({"detail": [{"loc": ["body", "stream_options"], "msg": "Extra inputs are not permitted", "type": "extra_forbidden"}]}),
                "body.stream_options: Extra inputs are not permitted",
            ),
            (json!({"detail": "Not Found"}), "Not Found"),
        ];
        for (body, expected) in cases {
            assert_eq!(provider_message(&body).as_deref(), Some(expected), "{body}");
        }
        assert_eq!(provider_message(&json!({"choices": []})), None);
    }

    #[test]
    fn error_chunks_are_told_from_answer_chunks() {
        let answer = json!({"id": "chatcmpl-1", "choices": [{"delta": {"content": "hi"}}]});
        assert!(chunk_error(&answer).is_none());
        assert!(chunk_error(&json!({"choices": [], "usage": {"prompt_tokens": 1}})).is_none());
        let vllm = chunk_error(&json!({"object": "error", "message": "out of memory", "code": 500})).unwrap();
        assert_eq!(vllm.retry, Retry::Yes { after: None });
        assert!(vllm.error.to_string().contains("out of memory"));
        let refused =
            chunk_error(&json!({"error": {"message": "bad prompt", "type": "invalid_request_error"}})).unwrap();
        assert_eq!(refused.retry, Retry::No);
        let overloaded =
            chunk_error(&json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}))
                .unwrap();
        assert_eq!(overloaded.retry, Retry::Yes { after: None });
    }

    #[test]
    fn retry_delays_come_from_either_header() {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("retry-after", "2".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
        headers.insert("retry-after-ms", "1500".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_millis(1500)));
        headers.clear();
        headers.insert("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap());
        assert_eq!(retry_after(&headers), None);
    }
}
