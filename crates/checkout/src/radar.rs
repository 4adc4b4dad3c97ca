//! Whether two commits merge cleanly, computed in the mirror without touching any checkout:
//! git's own `merge-tree --write-tree` (the ort merge, which skips identical subtrees; it
//! writes the merged tree's objects into the mirror, unreferenced, for git's gc) where the git
//! command exists, libgit2's in-memory merge of the commits otherwise.

use crate::Result;
use crate::mirror::Mirror;
use git2::Oid;

impl Mirror {
    /// The files on which merging `a` and `b` conflicts, sorted; empty when they merge cleanly.
    pub fn merge_conflicts(&self, a: Oid, b: Oid) -> Result<Vec<String>> {
        if self.use_git_command
            && let Some(paths) = self.merge_tree_with_git(a, b)?
        {
            return Ok(paths);
        }
        let (ours, theirs) = (self.repo.find_commit(a)?, self.repo.find_commit(b)?);
        let index = self.repo.merge_commits(&ours, &theirs, None)?;
        let mut paths = Vec::new();
        if index.has_conflicts() {
            for conflict in index.conflicts()? {
                let conflict = conflict?;
                if let Some(entry) = conflict.our.or(conflict.their).or(conflict.ancestor) {
                    paths.push(String::from_utf8_lossy(&entry.path).into_owned());
                }
            }
        }
        paths.sort();
        paths.dedup();
        Ok(paths)
    }

    /// `None` when git could not say (then libgit2 does).
    fn merge_tree_with_git(&self, a: Oid, b: Oid) -> Result<Option<Vec<String>>> {
        let output = std::process::Command::new("git")
            .arg("--git-dir")
            .arg(self.repo.path())
            .args(["merge-tree", "--write-tree", "--name-only", "--no-messages", "-z"])
            .arg(a.to_string())
            .arg(b.to_string())
            .env_remove("GIT_DIR")
            .env_remove("GIT_INDEX_FILE")
            .stdin(std::process::Stdio::null())
            .output()?;
        // 0: clean, 1: conflicts; anything else is an error of git's.
        match output.status.code() {
            Some(0) => Ok(Some(Vec::new())),
            Some(1) => {
                let mut fields = output.stdout.split(|b| *b == 0).filter(|f| !f.is_empty());
                fields.next(); // the merged tree
                let mut paths: Vec<String> = fields.map(|f| String::from_utf8_lossy(f).into_owned()).collect();
                paths.sort();
                paths.dedup();
                Ok(Some(paths))
            }
            _ => {
                tracing::warn!(stderr = %String::from_utf8_lossy(&output.stderr).trim(), "git merge-tree failed; using libgit2");
                Ok(None)
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crate::{Author, Checkout, Mirror, StartPoint};

    fn author() -> Author {
        Author { name: "Test".into(), email: "test@example.test".into() }
    }

    fn commit(checkout: &Checkout, path: &str, text: &str) -> git2::Oid {
        std::fs::write(checkout.root().join(path), text).unwrap();
        checkout.commit_all("edit", &author()).unwrap().unwrap()
    }

    #[test]
    fn two_branches_editing_the_same_lines_conflict_on_that_file_with_git_and_with_libgit2() {
        let dir = tempfile::tempdir().unwrap();
        let mirror = Mirror::init_empty(&dir.path().join("mirror.git"), "main", &author()).unwrap();
        let main = mirror.materialize("base", "main", &dir.path().join("base")).unwrap();
        let base = commit(&main, "shared.txt", "one\ntwo\nthree\n");
        let session = |name: &str| {
            mirror
                .create_checkout(
                    name,
                    &format!("kosuke-chat-{name}"),
                    StartPoint::Branch("main"),
                    &dir.path().join(name),
                )
                .unwrap()
        };
        let (a, b, c) = (session("a"), session("b"), session("c"));
        let a = commit(&a, "shared.txt", "one\ntwo, as A says\nthree\n");
        let b = commit(&b, "shared.txt", "one\ntwo, as B says\nthree\n");
        let c = commit(&c, "other.txt", "C's own\n");
        for mirror in [Mirror::open(mirror.path()).unwrap(), Mirror::open(mirror.path()).unwrap().without_git_command()]
        {
            assert_eq!(mirror.merge_conflicts(a, b).unwrap(), ["shared.txt"], "{mirror:?}");
            assert_eq!(mirror.merge_conflicts(b, a).unwrap(), ["shared.txt"]);
            assert!(mirror.merge_conflicts(a, c).unwrap().is_empty());
            assert!(mirror.merge_conflicts(a, base).unwrap().is_empty());
        }
    }
}
