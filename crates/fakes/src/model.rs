//! A fake model provider on loopback speaking the Anthropic Messages streaming format
//! (`POST /v1/messages`) and the OpenAI chat-completions streaming format
//! (`POST /chat/completions`). Each request takes the next scripted reply, or, with none left,
//! answers from the request itself ([`Reply::Echo`] rules). Every request body is recorded.

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
}

#[derive(Default)]
struct State {
    script: VecDeque<Reply>,
    requests: Vec<Value>,
    /// Top-level request fields the OpenAI endpoint refuses, as servers strict about unknown
    /// fields do.
    refused_fields: Vec<String>,
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
        self.with(|s| s.refused_fields = fields.iter().map(|f| (*f).to_owned()).collect());
    }

    /// The first refused field `body` has, the request recorded.
    fn refused(&self, body: &Value) -> Option<String> {
        self.with(|s| {
            let field = s.refused_fields.iter().find(|f| body.get(f.as_str()).is_some()).cloned();
            if field.is_some() {
                s.requests.push(body.clone());
            }
            field
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
    }
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
    if let Some(field) = fake.refused(&body) {
        // OpenAI's own answer to an argument it does not know.
        return HttpResponse::BadRequest().json(json!({"error": {
            "message": format!("Unrecognized request argument supplied: {field}"),
            "type": "invalid_request_error", "param": null, "code": null,
        }}));
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
    }
}
