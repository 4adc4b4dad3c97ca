//! The sandbox every process kosuke starts for a session runs in (today the command agent;
//! the model's run tool, setup scripts and dev servers next). It shows the process its own
//! checkout read-write at [`WORKDIR`], the system read-only (`/usr`, `/bin`, `/lib*`, `/etc`
//! without its secrets), a private `/tmp` and `HOME`, a `/proc` of its own PID namespace, and
//! whatever else the caller lists read-only (the few parts of the project's git mirror that git
//! in the checkout reads); nothing else of the machine. The process and everything it starts
//! die with it, with the turn, and with the server.
//!
//! Enforced with bubblewrap (`bwrap`: Linux namespaces; `--unshare-all`, `--die-with-parent`).
//! [`Sandbox::probe`] checks at start-up that it really runs here; when it does not, the
//! sandbox is [`Unavailable`] and the server refuses to start such processes, unless the
//! operator chose [`Mode::Off`] (then processes run as the server's user with a cleared
//! environment only). This crate knows nothing of HTTP, the database or git: the server says
//! what to mount.

mod bwrap;
mod cgroup;
mod landlock_exec;

pub use cgroup::ProcessLimits;
use cgroup::RunGroup;
use landlock_exec::Confinement;
pub use landlock_exec::{HELPER_COMMAND, exec_helper};
use std::path::{Path, PathBuf};
use std::process::Stdio;

/// Where the checkout is inside the sandbox.
pub const WORKDIR: &str = "/workspace";
/// The sandboxed process's `HOME` (on its private root, gone with it).
const HOME: &str = "/home/kosuke";

/// What the operator asked for (`--sandbox`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// bubblewrap when it works here, else unavailable.
    Auto,
    /// bubblewrap, or unavailable.
    Bwrap,
    /// Landlock and seccomp, applied by a helper (the `kosuke` binary), or unavailable.
    Landlock,
    /// No sandbox: processes run as the server's user (the operator's explicit choice).
    Off,
}

impl Mode {
    pub fn parse(text: &str) -> Option<Mode> {
        match text.trim().to_ascii_lowercase().as_str() {
            "auto" => Some(Mode::Auto),
            "bwrap" | "bubblewrap" => Some(Mode::Bwrap),
            "landlock" => Some(Mode::Landlock),
            "off" | "none" => Some(Mode::Off),
            _ => None,
        }
    }
}

/// Why nothing can be enforced, with what the operator can do about it.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "{reason}; install bubblewrap (Debian: apt-get install bubblewrap), or start kosuke with --sandbox off to run agent commands unsandboxed"
)]
pub struct Unavailable {
    pub reason: String,
}

/// What one process may see besides the system.
#[derive(Debug, Clone, Default)]
pub struct Mounts {
    /// The session's checkout, read-write at [`WORKDIR`].
    pub workdir: PathBuf,
    /// Host paths shown read-only, each at a path of the caller's choosing inside (missing
    /// ones are skipped). Nothing of the host's layout shows around them.
    pub read_only: Vec<ReadOnly>,
    /// Host paths hidden even if a system mount would show them (the server's data dir).
    pub hidden: Vec<PathBuf>,
}

/// A host path and where the process sees it.
#[derive(Debug, Clone)]
pub struct ReadOnly {
    pub host: PathBuf,
    pub inside: PathBuf,
}

#[derive(Debug, Clone)]
enum Enforcer {
    Bwrap(PathBuf),
    /// The helper program that confines itself, then execs the command.
    Landlock(PathBuf),
    Off,
}

/// The sandbox chosen at start-up.
#[derive(Debug, Clone)]
pub struct Sandbox {
    enforcer: Enforcer,
    network: bool,
    limits: ProcessLimits,
}

/// A command ready to spawn, and what must live as long as its process.
pub struct Prepared {
    pub command: tokio::process::Command,
    /// The private `HOME` of an unsandboxed process, removed when dropped.
    _home: Option<tempfile::TempDir>,
    /// Where the checkout is, as the process sees it.
    pub workdir: PathBuf,
    /// The run's cgroups (limits), removed with their processes when dropped.
    _group: Option<RunGroup>,
}

