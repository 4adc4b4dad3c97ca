//! Running commands and installing the tools the tasks need.

use std::path::PathBuf;
use std::process::Command;

/// The workspace root (xtask lives in `crates/xtask`).
pub fn project_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap_or_else(|_| PathBuf::from("."))
}

/// `cargo` as invoked us, run from the workspace root.
pub fn cargo() -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()));
    command.current_dir(project_root());
    command
}

/// Runs a command, echoing it; fails on a non-zero exit.
pub fn run(command: &mut Command) -> Result<(), String> {
    eprintln!("$ {}", describe(command));
    let status = command.status().map_err(|err| format!("cannot run {}: {err}", describe(command)))?;
    if status.success() { Ok(()) } else { Err(format!("{} failed ({status})", describe(command))) }
}

/// Runs a command and returns its standard output.
pub fn output(command: &mut Command) -> Result<String, String> {
    let out = command.output().map_err(|err| format!("cannot run {}: {err}", describe(command)))?;
    if !out.status.success() {
        return Err(format!("{} failed: {}", describe(command), String::from_utf8_lossy(&out.stderr)));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn describe(command: &Command) -> String {
    std::iter::once(command.get_program().to_string_lossy().into_owned())
        .chain(command.get_args().map(|a| a.to_string_lossy().into_owned()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether a program answers `--version`.
pub fn has(program: &str) -> bool {
    Command::new(program).arg("--version").output().is_ok_and(|out| out.status.success())
}

pub fn has_nextest() -> bool {
    cargo().args(["nextest", "--version"]).output().is_ok_and(|out| out.status.success())
}

pub fn rustup_target(target: &str) -> Result<(), String> {
    let installed = output(Command::new("rustup").args(["target", "list", "--installed"])).unwrap_or_default();
    if installed.lines().any(|line| line.trim() == target) {
        return Ok(());
    }
    run(Command::new("rustup").args(["target", "add", target]))
}

/// The wasm-bindgen CLI must match the `wasm-bindgen` crate in Cargo.lock exactly.
pub const WASM_BINDGEN_VERSION: &str = "0.2.130";

pub fn ensure_wasm_bindgen() -> Result<(), String> {
    let current = Command::new("wasm-bindgen").arg("--version").output();
    if current.is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains(WASM_BINDGEN_VERSION)) {
        return Ok(());
    }
    run(cargo().args(["install", "wasm-bindgen-cli", "--version", WASM_BINDGEN_VERSION]))
}

/// wasm-opt from npm's `binaryen` (Debian's older build miscompiles for current Chromium).
/// Installed under target/tools; `None` when npm is not available (the bundle is then larger).
pub fn wasm_opt() -> Option<PathBuf> {
    let prefix = project_root().join("target/tools");
    let binary = prefix.join("node_modules/.bin/wasm-opt");
    if binary.is_file() {
        return Some(binary);
    }
    if !has("npm") {
        eprintln!("note: npm not found; skipping wasm-opt (the bundle works, only larger)");
        return None;
    }
    let installed = run(Command::new("npm")
        .args(["install", "--no-save", "--no-audit", "--no-fund", "--prefix"])
        .arg(&prefix)
        .arg("binaryen@132.0.0"));
    match installed {
        Ok(()) if binary.is_file() => Some(binary),
        _ => {
            eprintln!("note: could not install binaryen from npm; skipping wasm-opt");
            None
        }
    }
}

/// Installs missing Debian packages (as root, with apt-get); otherwise says what to install.
pub fn ensure_debian_packages(packages: &[&str]) -> Result<(), String> {
    let missing: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|package| {
            let status = Command::new("dpkg-query").args(["-W", "-f=${Status}", package]).output();
            !status.is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains("install ok installed"))
        })
        .collect();
    if missing.is_empty() || !has("dpkg-query") {
        return Ok(());
    }
    let is_root = output(Command::new("id").arg("-u")).is_ok_and(|uid| uid.trim() == "0");
    if !is_root {
        return Err(format!("please install: sudo apt-get install -y {}", missing.join(" ")));
    }
    run(Command::new("apt-get").args(["update", "-qq"]))?;
    run(Command::new("apt-get").args(["install", "-y", "-qq"]).args(&missing))
}

/// What building the server needs from Debian: git2's HTTPS support links the system OpenSSL.
pub fn ensure_build_packages() -> Result<(), String> {
    ensure_debian_packages(&["pkg-config", "libssl-dev"])
}

/// The schemathesis the contract test runs (pinned: a new release may add checks).
pub const SCHEMATHESIS_VERSION: &str = "4.32.5";

/// Installs schemathesis from PyPI into a virtualenv at `target/schemathesis` (Python 3 with
/// `venv` from Debian when it is missing), unless that version is there already.
pub fn ensure_schemathesis() -> Result<(), String> {
    let venv = project_root().join("target/schemathesis");
    let st = venv.join("bin/st");
    let installed =
        Command::new(&st).arg("--version").output().ok().map(|out| String::from_utf8_lossy(&out.stdout).into_owned());
    if installed.is_some_and(|version| version.contains(SCHEMATHESIS_VERSION)) {
        return Ok(());
    }
    if !has("python3") {
        ensure_debian_packages(&["python3", "python3-venv"])?;
    }
    let venv_ok = Command::new("python3").arg("-m").arg("venv").arg(&venv).status().is_ok_and(|s| s.success());
    if !venv_ok {
        ensure_debian_packages(&["python3-venv"])?;
        run(Command::new("python3").arg("-m").arg("venv").arg(&venv))?;
    }
    run(Command::new(venv.join("bin/pip"))
        .args(["install", "--quiet", "--disable-pip-version-check"])
        .arg(format!("schemathesis=={SCHEMATHESIS_VERSION}")))
}
