//! The project's own processes in a session's sandbox, for the server: its setup script, run
//! to its end, and its dev server, run until stopped. Both run as the tools' commands do
//! ([`crate::shell`]): `sh -c` in the checkout, an environment built from nothing, the process
//! group killed when done, output line by line with the project's variable values hidden.

use crate::Place;
use crate::shell::{self, Ended, Redactor};
use std::process::Stdio;
use std::time::Duration;

/// How a project process ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcessEnd {
    /// It exited with this code.
    Exited(i32),
    /// A signal ended it (this one).
    Signalled(i32),
    /// It ran past its time limit and was killed.
    TimedOut(Duration),
    /// It could not be started, or waiting for it failed.
    Failed(String),
}

impl ProcessEnd {
    pub fn success(&self) -> bool {
        *self == ProcessEnd::Exited(0)
    }

    /// The exit code, when it exited.
    pub fn code(&self) -> Option<i32> {
        match self {
            ProcessEnd::Exited(code) => Some(*code),
            _ => None,
        }
    }

    /// A sentence for the user.
    pub fn describe(&self, what: &str) -> String {
        match self {
            ProcessEnd::Exited(code) => format!("The {what} exited with code {code}."),
            ProcessEnd::Signalled(signal) => format!("The {what} was killed by signal {signal}."),
            ProcessEnd::TimedOut(limit) => {
                format!("The {what} did not finish within {} s and was stopped.", limit.as_secs())
            }
            ProcessEnd::Failed(why) => format!("The {what} could not run: {why}."),
        }
    }
}

/// Runs `command` in the sandbox at `place`, with `extra` added to its environment, until it
/// exits or `limit` passes; each line it prints (stdout and stderr, variable values hidden)
/// goes to `on_line`. Dropping the future kills the process and everything it started: a
/// caller stops a dev server by dropping (or aborting) the task that awaits this.
pub async fn run(
    sandbox: &sandbox::Sandbox,
    place: &Place,
    command: &str,
    extra: &[(String, String)],
    limit: Option<Duration>,
    on_line: impl FnMut(String),
) -> ProcessEnd {
    run_observed(sandbox, place, command, extra, limit, |_| {}, on_line).await
}

/// [`run`], telling `on_spawn` the id of the first process (the sandbox's, on the host) once
/// it started: everything the command starts descends from it, which is how a dev server's
/// listening port is told to be its own.
pub async fn run_observed(
    sandbox: &sandbox::Sandbox,
    place: &Place,
    command: &str,
    extra: &[(String, String)],
    limit: Option<Duration>,
    on_spawn: impl FnOnce(u32),
    mut on_line: impl FnMut(String),
) -> ProcessEnd {
    let mut prepared = match shell::prepare(sandbox, place, command, extra) {
        Ok(prepared) => prepared,
        Err(err) => return ProcessEnd::Failed(err.to_string()),
    };
    let spawned = prepared.command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn();
    let child = match spawned {
        Ok(child) => child,
        Err(err) => return ProcessEnd::Failed(err.to_string()),
    };
    if let Some(pid) = child.id() {
        on_spawn(pid);
    }
    let redactor = Redactor::for_env(&place.env);
    let Ok(ended) = shell::follow(child, limit, |line| {
        on_line(redactor.line(line));
        Ok::<(), std::convert::Infallible>(())
    })
    .await;
    // `prepared` (its private home, its cgroup) lives until here.
    drop(prepared);
    match ended {
        Ended::Exited(status) => {
            use std::os::unix::process::ExitStatusExt;
            match (status.code(), status.signal()) {
                (Some(code), _) => ProcessEnd::Exited(code),
                (None, Some(signal)) => ProcessEnd::Signalled(signal),
                (None, None) => ProcessEnd::Failed("it ended in an unknown way".into()),
            }
        }
        Ended::Lost(err) => ProcessEnd::Failed(err.to_string()),
        Ended::TimedOut => ProcessEnd::TimedOut(limit.unwrap_or_default()),
    }
}
