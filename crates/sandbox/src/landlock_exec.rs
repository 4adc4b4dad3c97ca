//! The fallback where bubblewrap cannot run: Landlock (the kernel's own access control for
//! unprivileged processes) and a seccomp filter, applied by a helper process to itself just
//! before it execs the command (`kosuke sandbox-exec …`: single-threaded, so nothing runs
//! between fork and exec but the exec). Landlock gives the command read access to the system
//! (`/usr`, `/bin`, `/lib*`, `/etc` without its secrets), read-write access to its checkout
//! and private home, read access to what the caller lists, nothing else (no `/proc`, no data
//! dir), no signals to processes outside its domain, no TCP when the network is off. The
//! filter refuses ptrace, mount, unshare, setns, bpf, keyctl, io_uring, perf and module
//! loading. There is no PID namespace: what the command leaves running is killed with its
//! cgroup at the end of the run.

use landlock::{
    ABI, Access, AccessFs, AccessNet, CompatLevel, Compatible, PathBeneath, PathFd, Ruleset, RulesetAttr,
    RulesetCreatedAttr, RulesetStatus, Scope,
};
use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

/// The helper's subcommand name.
pub const HELPER_COMMAND: &str = "sandbox-exec";

/// What the confined command may reach.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Confinement {
    pub read_write: Vec<PathBuf>,
    pub read_only: Vec<PathBuf>,
    pub network: bool,
}

impl Confinement {
    /// The helper's arguments for this confinement and `program args…`.
    pub fn to_args(&self, program: &str, args: &[&str]) -> Vec<OsString> {
        let mut out: Vec<OsString> = vec![HELPER_COMMAND.into()];
        for path in &self.read_write {
            out.extend(["--rw".into(), path.into()]);
        }
        for path in &self.read_only {
            out.extend(["--ro".into(), path.into()]);
        }
        if !self.network {
            out.push("--no-network".into());
        }
        out.push("--".into());
        out.push(program.into());
        out.extend(args.iter().map(OsString::from));
        out
    }

    /// Reads the helper's arguments (after its subcommand name) back.
    fn parse(args: &[OsString]) -> Result<(Confinement, Vec<OsString>), String> {
        let mut confinement = Confinement { network: true, ..Default::default() };
        let mut rest = args.iter();
        while let Some(arg) = rest.next() {
            match arg.to_str() {
                Some("--rw") => confinement.read_write.push(rest.next().ok_or("--rw needs a path")?.into()),
                Some("--ro") => confinement.read_only.push(rest.next().ok_or("--ro needs a path")?.into()),
                Some("--no-network") => confinement.network = false,
                Some("--") => return Ok((confinement, rest.cloned().collect())),
                _ => return Err(format!("unexpected argument {arg:?}")),
            }
        }
        Err("no command after --".into())
    }
}

/// The secrets of `/etc` the command never reads.
const ETC_SECRETS: [&str; 6] = ["shadow", "gshadow", "shadow-", "gshadow-", "ssh", "ssl"];

