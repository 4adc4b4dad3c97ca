//! File access confined to one directory (a session's checkout), for everything a user or a
//! model names by path: the model's tools, the files API, the preview. Built on `cap-std`:
//! the directory is opened once and every path is resolved beneath it by the kernel's `openat`
//! family (`openat2` with `RESOLVE_BENEATH` where the kernel has it), so a symlink can never
//! lead out — a dangling one included — and there is no window between checking a path and
//! using it. On top of that, the rules of the product: relative paths only, no `..`, nothing
//! under `.git` (at any depth, by name or through a symlink), no NUL, at most 1,024 bytes;
//! writes and deletes never go through a symlink; listings and walks show a symlink as a
//! symlink and never enter it (so loops are impossible), and stop at a bound.

use cap_fs_ext::{DirExt, FollowSymlinks, OpenOptionsFollowExt};
use cap_std::ambient_authority;
use cap_std::fs::{Dir, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

/// The longest relative path accepted, in bytes.
pub const MAX_PATH_BYTES: usize = 1024;

/// Why a path was refused or an operation failed, as a sentence for the caller to show.
#[derive(Debug)]
pub enum JailError {
    /// The path breaks a rule (absolute, `..`, `.git`, a symlink leading out…).
    Refused(String),
    /// Nothing is there.
    NotFound(String),
    /// The file system said no.
    Io(std::io::Error),
}

impl std::fmt::Display for JailError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JailError::Refused(why) => f.write_str(why),
            JailError::NotFound(path) => write!(f, "there is no file {path:?}"),
            JailError::Io(err) => write!(f, "{err}"),
        }
    }
}

impl std::error::Error for JailError {}

pub type Result<T> = std::result::Result<T, JailError>;

/// What a directory entry is, never looking through a symlink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Symlink,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Relative to the root, `/`-separated.
    pub path: String,
    pub kind: Kind,
    /// Bytes, for files.
    pub size: u64,
}

pub struct Jail {
    root: PathBuf,
    dir: Dir,
}

