//! The `run_command` tool: a model runs a shell command in the session's sandbox (tests,
//! builds, linters, installs) and gets its output and exit code. The command runs as the
//! command provider's do ([`crate::shell`]), bounded in time (the model may ask for less than
//! the server's limit, never more) and in output: every line is streamed as the tool's output
//! while it runs, and the model gets the head and the tail when there is more than it can take.
//! Servers and watchers never end; they are refused before they start, with the Preview named.
//! The project's environment variable values are hidden in the output (`[$KEY]`).

use crate::shell::{self, Ended, Redactor};
use crate::tools::{MAX_TOOL_OUTPUT, ToolResult};
use crate::{AgentConfig, AgentEvent, EventSink, Turn};
use serde_json::Value;
use std::process::Stdio;
use std::time::Duration;

/// The tool's name.
pub const NAME: &str = "run_command";

/// How much of the output is streamed to watchers at most; the rest is only counted.
const MAX_STREAMED: usize = 200_000;

/// What the model is told when a command looks like a server or a watcher.
const LONG_RUNNING: &str = "This looks like a server or a watcher, which keeps running: run_command is for commands that \
                            finish (tests, builds, linters, installs). The project's dev server runs in the Preview \
                            tab, started by kosuke.";

/// Commands that start something that does not end: dev servers, file watchers, followers.
fn looks_long_running(command: &str) -> bool {
    let words: Vec<&str> = command.split(|c: char| c.is_whitespace() || c == ';' || c == '&' || c == '|').collect();
    let has = |phrase: &[&str]| words.windows(phrase.len()).any(|window| window == phrase);
    let runner_dev = ["npm", "yarn", "pnpm", "bun"]
        .iter()
        .any(|runner| has(&[runner, "run", "dev"]) || has(&[runner, "dev"]) || has(&[runner, "start"]));
    runner_dev
        || has(&["next", "dev"])
        || has(&["next", "start"])
        || has(&["vite"]) && !has(&["vite", "build"])
        || has(&["rails", "s"])
        || has(&["rails", "server"])
        || has(&["manage.py", "runserver"])
        || has(&["flask", "run"])
        || has(&["http.server"])
        || has(&["uvicorn"])
        || has(&["nodemon"])
        || has(&["cargo", "watch"])
        || has(&["tail", "-f"])
        || has(&["tsc", "-w"])
        || words.contains(&"--watch")
}

/// The time the command may take: what the model asked for (`timeout_secs`), within the
/// server's limit.
fn time_limit(config: &AgentConfig, input: &Value) -> Duration {
    let limit = config.limits.command_timeout;
    match input.get("timeout_secs").and_then(Value::as_f64) {
        Some(asked) if asked > 0.0 => Duration::from_secs_f64(asked).min(limit),
        _ => limit,
    }
}

/// The output as the model gets it: all of it, or its head and its tail (where errors are)
/// around a line saying how much was left out. Only what can still be shown is kept.
#[derive(Default)]
struct Collected {
    head: String,
    tail: String,
    left_out: usize,
}

impl Collected {
    const HEAD: usize = (MAX_TOOL_OUTPUT - 200) / 4;
    const TAIL: usize = MAX_TOOL_OUTPUT - 200 - Self::HEAD;

    fn push(&mut self, text: &str) {
        if self.left_out == 0 && self.tail.is_empty() && self.head.len() + text.len() <= Self::HEAD {
            self.head.push_str(text);
            return;
        }
        self.tail.push_str(text);
        // Cut in batches: the tail may grow to twice what is kept.
        if self.tail.len() > 2 * Self::TAIL {
            self.keep_tail();
        }
    }

    /// Leaves out all but the last `TAIL` bytes of the tail (at a character boundary).
    fn keep_tail(&mut self) {
        if self.tail.len() <= Self::TAIL {
            return;
        }
        let mut cut = self.tail.len() - Self::TAIL;
        while !self.tail.is_char_boundary(cut) {
            cut += 1;
        }
        self.left_out += cut;
        self.tail.drain(..cut);
    }

