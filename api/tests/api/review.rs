//! The Code tab's review: the tree's filter, the file viewer's highlighting (cached per blob),
//! and review comments that go with a prompt to the agent, stay in the transcript and wait with
//! a queued message.

use crate::chat::{chat, finished, setup};
use crate::db_test;
use crate::harness::spawn_app;
use api_types::*;
use fakes::model::{Reply, text};
use std::time::Duration;

fn comment(path: &str, lines: (u32, u32), quote: &str, body: &str) -> ReviewComment {
    ReviewComment {
        path: path.into(),
        start_line: lines.0,
        end_line: lines.1,
        side: CommentSide::New,
        quote: quote.into(),
        body: body.into(),
    }
}

db_test!(
    async fn the_viewer_highlights_on_the_server_and_the_filter_searches_the_whole_tree(backend) {
        let app = spawn_app(backend).await;
        let (owner, project, session) = setup(&app).await;
        let root = app.checkout_dir(&session);
        std::fs::create_dir_all(root.join("src/deep/er")).unwrap();
        std::fs::write(root.join("src/main.rs"), "// entry\nfn main() {\n    println!(\"hi\");\n}\n").unwrap();
        std::fs::write(root.join("src/deep/er/Button.tsx"), "export const Button = () => <b>1</b>;\n").unwrap();
        std::fs::write(root.join("notes.txt"), "plain words\n").unwrap();
        std::fs::write(root.join("blob.bin"), [0u8, 159, 146, 150]).unwrap();

        let file = owner.get_file(project.id, session.id, "src/main.rs").await.unwrap();
        assert_eq!(file.language.as_deref(), Some("Rust"));
        let lines = file.highlighted.clone().expect("highlighted");
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0], vec![Token { kind: TokenKind::Comment, text: "// entry".into() }]);
        assert!(lines[1].iter().any(|t| t.kind == TokenKind::Keyword && t.text == "fn"), "{:?}", lines[1]);
        assert!(lines[2].iter().any(|t| t.kind == TokenKind::String), "{:?}", lines[2]);
        let joined: Vec<String> = lines.iter().map(|l| l.iter().map(|t| t.text.as_str()).collect()).collect();
        assert_eq!(joined, file.content.as_deref().unwrap().lines().collect::<Vec<_>>(), "tokens are the text");
        // The blob id is git's: the same bytes committed have it.
        let blob = git2::Oid::hash_object(git2::ObjectType::Blob, file.content.as_deref().unwrap().as_bytes()).unwrap();
        assert_eq!(file.blob, Some(blob.to_string()));
        let again = owner.get_file(project.id, session.id, "src/main.rs").await.unwrap();
        assert_eq!(again, file);

        let tsx = owner.get_file(project.id, session.id, "src/deep/er/Button.tsx").await.unwrap();
        assert_eq!(tsx.language.as_deref(), Some("TypeScriptReact"));
        assert!(tsx.highlighted.unwrap()[0].iter().any(|t| t.kind == TokenKind::Tag), "JSX tags are told apart");
        let plain = owner.get_file(project.id, session.id, "notes.txt").await.unwrap();
        assert_eq!((plain.language, plain.highlighted, plain.content.as_deref()), (None, None, Some("plain words\n")));
        let binary = owner.get_file(project.id, session.id, "blob.bin").await.unwrap();
        assert!(binary.is_binary && binary.content.is_none() && binary.highlighted.is_none());

        // The filter finds files at any depth, in any case, and never directories.
        let found = owner.find_files(project.id, session.id, "button").await.unwrap();
        assert_eq!(found.files.iter().map(|f| f.path.as_str()).collect::<Vec<_>>(), ["src/deep/er/Button.tsx"]);
        assert!(!found.truncated);
        let deep = owner.find_files(project.id, session.id, "DEEP").await.unwrap();
        assert!(deep.files.iter().all(|f| !f.is_dir) && deep.files.len() == 1, "{:?}", deep.files);
        assert!(owner.find_files(project.id, session.id, "nothing-like-it").await.unwrap().files.is_empty());
        for n in 0..600 {
            std::fs::write(root.join(format!("src/many{n:03}.rs")), "").unwrap();
        }
        let many = owner.find_files(project.id, session.id, "many").await.unwrap();
        assert_eq!((many.files.len(), many.truncated), (500, true), "matches are cut at 500");

        // Bad filters say so.
        let url = |query: &str| app.url(&format!("/api/projects/{}/chat-sessions/{}/files?{query}", project.id, session.id));
        let token = owner.create_api_token(&CreateApiTokenRequest { name: "raw".into() }).await.unwrap().token;
        for (query, status) in [("q=", 400), ("q=%20%20", 400), (&format!("q={}", "x".repeat(201)) as &str, 400)] {
            let answer = app.http().get(url(query)).bearer_auth(&token).send().await.unwrap();
            assert_eq!(answer.status().as_u16(), status, "{query}");
        }
        // With `dir`, the matches under it.
        let under = app.http().get(url("dir=src/deep&q=r")).bearer_auth(&token).send().await.unwrap();
        let under: FileTree = under.json().await.unwrap();
        assert_eq!(under.files.iter().map(|f| f.path.as_str()).collect::<Vec<_>>(), ["src/deep/er/Button.tsx"]);
        let (eve, _) = app.user("eve").await;
        assert_eq!(eve.find_files(project.id, session.id, "main").await.unwrap_err().status(), Some(404));
    }
);

