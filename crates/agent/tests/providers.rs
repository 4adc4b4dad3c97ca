//! The agent against fake providers on loopback replaying recorded streams
//! (`crates/fakes/fixtures/providers`): what reaches the checkout is byte for byte what the
//! model wrote, wherever the network splits the stream.

#![allow(clippy::unwrap_used)]

use agent::{Agent, AgentConfig, AgentEvent, CancellationToken, EventSink, Limits, ProviderKind, Turn};
use fakes::model::{FakeModel, Reply, fixture};

struct Events(Vec<AgentEvent>);

impl EventSink for Events {
    fn emit(&mut self, event: AgentEvent) {
        self.0.push(event);
    }
}

fn agent(kind: ProviderKind, model: &FakeModel) -> Agent {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Agent::new(AgentConfig {
        kind,
        model: "test-model".into(),
        base_url: model.url.clone(),
        api_key: None,
        command: None,
        limits: Limits::default(),
        sandbox: Err(sandbox::Unavailable { reason: "not needed by model providers".into() }),
    })
    .unwrap()
}

async fn turn(agent: &Agent, dir: &std::path::Path) -> (Result<(), agent::AgentError>, Vec<AgentEvent>) {
    let turn = Turn {
        prompt: "write hello.py".into(),
        history: vec![],
        place: agent::Place::dir(dir),
        system: String::new(),
        preview: None,
    };
    let mut events = Events(Vec::new());
    let outcome = agent.run(turn, &mut events, CancellationToken::new()).await;
    (outcome, events.0)
}

/// The byte range of the fixture's events that hold non-ASCII text (where a split can fall
/// inside a character).
fn non_ascii_events(bytes: &[u8]) -> std::ops::Range<usize> {
    let first = bytes.iter().position(|b| *b >= 0x80).unwrap();
    let last = bytes.iter().rposition(|b| *b >= 0x80).unwrap();
    let start = bytes[..first].windows(2).rposition(|w| w == b"\n\n").map_or(0, |at| at + 2);
    let end = last + bytes[last..].windows(2).position(|w| w == b"\n\n").unwrap() + 2;
    start..end
}

async fn every_split_writes_the_same_bytes(kind: ProviderKind, name: &'static str) {
    let expected = "# こんにちは\nprint('héllo 🎉')\n";
    let model = FakeModel::start().await;
    let agent = agent(kind, &model);
    let range = non_ascii_events(&fixture(name));
    assert!(range.len() > 100, "the sweep covers the tool call's events: {range:?}");
    for at in range {
        let dir = tempfile::tempdir().unwrap();
        model.script([Reply::Fixture { name, split_at: Some(at) }]);
        let (outcome, events) = turn(&agent, dir.path()).await;
        assert!(outcome.is_ok(), "split at {at}: {outcome:?}");
        let written = std::fs::read(dir.path().join("hello.py")).unwrap();
        assert_eq!(String::from_utf8(written).unwrap(), expected, "split at {at}");
        let text: String = events
            .iter()
            .filter_map(|e| match e {
                AgentEvent::Text(t) => Some(t.as_str()),
                _ => None,
            })
            .collect();
        assert!(!text.contains('\u{FFFD}'), "split at {at}: {text}");
    }
}

#[tokio::test]
async fn anthropic_streams_split_at_every_byte_write_identical_files() {
    every_split_writes_the_same_bytes(ProviderKind::Anthropic, "anthropic-write-file.sse").await;
}

#[tokio::test]
async fn openai_streams_split_at_every_byte_write_identical_files() {
    every_split_writes_the_same_bytes(ProviderKind::OpenAi, "openai-write-file.sse").await;
}