impl Sandbox {
    /// Chooses the sandbox for `mode`: bubblewrap if a trial run of it succeeds here.
    /// `network` keeps the network of the host (package installs); off cuts it.
    pub fn probe(mode: Mode, network: bool) -> Result<Sandbox, Unavailable> {
        Self::probe_with_helper(mode, network, None)
    }

    /// The same, with the program that applies Landlock (`kosuke sandbox-exec`): `auto` falls
    /// back to it where bubblewrap cannot run.
    pub fn probe_with_helper(mode: Mode, network: bool, helper: Option<&Path>) -> Result<Sandbox, Unavailable> {
        let sandbox = |enforcer| Sandbox { enforcer, network, limits: ProcessLimits::default() };
        match mode {
            Mode::Off => Ok(Sandbox { network: true, ..sandbox(Enforcer::Off) }),
            Mode::Bwrap => Self::probe_bwrap().map(|bwrap| sandbox(Enforcer::Bwrap(bwrap))),
            Mode::Landlock => Self::probe_landlock(helper, network).map(|h| sandbox(Enforcer::Landlock(h))),
            Mode::Auto => match Self::probe_bwrap() {
                Ok(bwrap) => Ok(sandbox(Enforcer::Bwrap(bwrap))),
                Err(no_bwrap) => match Self::probe_landlock(helper, network) {
                    Ok(helper) => Ok(sandbox(Enforcer::Landlock(helper))),
                    Err(no_landlock) => {
                        Err(Unavailable { reason: format!("{}; {}", no_bwrap.reason, no_landlock.reason) })
                    }
                },
            },
        }
    }

    /// Whether the helper can confine a command here (it refuses unless Landlock is fully in
    /// force).
    fn probe_landlock(helper: Option<&Path>, network: bool) -> Result<PathBuf, Unavailable> {
        let helper = helper.ok_or_else(|| Unavailable { reason: "no Landlock helper was given".into() })?;
        let scratch = tempfile::tempdir().map_err(|err| Unavailable { reason: err.to_string() })?;
        let confinement = Confinement { read_write: vec![scratch.path().to_owned()], read_only: vec![], network };
        let mut command = std::process::Command::new(helper);
        command.args(confinement.to_args("/bin/sh", &["-c", "true"]));
        trial(command, "the Landlock helper", "Landlock cannot be enforced here")?;
        Ok(helper.to_owned())
    }