db_test!(
    async fn review_comments_reach_the_agent_stay_in_the_transcript_and_wait_with_a_queued_message(backend) {
        let app = spawn_app(backend).await;
        let (owner, project, session) = setup(&app).await;
        app.model.script([
            Reply::Slow { chunks: 20, every: Duration::from_millis(50) },
            Reply::Parts(vec![text("Renamed it.")]),
        ]);
        let on_readme = comment("README.md", (1, 2), "# Shop\nHello", "Say what the shop sells.");
        let mut request = chat(&project, &session, "Please look at these");
        request.comments = vec![on_readme.clone(), comment("src/a.rs", (4, 3), "let x = 1;\nlet y = 2;", "  Name this better.  ")];
        let accepted = owner.send_chat(&request).await.unwrap();
        // Stored as sent, tidied: the lines first to last, the comment trimmed.
        let stored = accepted.user_message.blocks.clone().expect("blocks");
        assert_eq!(accepted.user_message.content, "Please look at these");
        let ContentBlock::Review { comments } = &stored[1] else { panic!("{stored:?}") };
        assert_eq!(comments[0], on_readme);
        assert_eq!((comments[1].start_line, comments[1].end_line, comments[1].body.as_str()), (3, 4, "Name this better."));

        // While it runs, a message with its own comment waits with it.
        let mut later = chat(&project, &session, "And this");
        later.comments = vec![comment("README.md", (2, 2), "Hello", "Greet in French.")];
        let ChatAnswer::Queued(ChatQueued { queued }) = owner.send_chat_or_queue(&later).await.unwrap() else {
            panic!("not queued")
        };
        assert_eq!(queued.comments, later.comments);
        assert_eq!(owner.list_queue(project.id, session.id).await.unwrap().queued[0].comments, later.comments);

        for _ in 0..400 {
            if app.model.requests().len() >= 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        finished(&owner, project.id, session.id).await;
        let requests = app.model.requests();
        assert_eq!(requests.len(), 2, "the queued message ran after the first turn");
        let first = serde_json::to_string(&requests[0]).unwrap();
        for expected in ["<review_comments>", "1. README.md:1-2", "> # Shop", "> Hello", "Comment: Say what the shop sells.", "2. src/a.rs:3-4", "Comment: Name this better."] {
            assert!(first.contains(expected), "the agent's request has {expected}: {first}");
        }
        let second = serde_json::to_string(&requests[1]).unwrap();
        assert!(second.contains("README.md:2") && second.contains("Greet in French."), "{second}");
        // Its history shows the earlier turn's comments again.
        assert!(second.contains("Say what the shop sells."), "{second}");

        // The transcript keeps each message's comments.
        let messages = owner.list_messages(project.id, session.id, &MessageQuery::default()).await.unwrap().messages;
        let reviewed: Vec<usize> = messages
            .iter()
            .filter(|m| m.role == MessageRole::User)
            .map(|m| match m.blocks.as_deref() {
                Some([ContentBlock::Text { .. }, ContentBlock::Review { comments }]) => comments.len(),
                _ => 0,
            })
            .collect();
        assert_eq!(reviewed, [2, 1]);

        // Bad comments are refused and nothing is stored.
        let count = messages.len();
        let bad = [
            comment("../etc/passwd", (1, 1), "", "x"),
            comment("/etc/passwd", (1, 1), "", "x"),
            comment("a.rs", (0, 1), "", "x"),
            comment("a.rs", (3, 0), "", "x"),
            comment("a/../../b", (1, 1), "", "x"),
            comment("a.rs", (1, 1), "", &"x".repeat(10_001)),
            comment("a.rs", (1, 1), "", "   "),
            comment("", (1, 1), "", "x"),
        ];
        for one in bad {
            let mut request = chat(&project, &session, "bad");
            request.comments = vec![one.clone()];
            let refused = owner.send_chat(&request).await.unwrap_err();
            assert_eq!(refused.status(), Some(422), "{one:?}: {refused}");
        }
        let mut request = chat(&project, &session, "too many");
        request.comments = vec![comment("a.rs", (1, 1), "", "x"); 51];
        assert_eq!(owner.send_chat(&request).await.unwrap_err().status(), Some(422));
        let after = owner.list_messages(project.id, session.id, &MessageQuery::default()).await.unwrap().messages;
        assert_eq!(after.len(), count);
    }
);