/// Applies Landlock and the seccomp filter to this process; fails unless both are fully in
/// force (the kernel must offer Landlock ABI 6: signal scoping).
pub fn confine(confinement: &Confinement) -> Result<(), String> {
    let abi = ABI::V6;
    let said = |err: &dyn std::fmt::Display| err.to_string();
    let mut ruleset = Ruleset::default()
        .set_compatibility(CompatLevel::HardRequirement)
        .handle_access(AccessFs::from_all(abi))
        .map_err(|e| said(&e))?
        .scope(Scope::from_all(abi))
        .map_err(|e| said(&e))?;
    if !confinement.network {
        ruleset = ruleset.handle_access(AccessNet::from_all(abi)).map_err(|e| said(&e))?;
    }
    let mut created = ruleset.create().map_err(|e| said(&e))?;
    let mut read_only: Vec<PathBuf> =
        ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/dev/zero", "/dev/urandom", "/dev/random"]
            .iter()
            .map(PathBuf::from)
            .collect();
    if let Ok(entries) = std::fs::read_dir("/etc") {
        read_only
            .extend(entries.flatten().filter(|e| !ETC_SECRETS.iter().any(|s| e.file_name() == *s)).map(|e| e.path()));
    }
    read_only.push(PathBuf::from("/etc/ssl/certs"));
    read_only.extend(confinement.read_only.iter().cloned());
    let mut read_write = vec![PathBuf::from("/dev/null")];
    read_write.extend(confinement.read_write.iter().cloned());
    for (paths, access) in [(read_only, AccessFs::from_read(abi)), (read_write, AccessFs::from_all(abi))] {
        for path in paths.iter().filter(|p| Path::new(p).exists()) {
            let fd = PathFd::new(path).map_err(|e| said(&e))?;
            let access = if path.is_dir() { access } else { access & AccessFs::from_file(abi) };
            created = created.add_rule(PathBeneath::new(fd, access)).map_err(|e| said(&e))?;
        }
    }
    let status = created.restrict_self().map_err(|e| said(&e))?;
    if status.ruleset != RulesetStatus::FullyEnforced {
        return Err(format!("Landlock is only {:?} on this kernel", status.ruleset));
    }
    deny_dangerous_syscalls()
}

fn deny_dangerous_syscalls() -> Result<(), String> {
    use seccompiler::{BpfProgram, SeccompAction, SeccompFilter, TargetArch};
    let denied = [
        libc::SYS_ptrace,
        libc::SYS_mount,
        libc::SYS_umount2,
        libc::SYS_unshare,
        libc::SYS_setns,
        libc::SYS_pivot_root,
        libc::SYS_bpf,
        libc::SYS_keyctl,
        libc::SYS_add_key,
        libc::SYS_request_key,
        libc::SYS_io_uring_setup,
        libc::SYS_io_uring_enter,
        libc::SYS_io_uring_register,
        libc::SYS_perf_event_open,
        libc::SYS_init_module,
        libc::SYS_finit_module,
        libc::SYS_kexec_load,
    ];
    let arch = TargetArch::try_from(std::env::consts::ARCH).map_err(|e| format!("{e:?}"))?;
    let rules = denied.into_iter().map(|syscall| (syscall, Vec::new())).collect();
    let filter = SeccompFilter::new(rules, SeccompAction::Allow, SeccompAction::Errno(libc::EPERM as u32), arch)
        .map_err(|e| e.to_string())?;
    let program: BpfProgram = filter.try_into().map_err(|e: seccompiler::BackendError| e.to_string())?;
    seccompiler::apply_filter(&program).map_err(|e| e.to_string())
}

/// The helper itself: confines this process, then becomes the command. Returns only on
/// failure (the message to print; the exit status is 125 then, as `env` and `timeout` use).
pub fn exec_helper(args: &[OsString]) -> String {
    let (confinement, command) = match Confinement::parse(args) {
        Ok(parsed) => parsed,
        Err(err) => return err,
    };
    if let Err(err) = confine(&confinement) {
        return format!("cannot confine the command: {err}");
    }
    let Some((program, rest)) = command.split_first() else { return "no command".into() };
    let err = std::process::Command::new(program).args(rest).exec();
    format!("cannot run {program:?}: {err}")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_helpers_arguments_read_back() {
        let confinement = Confinement { read_write: vec!["/w".into()], read_only: vec!["/r".into()], network: false };
        let args = confinement.to_args("/bin/sh", &["-c", "echo hi"]);
        assert_eq!(args[0], HELPER_COMMAND);
        let (parsed, command) = Confinement::parse(&args[1..]).unwrap();
        assert_eq!(parsed, confinement);
        assert_eq!(command, ["/bin/sh", "-c", "echo hi"].map(OsString::from));
    }
}