    fn probe_bwrap() -> Result<PathBuf, Unavailable> {
        let bwrap = find_program("bwrap").ok_or_else(|| Unavailable { reason: "bwrap is not installed".into() })?;
        let mut command = std::process::Command::new(&bwrap);
        command
            .args(["--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "--unshare-all", "--die-with-parent"])
            .arg("true");
        trial(command, "bwrap", "bwrap cannot make namespaces here")?;
        Ok(bwrap)
    }

    /// The memory and process-count limits of each run (in a cgroup of its own, where one can
    /// be made).
    pub fn with_limits(mut self, limits: ProcessLimits) -> Self {
        self.limits = limits;
        self
    }

    pub fn limits(&self) -> ProcessLimits {
        self.limits
    }

    /// Kills what the runs of an earlier server left running (their cgroups survive the
    /// server); call once at start-up, before any run.
    pub fn kill_leftovers(&self) -> usize {
        cgroup::kill_leftovers()
    }

    /// Whether runs can get a cgroup here (tried by making one and removing it).
    pub fn can_limit(&self) -> bool {
        RunGroup::create(&self.limits).is_some()
    }

    /// Whether processes are confined (false only for `--sandbox off`).
    pub fn is_enforced(&self) -> bool {
        !matches!(self.enforcer, Enforcer::Off)
    }

    /// `bwrap`, `landlock` or `off`, for logs and the model banner.
    pub fn name(&self) -> &'static str {
        match self.enforcer {
            Enforcer::Bwrap(_) => "bwrap",
            Enforcer::Landlock(_) => "landlock",
            Enforcer::Off => "off",
        }
    }

    pub fn has_network(&self) -> bool {
        self.network
    }

    /// Where a process sees `host`, given where a mount puts it: `inside` when sandboxed,
    /// `host` itself when not.
    pub fn visible(&self, host: &Path, inside: &Path) -> PathBuf {
        match self.enforcer {
            Enforcer::Bwrap(_) => inside.to_owned(),
            Enforcer::Landlock(_) | Enforcer::Off => host.to_owned(),
        }
    }

    /// `program args…` in the sandbox with exactly `env` (plus `HOME` and `TMPDIR`, which the
    /// sandbox sets), in the checkout. The process gets a process group of its own and is
    /// killed when the returned command's child is dropped.
    pub fn command(
        &self,
        program: &str,
        args: &[&str],
        mounts: &Mounts,
        env: &[(String, String)],
    ) -> std::io::Result<Prepared> {
        let (mut command, home, workdir) = match &self.enforcer {
            Enforcer::Bwrap(bwrap) => {
                let mut command = tokio::process::Command::new(bwrap);
                command.args(bwrap::args(mounts, self.network)).arg("--").arg(program).args(args);
                command.env_clear().envs(env.iter().map(|(k, v)| (k, v))).env("HOME", HOME).env("TMPDIR", "/tmp");
                (command, None, PathBuf::from(WORKDIR))
            }
            // Both run on the host, in a private home of their own; Landlock through its helper.
            Enforcer::Landlock(_) | Enforcer::Off => {
                let home = tempfile::Builder::new().prefix("kosuke-run-").tempdir()?;
                let mut command = match &self.enforcer {
                    Enforcer::Landlock(helper) => {
                        if let Some(shown) = mounts.hidden.iter().find(|p| under_system_mount(p)) {
                            return Err(std::io::Error::other(format!(
                                "{} is under a system directory Landlock shows to every command; use bubblewrap or move it",
                                shown.display()
                            )));
                        }
                        let confinement = Confinement {
                            read_write: vec![mounts.workdir.clone(), home.path().to_owned()],
                            read_only: mounts.read_only.iter().map(|m| m.host.clone()).collect(),
                            network: self.network,
                        };
                        let mut command = tokio::process::Command::new(helper);
                        command.args(confinement.to_args(program, args));
                        command
                    }
                    _ => {
                        let mut command = tokio::process::Command::new(program);
                        command.args(args);
                        command
                    }
                };
                command
                    .current_dir(&mounts.workdir)
                    .env_clear()
                    .envs(env.iter().map(|(k, v)| (k, v)))
                    .env("HOME", home.path())
                    .env("TMPDIR", home.path());
                die_with_parent(&mut command);
                (command, Some(home), mounts.workdir.clone())
            }
        };
        command.process_group(0).kill_on_drop(true);
        let group = RunGroup::create(&self.limits);
        if let Some(group) = &group {
            enter_cgroups(&mut command, group.procs_fds());
        }
        Ok(Prepared { command, _home: home, workdir, _group: group })
    }
}

/// Runs a probe's trial command with nothing in its environment; its failure says why.
fn trial(mut command: std::process::Command, what: &str, refused: &str) -> Result<(), Unavailable> {
    let output = command
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|err| Unavailable { reason: format!("{what} could not be started: {err}") })?;
    if !output.status.success() {
        let said = String::from_utf8_lossy(&output.stderr).trim().to_owned();
        return Err(Unavailable { reason: format!("{refused} ({said})") });
    }
    Ok(())
}

fn under_system_mount(path: &Path) -> bool {
    ["/usr", "/etc", "/bin", "/sbin", "/lib", "/lib64"].iter().any(|top| path.starts_with(top))
}

