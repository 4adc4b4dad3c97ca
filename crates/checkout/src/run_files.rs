//! What a project's runtime needs of git: a file of a branch without a checkout (the
//! repository's `kosuke.json`), the project's own files placed in a checkout and kept out of
//! its commits, and how much a directory takes on disk.

use crate::checkout::{Checkout, jail_error};
use crate::mirror::Mirror;
use crate::{Result, lock};
use std::fs;
use std::path::Path;

/// The lines of the mirror's `info/exclude` (which every worktree reads) that kosuke manages.
const EXCLUDE_BEGIN: &str = "# kosuke: files copied into each checkout (begin)";
const EXCLUDE_END: &str = "# kosuke: files copied into each checkout (end)";

impl Mirror {
    /// The content of `path` at the tip of project branch `branch`, when it is a file of at
    /// most `limit` bytes there; `Ok(None)` when there is none (or it is larger).
    pub fn file_at(&self, branch: &str, path: &str, limit: usize) -> Result<Option<Vec<u8>>> {
        let commit = self.repo.find_commit(self.resolve_branch(branch)?)?;
        let Ok(entry) = commit.tree()?.get_path(Path::new(path)) else { return Ok(None) };
        let Ok(blob) = self.repo.find_blob(entry.id()) else { return Ok(None) };
        Ok((blob.size() <= limit).then(|| blob.content().to_vec()))
    }

    /// Keeps `paths` out of every checkout's commits unless the repository tracks them: they
    /// are listed in the mirror's `info/exclude`, which git reads for untracked files only.
    /// Replaces the list written before.
    pub fn exclude_copied(&self, paths: &[String]) -> Result<()> {
        let info = self.repo.path().join("info");
        let file = info.join("exclude");
        let _guard = lock::hold(&self.lock);
        let old = fs::read_to_string(&file).unwrap_or_default();
        let mut kept = Vec::new();
        let mut inside = false;
        for line in old.lines() {
            match line {
                EXCLUDE_BEGIN => inside = true,
                EXCLUDE_END => inside = false,
                _ if !inside => kept.push(line.to_owned()),
                _ => {}
            }
        }
        if !paths.is_empty() {
            kept.push(EXCLUDE_BEGIN.to_owned());
            // Anchored at the root, with git's pattern characters escaped.
            kept.extend(paths.iter().map(|path| format!("/{}", escape_pattern(path))));
            kept.push(EXCLUDE_END.to_owned());
        }
        let mut text = kept.join("\n");
        text.push('\n');
        if text != old {
            fs::create_dir_all(&info)?;
            fs::write(&file, text)?;
        }
        Ok(())
    }
}

/// `path` as a gitignore pattern matching only itself.
fn escape_pattern(path: &str) -> String {
    let mut escaped = String::with_capacity(path.len());
    for c in path.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\' | '!' | '#' | ' ') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

impl Checkout {
    /// Writes the project's files into the checkout, through the path jail (never through a
    /// symlink, never under `.git`).
    pub fn place_files(&self, files: &[(String, Vec<u8>)]) -> Result<()> {
        let jail = jail::Jail::new(self.root())?;
        for (path, content) in files {
            jail.write(path, content).map_err(|err| jail_error(path, err))?;
        }
        Ok(())
    }
}

/// Bytes `dir` takes on disk (allocated blocks), everything under it included; symlinks are
/// counted, never followed. 0 when it does not exist.
pub fn disk_usage(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0u64;
    let mut pending = vec![dir.to_owned()];
    while let Some(path) = pending.pop() {
        let Ok(meta) = fs::symlink_metadata(&path) else { continue };
        total += meta.blocks() * 512;
        if meta.is_dir()
            && let Ok(entries) = fs::read_dir(&path)
        {
            pending.extend(entries.flatten().map(|entry| entry.path()));
        }
    }
    total
}
