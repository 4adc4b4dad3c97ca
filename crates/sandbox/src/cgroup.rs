//! Per-run resource limits: a cgroup for each sandboxed process and everything it starts, with
//! a memory limit and a process-count limit, made under the server's own cgroup (cgroup v1's
//! `memory` and `pids` hierarchies, or the unified v2 hierarchy). Best effort: where no cgroup
//! can be made (no permission, no controller), the run goes on without one and says so once.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Limits for one run and all its processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessLimits {
    pub memory_bytes: u64,
    pub max_processes: u64,
}

impl Default for ProcessLimits {
    fn default() -> Self {
        ProcessLimits { memory_bytes: 2 << 30, max_processes: 512 }
    }
}

static RUNS: AtomicU64 = AtomicU64::new(0);

/// The cgroups of one run, removed (their processes killed first) when dropped.
pub struct RunGroup {
    dirs: Vec<PathBuf>,
    /// `cgroup.procs` of each, opened before the fork: the child writes itself in with no
    /// allocation between fork and exec.
    procs: Vec<File>,
}

/// Where the server's own cgroup is in `hierarchy` (`memory`, `pids`, or `""` for v2).
fn own_path(hierarchy: &str) -> Option<PathBuf> {
    let table = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    table.lines().find_map(|line| {
        let mut fields = line.splitn(3, ':');
        let (_, controllers, path) = (fields.next()?, fields.next()?, fields.next()?);
        let matches =
            if hierarchy.is_empty() { controllers.is_empty() } else { controllers.split(',').any(|c| c == hierarchy) };
        matches.then(|| PathBuf::from(path.trim_start_matches('/')))
    })
}

fn make(base: &Path, name: &str, settings: &[(&str, String)]) -> Option<PathBuf> {
    let dir = base.join(name);
    std::fs::create_dir(&dir).ok()?;
    for (file, value) in settings {
        if std::fs::write(dir.join(file), value).is_err() {
            let _ = std::fs::remove_dir(&dir);
            return None;
        }
    }
    Some(dir)
}

impl RunGroup {
    /// Cgroups for a new run, or `None` where none can be made.
    pub fn create(limits: &ProcessLimits) -> Option<RunGroup> {
        let name = format!("kosuke-{}-run-{}", std::process::id(), RUNS.fetch_add(1, Ordering::Relaxed));
        let root = Path::new("/sys/fs/cgroup");
        let mut dirs = Vec::new();
        let v1 = [
            ("memory", vec![("memory.limit_in_bytes", limits.memory_bytes.to_string())]),
            ("pids", vec![("pids.max", limits.max_processes.to_string())]),
        ];
        if root.join("memory/cgroup.procs").exists() {
            for (hierarchy, settings) in v1 {
                let base = root.join(hierarchy).join(own_path(hierarchy).unwrap_or_default());
                dirs.extend(make(&base, &name, &settings));
            }
        } else if root.join("cgroup.controllers").exists() {
            let base = root.join(own_path("").unwrap_or_default());
            let settings =
                [("memory.max", limits.memory_bytes.to_string()), ("pids.max", limits.max_processes.to_string())];
            dirs.extend(make(&base, &name, &settings));
        }
        if dirs.is_empty() {
            return None;
        }
        let procs =
            dirs.iter().filter_map(|dir| File::options().write(true).open(dir.join("cgroup.procs")).ok()).collect();
        Some(RunGroup { dirs, procs })
    }

    /// The raw descriptors the child writes `0` to (itself) before it execs.
    pub fn procs_fds(&self) -> Vec<i32> {
        self.procs.iter().map(|file| file.as_raw_fd()).collect()
    }
}

/// Kills what runs of a server that is gone left in their cgroups (after a crash or `kill -9`)
/// and removes those cgroups; returns how many it found.
pub fn kill_leftovers() -> usize {
    let root = Path::new("/sys/fs/cgroup");
    let bases: Vec<PathBuf> = if root.join("memory/cgroup.procs").exists() {
        ["memory", "pids"].iter().map(|h| root.join(h).join(own_path(h).unwrap_or_default())).collect()
    } else {
        vec![root.join(own_path("").unwrap_or_default())]
    };
    let ours = format!("kosuke-{}-", std::process::id());
    let mut stale = Vec::new();
    for base in bases {
        let Ok(entries) = std::fs::read_dir(&base) else { continue };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            // `kosuke-{server pid}-run-{n}`: only a server that is gone leaves its runs behind
            // (another server on this machine keeps its own).
            let server = name.strip_prefix("kosuke-").and_then(|rest| rest.split_once("-run-")).map(|(pid, _)| pid);
            let gone = server.is_some_and(|pid| !Path::new("/proc").join(pid).exists());
            if gone && !name.starts_with(&ours) {
                stale.push(entry.path());
            }
        }
    }
    let found = stale.len();
    drop(RunGroup { dirs: stale, procs: Vec::new() });
    found
}

impl Drop for RunGroup {
    fn drop(&mut self) {
        for dir in &self.dirs {
            for _ in 0..50 {
                let pids = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
                for pid in pids.lines().filter_map(|line| line.trim().parse::<i32>().ok()) {
                    // SAFETY: kill(2) on a process of this run's own cgroup; no memory involved.
                    unsafe {
                        libc::kill(pid, libc::SIGKILL);
                    }
                }
                if std::fs::remove_dir(dir).is_ok() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
    }
}