impl Jail {
    pub fn new(root: &Path) -> std::io::Result<Self> {
        let root = root.canonicalize()?;
        let dir = Dir::open_ambient_dir(&root, ambient_authority())?;
        Ok(Jail { root, dir })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `relative` as a clean relative path (`.` for the root), or why it is refused.
    pub fn check(relative: &str) -> Result<PathBuf> {
        let refuse = |why: String| Err(JailError::Refused(why));
        if relative.contains('\0') {
            return refuse("paths must not contain NUL bytes".into());
        }
        if relative.len() > MAX_PATH_BYTES {
            return refuse(format!("paths must be at most {MAX_PATH_BYTES} bytes"));
        }
        let trimmed = relative.trim();
        let candidate = Path::new(if trimmed.is_empty() { "." } else { trimmed });
        if candidate.is_absolute() {
            return refuse(format!("{relative:?} is absolute; use a path relative to the project root"));
        }
        let mut clean = PathBuf::new();
        for component in candidate.components() {
            match component {
                Component::Normal(part) if part == ".git" => {
                    return refuse(format!("{relative:?} is inside .git, which is off limits"));
                }
                Component::Normal(part) => clean.push(part),
                Component::CurDir => {}
                Component::ParentDir => return refuse(format!("{relative:?} uses '..'; stay inside the project")),
                Component::RootDir | Component::Prefix(_) => {
                    return refuse(format!("{relative:?} is not a relative path"));
                }
            }
        }
        Ok(if clean.as_os_str().is_empty() { PathBuf::from(".") } else { clean })
    }

    /// Maps an error of the file system on `relative` to what it means here.
    fn explain(relative: &str, err: std::io::Error) -> JailError {
        match err.kind() {
            std::io::ErrorKind::NotFound => JailError::NotFound(relative.to_owned()),
            // cap-std's answer to a path (or a symlink on it) that would leave the root.
            std::io::ErrorKind::PermissionDenied => {
                JailError::Refused(format!("{relative:?} leads outside the project (through a symlink)"))
            }
            _ if err.raw_os_error() == Some(40) => {
                JailError::Refused(format!("{relative:?} is a symlink; kosuke does not follow it"))
            }
            _ => JailError::Io(err),
        }
    }

    /// Refuses a path whose real location (symlinks inside the root resolved) is under `.git`.
    fn outside_git(&self, relative: &str, clean: &Path) -> Result<()> {
        match self.dir.canonicalize(clean) {
            Ok(real) if real.components().any(|c| c.as_os_str() == ".git") => {
                Err(JailError::Refused(format!("{relative:?} is inside .git, which is off limits")))
            }
            Ok(_) => Ok(()),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(err) => Err(Self::explain(relative, err)),
        }
    }

    /// What is at `relative`, without following a final symlink.
    pub fn kind(&self, relative: &str) -> Result<Kind> {
        let clean = Self::check(relative)?;
        let metadata = self.dir.symlink_metadata(&clean).map_err(|e| Self::explain(relative, e))?;
        Ok(kind_of(&metadata.file_type()))
    }

    /// Opens a file for reading. Symlinks that stay inside (and out of `.git`) are followed;
    /// any other is refused.
    pub fn open(&self, relative: &str) -> Result<File> {
        let clean = Self::check(relative)?;
        self.outside_git(relative, &clean)?;
        let file = self.dir.open(&clean).map_err(|e| Self::explain(relative, e))?;
        if file.metadata().map_err(JailError::Io)?.is_dir() {
            return Err(JailError::Refused(format!("{relative:?} is a directory")));
        }
        Ok(file)
    }

    /// At most `limit` bytes of a file, and its whole size.
    pub fn read(&self, relative: &str, limit: u64) -> Result<(Vec<u8>, u64)> {
        let file = self.open(relative)?;
        let size = file.metadata().map_err(JailError::Io)?.len();
        let mut bytes = Vec::new();
        file.take(limit).read_to_end(&mut bytes).map_err(JailError::Io)?;
        Ok((bytes, size))
    }

    /// Writes a file, making its directories. Never through a symlink: a symlink at the path
    /// (dangling or not) is refused, and so is one on the way that leads out.
    pub fn write(&self, relative: &str, content: &[u8]) -> Result<()> {
        let clean = Self::check(relative)?;
        if clean == Path::new(".") {
            return Err(JailError::Refused("a file needs a name".into()));
        }
        if let Some(parent) = clean.parent().filter(|p| !p.as_os_str().is_empty()) {
            self.dir.create_dir_all(parent).map_err(|e| Self::explain(relative, e))?;
        }
        self.outside_git(relative, &clean)?;
        let mut options = OpenOptions::new();
        options.write(true).create(true).truncate(true).follow(FollowSymlinks::No);
        let mut file = self.dir.open_with(&clean, &options).map_err(|e| Self::explain(relative, e))?;
        file.write_all(content).map_err(JailError::Io)
    }

    /// Deletes a file (a symlink is deleted itself, never its target).
    pub fn remove(&self, relative: &str) -> Result<()> {
        if self.kind(relative)? == Kind::Dir {
            return Err(JailError::Refused(format!("{relative:?} is a directory; delete its files one by one")));
        }
        let clean = Self::check(relative)?;
        self.dir.remove_file(&clean).map_err(|e| Self::explain(relative, e))
    }

    /// Every entry below `relative` (`.git` aside), breadth first, sorted by path; at most
    /// `limit` of them (then `true`). Symlinks are listed, never entered.
    pub fn walk(&self, relative: &str, limit: usize) -> Result<(Vec<Entry>, bool)> {
        self.below(relative, limit, true)
    }

    /// The entries of the directory `relative` itself (`.git` aside), sorted by path; at most
    /// `limit` of them (then `true`).
    pub fn list(&self, relative: &str, limit: usize) -> Result<(Vec<Entry>, bool)> {
        self.below(relative, limit, false)
    }

    fn below(&self, relative: &str, limit: usize, deep: bool) -> Result<(Vec<Entry>, bool)> {
        let start = Self::check(relative)?;
        let prefix = if start == Path::new(".") { String::new() } else { slashed(&start) };
        let top = if start == Path::new(".") {
            self.dir.try_clone().map_err(JailError::Io)?
        } else {
            if self.kind(relative)? != Kind::Dir {
                return Err(JailError::Refused(format!("{relative:?} is not a directory")));
            }
            self.dir.open_dir_nofollow(&start).map_err(|e| Self::explain(relative, e))?
        };
        let mut entries = Vec::new();
        let mut pending = std::collections::VecDeque::from([(top, prefix)]);
        while let Some((dir, prefix)) = pending.pop_front() {
            let mut children: Vec<_> = dir.entries().map_err(JailError::Io)?.flatten().collect();
            children.sort_by_key(|entry| entry.file_name());
            for child in children {
                let name = child.file_name().to_string_lossy().into_owned();
                if name == ".git" {
                    continue;
                }
                let path = if prefix.is_empty() { name.clone() } else { format!("{prefix}/{name}") };
                let Ok(file_type) = child.file_type() else { continue };
                let kind = kind_of(&file_type);
                let size = if kind == Kind::File { child.metadata().map(|m| m.len()).unwrap_or(0) } else { 0 };
                if deep
                    && kind == Kind::Dir
                    && let Ok(sub) = dir.open_dir_nofollow(Path::new(&name))
                {
                    pending.push_back((sub, path.clone()));
                }
                entries.push(Entry { path, kind, size });
                if entries.len() >= limit {
                    entries.sort_by(|a, b| a.path.cmp(&b.path));
                    return Ok((entries, true));
                }
            }
        }
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        Ok((entries, false))
    }

    /// `path` relative to the root, `/`-separated.
    pub fn relative(&self, path: &Path) -> String {
        slashed(path.strip_prefix(&self.root).unwrap_or(path))
    }
}

fn kind_of(file_type: &cap_std::fs::FileType) -> Kind {
    if file_type.is_symlink() {
        Kind::Symlink
    } else if file_type.is_dir() {
        Kind::Dir
    } else {
        Kind::File
    }
}

fn slashed(path: &Path) -> String {
    path.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn escapes_are_refused_and_inside_paths_resolve() {
        let dir = tempfile::TempDir::new().unwrap();
        std::fs::create_dir(dir.path().join(".git")).unwrap();
        std::fs::create_dir(dir.path().join("src")).unwrap();
        std::fs::write(dir.path().join("src/inner.rs"), "inner").unwrap();
        symlink("/etc", dir.path().join("etc-link")).unwrap();
        symlink("src", dir.path().join("src-link")).unwrap();
        let jail = Jail::new(dir.path()).unwrap();
        let long = "a/".repeat(600);
        for bad in
            ["/etc/passwd", "../outside", "src/../../x", ".git/config", "src/.git/x", "etc-link/passwd", "a\0b", &long]
        {
            assert!(matches!(jail.open(bad), Err(JailError::Refused(_))), "{bad:?} should be refused");
            assert!(jail.write(bad, b"x").is_err(), "{bad:?} should not be written");
        }
        assert_eq!(jail.read("src-link/inner.rs", 100).unwrap().0, b"inner", "a symlink inside is followed");
        jail.write("new/dir/file.txt", b"made").unwrap();
        assert_eq!(std::fs::read(dir.path().join("new/dir/file.txt")).unwrap(), b"made");
    }

    #[test]
    fn dangling_and_chained_symlinks_out_are_never_followed() {
        let outside = tempfile::TempDir::new().unwrap();
        let dir = tempfile::TempDir::new().unwrap();
        std::fs::write(outside.path().join("secret"), "s3cret").unwrap();
        let target = outside.path().join("planted");
        symlink(&target, dir.path().join("dangling")).unwrap();
        symlink(outside.path().join("secret"), dir.path().join("to-secret")).unwrap();
        symlink("chain2", dir.path().join("chain1")).unwrap();
        symlink("to-secret", dir.path().join("chain2")).unwrap();
        symlink(".git", dir.path().join("git-link")).unwrap();
        std::fs::create_dir(dir.path().join(".git")).unwrap();
        std::fs::write(dir.path().join(".git/config"), "[core]").unwrap();
        symlink("loop-b", dir.path().join("loop-a")).unwrap();
        symlink("loop-a", dir.path().join("loop-b")).unwrap();
        let jail = Jail::new(dir.path()).unwrap();
        for link in ["dangling", "to-secret", "chain1", "git-link/config", "loop-a"] {
            assert!(jail.read(link, 100).is_err(), "{link}: read");
            assert!(jail.write(link, b"pwned").is_err(), "{link}: write");
        }
        assert!(!target.exists(), "nothing was created through the dangling link");
        assert_eq!(std::fs::read_to_string(outside.path().join("secret")).unwrap(), "s3cret");
        jail.remove("dangling").unwrap();
        assert!(std::fs::symlink_metadata(dir.path().join("dangling")).is_err(), "the link itself is deleted");
        let (entries, truncated) = jail.walk(".", 100).unwrap();
        assert!(!truncated);
        let kinds: Vec<(&str, Kind)> = entries.iter().map(|e| (e.path.as_str(), e.kind)).collect();
        assert_eq!(
            kinds,
            [
                ("chain1", Kind::Symlink),
                ("chain2", Kind::Symlink),
                ("git-link", Kind::Symlink),
                ("loop-a", Kind::Symlink),
                ("loop-b", Kind::Symlink),
                ("to-secret", Kind::Symlink),
            ]
        );
    }

    /// A directory swapped for a symlink out while files are written into it: every write lands
    /// inside the root or fails, none outside.
    #[test]
    fn swapping_a_directory_for_a_symlink_during_writes_never_writes_outside() {
        let outside = tempfile::TempDir::new().unwrap();
        let dir = tempfile::TempDir::new().unwrap();
        let jail = Jail::new(dir.path()).unwrap();
        let (root, out) = (dir.path().to_owned(), outside.path().to_owned());
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let swapper = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let (sub, moved) = (root.join("sub"), root.join("sub-real"));
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let _ = std::fs::create_dir(&sub);
                    let _ = std::fs::rename(&sub, &moved);
                    let _ = symlink(&out, &sub);
                    let _ = std::fs::remove_file(&sub);
                    let _ = std::fs::remove_dir_all(&moved);
                }
            })
        };
        for n in 0..2_000 {
            let _ = jail.write(&format!("sub/file-{n}.txt"), b"x");
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        swapper.join().unwrap();
        let escaped: Vec<_> = std::fs::read_dir(outside.path()).unwrap().flatten().map(|e| e.file_name()).collect();
        assert!(escaped.is_empty(), "written outside: {escaped:?}");
    }
}
