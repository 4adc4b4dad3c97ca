//! The Changes view's data: the chat's changed files with status and +/− counts, each file's
//! hunks with old and new line numbers, against the base and for one turn.

use crate::chat::setup;
use crate::checkpoints::turn;
use crate::db_test;
use crate::harness::spawn_app;
use api_types::*;

db_test!(
    async fn changes_list_files_hunks_and_line_numbers_for_the_chat_and_for_one_turn(backend) {
        let app = spawn_app(backend).await;
        let (owner, project, session) = setup(&app).await;
        let first = turn(&app, &owner, &project, &session, "a.txt").await;
        let second = turn(&app, &owner, &project, &session, "README.md").await;

        let all = owner.get_diff_of(project.id, session.id, &DiffQuery::default()).await.unwrap();
        assert_eq!(all.message_id, None);
        let summary: Vec<(&str, FileChangeStatus, u64, u64)> =
            all.files.iter().map(|f| (f.path.as_str(), f.status, f.additions, f.deletions)).collect();
        assert_eq!(
            summary,
            [("README.md", FileChangeStatus::Modified, 1, 2), ("a.txt", FileChangeStatus::Added, 1, 0)],
            "against the base, in file order"
        );
        let readme = &all.files[0].hunks[0];
        assert_eq!((readme.old_start, readme.new_start), (1, 1));
        let numbered: Vec<(DiffLineKind, Option<u32>, Option<u32>, &str)> =
            readme.lines.iter().map(|l| (l.kind, l.old, l.new, l.text.as_str())).collect();
        assert_eq!(
            numbered,
            [
                (DiffLineKind::Removed, Some(1), None, "# Shop"),
                (DiffLineKind::Removed, Some(2), None, "Hello"),
                (DiffLineKind::Added, None, Some(1), "README.md"),
            ]
        );
        assert!(all.patch.contains("+README.md"), "the unified text stays: {}", all.patch);

        // One turn alone: the first wrote a.txt and nothing else.
        let of_first = owner.get_diff_of(project.id, session.id, &of_turn(first.id)).await.unwrap();
        assert_eq!(of_first.message_id, Some(first.id));
        let paths: Vec<&str> = of_first.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["a.txt"]);
        assert_eq!((of_first.insertions, of_first.deletions), (1, 0));
        let of_second = owner.get_diff_of(project.id, session.id, &of_turn(second.id)).await.unwrap();
        assert_eq!(of_second.files.iter().map(|f| f.path.as_str()).collect::<Vec<_>>(), ["README.md"]);

        // Not a turn of this chat with a commit.
        let prompt = owner.list_messages(project.id, session.id, &MessageQuery::default()).await.unwrap().messages[0].id;
        assert_eq!(owner.get_diff_of(project.id, session.id, &of_turn(prompt)).await.unwrap_err().status(), Some(409));
        let other = crate::chat::ready_session(&app, &owner, project.id, "other").await;
        assert_eq!(owner.get_diff_of(project.id, other.id, &of_turn(first.id)).await.unwrap_err().status(), Some(404));
        let url = app.url(&format!("/api/projects/{}/chat-sessions/{}/diff?message_id=first", project.id, session.id));
        let token = owner.create_api_token(&CreateApiTokenRequest { name: "raw".into() }).await.unwrap().token;
        let bad = app.http().get(url).bearer_auth(token).send().await.unwrap();
        assert_eq!(bad.status().as_u16(), 400);
    }
);

fn of_turn(id: MessageId) -> DiffQuery {
    DiffQuery { message_id: Some(id.0), ..DiffQuery::default() }
}

