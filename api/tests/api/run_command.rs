//! A model's `run_command` tool, through both fake providers: the command runs in the
//! session's sandbox, its output streams as `tool_output` events and reaches the model with the
//! exit code, the time limit kills it, servers are refused, and the sandbox's rules hold.

use crate::chat::{assistant, chat, finished, setup, spawn_openai_app};
use crate::db_test;
use crate::harness::{TestApp, spawn_app};
use api_types::*;
use fakes::model::{Reply, text, tool};
use serde_json::{Value, json};

/// Runs one turn whose model calls `run_command` with `input` and then answers "Done"; gives
/// the tool block of the saved message (output, is_error) and the events the run streamed.
async fn one_command(app: &TestApp, input: Value) -> (String, bool, Vec<RunEvent>) {
    let (owner, project, session) = setup(app).await;
    owner.set_env_var(project.id, "API_TOKEN", "tok-very-secret-1234").await.unwrap();
    command_in(app, &owner, &project, &session, input).await
}

async fn command_in(
    app: &TestApp,
    owner: &client::Client,
    project: &Project,
    session: &ChatSession,
    input: Value,
) -> (String, bool, Vec<RunEvent>) {
    app.model.script([Reply::Parts(vec![tool("run_command", input)]), Reply::Parts(vec![text("Done")])]);
    owner.send_chat(&chat(project, session, "Run it")).await.unwrap();
    let run = finished(owner, project.id, session.id).await;
    assert_eq!(run.status, RunStatus::Succeeded, "{:?}", run.error);
    let message = assistant(owner, project.id, session.id).await;
    let (output, is_error) = message
        .blocks
        .unwrap_or_default()
        .into_iter()
        .find_map(|block| match block {
            ContentBlock::ToolUse { name, output, is_error, .. } if name == "run_command" => {
                Some((output.unwrap_or_default(), is_error))
            }
            _ => None,
        })
        .expect("a run_command block");
    let token = owner.create_api_token(&CreateApiTokenRequest { name: "sse".into() }).await.unwrap().token;
    let url = app.url(&format!("/api/projects/{}/chat-sessions/{}/events", project.id, session.id));
    let response = reqwest::Client::new().get(url).bearer_auth(token).send().await.unwrap();
    (output, is_error, until_finished(response).await)
}

/// The run's events as replayed, up to its `run_finished` (the stream itself stays open).
async fn until_finished(response: reqwest::Response) -> Vec<RunEvent> {
    use futures_util::StreamExt;
    let mut stream = response.bytes_stream();
    let (mut buffer, mut events) = (Vec::new(), Vec::new());
    loop {
        let next = tokio::time::timeout(std::time::Duration::from_secs(10), stream.next()).await;
        let Ok(Some(Ok(chunk))) = next else { panic!("the replay ended before run_finished: {events:?}") };
        buffer.extend_from_slice(&chunk);
        while let Some(end) = buffer.windows(2).position(|w| w == b"\n\n") {
            let block = String::from_utf8(buffer.drain(..end + 2).collect()).unwrap();
            let Some(data) = block.lines().find_map(|l| l.strip_prefix("data: ")) else { continue };
            let event: RunEvent = serde_json::from_str(data).unwrap();
            if matches!(event, RunEvent::RunFinished { .. }) {
                return events;
            }
            events.push(event);
        }
    }
}

