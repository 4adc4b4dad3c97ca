//! One session's checkout: commit everything, list and read files (confined to the checkout),
//! diff against the base, tell whether anything is uncommitted.

use crate::error::CheckoutError;
use crate::{Author, Result, lock};
use git2::{DiffFormat, DiffOptions, Oid, Repository, Signature, StatusOptions};
use jail::Jail;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// A file, directory or symlink in a checkout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// Relative to the checkout, `/`-separated.
    pub path: String,
    pub is_dir: bool,
    /// A symlink, listed as one and never followed.
    pub is_symlink: bool,
    pub size: u64,
}

/// A file's content, or why it is not shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileContent {
    pub path: String,
    pub size: u64,
    pub is_binary: bool,
    /// `None` when binary or larger than the limit.
    pub text: Option<String>,
    pub too_large: bool,
    /// The git blob id of the text (a cache key), when there is a text.
    pub blob: Option<String>,
}

/// A unified diff, cut at a size limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspaceDiff {
    pub patch: String,
    pub truncated: bool,
    pub files_changed: usize,
    pub insertions: usize,
    pub deletions: usize,
}

pub struct Checkout {
    pub(crate) repo: Repository,
    root: PathBuf,
    pub(crate) lock: Arc<Mutex<()>>,
}

