//! bubblewrap's command line for one sandboxed process: namespaces, the system read-only
//! without `/etc`'s secrets, a private `/tmp` and `HOME`, the caller's read-only mounts, the
//! checkout read-write at [`WORKDIR`].

use crate::{HOME, Mounts, WORKDIR, under_system_mount};
use std::ffi::OsString;
use std::path::Path;

/// bubblewrap's arguments for `mounts` (`network`: keep the host's).
pub(crate) fn args(mounts: &Mounts, network: bool) -> Vec<OsString> {
    let mut args: Vec<OsString> = Vec::new();
    let mut push = |items: &[&dyn AsRef<std::ffi::OsStr>]| {
        args.extend(items.iter().map(|item| item.as_ref().to_owned()));
    };
    push(&[&"--unshare-all", &"--die-with-parent", &"--new-session"]);
    if network {
        push(&[&"--share-net"]);
    }
    push(&[&"--ro-bind", &"/usr", &"/usr"]);
    // Merged-/usr systems make these symlinks into /usr; older ones, directories.
    for top in ["/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"] {
        let path = Path::new(top);
        match std::fs::read_link(path) {
            Ok(target) => push(&[&"--symlink", &target, &path]),
            Err(_) if path.is_dir() => push(&[&"--ro-bind", &path, &path]),
            Err(_) => {}
        }
    }
    push(&[&"--ro-bind", &"/etc", &"/etc"]);
    // The secrets of /etc: password hashes, host keys, TLS private keys.
    for secret in ["/etc/shadow", "/etc/gshadow", "/etc/shadow-", "/etc/gshadow-"] {
        if Path::new(secret).exists() {
            push(&[&"--ro-bind", &"/dev/null", &secret]);
        }
    }
    for secret in ["/etc/ssh", "/etc/ssl/private"] {
        if Path::new(secret).is_dir() {
            push(&[&"--tmpfs", &secret]);
        }
    }
    push(&[&"--proc", &"/proc", &"--dev", &"/dev", &"--tmpfs", &"/tmp", &"--dir", &HOME]);
    // Anything of the server's that a system mount would show (a data dir under /usr…).
    for hidden in mounts.hidden.iter().filter(|p| under_system_mount(p)) {
        push(&[&"--tmpfs", hidden]);
    }
    for mount in mounts.read_only.iter().filter(|m| m.host.exists()) {
        push(&[&"--ro-bind", &mount.host, &mount.inside]);
    }
    push(&[&"--bind", &mounts.workdir, &WORKDIR, &"--chdir", &WORKDIR]);
    args
}