db_test!(
    async fn a_files_collapsed_context_is_expanded_by_asking_for_that_file_whole(backend) {
        let app = spawn_app(backend).await;
        let (owner, project, session) = setup(&app).await;
        // Forty lines committed by one turn, then two changes far apart by the next: two hunks
        // with the lines between them collapsed.
        let root = app.checkout_dir(&session);
        let lines: String = (1..=40).map(|n| format!("line {n}\n")).collect();
        std::fs::write(root.join("long.txt"), &lines).unwrap();
        turn(&app, &owner, &project, &session, "a.txt").await;
        let changed = lines.replace("line 2\n", "line two\n").replace("line 39\n", "line thirty-nine\n");
        std::fs::write(root.join("long.txt"), changed).unwrap();
        let message = turn(&app, &owner, &project, &session, "b.txt").await;

        let collapsed = owner.get_diff_of(project.id, session.id, &of_turn(message.id)).await.unwrap();
        let long = collapsed.files.iter().find(|f| f.path == "long.txt").unwrap();
        assert_eq!(long.hunks.len(), 2, "{long:?}");

        let whole = DiffQuery { path: Some("long.txt".into()), context: Some(MAX_DIFF_CONTEXT), ..of_turn(message.id) };
        let expanded = owner.get_diff_of(project.id, session.id, &whole).await.unwrap();
        assert_eq!(expanded.files.len(), collapsed.files.len(), "every file still listed");
        let long = expanded.files.iter().find(|f| f.path == "long.txt").unwrap();
        assert_eq!(long.hunks.len(), 1);
        let news: Vec<u32> = long.hunks[0].lines.iter().filter_map(|l| l.new).collect();
        assert_eq!(news, (1..=40).collect::<Vec<_>>(), "every line of the file, numbered");
        let others: Vec<&DiffFile> = expanded.files.iter().filter(|f| f.path != "long.txt").collect();
        assert!(!others.is_empty() && others.iter().all(|f| f.hunks.is_empty() && f.additions > 0), "{others:?}");

        // Against the base too (the file is new there: one hunk either way); no context at
        // all; and out of bounds.
        let all_whole = DiffQuery { message_id: None, ..whole.clone() };
        let all = owner.get_diff_of(project.id, session.id, &all_whole).await.unwrap();
        assert_eq!(all.files.iter().find(|f| f.path == "long.txt").unwrap().hunks[0].lines.len(), 40);
        let bare = DiffQuery { context: Some(0), ..of_turn(message.id) };
        let bare = owner.get_diff_of(project.id, session.id, &bare).await.unwrap();
        let long = bare.files.iter().find(|f| f.path == "long.txt").unwrap();
        assert!(long.hunks.iter().flat_map(|h| &h.lines).all(|l| l.kind != DiffLineKind::Context), "{long:?}");
        let too_many = DiffQuery { context: Some(MAX_DIFF_CONTEXT + 1), ..DiffQuery::default() };
        let refused = owner.get_diff_of(project.id, session.id, &too_many).await.unwrap_err();
        assert_eq!(refused.status(), Some(400));
    }
);

db_test!(
    async fn a_ten_thousand_file_tree_is_listed_one_directory_at_a_time(backend) {
        let app = spawn_app(backend).await;
        let (owner, project, session) = setup(&app).await;
        let root = app.checkout_dir(&session);
        for dir in 0..100 {
            let dir_path = root.join(format!("dir{dir:02}"));
            std::fs::create_dir_all(&dir_path).unwrap();
            for n in 0..100 {
                std::fs::write(dir_path.join(format!("file{n:02}.rs")), "// x\n").unwrap();
            }
        }
        let top = owner.list_dir(project.id, session.id, "").await.unwrap();
        assert!(!top.truncated);
        assert_eq!(top.files.len(), 101, "the hundred directories and README.md, not their files");
        assert!(top.files.iter().filter(|e| e.is_dir).count() == 100 && top.files.iter().all(|e| !e.path.contains('/')));
        let one = owner.list_dir(project.id, session.id, "dir07").await.unwrap();
        assert_eq!(one.files.len(), 100);
        assert!(one.files.iter().all(|e| e.path.starts_with("dir07/file") && !e.is_dir), "{:?}", &one.files[..2]);
        // Against the whole tree in one answer (what the tree no longer asks for).
        let whole = owner.list_files(project.id, session.id).await.unwrap();
        assert_eq!(whole.files.len(), 10_101);
        // Outside the checkout, or not a directory: refused.
        for bad in ["..", "../..", "/etc", "README.md", ".git"] {
            let refused = owner.list_dir(project.id, session.id, bad).await.unwrap_err();
            assert!(matches!(refused.status(), Some(400 | 404)), "{bad}: {refused}");
        }
    }
);
