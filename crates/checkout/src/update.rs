//! Bringing the base branch's new commits into a session branch, in its checkout: a merge (one
//! merge commit, or a fast-forward when the session has no commit of its own) or a rebase (the
//! session's own commits replayed on the base's tip). The head before the update is kept on a
//! backup ref first, so nothing is lost: a conflicted update leaves git's own state (a merge
//! or a rebase in progress, the conflict markers in the files) until it is concluded (the
//! conflicted files edited and the update finished, as the agent's turn does) or aborted (the
//! branch back at the backup, the checkout clean).

use crate::checkout::Checkout;
use crate::error::CheckoutError;
use crate::{Author, lock};
use git2::{Oid, RebaseOptions, RepositoryState, ResetType, Signature};

type Result<T> = std::result::Result<T, CheckoutError>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateStrategy {
    Merge,
    Rebase,
}

/// How an update (or its conclusion) ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpdateOutcome {
    /// The branch already had every commit of the base.
    UpToDate,
    /// The branch is at `head` with the base's commits; a rebase says which commit became
    /// which (old, new), so what pointed at the old ones can follow.
    Updated { head: Oid, rewritten: Vec<(Oid, Oid)> },
    /// Stopped on conflicts in these files (markers in the checkout); the rewritten commits so
    /// far, for a rebase.
    Conflicted { paths: Vec<String>, rewritten: Vec<(Oid, Oid)> },
}

impl Checkout {
    /// Brings `base` (a commit, the base branch's fetched tip) into the checkout's branch. What
    /// the checkout held uncommitted must be committed first (the caller does, as archive
    /// does). The head before is kept at `backup`.
    pub fn update_from(
        &self,
        base: Oid,
        strategy: UpdateStrategy,
        backup: &str,
        author: &Author,
        message: &str,
    ) -> Result<UpdateOutcome> {
        if self.update_in_progress() {
            return Err(CheckoutError::UpdateInProgress);
        }
        let head = self.head()?;
        if head == base || self.repo.graph_descendant_of(head, base)? {
            return Ok(UpdateOutcome::UpToDate);
        }
        {
            let _guard = lock::hold(&self.lock);
            self.repo.reference(backup, head, true, "kosuke: the head before an update from the base")?;
        }
        // The session made nothing of its own since it left the base: both strategies move it.
        if self.repo.graph_descendant_of(base, head)? {
            self.move_to(base)?;
            return Ok(UpdateOutcome::Updated { head: base, rewritten: Vec::new() });
        }
        match strategy {
            UpdateStrategy::Merge => self.merge(base, author, message),
            UpdateStrategy::Rebase => self.rebase(base, author),
        }
    }

    /// Whether a merge or a rebase is under way (stopped on conflicts).
    pub fn update_in_progress(&self) -> bool {
        !matches!(self.repo.state(), RepositoryState::Clean)
    }

    /// The files with conflicts in the index (after an update stopped).
    pub fn conflicted_paths(&self) -> Result<Vec<String>> {
        conflict_paths(&self.repo.index()?)
    }

    /// Finishes an update that stopped on conflicts, with the files as they are now: the merge
    /// commit (`message`), or the stopped rebase continued. Files that still hold conflict
    /// markers keep it stopped (`Conflicted`, nothing committed). Not under way: `UpToDate`.
    pub fn conclude_update(&self, author: &Author, message: &str) -> Result<UpdateOutcome> {
        let state = self.repo.state();
        if state == RepositoryState::Clean {
            return Ok(UpdateOutcome::UpToDate);
        }
        let conflicted = self.conflicted_paths()?;
        let marked = self.with_markers(&conflicted)?;
        if !marked.is_empty() {
            return Ok(UpdateOutcome::Conflicted { paths: marked, rewritten: Vec::new() });
        }
        self.stage_everything()?;
        match state {
            RepositoryState::Merge => {
                let merging = self.repo.find_reference("MERGE_HEAD")?.peel_to_commit()?;
                let head = self.commit_merge(merging.id(), author, message)?;
                Ok(UpdateOutcome::Updated { head, rewritten: Vec::new() })
            }
            RepositoryState::Rebase | RepositoryState::RebaseMerge | RepositoryState::RebaseInteractive => {
                let mut rebase = self.repo.open_rebase(None)?;
                let mut rewritten = Vec::new();
                if let Some(index) = rebase.operation_current() {
                    let old = rebase.nth(index).map(|op| op.id());
                    if let (Some(old), Some(new)) = (old, self.commit_rebased(&mut rebase, author)?) {
                        rewritten.push((old, new));
                    }
                }
                self.replay(rebase, author, rewritten)
            }
            _ => Err(CheckoutError::UpdateInProgress),
        }
    }