impl Checkout {
    pub fn open(dir: &Path) -> Result<Self> {
        let repo = Repository::open(dir).map_err(|_| CheckoutError::NotACheckout(dir.display().to_string()))?;
        let root = repo
            .workdir()
            .map(Path::to_path_buf)
            .ok_or_else(|| CheckoutError::NotACheckout(dir.display().to_string()))?;
        let lock = lock::for_repository(repo.commondir());
        Ok(Checkout { repo, root, lock })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where a worktree checkout's git metadata lives: its own directory in the mirror (HEAD,
    /// index) and the mirror itself (objects, refs, config). `None` when `.git` is its own.
    pub fn git_dirs(&self) -> Option<(PathBuf, PathBuf)> {
        let own = |path: &Path| path.canonicalize().ok();
        self.repo.is_worktree().then(|| Some((own(self.repo.path())?, own(self.repo.commondir())?))).flatten()
    }

    pub fn head(&self) -> Result<Oid> {
        Ok(self.repo.head()?.peel_to_commit()?.id())
    }

    /// Commits every change (new, modified, deleted; `.gitignore` respected) on the checkout's
    /// branch. `None` when there was nothing to commit.
    /// Refused while an update from the base is stopped on conflicts (it is concluded instead).
    pub fn commit_all(&self, message: &str, author: &Author) -> Result<Option<Oid>> {
        if self.update_in_progress() {
            return Err(crate::CheckoutError::UpdateInProgress);
        }
        self.stage_everything()?;
        let tree_id = self.repo.index()?.write_tree()?;
        let parent = self.repo.head()?.peel_to_commit()?;
        if parent.tree_id() == tree_id {
            return Ok(None);
        }
        let tree = self.repo.find_tree(tree_id)?;
        let signature = Signature::now(&author.name, &author.email)?;
        let _guard = lock::hold(&self.lock);
        Ok(Some(self.repo.commit(Some("HEAD"), &signature, &signature, message, &tree, &[&parent])?))
    }

    /// `tree` against the working tree (the index's staged changes included). An update stopped
    /// on conflicts holds the conflict's stages in the index, which git2's diff shows without
    /// lines: then the files (with their markers) say what there is.
    pub(crate) fn diff_to_workdir(&self, tree: &git2::Tree<'_>, options: &mut DiffOptions) -> Result<git2::Diff<'_>> {
        Ok(if self.update_in_progress() {
            self.repo.diff_tree_to_workdir(Some(tree), Some(options))?
        } else {
            self.repo.diff_tree_to_workdir_with_index(Some(tree), Some(options))?
        })
    }

    /// Whether anything differs from the last commit (ignored files aside).
    pub fn is_dirty(&self) -> Result<bool> {
        let mut options = StatusOptions::new();
        options.include_untracked(true).recurse_untracked_dirs(true).include_ignored(false);
        Ok(!self.repo.statuses(Some(&mut options))?.is_empty())
    }

    /// Every file, directory and symlink, `.git` aside, sorted; at most `limit` entries (then
    /// `true`). Through the path-safe layer (`jail`): a symlink is listed, never entered.
    pub fn files(&self, limit: usize) -> Result<(Vec<FileEntry>, bool)> {
        let (entries, truncated) = self.jail()?.walk(".", limit).map_err(|err| jail_error(".", err))?;
        Ok((entries.into_iter().map(file_entry).collect(), truncated))
    }

    /// The entries of one directory (`""` or `.` for the root), by the same rules: a tree
    /// loaded a directory at a time.
    pub fn files_in(&self, dir: &str, limit: usize) -> Result<(Vec<FileEntry>, bool)> {
        let dir = if dir.trim_matches('/').is_empty() { "." } else { dir.trim_matches('/') };
        let (entries, truncated) = self.jail()?.list(dir, limit).map_err(|err| jail_error(dir, err))?;
        Ok((entries.into_iter().map(file_entry).collect(), truncated))
    }

    fn jail(&self) -> Result<Jail> {
        Ok(Jail::new(&self.root)?)
    }

    /// Opens a file of the checkout for reading, by the `jail` crate's rules (the agent's
    /// too): no absolute paths, no `..`, nothing under `.git`, no symlink followed out, no
    /// check-then-open race. A directory answers `None` (the caller may look for an index).
    pub fn open_file(&self, relative: &str) -> Result<Option<std::fs::File>> {
        if relative.trim().is_empty() {
            return Err(CheckoutError::PathOutside(relative.to_owned()));
        }
        let jail = self.jail()?;
        if jail.kind(relative).map_err(|err| jail_error(relative, err))? == jail::Kind::Dir {
            return Ok(None);
        }
        Ok(Some(jail.open(relative).map_err(|err| jail_error(relative, err))?.into_std()))
    }

    /// A file's content: text up to `limit` bytes; binary files (a NUL in the first 8 KB) and
    /// larger files say so instead.
    pub fn read_file(&self, relative: &str, limit: u64) -> Result<FileContent> {
        if relative.trim().is_empty() {
            return Err(CheckoutError::PathOutside(relative.to_owned()));
        }
        let (bytes, size) = self.jail()?.read(relative, limit).map_err(|err| jail_error(relative, err))?;
        let mut content =
            FileContent { path: relative.to_owned(), size, is_binary: false, text: None, too_large: false, blob: None };
        if size > limit {
            content.too_large = true;
            return Ok(content);
        }
        let sniff = &bytes[..bytes.len().min(8000)];
        if sniff.contains(&0) || std::str::from_utf8(&bytes).is_err() {
            content.is_binary = true;
            return Ok(content);
        }
        content.blob = Some(git2::Oid::hash_object(git2::ObjectType::Blob, &bytes)?.to_string());
        content.text = Some(String::from_utf8_lossy(&bytes).into_owned());
        Ok(content)
    }

    /// The unified diff from `base` to the working tree (committed and uncommitted changes,
    /// new files included), cut at `limit` bytes.
    pub fn diff_from(&self, base: Oid, limit: usize) -> Result<WorkspaceDiff> {
        let base_tree = self.repo.find_commit(base)?.tree()?;
        let mut options = DiffOptions::new();
        options.include_untracked(true).recurse_untracked_dirs(true).show_untracked_content(true);
        let diff = self.diff_to_workdir(&base_tree, &mut options)?;
        let stats = diff.stats()?;
        let mut patch = String::new();
        let mut truncated = false;
        diff.print(DiffFormat::Patch, |_delta, _hunk, line| {
            let prefix = match line.origin() {
                origin @ ('+' | '-' | ' ') => Some(origin),
                _ => None,
            };
            let text = String::from_utf8_lossy(line.content());
            let needed = text.len() + usize::from(prefix.is_some());
            if patch.len() + needed > limit {
                truncated = true;
                return false;
            }
            if let Some(prefix) = prefix {
                patch.push(prefix);
            }
            patch.push_str(&text);
            true
        })
        .or_else(|err| if truncated { Ok(()) } else { Err(err) })?;
        Ok(WorkspaceDiff {
            patch,
            truncated,
            files_changed: stats.files_changed(),
            insertions: stats.insertions(),
            deletions: stats.deletions(),
        })
    }
}

fn file_entry(entry: jail::Entry) -> FileEntry {
    FileEntry {
        path: entry.path,
        is_dir: entry.kind == jail::Kind::Dir,
        is_symlink: entry.kind == jail::Kind::Symlink,
        size: entry.size,
    }
}

/// What the path-safe layer's refusal means for a caller of the checkout.
pub(crate) fn jail_error(relative: &str, err: jail::JailError) -> CheckoutError {
    match err {
        jail::JailError::NotFound(_) => CheckoutError::FileNotFound(relative.to_owned()),
        jail::JailError::Refused(_) => CheckoutError::PathOutside(relative.to_owned()),
        jail::JailError::Io(err) => CheckoutError::Io(err),
    }
}
