//! Turns as checkpoints: the checkout's branch moved back to an earlier turn's commit, with
//! the head it had kept on a backup ref (in the mirror, beside the branch) so the move can be
//! undone; and undone.

use crate::checkout::Checkout;
use crate::error::CheckoutError;
use crate::lock;
use git2::{Oid, ResetType};

type Result<T> = std::result::Result<T, CheckoutError>;

impl Checkout {
    /// Moves the branch, its index and files back to `target`, a commit behind the head on the
    /// branch, and keeps the head at `backup` (a ref name such as `refs/kosuke/undo/…`).
    /// Returns the head it had.
    pub fn rewind(&self, target: &str, backup: &str) -> Result<Oid> {
        let target = Oid::from_str(target).map_err(|_| CheckoutError::NotBehindHead(target.to_owned()))?;
        let head = self.head()?;
        if head == target || !self.repo.graph_descendant_of(head, target)? {
            return Err(CheckoutError::NotBehindHead(target.to_string()));
        }
        let commit = self.repo.find_commit(target)?;
        let _guard = lock::hold(&self.lock);
        self.repo.reference(backup, head, true, "kosuke: the head before a revert")?;
        self.repo.reset(commit.as_object(), ResetType::Hard, None)?;
        Ok(head)
    }

    /// Moves the branch back to the commit kept at `backup` and deletes that ref, unless a
    /// commit was made on the branch since (its head is no longer in the kept history).
    /// Returns the commit the branch is at now.
    pub fn undo_rewind(&self, backup: &str) -> Result<Oid> {
        let mut kept = self.repo.find_reference(backup).map_err(|_| CheckoutError::NothingToUndo)?;
        let target = kept.peel_to_commit()?;
        let head = self.head()?;
        if head != target.id() && !self.repo.graph_descendant_of(target.id(), head)? {
            return Err(CheckoutError::MovedSinceRewind);
        }
        let _guard = lock::hold(&self.lock);
        self.repo.reset(target.as_object(), ResetType::Hard, None)?;
        kept.delete()?;
        Ok(target.id())
    }

    /// The commit kept at `backup`, if any.
    pub fn backup(&self, backup: &str) -> Option<Oid> {
        self.repo.find_reference(backup).ok().and_then(|r| r.target())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crate::{Author, Mirror, StartPoint};

    fn author() -> Author {
        Author { name: "Test".into(), email: "test@example.test".into() }
    }

    #[test]
    fn a_rewind_moves_the_branch_back_and_undo_restores_it() {
        let dir = tempfile::tempdir().unwrap();
        let mirror = Mirror::init_empty(&dir.path().join("mirror.git"), "main", &author()).unwrap();
        let checkout =
            mirror.create_checkout("s1", "kosuke-chat-s1", StartPoint::Branch("main"), &dir.path().join("s1")).unwrap();
        let write = |name: &str| std::fs::write(checkout.root().join(name), name).unwrap();
        write("one.txt");
        let first = checkout.commit_all("one", &author()).unwrap().unwrap();
        write("two.txt");
        let second = checkout.commit_all("two", &author()).unwrap().unwrap();
        const BACKUP: &str = "refs/kosuke/undo/s1";

        let (first_sha, second_sha) = (first.to_string(), second.to_string());
        assert!(checkout.rewind(&second_sha, BACKUP).is_err(), "the head itself is not behind it");
        assert_eq!(checkout.rewind(&first_sha, BACKUP).unwrap(), second);
        assert_eq!(checkout.head().unwrap(), first);
        assert_eq!(mirror.branch_head("kosuke-chat-s1").unwrap(), first, "the branch moved, not just the files");
        assert!(!checkout.root().join("two.txt").exists());
        assert_eq!(checkout.backup(BACKUP), Some(second));
        assert!(!checkout.is_dirty().unwrap());

        assert_eq!(checkout.undo_rewind(BACKUP).unwrap(), second);
        assert_eq!(mirror.branch_head("kosuke-chat-s1").unwrap(), second);
        assert!(checkout.root().join("two.txt").exists());
        assert_eq!(checkout.backup(BACKUP), None);
        assert!(checkout.undo_rewind(BACKUP).is_err(), "undone once");

        // A commit after a rewind: undoing it would drop that commit, so it is refused.
        checkout.rewind(&first_sha, BACKUP).unwrap();
        write("three.txt");
        checkout.commit_all("three", &author()).unwrap().unwrap();
        assert!(matches!(checkout.undo_rewind(BACKUP), Err(crate::CheckoutError::MovedSinceRewind)));
    }
}
