//! One session's checkout: commit everything, list and read files (confined to the checkout),
//! diff against the base, tell whether anything is uncommitted.

use crate::error::CheckoutError;
use crate::{Author, Result, lock};
use git2::{DiffFormat, DiffOptions, IndexAddOption, Oid, Repository, Signature, StatusOptions};
use jail::Jail;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// A file or directory in a checkout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// Relative to the checkout, `/`-separated.
    pub path: String,
    pub is_dir: bool,
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
    repo: Repository,
    root: PathBuf,
    lock: Arc<Mutex<()>>,
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

    pub fn head(&self) -> Result<Oid> {
        Ok(self.repo.head()?.peel_to_commit()?.id())
    }

    /// Commits every change (new, modified, deleted; `.gitignore` respected) on the checkout's
    /// branch. `None` when there was nothing to commit.
    pub fn commit_all(&self, message: &str, author: &Author) -> Result<Option<Oid>> {
        let mut index = self.repo.index()?;
        index.add_all(["*"], IndexAddOption::DEFAULT, None)?;
        index.update_all(["*"], None)?;
        index.write()?;
        let tree_id = index.write_tree()?;
        let parent = self.repo.head()?.peel_to_commit()?;
        if parent.tree_id() == tree_id {
            return Ok(None);
        }
        let tree = self.repo.find_tree(tree_id)?;
        let signature = Signature::now(&author.name, &author.email)?;
        let _guard = lock::hold(&self.lock);
        Ok(Some(self.repo.commit(Some("HEAD"), &signature, &signature, message, &tree, &[&parent])?))
    }

    /// Whether anything differs from the last commit (ignored files aside).
    pub fn is_dirty(&self) -> Result<bool> {
        let mut options = StatusOptions::new();
        options.include_untracked(true).recurse_untracked_dirs(true).include_ignored(false);
        Ok(!self.repo.statuses(Some(&mut options))?.is_empty())
    }

    /// Every file and directory, `.git` aside, sorted; at most `limit` entries (then `true`).
    pub fn files(&self, limit: usize) -> Result<(Vec<FileEntry>, bool)> {
        let mut entries = Vec::new();
        let mut pending = vec![self.root.clone()];
        while let Some(dir) = pending.pop() {
            for entry in std::fs::read_dir(&dir)? {
                let entry = entry?;
                let path = entry.path();
                let relative = relative_path(&self.root, &path);
                if relative == ".git" {
                    continue;
                }
                let file_type = entry.file_type()?;
                let size = if file_type.is_file() { entry.metadata()?.len() } else { 0 };
                if file_type.is_dir() {
                    pending.push(path);
                }
                entries.push(FileEntry { path: relative, is_dir: file_type.is_dir(), size });
                if entries.len() >= limit {
                    entries.sort_by(|a, b| a.path.cmp(&b.path));
                    return Ok((entries, true));
                }
            }
        }
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        Ok((entries, false))
    }

    /// Resolves a relative path to an existing file or directory inside the checkout, by the
    /// `jail` crate's rules (the agent's too): no absolute paths, no `..`, nothing under `.git`,
    /// no symlink leading out.
    pub fn resolve(&self, relative: &str) -> Result<PathBuf> {
        let outside = || CheckoutError::PathOutside(relative.to_owned());
        if relative.trim().is_empty() {
            return Err(outside());
        }
        let path = Jail::new(&self.root)?.resolve(relative).map_err(|_| outside())?;
        if !path.exists() {
            return Err(CheckoutError::FileNotFound(relative.to_owned()));
        }
        Ok(path)
    }

    /// A file's content: text up to `limit` bytes; binary files (a NUL in the first 8 KB) and
    /// larger files say so instead.
    pub fn read_file(&self, relative: &str, limit: u64) -> Result<FileContent> {
        let path = self.resolve(relative)?;
        let metadata = std::fs::metadata(&path)?;
        if !metadata.is_file() {
            return Err(CheckoutError::FileNotFound(relative.to_owned()));
        }
        let size = metadata.len();
        let mut content =
            FileContent { path: relative.to_owned(), size, is_binary: false, text: None, too_large: false };
        if size > limit {
            content.too_large = true;
            return Ok(content);
        }
        let bytes = std::fs::read(&path)?;
        let sniff = &bytes[..bytes.len().min(8000)];
        if sniff.contains(&0) || std::str::from_utf8(&bytes).is_err() {
            content.is_binary = true;
            return Ok(content);
        }
        content.text = Some(String::from_utf8_lossy(&bytes).into_owned());
        Ok(content)
    }

    /// The unified diff from `base` to the working tree (committed and uncommitted changes,
    /// new files included), cut at `limit` bytes.
    pub fn diff_from(&self, base: Oid, limit: usize) -> Result<WorkspaceDiff> {
        let base_tree = self.repo.find_commit(base)?.tree()?;
        let mut options = DiffOptions::new();
        options.include_untracked(true).recurse_untracked_dirs(true).show_untracked_content(true);
        let diff = self.repo.diff_tree_to_workdir_with_index(Some(&base_tree), Some(&mut options))?;
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

fn relative_path(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}
