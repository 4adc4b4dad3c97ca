//! A diff as the Changes view shows it: files (added, modified, deleted, renamed, with their
//! +/− counts), each file's hunks, each line with its old and new numbers. From a base commit
//! to the working tree (what the chat changed), or one commit against its parent (one turn).

use crate::checkout::Checkout;
use crate::error::CheckoutError;
use git2::{Delta, Diff, DiffFindOptions, DiffOptions, Oid, Patch};

type Result<T> = std::result::Result<T, CheckoutError>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeStatus {
    Added,
    Modified,
    Deleted,
    Renamed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    Context,
    Added,
    Removed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangedLine {
    pub kind: LineKind,
    pub old: Option<u32>,
    pub new: Option<u32>,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hunk {
    pub header: String,
    pub old_start: u32,
    pub old_lines: u32,
    pub new_start: u32,
    pub new_lines: u32,
    pub lines: Vec<ChangedLine>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    pub path: String,
    /// Where a renamed file was.
    pub old_path: Option<String>,
    pub status: ChangeStatus,
    pub additions: usize,
    pub deletions: usize,
    pub binary: bool,
    /// Its lines were left out past the size limit (the file is still listed).
    pub truncated: bool,
    pub hunks: Vec<Hunk>,
}

/// How much of a diff to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffScope {
    /// At most this many bytes of line text (every file is still listed).
    pub limit: usize,
    /// Unchanged lines shown around each change (git's default is 3); hunks closer than twice
    /// this are one hunk, so a large number shows a file whole.
    pub context: u32,
    /// Only this file's lines (by its new path); the others are listed without hunks.
    pub only: Option<String>,
}

impl DiffScope {
    pub fn new(limit: usize) -> Self {
        Self { limit, context: 3, only: None }
    }
}

impl Checkout {
    /// What changed from `base` to the working tree (committed or not, new files too).
    pub fn changes_from(&self, base: Oid, scope: &DiffScope) -> Result<Vec<FileChange>> {
        let base_tree = self.repo.find_commit(base)?.tree()?;
        let mut options = options(scope);
        options.include_untracked(true).recurse_untracked_dirs(true).show_untracked_content(true);
        let mut diff = self.diff_to_workdir(&base_tree, &mut options)?;
        files(&mut diff, scope)
    }

    /// What the commit `sha` changed against its first parent (a turn's own changes).
    pub fn changes_of_commit(&self, sha: &str, scope: &DiffScope) -> Result<Vec<FileChange>> {
        let oid = Oid::from_str(sha).map_err(|_| CheckoutError::NotBehindHead(sha.to_owned()))?;
        let commit = self.repo.find_commit(oid)?;
        let parent = commit.parent(0).ok().map(|p| p.tree()).transpose()?;
        let mut diff =
            self.repo.diff_tree_to_tree(parent.as_ref(), Some(&commit.tree()?), Some(&mut options(scope)))?;
        files(&mut diff, scope)
    }
}

fn options(scope: &DiffScope) -> DiffOptions {
    let mut options = DiffOptions::new();
    options.context_lines(scope.context);
    options
}

fn files(diff: &mut Diff<'_>, scope: &DiffScope) -> Result<Vec<FileChange>> {
    let limit = scope.limit;
    let mut find = DiffFindOptions::new();
    find.renames(true).for_untracked(true);
    diff.find_similar(Some(&mut find))?;
    let mut budget = limit;
    let mut changes = Vec::new();
    for index in 0..diff.deltas().len() {
        let Some(delta) = diff.get_delta(index) else { continue };
        let status = match delta.status() {
            Delta::Added | Delta::Untracked => ChangeStatus::Added,
            Delta::Deleted => ChangeStatus::Deleted,
            Delta::Renamed => ChangeStatus::Renamed,
            _ => ChangeStatus::Modified,
        };
        let shown = |file: git2::DiffFile<'_>| file.path().map(|p| p.display().to_string());
        let path = shown(delta.new_file()).or_else(|| shown(delta.old_file())).unwrap_or_default();
        let old_path = (status == ChangeStatus::Renamed).then(|| shown(delta.old_file())).flatten();
        let mut change = FileChange {
            path,
            old_path,
            status,
            additions: 0,
            deletions: 0,
            binary: delta.flags().is_binary(),
            truncated: false,
            hunks: Vec::new(),
        };
        let skipped = scope.only.as_ref().is_some_and(|only| *only != change.path);
        let patch = if change.binary || skipped { None } else { Patch::from_diff(diff, index)? };
        if skipped {
            // Listed with its counts, without its lines.
            if let Some(patch) = Patch::from_diff(diff, index)? {
                let (_, additions, deletions) = patch.line_stats()?;
                (change.additions, change.deletions) = (additions, deletions);
            }
        } else if let Some(patch) = patch {
            change.binary = patch.delta().flags().is_binary();
            let (_, additions, deletions) = patch.line_stats()?;
            (change.additions, change.deletions) = (additions, deletions);
            'hunks: for h in 0..patch.num_hunks() {
                let (hunk, count) = patch.hunk(h)?;
                let mut shown = Hunk {
                    header: String::from_utf8_lossy(hunk.header()).trim_end().to_owned(),
                    old_start: hunk.old_start(),
                    old_lines: hunk.old_lines(),
                    new_start: hunk.new_start(),
                    new_lines: hunk.new_lines(),
                    lines: Vec::new(),
                };
                for l in 0..count {
                    let line = patch.line_in_hunk(h, l)?;
                    let kind = match line.origin() {
                        '+' => LineKind::Added,
                        '-' => LineKind::Removed,
                        ' ' => LineKind::Context,
                        _ => continue,
                    };
                    let text = String::from_utf8_lossy(line.content()).trim_end_matches(['\n', '\r']).to_owned();
                    if text.len() > budget {
                        change.truncated = true;
                        change.hunks.push(shown);
                        break 'hunks;
                    }
                    budget -= text.len();
                    shown.lines.push(ChangedLine { kind, old: line.old_lineno(), new: line.new_lineno(), text });
                }
                change.hunks.push(shown);
            }
        }
        changes.push(change);
    }
    Ok(changes)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::{Author, Mirror, StartPoint};

    #[test]
    fn files_hunks_and_line_numbers_against_the_base_and_of_one_commit() {
        let author = Author { name: "Test".into(), email: "test@example.test".into() };
        let dir = tempfile::tempdir().unwrap();
        let mirror = Mirror::init_empty(&dir.path().join("mirror.git"), "main", &author).unwrap();
        let checkout =
            mirror.create_checkout("s1", "kosuke-chat-s1", StartPoint::Branch("main"), &dir.path().join("s1")).unwrap();
        let root = checkout.root().to_owned();
        let lines: String = (1..=20).map(|n| format!("line {n}\n")).collect();
        std::fs::write(root.join("kept.txt"), &lines).unwrap();
        std::fs::write(root.join("gone.txt"), "bye\n").unwrap();
        std::fs::write(root.join("old-name.txt"), "same content across a rename\n".repeat(5)).unwrap();
        let base = checkout.commit_all("base", &author).unwrap().unwrap();
        std::fs::write(root.join("kept.txt"), lines.replace("line 10\n", "line ten\n")).unwrap();
        std::fs::remove_file(root.join("gone.txt")).unwrap();
        std::fs::rename(root.join("old-name.txt"), root.join("new-name.txt")).unwrap();
        std::fs::write(root.join("added.txt"), "new\n").unwrap();
        let turn = checkout.commit_all("turn", &author).unwrap().unwrap();
        std::fs::write(root.join("uncommitted.txt"), "later\n").unwrap();

        let changes = checkout.changes_from(base, &DiffScope::new(1 << 20)).unwrap();
        let summary: Vec<(&str, ChangeStatus, usize, usize)> =
            changes.iter().map(|c| (c.path.as_str(), c.status, c.additions, c.deletions)).collect();
        assert!(summary.contains(&("kept.txt", ChangeStatus::Modified, 1, 1)), "{summary:?}");
        assert!(summary.contains(&("gone.txt", ChangeStatus::Deleted, 0, 1)), "{summary:?}");
        assert!(summary.contains(&("added.txt", ChangeStatus::Added, 1, 0)), "{summary:?}");
        assert!(summary.contains(&("uncommitted.txt", ChangeStatus::Added, 1, 0)), "uncommitted: {summary:?}");
        let renamed = changes.iter().find(|c| c.status == ChangeStatus::Renamed).unwrap();
        assert_eq!((renamed.path.as_str(), renamed.old_path.as_deref()), ("new-name.txt", Some("old-name.txt")));
        let kept = changes.iter().find(|c| c.path == "kept.txt").unwrap();
        let hunk = &kept.hunks[0];
        assert_eq!((hunk.old_start, hunk.new_start), (7, 7), "three lines of context");
        let removed = hunk.lines.iter().find(|l| l.kind == LineKind::Removed).unwrap();
        let added = hunk.lines.iter().find(|l| l.kind == LineKind::Added).unwrap();
        assert_eq!((removed.old, removed.new, removed.text.as_str()), (Some(10), None, "line 10"));
        assert_eq!((added.old, added.new, added.text.as_str()), (None, Some(10), "line ten"));
        let context = hunk.lines.first().unwrap();
        assert_eq!((context.kind, context.old, context.new), (LineKind::Context, Some(7), Some(7)));

        // One turn: its commit only (not what is uncommitted).
        let of_turn = checkout.changes_of_commit(&turn.to_string(), &DiffScope::new(1 << 20)).unwrap();
        assert!(of_turn.iter().all(|c| c.path != "uncommitted.txt"));
        assert_eq!(of_turn.len(), 4);

        // A small limit keeps every file listed, its lines cut.
        let cut = checkout.changes_from(base, &DiffScope::new(10)).unwrap();
        assert_eq!(cut.len(), changes.len());
        assert!(cut.iter().any(|c| c.truncated));

        // One file whole (its collapsed context expanded): every line of kept.txt in one hunk,
        // the other files listed with their counts and no lines.
        let whole = DiffScope { context: u32::MAX, only: Some("kept.txt".into()), ..DiffScope::new(1 << 20) };
        let expanded = checkout.changes_from(base, &whole).unwrap();
        assert_eq!(expanded.len(), changes.len());
        let kept = expanded.iter().find(|c| c.path == "kept.txt").unwrap();
        assert_eq!(kept.hunks.len(), 1);
        assert_eq!(kept.hunks[0].lines.len(), 21, "20 lines, one of them changed: {:?}", kept.hunks[0]);
        assert_eq!(kept.hunks[0].new_start, 1);
        let others = expanded.iter().filter(|c| c.path != "kept.txt");
        assert!(others.clone().all(|c| c.hunks.is_empty()));
        assert!(others.clone().any(|c| c.additions > 0), "counts kept: {expanded:?}");
    }
}
