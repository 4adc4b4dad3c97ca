//! An external command as the agent (a coding CLI): `sh -c COMMAND` in the checkout, the
//! prompt on stdin and in `KOSUKE_PROMPT`, stdout and stderr streamed as text. A non-zero exit
//! fails the turn; the process group is killed when the turn ends early (cancel, time limit).
//!
//! It runs in the sandbox (the `sandbox` crate: its checkout, the system read-only, nothing of
//! the server), with an environment of only `PATH`, `LANG`, `TERM`, a `HOME` and `TMPDIR` of
//! its own, the project's environment variables and `KOSUKE_PROMPT`: none of the server's
//! settings, keys or database URL. Everything it started dies when it exits.
//!
//! The turn ends when the command's process exits, not when its pipes close: what it left in
//! the background (holding stdout) is killed with its group, and what it had written is read
//! to the end for a moment more. Output is read as bytes, line by line, each line decoded
//! lossily: a line that is not UTF-8 is kept (with U+FFFD for the bad bytes), and neither pipe
//! is closed on the command while it runs.

use crate::shell::{self, Ended, Redactor};
use crate::{AgentConfig, AgentError, AgentEvent, EventSink, Turn};
use std::process::Stdio;
use tokio::io::AsyncWriteExt;

pub async fn run(config: &AgentConfig, turn: &Turn, sink: &mut dyn EventSink) -> Result<(), AgentError> {
    let command = config.command.as_deref().unwrap_or_default();
    let sandbox = config.sandbox.as_ref().map_err(|unavailable| AgentError::Misconfigured(unavailable.to_string()))?;
    let prompt = [("KOSUKE_PROMPT".to_owned(), turn.prompt.clone())];
    let mut prepared = shell::prepare(sandbox, &turn.place, command, &prompt)
        .map_err(|err| AgentError::CommandFailed(format!("could not prepare it: {err}")))?;
    let mut child = prepared
        .command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|err| AgentError::CommandFailed(format!("could not start it: {err}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        let prompt = turn.prompt.clone();
        tokio::spawn(async move {
            let _ = stdin.write_all(prompt.as_bytes()).await;
        });
    }
    let mut used = 0usize;
    let limit = config.limits.max_output_chars;
    let redactor = Redactor::for_env(&turn.place.env);
    let emit = |text: String| {
        let text = redactor.line(text);
        used += text.len() + 1;
        if used > limit {
            return Err(AgentError::OutputTooLarge(limit));
        }
        sink.emit(AgentEvent::Text(format!("{text}\n")));
        Ok(())
    };
    // The turn's own time limit is the caller's (`Agent::run`).
    let status = match shell::follow(child, None, emit).await? {
        Ended::Exited(status) => status,
        Ended::Lost(err) => return Err(AgentError::CommandFailed(err.to_string())),
        // Not followed with a limit; the turn's limit ends it from outside.
        Ended::TimedOut => return Err(AgentError::TimedOut(config.limits.max_duration)),
    };
    if status.success() {
        Ok(())
    } else {
        Err(AgentError::CommandFailed(match status.code() {
            Some(code) => format!("it exited with status {code}"),
            None => "it was killed by a signal".to_owned(),
        }))
    }
}
