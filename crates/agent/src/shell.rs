//! A shell command in the sandbox, as the command provider and the `run_command` tool run it:
//! `sh -c COMMAND` in the checkout, with an environment of only `PATH`, `LANG`, `TERM`, a
//! `HOME` and `TMPDIR` of its own and the project's environment variables (none of the
//! server's settings, keys or database URL), git's metadata read-only, and its whole process
//! group killed when it is done with. Output is read as bytes, line by line, each line decoded
//! lossily.

use crate::{GitDirs, Place};
use std::path::Path;
use std::process::ExitStatus;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Child;

/// How long output is still read after the command exited (what it wrote just before).
const DRAIN: Duration = Duration::from_millis(500);

/// The search path a command gets when the server has none.
const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// `sh -c command` in the sandbox, in the place's checkout, with `extra` added to the
/// environment (after the project's variables, so none of them can stand in for these).
pub(crate) fn prepare(
    sandbox: &sandbox::Sandbox,
    place: &Place,
    command: &str,
    extra: &[(String, String)],
) -> std::io::Result<sandbox::Prepared> {
    let mut env = vec![("LANG".to_owned(), std::env::var("LANG").unwrap_or_else(|_| "C.UTF-8".to_owned()))];
    env.extend(place.env.iter().cloned());
    env.push(("PATH".to_owned(), std::env::var("PATH").unwrap_or_else(|_| DEFAULT_PATH.to_owned())));
    env.push(("TERM".to_owned(), "dumb".to_owned()));
    env.extend(extra.iter().cloned());
    let mut mounts =
        sandbox::Mounts { workdir: place.workdir.clone(), read_only: Vec::new(), hidden: place.hidden.clone() };
    if let Some(git) = &place.git {
        git_mounts(sandbox, git, &mut mounts, &mut env);
    }
    sandbox.command("/bin/sh", &["-c", command], &mounts, &env)
}

/// How a followed command ended.
pub(crate) enum Ended {
    Exited(ExitStatus),
    /// Waiting for it failed.
    Lost(std::io::Error),
    /// It ran past its time limit and was killed.
    TimedOut,
}

/// Follows a spawned command (stdout and stderr piped): each line of either goes to `on_line`
/// until the process exits or `limit` passes. Then whatever it left running dies with its
/// process group (the sandbox's cgroup or PID namespace takes what left the group), and what
/// was written is read to the end for a moment more. An error from `on_line` stops it at once
/// (the group is killed all the same).
///
/// The end is the process's exit, not its pipes closing: what it left in the background
/// holding stdout cannot keep it going.
pub(crate) async fn follow<E>(
    mut child: Child,
    limit: Option<Duration>,
    mut on_line: impl FnMut(String) -> Result<(), E>,
) -> Result<Ended, E> {
    let group = Group(child.id());
    let mut stdout = child.stdout.take().map(Lines::new);
    let mut stderr = child.stderr.take().map(Lines::new);
    let deadline = async {
        match limit {
            Some(limit) => tokio::time::sleep(limit).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(deadline);
    let ended = loop {
        tokio::select! {
            line = next_line(&mut stdout) => if let Some(text) = line { on_line(text)? },
            line = next_line(&mut stderr) => if let Some(text) = line { on_line(text)? },
            exited = child.wait() => break exited.map_or_else(Ended::Lost, Ended::Exited),
            () = &mut deadline => break Ended::TimedOut,
        }
    };
    drop(group);
    let drained = async {
        while stdout.is_some() || stderr.is_some() {
            tokio::select! {
                line = next_line(&mut stdout) => if let Some(text) = line { on_line(text)? },
                line = next_line(&mut stderr) => if let Some(text) = line { on_line(text)? },
            }
        }
        Ok(())
    };
    if let Ok(result) = tokio::time::timeout(DRAIN, drained).await {
        result?;
    }
    Ok(ended)
}

/// Hides the project's environment variable values in what a command prints: they are
/// secrets (write-only in the API), and the output goes to the transcript and the model
/// provider. Each value of 4 characters or more is shown as `[$KEY]`, line by line.
pub(crate) struct Redactor(Vec<(String, String)>);

impl Redactor {
    pub(crate) fn for_env(env: &[(String, String)]) -> Self {
        let mut values: Vec<(String, String)> = env
            .iter()
            .filter(|(_, value)| value.chars().count() >= 4)
            .flat_map(|(key, value)| {
                value
                    .lines()
                    .filter(|part| part.chars().count() >= 4)
                    .map(move |part| (part.to_owned(), format!("[${key}]")))
            })
            .collect();
        // Longer values first, so a value holding another is hidden whole.
        values.sort_by_key(|(value, _)| std::cmp::Reverse(value.len()));
        Redactor(values)
    }

    pub(crate) fn line(&self, mut line: String) -> String {
        for (value, shown) in &self.0 {
            if line.contains(value.as_str()) {
                line = line.replace(value.as_str(), shown);
            }
        }
        line
    }
}

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
