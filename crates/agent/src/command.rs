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

use crate::{AgentConfig, AgentError, AgentEvent, EventSink, GitDirs, Turn};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};

/// How long output is still read after the command exited (what it wrote just before).
const DRAIN: Duration = Duration::from_millis(500);

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
    let sandbox = config.sandbox.as_ref().map_err(|unavailable| AgentError::Misconfigured(unavailable.to_string()))?;
    let mut env = vec![("LANG".to_owned(), std::env::var("LANG").unwrap_or_else(|_| "C.UTF-8".to_owned()))];
    env.extend(turn.env.iter().cloned());
    // After the project's variables, so that none of them can stand in for these.
    env.push(("PATH".to_owned(), std::env::var("PATH").unwrap_or_else(|_| DEFAULT_PATH.to_owned())));
    env.push(("TERM".to_owned(), "dumb".to_owned()));
    env.push(("KOSUKE_PROMPT".to_owned(), turn.prompt.clone()));
    let mut mounts =
        sandbox::Mounts { workdir: turn.workdir.clone(), read_only: Vec::new(), hidden: turn.hidden.clone() };
    if let Some(git) = &turn.git {
        git_mounts(sandbox, git, &mut mounts, &mut env);
    }
    let mut prepared = sandbox
        .command("/bin/sh", &["-c", command], &mounts, &env)
        .map_err(|err| AgentError::CommandFailed(format!("could not prepare it: {err}")))?;
    let mut child = prepared
        .command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|err| AgentError::CommandFailed(format!("could not start it: {err}")))?;
    let group = Group(child.id());
    if let Some(mut stdin) = child.stdin.take() {
        let prompt = turn.prompt.clone();
        tokio::spawn(async move {
            let _ = stdin.write_all(prompt.as_bytes()).await;
        });
    }
    let mut stdout = child.stdout.take().map(Lines::new);
    let mut stderr = child.stderr.take().map(Lines::new);
    let mut used = 0usize;
    let limit = config.limits.max_output_chars;
    let mut emit = |text: String| {
        used += text.len() + 1;
        if used > limit {
            return Err(AgentError::OutputTooLarge(limit));
        }
        sink.emit(AgentEvent::Text(format!("{text}\n")));
        Ok(())
    };
    let status = loop {
        tokio::select! {
            line = next_line(&mut stdout) => if let Some(text) = line { emit(text)? },
            line = next_line(&mut stderr) => if let Some(text) = line { emit(text)? },
            exited = child.wait() => break exited.map_err(|err| AgentError::CommandFailed(err.to_string()))?,
        }
    };
    // Whatever it left running dies with the turn (its group is killed; the sandbox's cgroup
    // or PID namespace takes what left the group), then what was written is read to the end.
    drop(group);
    let drained = async {
        while stdout.is_some() || stderr.is_some() {
            tokio::select! {
                line = next_line(&mut stdout) => if let Some(text) = line { emit(text)? },
                line = next_line(&mut stderr) => if let Some(text) = line { emit(text)? },
            }
        }
        Ok::<(), AgentError>(())
    };
    if let Ok(result) = tokio::time::timeout(DRAIN, drained).await {
        result?;
    }
    if status.success() {
        Ok(())
    } else {
        Err(AgentError::CommandFailed(match status.code() {
            Some(code) => format!("it exited with status {code}"),
            None => "it was killed by a signal".to_owned(),
        }))
    }
}

/// Shows git in the sandbox the checkout's metadata, read-only, in a mirror of its own at a
/// fixed path (`GIT_COMMON_DIR`): the mirror's objects, refs and config, and this worktree's
/// own directory where git looks for it (`worktrees/NAME`, `GIT_DIR`); never the other
/// sessions' worktree directories or the mirror's place on the host.
fn git_mounts(
    sandbox: &sandbox::Sandbox,
    git: &GitDirs,
    mounts: &mut sandbox::Mounts,
    env: &mut Vec<(String, String)>,
) {
    let common_inside = Path::new("/kosuke/git");
    let name = git.worktree.file_name().unwrap_or_default();
    let worktree_inside = common_inside.join("worktrees").join(name);
    mounts.read_only.push(sandbox::ReadOnly { host: git.worktree.clone(), inside: worktree_inside.clone() });
    for part in ["objects", "refs", "packed-refs", "HEAD", "config", "info"] {
        mounts.read_only.push(sandbox::ReadOnly { host: git.common.join(part), inside: common_inside.join(part) });
    }
    let shown = |host: &Path, inside: &Path| sandbox.visible(host, inside).display().to_string();
    env.push(("GIT_DIR".to_owned(), shown(&git.worktree, &worktree_inside)));
    env.push(("GIT_COMMON_DIR".to_owned(), shown(&git.common, common_inside)));
    env.push(("GIT_WORK_TREE".to_owned(), shown(&mounts.workdir, Path::new(sandbox::WORKDIR))));
}

/// A pipe read line by line as bytes.
struct Lines<R> {
    reader: BufReader<R>,
    buffer: Vec<u8>,
}

impl<R: AsyncRead + Unpin> Lines<R> {
    fn new(pipe: R) -> Self {
        Lines { reader: BufReader::new(pipe), buffer: Vec::new() }
    }
}

/// The next line of a stream, decoded lossily (without its line end); at its end (or a read
/// error) the stream is dropped (`None` from then on). Cancel-safe: bytes a cancelled read
/// took stay in the buffer for the next call.
async fn next_line<R: AsyncRead + Unpin>(lines: &mut Option<Lines<R>>) -> Option<String> {
    let Some(reader) = lines else { return std::future::pending().await };
    let read = reader.reader.read_until(b'\n', &mut reader.buffer).await;
    if matches!(read, Ok(0) | Err(_)) && reader.buffer.is_empty() {
        *lines = None;
        return None;
    }
    let line = reader.buffer.strip_suffix(b"\n").unwrap_or(&reader.buffer);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let text = String::from_utf8_lossy(line).into_owned();
    reader.buffer.clear();
    Some(text)
}
