//! Confines every path a user or a model asks for to one directory (a session's checkout):
//! relative paths only, no `..`, nothing under `.git`, no symlink leading out, no NUL bytes, no
//! over-long paths.

use std::path::{Component, Path, PathBuf};

/// The longest relative path accepted, in bytes.
pub const MAX_PATH_BYTES: usize = 1024;

#[derive(Debug, Clone)]
pub struct Jail {
    root: PathBuf,
}

impl Jail {
    pub fn new(root: &Path) -> std::io::Result<Self> {
        Ok(Jail { root: root.canonicalize()? })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The real path for `relative`, or why it is refused. The target need not exist (for
    /// writes), but every existing ancestor must resolve inside the root.
    pub fn resolve(&self, relative: &str) -> Result<PathBuf, String> {
        if relative.contains('\0') {
            return Err("paths must not contain NUL bytes".into());
        }
        if relative.len() > MAX_PATH_BYTES {
            return Err(format!("paths must be at most {MAX_PATH_BYTES} bytes"));
        }
        let trimmed = relative.trim();
        let candidate = Path::new(if trimmed.is_empty() { "." } else { trimmed });
        if candidate.is_absolute() {
            return Err(format!("{relative:?} is absolute; use a path relative to the project root"));
        }
        let mut normal = PathBuf::new();
        for component in candidate.components() {
            match component {
                Component::Normal(part) => {
                    if part == ".git" {
                        return Err(format!("{relative:?} is inside .git, which is off limits"));
                    }
                    normal.push(part);
                }
                Component::CurDir => {}
                Component::ParentDir => return Err(format!("{relative:?} uses '..'; stay inside the project")),
                Component::RootDir | Component::Prefix(_) => {
                    return Err(format!("{relative:?} is not a relative path"));
                }
            }
        }
        // Resolve the deepest existing ancestor, so a symlink anywhere on the way is followed.
        let full = self.root.join(&normal);
        let mut existing = full.clone();
        let mut rest = Vec::new();
        while !existing.exists() {
            match (existing.file_name().map(|n| n.to_owned()), existing.parent()) {
                (Some(name), Some(parent)) => {
                    rest.push(name);
                    existing = parent.to_path_buf();
                }
                _ => break,
            }
        }
        let real = existing.canonicalize().map_err(|err| format!("{relative:?} cannot be resolved: {err}"))?;
        if !real.starts_with(&self.root) {
            return Err(format!("{relative:?} leads outside the project (through a symlink)"));
        }
        if real.starts_with(self.root.join(".git")) {
            return Err(format!("{relative:?} is inside .git, which is off limits"));
        }
        let mut resolved = real;
        for part in rest.into_iter().rev() {
            resolved.push(part);
        }
        Ok(resolved)
    }

    /// `path` relative to the root, `/`-separated.
    pub fn relative(&self, path: &Path) -> String {
        path.strip_prefix(&self.root)
            .unwrap_or(path)
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_are_refused_and_inside_paths_resolve() {
        let dir = tempfile::TempDir::new().unwrap_or_else(|e| panic!("{e}"));
        std::fs::create_dir(dir.path().join(".git")).ok();
        std::fs::create_dir(dir.path().join("src")).ok();
        std::os::unix::fs::symlink("/etc", dir.path().join("etc-link")).ok();
        std::os::unix::fs::symlink("src", dir.path().join("src-link")).ok();
        let jail = Jail::new(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let long = "a/".repeat(600);
        for bad in [
            "/etc/passwd",
            "../outside",
            "src/../../x",
            ".git/config",
            "src/.git/x",
            "etc-link/passwd",
            "etc-link",
            "a\0b",
            long.as_str(),
        ] {
            assert!(jail.resolve(bad).is_err(), "{bad:?} should be refused");
        }
        for good in ["src/lib.rs", "new/dir/file.txt", "./README.md", "src-link/inner.rs", ""] {
            let resolved = jail.resolve(good).unwrap_or_else(|e| panic!("{good:?}: {e}"));
            assert!(resolved.starts_with(jail.root()), "{good:?}");
        }
    }
}