async fn output_streams_and_the_exit_code_reaches_the_model(app: TestApp) {
    let command = "echo first; echo 'to stderr' >&2; printf 'token=%s\\n' \"$API_TOKEN\"; exit 3";
    let (output, is_error, events) = one_command(&app, json!({"command": command})).await;
    assert!(output.contains("first\n") && output.contains("to stderr\n"), "{output}");
    assert!(output.ends_with("[exit code 3]") && is_error, "a failing command is a tool error with its code: {output}");
    assert!(
        output.contains("token=[$API_TOKEN]") && !output.contains("tok-very-secret-1234"),
        "secrets are hidden: {output}"
    );
    // Streamed while it ran: its lines as tool_output events, before the tool finished.
    let streamed: String = events
        .iter()
        .filter_map(|event| match event {
            RunEvent::ToolOutput { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert!(streamed.contains("first\n") && streamed.contains("token=[$API_TOKEN]"), "{streamed}");
    let position = |wanted: &str| events.iter().position(|event| event.name() == wanted).unwrap();
    assert!(position("tool_output") < position("tool_finished"), "output streams before the tool finishes");
    // The model got the output and the code as the tool's result.
    let second = serde_json::to_string(&app.model.requests()[1]).unwrap();
    assert!(second.contains("[exit code 3]") && second.contains("first"), "{second}");
    assert!(!second.contains("tok-very-secret-1234"), "the provider never sees a project secret");
    assert!(serde_json::to_string(&app.model.requests()[0]).unwrap().contains("run_command"), "offered to the model");
}

db_test!(
    async fn anthropic_run_command_streams_output_and_returns_the_exit_code(backend) {
        output_streams_and_the_exit_code_reaches_the_model(spawn_app(backend).await).await;
    }
);

db_test!(
    async fn openai_run_command_streams_output_and_returns_the_exit_code(backend) {
        output_streams_and_the_exit_code_reaches_the_model(spawn_openai_app(backend).await).await;
    }
);

db_test!(
    async fn a_command_past_its_time_limit_is_killed_with_what_it_started(backend) {
        let app = spawn_app(backend).await;
        // A sleep no other test runs (each backend's its own), so that /proc tells whether it
        // survived.
        let seconds = if matches!(backend, crate::harness::Backend::Sqlite) { "37.25" } else { "37.75" };
        let command = format!("echo started; (sleep {seconds} &) ; sleep {seconds}; echo never");
        let (output, is_error, _) = one_command(&app, json!({"command": command, "timeout_secs": 1})).await;
        assert!(output.contains("started") && !output.contains("never"), "{output}");
        assert!(output.contains("[stopped after 1 s") && is_error, "{output}");
        let survivors = std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|entry| std::fs::read(entry.path().join("cmdline")).ok())
            .filter(|cmdline| String::from_utf8_lossy(cmdline).contains(seconds))
            .count();
        assert_eq!(survivors, 0, "nothing the command started is left running");
    }
);

db_test!(
    async fn servers_and_watchers_are_refused_with_the_preview_named(backend) {
        let app = spawn_app(backend).await;
        let (output, is_error, _) = one_command(&app, json!({"command": "touch ran.txt && npm run dev"})).await;
        assert!(is_error && output.contains("Preview"), "{output}");
        let checkouts = app.data_dir.path().join("projects");
        let ran = walk_for(&checkouts, "ran.txt");
        assert!(!ran, "a refused command does not run at all");
    }
);

db_test!(
    /// The isolation table, tried from the tool: what the command attempts and what proves it
    /// worked.
    async fn the_sandbox_holds_for_the_models_commands(backend) {
        let app = spawn_app(backend).await;
        let data_dir = app.data_dir.path().display().to_string();
        let attempts = [
            ("the server's data dir", format!("ls '{data_dir}' && echo ESCAPED")),
            ("the database file", format!("cat '{data_dir}/kosuke.db' > /dev/null && echo ESCAPED")),
            ("a write outside the checkout", "touch /usr/kosuke-escape 2>/dev/null && echo ESCAPED".to_owned()),
            ("the server's processes", "ls /proc/1/root/ >/dev/null 2>&1 && cat /proc/1/environ | grep -q KOSUKE_ && echo ESCAPED".to_owned()),
        ];
        let (owner, project, session) = setup(&app).await;
        // The control: the checkout itself is there to work in.
        let inside = json!({"command": "cat README.md && echo INSIDE"});
        let (output, _, _) = command_in(&app, &owner, &project, &session, inside).await;
        assert!(output.contains("# Shop") && output.contains("INSIDE"), "{output}");
        for (what, command) in attempts {
            let input = json!({"command": format!("{command}; true")});
            let (output, _, _) = command_in(&app, &owner, &project, &session, input).await;
            assert!(!output.contains("ESCAPED"), "{what} was reached from run_command: {output}");
        }
    }
);

fn walk_for(dir: &std::path::Path, name: &str) -> bool {
    std::fs::read_dir(dir).into_iter().flatten().flatten().any(|entry| {
        let path = entry.path();
        path.file_name().is_some_and(|n| n == name) || (path.is_dir() && !path.is_symlink() && walk_for(&path, name))
    })
}