    /// Abandons an update stopped on conflicts: the branch, index and files back at `backup`.
    pub fn abort_update(&self, backup: &str) -> Result<Oid> {
        let kept = self.repo.find_reference(backup).map_err(|_| CheckoutError::NothingToUndo)?.peel_to_commit()?;
        if let Ok(mut rebase) = self.repo.open_rebase(None) {
            // Puts HEAD back on the branch; the reset below puts the branch back at the backup.
            rebase.abort()?;
        }
        let _guard = lock::hold(&self.lock);
        self.repo.reset(kept.as_object(), ResetType::Hard, None)?;
        self.repo.cleanup_state()?;
        Ok(kept.id())
    }

    /// Fast-forward: the branch, index and files at `target`.
    fn move_to(&self, target: Oid) -> Result<()> {
        let commit = self.repo.find_commit(target)?;
        let _guard = lock::hold(&self.lock);
        self.repo.reset(commit.as_object(), ResetType::Hard, None)?;
        Ok(())
    }

    fn merge(&self, base: Oid, author: &Author, message: &str) -> Result<UpdateOutcome> {
        let theirs = self.repo.find_annotated_commit(base)?;
        {
            let _guard = lock::hold(&self.lock);
            self.repo.merge(&[&theirs], None, None)?;
        }
        let paths = self.conflicted_paths()?;
        if !paths.is_empty() {
            return Ok(UpdateOutcome::Conflicted { paths, rewritten: Vec::new() });
        }
        let head = self.commit_merge(base, author, message)?;
        Ok(UpdateOutcome::Updated { head, rewritten: Vec::new() })
    }

    /// The merge commit of the index as it is: parents the head and `merging`.
    fn commit_merge(&self, merging: Oid, author: &Author, message: &str) -> Result<Oid> {
        let mut index = self.repo.index()?;
        let tree = self.repo.find_tree(index.write_tree()?)?;
        let signature = Signature::now(&author.name, &author.email)?;
        let (ours, theirs) = (self.repo.head()?.peel_to_commit()?, self.repo.find_commit(merging)?);
        let _guard = lock::hold(&self.lock);
        let oid = self.repo.commit(Some("HEAD"), &signature, &signature, message, &tree, &[&ours, &theirs])?;
        self.repo.cleanup_state()?;
        Ok(oid)
    }

    fn rebase(&self, base: Oid, author: &Author) -> Result<UpdateOutcome> {
        let branch = self.repo.head()?;
        let branch = self.repo.reference_to_annotated_commit(&branch)?;
        let upstream = self.repo.find_annotated_commit(base)?;
        let rebase = {
            let _guard = lock::hold(&self.lock);
            self.repo.rebase(Some(&branch), Some(&upstream), None, Some(&mut RebaseOptions::new()))?
        };
        self.replay(rebase, author, Vec::new())
    }

    /// Applies the rebase's remaining commits, stopping at the first with conflicts.
    fn replay(
        &self,
        mut rebase: git2::Rebase<'_>,
        author: &Author,
        mut rewritten: Vec<(Oid, Oid)>,
    ) -> Result<UpdateOutcome> {
        loop {
            let next = {
                let _guard = lock::hold(&self.lock);
                rebase.next()
            };
            let Some(operation) = next else { break };
            let old = operation?.id();
            let paths = self.conflicted_paths()?;
            if !paths.is_empty() {
                return Ok(UpdateOutcome::Conflicted { paths, rewritten });
            }
            if let Some(new) = self.commit_rebased(&mut rebase, author)? {
                rewritten.push((old, new));
            }
        }
        let signature = Signature::now(&author.name, &author.email)?;
        {
            let _guard = lock::hold(&self.lock);
            rebase.finish(Some(&signature))?;
        }
        Ok(UpdateOutcome::Updated { head: self.head()?, rewritten })
    }

