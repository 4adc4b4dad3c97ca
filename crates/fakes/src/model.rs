//! A fake model provider on loopback speaking the Anthropic Messages streaming format
//! (`POST /v1/messages`) and the OpenAI chat-completions streaming format
//! (`POST /chat/completions`). Each request takes the next scripted reply, or, with none left,
//! answers from the request itself ([`echo`] rules). Every request body is recorded.
//!
//! Besides answers it builds, it replays recorded streams (`fixtures/providers/*.sse`, each
//! with its provenance in its leading SSE comments) as Anthropic, OpenAI, Ollama, llama.cpp
//! and vLLM send them, optionally split into two network writes at any byte offset.

use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One part of a scripted answer.
#[derive(Debug, Clone)]
pub enum Part {
    Text(String),
    Tool { name: String, input: Value },
}

pub fn text(t: &str) -> Part {
    Part::Text(t.to_owned())
}

pub fn tool(name: &str, input: Value) -> Part {
    Part::Tool { name: name.to_owned(), input }
}

/// How the provider answers one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A well-formed streamed answer.
    Parts(Vec<Part>),
    /// Text deltas `every` apart, then a normal end.
    Slow { chunks: usize, every: Duration },
    /// An HTTP error with a JSON body.
    Status(u16),
    /// A first text delta, then an event that is not JSON.
    Malformed,
    /// A first text delta, then the stream ends mid-answer (no closing events).
    Drop,
    /// A first text delta, then silence forever.
    Stall,
    /// Headers, then nothing at all.
    NeverAnswer,
    /// An HTTP error with a JSON body and, when given, a `Retry-After` header (seconds).
    Busy { status: u16, retry_after: Option<u64> },
    /// A `write_file slow.txt` tool call whose arguments come after `silence` with nothing
    /// sent meanwhile, as models composing a long argument do.
    SlowTool { silence: Duration },
    /// A stream from `fixtures/providers/{name}` as it is, or in two writes split at a byte.
    Fixture { name: &'static str, split_at: Option<usize> },
}

/// The bytes of a provider fixture.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/fixtures/providers/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|err| panic!("fixture {path}: {err}"))
}

/// How the OpenAI endpoint words its refusal of an unknown field.
#[derive(Debug, Clone, Copy, Default)]
pub enum Refusal {
    /// OpenAI's own 400 `{"error": {"message", "type", "param", "code"}}`.
    #[default]
    OpenAi,
    /// A FastAPI/pydantic server's 422 `{"detail": [{"loc", "msg", "type"}]}`.
    FastApi,
}

#[derive(Default)]
struct State {
    script: VecDeque<Reply>,
    requests: Vec<Value>,
    /// Top-level request fields the OpenAI endpoint refuses, as servers strict about unknown
    /// fields do.
    refused_fields: Vec<String>,
    refusal: Refusal,
}

#[derive(Clone)]
pub struct FakeModel {
    pub url: String,
    state: Arc<Mutex<State>>,
}

impl FakeModel {
    pub async fn start() -> FakeModel {
        let state = Arc::new(Mutex::new(State::default()));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind fake model");
        let url = format!("http://127.0.0.1:{}", listener.local_addr().expect("address").port());
        let shared = web::Data::new(FakeModel { url: url.clone(), state: state.clone() });
        let server = actix_web::HttpServer::new(move || {
            actix_web::App::new()
                .app_data(shared.clone())
                .app_data(web::PayloadConfig::new(16 * 1024 * 1024))
                .route("/v1/messages", web::post().to(anthropic))
                .route("/chat/completions", web::post().to(openai))
        })
        // Streamed writes go out at once (no Nagle delay waiting for the client's ACK).
        .on_connect(|connection, _| {
            if let Some(tcp) = connection.downcast_ref::<actix_web::rt::net::TcpStream>() {
                let _ = tcp.set_nodelay(true);
            }
        })
        .workers(2)
        .listen(listener)
        .expect("listen")
        .run();
        tokio::spawn(server);
        FakeModel { url, state }
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().unwrap_or_else(|p| p.into_inner()))
    }

    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.with(|s| s.script.extend(replies));
    }

    pub fn requests(&self) -> Vec<Value> {
        self.with(|s| s.requests.clone())
    }

    /// From now on the OpenAI endpoint answers 400 to a request with any of these fields.
    pub fn refuse_fields(&self, fields: &[&str]) {
        self.refuse_fields_as(fields, Refusal::OpenAi);
    }

    /// The same, worded as `refusal` says.
    pub fn refuse_fields_as(&self, fields: &[&str], refusal: Refusal) {
        self.with(|s| {
            s.refused_fields = fields.iter().map(|f| (*f).to_owned()).collect();
            s.refusal = refusal;
        });
    }

    /// The refusal of the first refused field `body` has, the request recorded.
    fn refused(&self, body: &Value) -> Option<HttpResponse> {
        self.with(|s| {
            let field = s.refused_fields.iter().find(|f| body.get(f.as_str()).is_some()).cloned()?;
            s.requests.push(body.clone());
            Some(refusal(s.refusal, &field))
        })
    }

    fn next(&self, body: Value) -> Reply {
        self.with(|s| {
            s.requests.push(body.clone());
            s.script.pop_front()
        })
        .unwrap_or_else(|| echo(&body))
    }
}

