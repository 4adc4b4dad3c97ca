//! Per-session isolated git checkouts.
//!
//! Each project has one bare **mirror** of its repository (remote branches under
//! `refs/remotes/origin/*`, session branches under `refs/heads/kosuke-chat-*`). Each session
//! gets a **checkout**: a worktree of the mirror with its own HEAD and index, on its own branch,
//! so sessions never see each other's files and no session clones over the network.
//!
//! Everything here is blocking git2 work: callers run it on blocking threads. Writes to refs
//! and config are serialized per repository (`lock`), so concurrent sessions never trip over
//! git's lock files. Credentials reach git only through the credentials callback, never in a
//! URL or config. This crate knows nothing of HTTP, the database or the API.

mod changes;
mod checkout;
mod checkpoints;
mod error;
mod layout;
mod lock;
mod mirror;
mod radar;
mod remote;
mod run_files;
mod spare;
mod update;

pub use changes::{ChangeStatus, ChangedLine, DiffScope, FileChange, Hunk, LineKind};
pub use checkout::{Checkout, FileContent, FileEntry, WorkspaceDiff};
pub use error::CheckoutError;
pub use git2::Oid;
pub use layout::ProjectDir;
pub use mirror::{Branch, BranchStatus, Mirror, StartPoint};
pub use remote::{Credentials, FetchOutcome, Progress, set_network_timeouts};
pub use run_files::disk_usage;
pub use update::{UpdateOutcome, UpdateStrategy};

/// Who a commit is by.
#[derive(Debug, Clone)]
pub struct Author {
    pub name: String,
    pub email: String,
}

pub type Result<T> = std::result::Result<T, CheckoutError>;

/// The `git` command for kosuke's own work on a mirror or a checkout: its environment built
/// from nothing but `PATH` (no variable of the server, secrets included, reaches it; no
/// `GIT_DIR` leaks in), never prompting, stdin closed.
pub(crate) fn git_command() -> std::process::Command {
    let mut command = std::process::Command::new("git");
    command.env_clear();
    if let Some(path) = std::env::var_os("PATH") {
        command.env("PATH", path);
    }
    command.env("GIT_TERMINAL_PROMPT", "0").stdin(std::process::Stdio::null());
    command
}
