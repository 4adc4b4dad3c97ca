//! An external command as the agent (a coding CLI): `sh -c COMMAND` in the checkout, the
//! prompt on stdin and in `KOSUKE_PROMPT`, stdout and stderr streamed as text. A non-zero exit
//! fails the turn; the process group is killed when the turn ends early (cancel, time limit).
//!
//! Its environment is cleared, then given only `PATH`, `LANG`, `TERM`, a `HOME` and `TMPDIR`
//! of its own (a fresh private directory, removed after the turn), the project's environment
//! variables and `KOSUKE_PROMPT`: none of the server's settings, keys or database URL.

use crate::{AgentConfig, AgentError, AgentEvent, EventSink, Turn};
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

/// Kills the whole process group when dropped (the turn ended, for whatever reason).
struct Group(Option<u32>);

impl Drop for Group {
    fn drop(&mut self) {
        if let Some(pid) = self.0 {
            // SAFETY: kill(2) on our own child's process group; no memory is involved.
            unsafe {
                libc::kill(-(pid as i32), libc::SIGKILL);
            }
        }
    }
}

/// The search path a command gets when the server has none.
const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

pub async fn run(config: &AgentConfig, turn: &Turn, sink: &mut dyn EventSink) -> Result<(), AgentError> {
    let command = config.command.as_deref().unwrap_or_default();
    let home = tempfile::Builder::new()
        .prefix("kosuke-run-")
        .tempdir()
        .map_err(|err| AgentError::CommandFailed(format!("could not make its home directory: {err}")))?;
    let path = std::env::var("PATH").unwrap_or_else(|_| DEFAULT_PATH.to_owned());
    let lang = std::env::var("LANG").unwrap_or_else(|_| "C.UTF-8".to_owned());
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(&turn.workdir)
        .env_clear()
        .env("LANG", lang)
        .envs(turn.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        // Set after the project's variables, so that none of them can stand in for these.
        .env("PATH", path)
        .env("HOME", home.path())
        .env("TMPDIR", home.path())
        .env("TERM", "dumb")
        .env("KOSUKE_PROMPT", &turn.prompt)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|err| AgentError::CommandFailed(format!("could not start it: {err}")))?;
    let mut group = Group(child.id());
    if let Some(mut stdin) = child.stdin.take() {
        let prompt = turn.prompt.clone();
        tokio::spawn(async move {
            let _ = stdin.write_all(prompt.as_bytes()).await;
        });
    }
    let mut stdout = child.stdout.take().map(|s| BufReader::new(s).lines());
    let mut stderr = child.stderr.take().map(|s| BufReader::new(s).lines());
    let mut used = 0usize;
    let limit = config.limits.max_output_chars;
    loop {
        let line = tokio::select! {
            line = next_line(&mut stdout) => line,
            line = next_line(&mut stderr) => line,
        };
        match line {
            Some(text) => {
                used += text.len() + 1;
                if used > limit {
                    return Err(AgentError::OutputTooLarge(limit));
                }
                sink.emit(AgentEvent::Text(format!("{text}\n")));
            }
            None if stdout.is_none() && stderr.is_none() => break,
            None => {}
        }
    }
    let status = child.wait().await.map_err(|err| AgentError::CommandFailed(err.to_string()))?;
    group.0 = None;
    if status.success() {
        Ok(())
    } else {
        Err(AgentError::CommandFailed(match status.code() {
            Some(code) => format!("it exited with status {code}"),
            None => "it was killed by a signal".to_owned(),
        }))
    }
}

/// The next line of a stream; at its end the stream is dropped (`None` from then on).
async fn next_line<R: tokio::io::AsyncBufRead + Unpin>(lines: &mut Option<tokio::io::Lines<R>>) -> Option<String> {
    match lines {
        Some(reader) => match reader.next_line().await {
            Ok(Some(line)) => Some(line),
            _ => {
                *lines = None;
                None
            }
        },
        None => std::future::pending().await,
    }
}
