//! Whether commits merge cleanly, computed in the mirror without touching any checkout: git's
//! own `merge-tree --write-tree --stdin` (the ort merge, which skips identical subtrees; one
//! process for many merges; it writes the merged trees' objects into the mirror, unreferenced,
//! for git's gc) where the git command exists, libgit2's in-memory merge otherwise.

use crate::Result;
use crate::mirror::Mirror;
use git2::Oid;

impl Mirror {
    /// The files on which merging `a` and `b` conflicts, sorted; empty when they merge cleanly.
    pub fn merge_conflicts(&self, a: Oid, b: Oid) -> Result<Vec<String>> {
        Ok(self.merge_conflicts_of(&[(a, b)])?.pop().unwrap_or_default())
    }

    /// [`Mirror::merge_conflicts`] of each pair, in order: with git, one `merge-tree --stdin`
    /// process for all of them (a process per merge costs more than most merges).
    pub fn merge_conflicts_of(&self, pairs: &[(Oid, Oid)]) -> Result<Vec<Vec<String>>> {
        if pairs.is_empty() {
            return Ok(Vec::new());
        }
        if self.use_git_command
            && let Some(all) = self.merge_trees_with_git(pairs)?
        {
            return Ok(all);
        }
        pairs.iter().map(|(a, b)| self.merge_with_libgit2(*a, *b)).collect()
    }

    fn merge_with_libgit2(&self, a: Oid, b: Oid) -> Result<Vec<String>> {
        let (ours, theirs) = (self.repo.find_commit(a)?, self.repo.find_commit(b)?);
        crate::update::conflict_paths(&self.repo.merge_commits(&ours, &theirs, None)?)
    }

    /// `None` when git could not say (then libgit2 does). With `-z --stdin`, each merge answers
    /// its status (`1` clean, `0` conflicts), the merged tree, the conflicted paths, then an
    /// empty field.
    fn merge_trees_with_git(&self, pairs: &[(Oid, Oid)]) -> Result<Option<Vec<Vec<String>>>> {
        use std::io::Write;
        let mut child = crate::git_command()
            .arg("--git-dir")
            .arg(self.repo.path())
            .args(["merge-tree", "--write-tree", "--name-only", "--no-messages", "-z", "--stdin"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()?;
        let input: String = pairs.iter().map(|(a, b)| format!("{a} {b}\n")).collect();
        let mut stdin = child.stdin.take().ok_or_else(|| std::io::Error::other("no stdin"))?;
        // Written from a thread of its own: git answers as it reads, and a full pipe each way
        // would otherwise wait forever.
        let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
        let output = child.wait_with_output()?;
        let _ = writer.join();
        if !output.status.success() {
            tracing::warn!(stderr = %String::from_utf8_lossy(&output.stderr).trim(), "git merge-tree failed; using libgit2");
            return Ok(None);
        }
        let mut fields = output.stdout.split(|b| *b == 0);
        let mut all = Vec::with_capacity(pairs.len());
        while all.len() < pairs.len() {
            let (Some(status), Some(_tree)) = (fields.next(), fields.next()) else { return Ok(None) };
            let mut paths: Vec<String> = Vec::new();
            for field in fields.by_ref() {
                if field.is_empty() {
                    break;
                }
                paths.push(String::from_utf8_lossy(field).into_owned());
            }
            if status == b"1" {
                paths.clear();
            }
            paths.sort();
            paths.dedup();
            all.push(paths);
        }
        Ok(Some(all))
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
            let many = mirror.merge_conflicts_of(&[(a, c), (a, b), (c, base), (b, a)]).unwrap();
            assert_eq!(
                many,
                [vec![], vec!["shared.txt".to_owned()], vec![], vec!["shared.txt".to_owned()]],
                "{mirror:?}"
            );
        }
    }
}