/// With no script left: a prompt `write NAME` gets a `write_file NAME.txt` call; once tool
/// results come back, the answer is "Done: " and the tool outputs.
fn echo(body: &Value) -> Reply {
    let messages = body["messages"].as_array().cloned().unwrap_or_default();
    let last = messages.last().cloned().unwrap_or(Value::Null);
    let last_text = match &last["content"] {
        Value::String(s) => s.clone(),
        Value::Array(blocks) => {
            blocks.iter().filter_map(|b| b["text"].as_str().or(b["content"].as_str())).collect::<Vec<_>>().join(" ")
        }
        _ => String::new(),
    };
    let is_tool_result = last["role"] == "tool"
        || last["content"].as_array().is_some_and(|b| b.iter().any(|b| b["type"] == "tool_result"));
    if is_tool_result {
        return Reply::Parts(vec![text(&format!("Done: {last_text}"))]);
    }
    match last_text.lines().last().unwrap_or_default().trim().strip_prefix("write ") {
        Some(name) => Reply::Parts(vec![
            text(&format!("Writing {name}.")),
            tool("write_file", json!({"path": format!("{name}.txt"), "content": format!("{name}\n")})),
        ]),
        None => Reply::Parts(vec![text("Nothing to do.")]),
    }
}

type Frames = futures_util::stream::BoxStream<'static, Result<Bytes, std::io::Error>>;

fn stream_of(frames: Vec<String>, then: Tail) -> Frames {
    let head = futures_util::stream::iter(frames.into_iter().map(|f| Ok(Bytes::from(f))));
    match then {
        Tail::End => head.boxed(),
        Tail::Hang => head.chain(futures_util::stream::pending()).boxed(),
    }
}

enum Tail {
    End,
    Hang,
}

fn sse(frames: Frames) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(actix_web::http::header::ContentEncoding::Identity)
        .streaming(frames)
}

fn refusal(shape: Refusal, field: &str) -> HttpResponse {
    match shape {
        // OpenAI's words for a deprecated parameter, and for one it does not know.
        Refusal::OpenAi if field == "max_tokens" => HttpResponse::BadRequest().json(json!({"error": {
            "message": "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
            "type": "invalid_request_error", "param": "max_tokens", "code": "unsupported_parameter",
        }})),
        Refusal::OpenAi => HttpResponse::BadRequest().json(json!({"error": {
            "message": format!("Unrecognized request argument supplied: {field}"),
            "type": "invalid_request_error", "param": null, "code": null,
        }})),
        Refusal::FastApi => HttpResponse::UnprocessableEntity().json(json!({"detail": [{
            "type": "extra_forbidden", "loc": ["body", field], "msg": "Extra inputs are not permitted", "input": {},
        }]})),
    }
}

/// A recorded stream, whole or in two writes `split_at` apart (with a pause between, so they
/// reach the client as two reads).
fn replay(name: &str, split_at: Option<usize>) -> HttpResponse {
    let bytes = Bytes::from(fixture(name));
    let writes = match split_at {
        Some(at) => vec![bytes.slice(..at.min(bytes.len())), bytes.slice(at.min(bytes.len())..)],
        None => vec![bytes],
    };
    let frames = futures_util::stream::iter(writes.into_iter().enumerate())
        .then(|(n, write)| async move {
            if n > 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Ok(write)
        })
        .boxed();
    sse(frames)
}

fn busy(status: u16, retry_after: Option<u64>) -> HttpResponse {
    let mut response = error_body(status);
    if let Some(seconds) = retry_after {
        response
            .headers_mut()
            .insert(actix_web::http::header::RETRY_AFTER, actix_web::http::header::HeaderValue::from(seconds));
    }
    response
}

