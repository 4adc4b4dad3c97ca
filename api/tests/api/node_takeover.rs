//! kill -9 of the node holding a project: within the lease another node takes it over, its
//! chats come back from their pushed branches (what was only on the dead disk is told), the
//! running turn ends interrupted for every watcher, and what was queued runs on the new node.

/// PostgreSQL only (several nodes need it).
mod a_dead_nodes_projects_are_taken_over_from_their_pushed_branches_and_lost_work_is_told {
    use crate::chat::{assistant, chat, finished, ready_session};
    use crate::chat_events::{read_events, read_until_finished};
    use crate::nodes::{signed_in, two_nodes};
    use api_types::*;
    use fakes::model::{Reply, text, tool};
    use serde_json::json;
    use std::time::{Duration, Instant};

    fn writes(path: &str) -> [Reply; 2] {
        [
            Reply::Parts(vec![tool("write_file", json!({"path": path, "content": "kept\n"}))]),
            Reply::Parts(vec![text("Done.")]),
        ]
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        let (mut a, b) = two_nodes().await;
        let (via_a, _) = a.user("ann").await;
        let origin = a.origin("shop", &[("README.md", "# Shop\n")], &[]);
        let request = CreateProjectRequest {
            name: "shop".into(),
            description: None,
            repository: RepositorySource::Git { url: format!("file://{}", origin.display()) },
            default_branch: None,
        };
        let project = via_a.create_project(&request).await.unwrap();
        let project = a.ready(&via_a, project.id).await;
        assert_eq!(project.repository_state, RepositoryState::Ready, "{:?}", project.repository_error);
        let pushed = ready_session(&a, &via_a, project.id, "pushed").await;
        let unpushed = ready_session(&a, &via_a, project.id, "unpushed").await;
        a.model.script(writes("pushed.txt"));
        via_a.send_chat(&chat(&project, &pushed, "Write it")).await.unwrap();
        assert_eq!(finished(&via_a, project.id, pushed.id).await.status, RunStatus::Succeeded);
        a.model.script(writes("unpushed.txt"));
        via_a.send_chat(&chat(&project, &unpushed, "Write it")).await.unwrap();
        assert_eq!(finished(&via_a, project.id, unpushed.id).await.status, RunStatus::Succeeded);
        // The first chat's branch is on the remote; the second's never got there.
        let remote = git2::Repository::open_bare(&origin).unwrap();
        assert!(remote.find_branch(&pushed.github_branch_name, git2::BranchType::Local).is_ok(), "pushed");
        remote.find_branch(&unpushed.github_branch_name, git2::BranchType::Local).unwrap().delete().unwrap();
        // A turn is running on A when it dies.
        a.model.script([Reply::Slow { chunks: 600, every: Duration::from_millis(50) }]);
        let running = via_a.send_chat(&chat(&project, &pushed, "Talk slowly")).await.unwrap().run_id;
        for _ in 0..200 {
            if via_a.list_runs(project.id, pushed.id).await.unwrap().runs[0].status == RunStatus::Running {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        // A message queued behind it, with its answer ready.
        let queued = via_a.send_chat_or_queue(&chat(&project, &pushed, "Queued before A died")).await.unwrap();
        assert!(matches!(queued, ChatAnswer::Queued(_)), "{queued:?}");
        // Its answer, and the answer to a prompt sent through B while A is dead.
        a.model.script([Reply::Parts(vec![text("From the queue.")]), Reply::Parts(vec![text("From the queue.")])]);
        let via_b = signed_in(b.client()).await;
        // Watched through B, which reads A's stored events: the live turn's message as it
        // stands, then its deltas.
        let token = via_b.create_api_token(&CreateApiTokenRequest { name: "sse".into() }).await.unwrap().token;
        let events_url = format!("{}/api/projects/{}/chat-sessions/{}/events", b.address, project.id, pushed.id);
        let http = reqwest::Client::new();
        let watch = || http.get(format!("{events_url}?from=latest")).bearer_auth(&token).send();
        // (Once some of its text is stored.)
        loop {
            let first = read_events(watch().await.unwrap(), 1).await;
            if matches!(&first[..], [(_, RunEvent::RunSnapshot { blocks, .. })] if !blocks.is_empty()) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let watching = watch().await.unwrap();
        a.kill_binary();
        // A prompt on the other chat through B at once, within A's lease or just after: stored
        // by B, never refused, and run once B holds the project.
        let sent_while_dead = via_b.send_chat(&chat(&project, &unpushed, "Are you there?")).await.unwrap().run_id;

        // Within the lease B takes the project: the running turn ends, the mirror is cloned again.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            // (The queued message may run on B at once after it: found by its id.)
            let runs = via_b.list_runs(project.id, pushed.id).await.unwrap().runs;
            let run = runs.into_iter().find(|run| run.id == running).unwrap();
            let project = via_b.get_project(project.id).await.unwrap();
            if run.status == RunStatus::Interrupted && project.repository_state == RepositoryState::Ready {
                assert!(run.error.unwrap().contains("stopped"));
                break;
            }
            assert!(Instant::now() < deadline, "B did not take over: {run:?} {project:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(b.data_dir.path().join(format!("projects/{}/mirror.git", project.id)).exists(), "the mirror is on B");
        // B's watcher saw the turn end, and no chunk lost or repeated before A died.
        let seen = read_until_finished(watching).await;
        let (RunEvent::RunSnapshot { run_id, blocks, .. }, RunEvent::RunFinished { status, .. }) =
            (&seen[0].1, &seen.last().unwrap().1)
        else {
            panic!("{seen:?}")
        };
        assert_eq!(*status, RunStatus::Interrupted);
        assert!(seen.iter().all(|(_, e)| e.run_id() == *run_id), "{seen:?}");
        let ids: Vec<u64> = seen.iter().map(|(id, _)| id.parse().unwrap()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
        let mut streamed = ContentBlock::text_of(blocks);
        for (_, event) in &seen[1..] {
            if let RunEvent::TextDelta { text, .. } = event {
                streamed.push_str(text);
            }
        }
        let chunks = streamed.matches("chunk ").count();
        let expected: String = (0..chunks).map(|n| format!("chunk {n}. ")).collect();
        assert_eq!(streamed, expected, "every chunk once, in order");
        assert!(chunks > 0, "the turn had streamed before A died");
        // Its message was made again from what A had journaled.
        let runs = via_b.list_runs(project.id, pushed.id).await.unwrap().runs;
        let interrupted = runs.iter().find(|run| run.id == running).unwrap();
        let message = via_b.list_messages(project.id, pushed.id, &Default::default()).await.unwrap();
        let kept = message.messages.iter().find(|m| Some(m.id) == interrupted.assistant_message_id);
        assert!(kept.is_some_and(|m| m.content.contains("chunk 0.")), "{message:?}");

        // The pushed chat comes back from its branch; its running turn's edits are told lost.
        let files = format!("{:?}", via_b.list_files(project.id, pushed.id).await.unwrap());
        assert!(files.contains("pushed.txt"), "{files}");
        let lost = via_b.get_chat_session(project.id, pushed.id).await.unwrap().lost_work.expect("told");
        assert!(lost.contains("turn that was running") && !lost.contains("never pushed"), "{lost}");
        // The unpushed chat says which commit is lost; its checkout starts where it can.
        let session = via_b.get_chat_session(project.id, unpushed.id).await.unwrap();
        let lost = session.lost_work.expect("told");
        assert!(lost.contains("never pushed"), "{lost}");
        let files = format!("{:?}", via_b.list_files(project.id, unpushed.id).await.unwrap());
        assert!(!files.contains("unpushed.txt"), "{files}");
        // B starts the queued message as the chat's next turn.
        let deadline = Instant::now() + Duration::from_secs(30);
        let next = loop {
            let runs = via_b.list_runs(project.id, pushed.id).await.unwrap().runs;
            if runs[0].status != RunStatus::Interrupted
                && !matches!(runs[0].status, RunStatus::Queued | RunStatus::Running)
            {
                break runs.into_iter().next().unwrap();
            }
            assert!(Instant::now() < deadline, "the queued message did not start on B: {runs:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(next.status, RunStatus::Succeeded, "{next:?}");
        assert!(assistant(&via_b, project.id, pushed.id).await.content.contains("From the queue."));
        assert!(via_b.list_queue(project.id, pushed.id).await.unwrap().queued.is_empty());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let runs = via_b.list_runs(project.id, unpushed.id).await.unwrap().runs;
            let run = runs.iter().find(|run| run.id == sent_while_dead).unwrap();
            if !run.status.is_live() {
                assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
                break;
            }
            assert!(Instant::now() < deadline, "the prompt sent while A was dead never ran: {run:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(assistant(&via_b, project.id, unpushed.id).await.content.contains("From the queue."));
        // B answers runs there now.
        a.model.script([Reply::Parts(vec![text("Back.")])]);
        via_b.send_chat(&chat(&project, &pushed, "Still there?")).await.unwrap();
        assert_eq!(finished(&via_b, project.id, pushed.id).await.status, RunStatus::Succeeded);
        drop(b);
    }
}