/// The first executable `name` on the server's PATH (or the usual places).
fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|candidate| {
        use std::os::unix::fs::PermissionsExt;
        candidate.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

/// The child writes itself into the run's cgroups before it execs (so everything it starts is
/// counted and limited from the first instruction).
fn enter_cgroups(command: &mut tokio::process::Command, fds: Vec<i32>) {
    // SAFETY: write(2) on descriptors opened before the fork; nothing is allocated in the child.
    unsafe {
        command.pre_exec(move || {
            for fd in &fds {
                if libc::write(*fd, b"0".as_ptr().cast(), 1) != 1 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
}

/// Unsandboxed, the direct child at least dies with the server (`PR_SET_PDEATHSIG`).
fn die_with_parent(command: &mut tokio::process::Command) {
    // SAFETY: prctl(2) is async-signal-safe and touches no memory of the parent; it runs in
    // the forked child before exec.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn modes_are_read_from_settings() {
        assert_eq!(Mode::parse("Auto"), Some(Mode::Auto));
        assert_eq!(Mode::parse("bubblewrap"), Some(Mode::Bwrap));
        assert_eq!(Mode::parse("off"), Some(Mode::Off));
        assert_eq!(Mode::parse("chroot"), None);
    }

    async fn run(sandbox: &Sandbox, mounts: &Mounts, script: &str) -> (bool, String) {
        let env = vec![("PATH".to_owned(), "/usr/bin:/bin".to_owned())];
        let mut prepared = sandbox.command("sh", &["-c", script], mounts, &env).unwrap();
        let output = prepared.command.stdin(Stdio::null()).output().await.unwrap();
        (output.status.success(), String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// A run over its limits: too many processes fail to start, too much memory is killed.
    #[tokio::test]
    async fn a_run_is_held_to_its_memory_and_process_limits() {
        let sandbox = Sandbox::probe(Mode::Bwrap, false)
            .unwrap()
            .with_limits(ProcessLimits { memory_bytes: 64 << 20, max_processes: 16 });
        let dir = tempfile::tempdir().unwrap();
        let mounts = Mounts { workdir: dir.path().to_owned(), ..Default::default() };
        // The shell gives up at the first fork the limit refuses.
        let (ok, _) = run(&sandbox, &mounts, "for i in $(seq 1 40); do sleep 2 & echo $i >> started.txt; done").await;
        let started = std::fs::read_to_string(dir.path().join("started.txt")).unwrap_or_default().lines().count();
        assert!(!ok && started < 16, "the process limit held: {started} started");
        let hold = "head -c 200000000 /dev/zero | tail -c 200000000 | wc -c";
        let (_, out) = run(&sandbox, &mounts, hold).await;
        assert_eq!(out.trim(), "0", "tail holding 200 MB under a 64 MB limit is killed before it writes");
        let roomy = sandbox.clone().with_limits(ProcessLimits::default());
        assert_eq!(run(&roomy, &mounts, hold).await.1.trim(), "200000000", "and within the default limits it is not");
    }

    /// Needs bubblewrap (the test command installs it).
    #[tokio::test]
    async fn bubblewrap_shows_the_checkout_and_the_system_and_nothing_else() {
        let sandbox = Sandbox::probe(Mode::Bwrap, false).unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.key"), "s3cret").unwrap();
        let checkout = outside.path().join("checkout");
        std::fs::create_dir(&checkout).unwrap();
        let shown = outside.path().join("shown");
        std::fs::create_dir(&shown).unwrap();
        std::fs::write(shown.join("objects"), "read me\n").unwrap();
        let read_only = vec![ReadOnly { host: shown.clone(), inside: "/kosuke/shown".into() }];
        let mounts = Mounts { workdir: checkout.clone(), read_only, hidden: vec![] };
        let script = format!(
            "pwd; echo made > made.txt; cat {secret} 2>/dev/null || echo no-secret; cat {shown}/objects; \
             echo x > {shown}/objects 2>/dev/null || echo read-only; echo $HOME; ls /proc | grep -c '^[0-9]'; \
             ls {outside} 2>/dev/null || echo no-host-layout",
            secret = outside.path().join("secret.key").display(),
            shown = "/kosuke/shown",
            outside = outside.path().display(),
        );
        let (ok, out) = run(&sandbox, &mounts, &script).await;
        assert!(ok, "{out}");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(&lines[..5], ["/workspace", "no-secret", "read me", "read-only", "/home/kosuke"], "{out}");
        let processes: usize = lines[5].parse().unwrap();
        assert!(processes <= 4, "a PID namespace of its own: {out}");
        assert_eq!(lines[6], "no-host-layout", "{out}");
        assert_eq!(std::fs::read_to_string(checkout.join("made.txt")).unwrap(), "made\n");
    }
}