    /// Commits the rebase's current operation (its author and message kept); `None` when the
    /// base already had its changes (nothing left to commit).
    fn commit_rebased(&self, rebase: &mut git2::Rebase<'_>, author: &Author) -> Result<Option<Oid>> {
        let committer = Signature::now(&author.name, &author.email)?;
        let _guard = lock::hold(&self.lock);
        match rebase.commit(None, &committer, None) {
            Ok(oid) => Ok(Some(oid)),
            Err(err) if err.code() == git2::ErrorCode::Applied => Ok(None),
            Err(err) => Err(err.into()),
        }
    }

    /// The conflicted regions of `paths` as the files hold them now (from each `<<<<<<< ` line
    /// to its `>>>>>>> ` line), at most `per_file` bytes of each and `total` in all.
    pub fn conflict_regions(&self, paths: &[String], per_file: usize, total: usize) -> Result<Vec<(String, String)>> {
        let mut regions = Vec::new();
        let mut budget = total;
        for path in paths {
            let Some(bytes) = self.read_all(path)? else { continue };
            let text = String::from_utf8_lossy(&bytes);
            let mut shown = String::new();
            let mut inside = false;
            for line in text.lines() {
                inside |= line.starts_with("<<<<<<< ");
                if inside {
                    shown.push_str(line);
                    shown.push('\n');
                }
                inside &= !line.starts_with(">>>>>>> ");
            }
            let limit = per_file.min(budget);
            if shown.len() > limit {
                let mut cut = limit;
                while !shown.is_char_boundary(cut) {
                    cut -= 1;
                }
                shown.truncate(cut);
                shown.push_str("\n[… cut]");
            }
            budget = budget.saturating_sub(shown.len());
            regions.push((path.clone(), shown.trim_end().to_owned()));
        }
        Ok(regions)
    }

    /// Of `paths`, the files that still hold a conflict marker line.
    fn with_markers(&self, paths: &[String]) -> Result<Vec<String>> {
        let mut marked = Vec::new();
        for path in paths {
            let Some(text) = self.read_all(path)? else { continue };
            let has =
                text.split(|b| *b == b'\n').any(|line| line.starts_with(b"<<<<<<< ") || line.starts_with(b">>>>>>> "));
            if has {
                marked.push(path.clone());
            }
        }
        Ok(marked)
    }

    /// A file's bytes (through the path jail), `None` when it is not there.
    fn read_all(&self, path: &str) -> Result<Option<Vec<u8>>> {
        let Some(mut file) = self.open_file(path)? else { return Ok(None) };
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut file, &mut bytes)?;
        Ok(Some(bytes))
    }

    /// Every change in the index (conflicts resolved by the files as they are).
    pub(crate) fn stage_everything(&self) -> Result<()> {
        let mut index = self.repo.index()?;
        index.add_all(["*"], git2::IndexAddOption::DEFAULT, None)?;
        index.update_all(["*"], None)?;
        index.write()?;
        Ok(())
    }
}