    fn text(mut self) -> String {
        self.keep_tail();
        if self.left_out == 0 {
            return self.head + &self.tail;
        }
        format!("{}[… {} bytes of output left out …]\n{}", self.head, self.left_out, self.tail)
    }
}

/// Runs the tool call `id` to its end, streaming its output as `ToolOutput` events.
pub async fn run(config: &AgentConfig, turn: &Turn, id: &str, input: &Value, sink: &mut dyn EventSink) -> ToolResult {
    let Some(command) = input.get("command").and_then(Value::as_str).filter(|c| !c.trim().is_empty()) else {
        return ToolResult::error("the command is missing: give {\"command\": \"…\"}");
    };
    if looks_long_running(command) {
        return ToolResult::error(LONG_RUNNING);
    }
    let sandbox = match config.sandbox.as_ref() {
        Ok(sandbox) => sandbox,
        Err(unavailable) => return ToolResult::error(format!("commands cannot run here: {unavailable}")),
    };
    let limit = time_limit(config, input);
    let mut prepared = match shell::prepare(sandbox, &turn.place, command, &[]) {
        Ok(prepared) => prepared,
        Err(err) => return ToolResult::error(format!("the command could not be prepared: {err}")),
    };
    let spawned = prepared.command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn();
    let child = match spawned {
        Ok(child) => child,
        Err(err) => return ToolResult::error(format!("the command could not start: {err}")),
    };
    let mut output = Collected::default();
    let mut streamed = 0usize;
    let redactor = Redactor::for_env(&turn.place.env);
    let line = |text: String| {
        let text = format!("{}\n", redactor.line(text));
        if streamed < MAX_STREAMED {
            streamed += text.len();
            sink.emit(AgentEvent::ToolOutput { id: id.to_owned(), text: text.clone() });
        }
        output.push(&text);
        Ok::<(), std::convert::Infallible>(())
    };
    let Ok(ended) = shell::follow(child, Some(limit), line).await;
    let mut answer = output.text();
    let failed = match ended {
        Ended::Exited(status) if status.success() => {
            answer.push_str("[exit code 0]");
            false
        }
        Ended::Exited(status) => {
            match status.code() {
                Some(code) => answer.push_str(&format!("[exit code {code}]")),
                None => answer.push_str("[killed by a signal]"),
            }
            true
        }
        Ended::Lost(err) => {
            answer.push_str(&format!("[lost the command: {err}]"));
            true
        }
        Ended::TimedOut => {
            answer.push_str(&format!(
                "[stopped after {} s: the command did not finish in time; ask for a longer timeout_secs (at most {} s) or run less]",
                limit.as_secs_f64().ceil(),
                config.limits.command_timeout.as_secs()
            ));
            true
        }
    };
    if failed { ToolResult::error(answer) } else { ToolResult::ok(answer) }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn servers_and_watchers_are_told_apart_from_commands_that_finish() {
        for long in [
            "npm run dev",
            "cd web && pnpm dev",
            "yarn start",
            "npx vite",
            "python manage.py runserver",
            "tail -f log",
            "cargo watch -x test",
            "jest --watch",
        ] {
            assert!(looks_long_running(long), "{long}");
        }
        for finishes in
            ["npm test", "npm run build", "npx vite build", "cargo test", "pytest -q", "ls -la", "make", "npm ci"]
        {
            assert!(!looks_long_running(finishes), "{finishes}");
        }
    }

    #[test]
    fn long_output_keeps_its_head_and_tail() {
        let mut output = Collected::default();
        let mut total = 0;
        for n in 0..100_000 {
            let line = format!("line {n}\n");
            total += line.len();
            output.push(&line);
        }
        let fitted = output.text();
        assert!(fitted.len() < MAX_TOOL_OUTPUT);
        assert!(fitted.starts_with("line 0\n"));
        assert!(fitted.ends_with("line 99999\n"));
        let left_out: usize = fitted.split("[… ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
        assert_eq!(left_out + fitted.len() - fitted.lines().find(|l| l.starts_with("[…")).unwrap().len() - 1, total);
        let mut short = Collected::default();
        short.push("short\n");
        assert_eq!(short.text(), "short\n");
    }
}