fn error_body(status: u16) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).expect("status"))
        .json(json!({"type": "error", "error": {"type": "api_error", "message": format!("scripted failure {status}")}}))
}

fn slow(chunks: usize, every: Duration, frame: impl Fn(usize) -> String + Send + 'static, end: Vec<String>) -> Frames {
    futures_util::stream::iter(0..chunks)
        .then(move |n| {
            let frame = frame(n);
            async move {
                tokio::time::sleep(every).await;
                Ok(Bytes::from(frame))
            }
        })
        .chain(futures_util::stream::iter(end.into_iter().map(|f| Ok(Bytes::from(f)))))
        .boxed()
}

// --- Anthropic

fn a_event(name: &str, data: Value) -> String {
    format!("event: {name}\ndata: {data}\n\n")
}

fn a_text_frames(index: usize, text: &str) -> Vec<String> {
    vec![
        a_event(
            "content_block_start",
            json!({"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}}),
        ),
        a_event(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": text}}),
        ),
        a_event("content_block_stop", json!({"type": "content_block_stop", "index": index})),
    ]
}

fn a_start() -> String {
    a_event(
        "message_start",
        json!({"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant", "content": [], "model": "claude-test", "usage": {"input_tokens": 10, "output_tokens": 1}}}),
    )
}

fn a_end(stop: &str) -> Vec<String> {
    vec![
        a_event(
            "message_delta",
            json!({"type": "message_delta", "delta": {"stop_reason": stop}, "usage": {"output_tokens": 5}}),
        ),
        a_event("message_stop", json!({"type": "message_stop"})),
    ]
}

async fn anthropic(_req: HttpRequest, body: web::Json<Value>, fake: web::Data<FakeModel>) -> HttpResponse {
    match fake.next(body.into_inner()) {
        Reply::Parts(parts) => {
            let mut frames = vec![a_start()];
            let mut uses_tools = false;
            for (index, part) in parts.iter().enumerate() {
                match part {
                    Part::Text(t) => frames.extend(a_text_frames(index, t)),
                    Part::Tool { name, input } => {
                        uses_tools = true;
                        let id = format!("toolu_{index}_{name}");
                        frames.push(a_event("content_block_start", json!({"type": "content_block_start", "index": index, "content_block": {"type": "tool_use", "id": id, "name": name, "input": {}}})));
                        let json = input.to_string();
                        let (first, second) = json.split_at(json.len() / 2);
                        for piece in [first, second] {
                            frames.push(a_event("content_block_delta", json!({"type": "content_block_delta", "index": index, "delta": {"type": "input_json_delta", "partial_json": piece}})));
                        }
                        frames
                            .push(a_event("content_block_stop", json!({"type": "content_block_stop", "index": index})));
                    }
                }
            }
            frames.extend(a_end(if uses_tools { "tool_use" } else { "end_turn" }));
            sse(stream_of(frames, Tail::End))
        }
        Reply::Slow { chunks, every } => {
            let mut end = vec![a_event("content_block_stop", json!({"type": "content_block_stop", "index": 0}))];
            end.extend(a_end("end_turn"));
            let start = futures_util::stream::iter(vec![
                Ok(Bytes::from(a_start())),
                Ok(Bytes::from(a_event(
                    "content_block_start",
                    json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
                ))),
            ]);
            let body = slow(
                chunks,
                every,
                |n| {
                    a_event(
                        "content_block_delta",
                        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": format!("chunk {n}. ")}}),
                    )
                },
                end,
            );
            sse(start.chain(body).boxed())
        }
        Reply::Status(status) => error_body(status),
        Reply::Malformed => {
            let mut frames = vec![a_start()];
            frames.extend(a_text_frames(0, "partial answer"));
            frames.push("event: content_block_delta\ndata: {this is not json\n\n".into());
            sse(stream_of(frames, Tail::End))
        }
        Reply::Drop => {
            let mut frames = vec![a_start()];
            frames.extend(a_text_frames(0, "partial answer"));
            sse(stream_of(frames, Tail::End))
        }
        Reply::Stall => {
            let mut frames = vec![a_start()];
            frames.extend(a_text_frames(0, "partial answer"));
            sse(stream_of(frames, Tail::Hang))
        }
        Reply::NeverAnswer => sse(stream_of(vec![], Tail::Hang)),
        Reply::Busy { status, retry_after } => busy(status, retry_after),
        Reply::SlowTool { silence } => {
            let input = json!({"path": "slow.txt", "content": "composed slowly\n"}).to_string();
            let head = vec![
                a_start(),
                a_event(
                    "content_block_start",
                    json!({"type": "content_block_start", "index": 0, "content_block": {"type": "tool_use", "id": "toolu_slow", "name": "write_file", "input": {}}}),
                ),
            ];
            let mut tail = vec![
                a_event(
                    "content_block_delta",
                    json!({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": input}}),
                ),
                a_event("content_block_stop", json!({"type": "content_block_stop", "index": 0})),
            ];
            tail.extend(a_end("tool_use"));
            sse(after_silence(head, silence, tail))
        }
        Reply::Fixture { name, split_at } => replay(name, split_at),
    }
}

/// `head`, nothing for `silence`, then `tail`.
fn after_silence(head: Vec<String>, silence: Duration, tail: Vec<String>) -> Frames {
    let head = futures_util::stream::iter(head.into_iter().map(|f| Ok(Bytes::from(f))));
    let tail = futures_util::stream::once(async move {
        tokio::time::sleep(silence).await;
        Ok(Bytes::from(tail.concat()))
    });
    head.chain(tail).boxed()
}

// --- OpenAI

fn o_chunk(delta: Value, finish: Option<&str>) -> String {
    format!(
        "data: {}\n\n",
        json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": "gpt-test", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    )
}

/// The chunk `stream_options.include_usage` asks for: no choices, the call's token counts, just
/// before `[DONE]`.
fn o_usage() -> String {
    format!(
        "data: {}\n\n",
        json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": "gpt-test", "choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19}})
    )
}

async fn openai(_req: HttpRequest, body: web::Json<Value>, fake: web::Data<FakeModel>) -> HttpResponse {
    let body = body.into_inner();
    if let Some(refusal) = fake.refused(&body) {
        return refusal;
    }
    let usage = (body["stream_options"]["include_usage"] == true).then(o_usage);
    match fake.next(body) {
        Reply::Parts(parts) => {
            let mut frames = vec![o_chunk(json!({"role": "assistant", "content": ""}), None)];
            let mut calls = 0;
            for part in &parts {
                match part {
                    Part::Text(t) => frames.push(o_chunk(json!({"content": t}), None)),
                    Part::Tool { name, input } => {
                        let arguments = input.to_string();
                        let (first, second) = arguments.split_at(arguments.len() / 2);
                        frames.push(o_chunk(json!({"tool_calls": [{"index": calls, "id": format!("call_{calls}"), "type": "function", "function": {"name": name, "arguments": first}}]}), None));
                        frames.push(o_chunk(
                            json!({"tool_calls": [{"index": calls, "function": {"arguments": second}}]}),
                            None,
                        ));
                        calls += 1;
                    }
                }
            }
            frames.push(o_chunk(json!({}), Some(if calls > 0 { "tool_calls" } else { "stop" })));
            frames.extend(usage);
            frames.push("data: [DONE]\n\n".into());
            sse(stream_of(frames, Tail::End))
        }
        Reply::Slow { chunks, every } => {
            let mut end = vec![o_chunk(json!({}), Some("stop"))];
            end.extend(usage);
            end.push("data: [DONE]\n\n".into());
            sse(slow(chunks, every, |n| o_chunk(json!({"content": format!("chunk {n}. ")}), None), end))
        }
        Reply::Status(status) => error_body(status),
        Reply::Malformed => sse(stream_of(
            vec![o_chunk(json!({"content": "partial answer"}), None), "data: {nope\n\n".into()],
            Tail::End,
        )),
        Reply::Drop => sse(stream_of(vec![o_chunk(json!({"content": "partial answer"}), None)], Tail::End)),
        Reply::Stall => sse(stream_of(vec![o_chunk(json!({"content": "partial answer"}), None)], Tail::Hang)),
        Reply::NeverAnswer => sse(stream_of(vec![], Tail::Hang)),
        Reply::Busy { status, retry_after } => busy(status, retry_after),
        Reply::SlowTool { silence } => {
            let input = json!({"path": "slow.txt", "content": "composed slowly\n"}).to_string();
            let head = vec![o_chunk(
                json!({"tool_calls": [{"index": 0, "id": "call_slow", "type": "function", "function": {"name": "write_file", "arguments": ""}}]}),
                None,
            )];
            let mut tail = vec![o_chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": input}}]}), None)];
            tail.push(o_chunk(json!({}), Some("tool_calls")));
            tail.extend(usage);
            tail.push("data: [DONE]\n\n".into());
            sse(after_silence(head, silence, tail))
        }
        Reply::Fixture { name, split_at } => replay(name, split_at),
    }
}