/// The files an index holds conflicts for, sorted (a checkout's, or a merge made in memory).
pub(crate) fn conflict_paths(index: &git2::Index) -> Result<Vec<String>> {
    let mut paths = Vec::new();
    for conflict in index.conflicts()? {
        let conflict = conflict?;
        if let Some(entry) = conflict.our.or(conflict.their).or(conflict.ancestor) {
            paths.push(String::from_utf8_lossy(&entry.path).into_owned());
        }
    }
    paths.sort();
    paths.dedup();
    Ok(paths)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::{Mirror, StartPoint};
    use std::path::Path;

    fn author() -> Author {
        Author { name: "Test".into(), email: "test@example.test".into() }
    }

    const BACKUP: &str = "refs/kosuke/update/s1";

    /// A mirror whose `main` has `shared.txt` (ten lines), a checkout of `main` to move the
    /// base with, and a session checkout made from it.
    fn fixture(dir: &Path) -> (Checkout, Checkout) {
        let mirror = Mirror::init_empty(&dir.join("mirror.git"), "main", &author()).unwrap();
        let base = mirror.materialize("base", "main", &dir.join("base")).unwrap();
        let lines: String = (1..=10).map(|n| format!("line {n}\n")).collect();
        write_commit(&base, "shared.txt", &lines);
        let session =
            mirror.create_checkout("s1", "kosuke-chat-s1", StartPoint::Branch("main"), &dir.join("s1")).unwrap();
        (base, session)
    }

    fn base_mirror_session(dir: &Path, name: &str) -> Checkout {
        let mirror = Mirror::open(&dir.join("mirror.git")).unwrap();
        mirror
            .create_checkout(name, &format!("kosuke-chat-{name}"), StartPoint::Branch("main"), &dir.join(name))
            .unwrap()
    }

    fn write_commit(checkout: &Checkout, path: &str, text: &str) -> Oid {
        std::fs::write(checkout.root().join(path), text).unwrap();
        checkout.commit_all(&format!("edit {path}"), &author()).unwrap().unwrap()
    }

    fn edit_line(checkout: &Checkout, n: usize, to: &str) -> Oid {
        let text = std::fs::read_to_string(checkout.root().join("shared.txt")).unwrap();
        let edited: String = text
            .lines()
            .enumerate()
            .map(|(i, l)| if i + 1 == n { format!("{to}\n") } else { format!("{l}\n") })
            .collect();
        write_commit(checkout, "shared.txt", &edited)
    }

    fn parents(checkout: &Checkout) -> usize {
        checkout.repo.find_commit(checkout.head().unwrap()).unwrap().parent_count()
    }

    #[test]
    fn a_clean_merge_is_one_commit_and_a_clean_rebase_replays_the_sessions_commits() {
        let dir = tempfile::tempdir().unwrap();
        let (base, session) = fixture(dir.path());
        assert_eq!(
            session.update_from(base.head().unwrap(), UpdateStrategy::Merge, BACKUP, &author(), "m").unwrap(),
            UpdateOutcome::UpToDate
        );
        let own = write_commit(&session, "mine.txt", "mine\n");
        let tip = write_commit(&base, "theirs.txt", "theirs\n");

        let merged = session.update_from(tip, UpdateStrategy::Merge, BACKUP, &author(), "Merge main").unwrap();
        let UpdateOutcome::Updated { head, rewritten } = merged else { panic!("{merged:?}") };
        assert!(rewritten.is_empty());
        assert_eq!((parents(&session), head), (2, session.head().unwrap()));
        assert!(session.root().join("theirs.txt").exists() && session.root().join("mine.txt").exists());
        assert_eq!(session.backup(BACKUP), Some(own), "the head before is kept");

        // Rebase, on another session: its own commits on the new tip, the old mapped to the new.
        let session = base_mirror_session(dir.path(), "s2");
        let own = write_commit(&session, "mine.txt", "mine\n");
        let next = write_commit(&base, "later.txt", "later\n");
        let rebased = session.update_from(next, UpdateStrategy::Rebase, BACKUP, &author(), "unused").unwrap();
        let UpdateOutcome::Updated { head, rewritten } = rebased else { panic!("{rebased:?}") };
        assert_eq!(rewritten.len(), 1, "one commit of its own: {rewritten:?}");
        assert_eq!(rewritten[0].0, own);
        assert_eq!(parents(&session), 1);
        assert!(session.repo.graph_descendant_of(head, next).unwrap());
        assert!(session.root().join("later.txt").exists() && session.root().join("mine.txt").exists());
        assert!(!session.update_in_progress());
    }

    #[test]
    fn a_conflicted_merge_waits_for_the_markers_to_go_then_concludes_and_an_abort_restores_the_head() {
        let dir = tempfile::tempdir().unwrap();
        let (base, session) = fixture(dir.path());
        let own = edit_line(&session, 5, "line five, the session's");
        let tip = edit_line(&base, 5, "line five, main's");

        let outcome = session.update_from(tip, UpdateStrategy::Merge, BACKUP, &author(), "Merge main").unwrap();
        assert_eq!(outcome, UpdateOutcome::Conflicted { paths: vec!["shared.txt".into()], rewritten: vec![] });
        let text = std::fs::read_to_string(session.root().join("shared.txt")).unwrap();
        assert!(text.contains("<<<<<<< ") && text.contains("main's") && text.contains("the session's"), "{text}");
        assert!(session.update_in_progress());
        assert!(matches!(session.commit_all("x", &author()), Err(CheckoutError::UpdateInProgress)));
        assert!(
            matches!(session.conclude_update(&author(), "m").unwrap(), UpdateOutcome::Conflicted { .. }),
            "markers left"
        );

        let aborted = session.abort_update(BACKUP).unwrap();
        assert_eq!((aborted, session.head().unwrap()), (own, own));
        assert!(!session.update_in_progress() && !session.is_dirty().unwrap(), "the checkout is clean again");

        // Again, resolved this time.
        session.update_from(tip, UpdateStrategy::Merge, BACKUP, &author(), "Merge main").unwrap();
        let resolved = std::fs::read_to_string(session.root().join("shared.txt")).unwrap();
        let resolved: String = resolved
            .lines()
            .filter(|l| {
                !l.starts_with("<<<<<<<")
                    && !l.starts_with("=======")
                    && !l.starts_with(">>>>>>>")
                    && !l.contains("main's")
            })
            .map(|l| format!("{l}\n"))
            .collect();
        std::fs::write(session.root().join("shared.txt"), resolved).unwrap();
        let concluded = session.conclude_update(&author(), "Merge main").unwrap();
        assert!(matches!(concluded, UpdateOutcome::Updated { .. }), "{concluded:?}");
        assert_eq!(parents(&session), 2);
        assert!(session.repo.graph_descendant_of(session.head().unwrap(), tip).unwrap());
        assert!(!session.update_in_progress());
    }

    #[test]
    fn a_conflicted_rebase_stops_on_the_commit_and_continues_once_resolved() {
        let dir = tempfile::tempdir().unwrap();
        let (base, session) = fixture(dir.path());
        let first = write_commit(&session, "mine.txt", "mine\n");
        edit_line(&session, 2, "line two, the session's");
        let tip = edit_line(&base, 2, "line two, main's");

        let outcome = session.update_from(tip, UpdateStrategy::Rebase, BACKUP, &author(), "unused").unwrap();
        let UpdateOutcome::Conflicted { paths, rewritten } = outcome else { panic!("{outcome:?}") };
        assert_eq!(paths, ["shared.txt"]);
        assert_eq!(rewritten.iter().map(|(old, _)| *old).collect::<Vec<_>>(), [first], "the first replayed cleanly");
        let lines: String =
            (1..=10).map(|n| if n == 2 { "line two, both\n".to_owned() } else { format!("line {n}\n") }).collect();
        std::fs::write(session.root().join("shared.txt"), lines).unwrap();
        let concluded = session.conclude_update(&author(), "unused").unwrap();
        let UpdateOutcome::Updated { head, rewritten } = concluded else { panic!("{concluded:?}") };
        assert_eq!(rewritten.len(), 1, "the stopped commit, committed: {rewritten:?}");
        assert!(session.repo.graph_descendant_of(head, tip).unwrap());
        assert_eq!(parents(&session), 1, "a rebase makes no merge commit");
        assert!(!session.update_in_progress());
        let shown = std::fs::read_to_string(session.root().join("shared.txt")).unwrap();
        assert!(shown.contains("line two, both") && session.root().join("mine.txt").exists());
    }
}
