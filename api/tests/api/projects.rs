//! Projects, members, the default-branch setting and the audit trail.

use crate::db_test;
use crate::harness::spawn_app;
use api_types::*;
use client::{Client, ClientError};

/// Creates a project from a git URL the API must refuse; gives the refusal.
async fn refused(owner: &Client, url: &str) -> ClientError {
    let request = CreateProjectRequest {
        name: "refused".into(),
        description: None,
        repository: RepositorySource::Git { url: url.into() },
        default_branch: None,
    };
    owner.create_project(&request).await.expect_err("the URL is refused")
}

db_test!(
    async fn projects_store_each_kind_of_repository(backend) {
        let app = spawn_app(backend).await;
        let (owner, user) = app.user("ann").await;
        let local = app.origin("app", &[("README.md", "app\n")], &[]).canonicalize().unwrap();
        let sources = [
            RepositorySource::Github { owner: "octocat".into(), repo: "Hello-World".into() },
            RepositorySource::Git { url: "https://git.example.test/team/app.git".into() },
            RepositorySource::Local { path: local.display().to_string() },
            RepositorySource::Empty,
        ];
        let mut ids = Vec::new();
        for (n, source) in sources.iter().enumerate() {
            let project = owner
                .create_project(&CreateProjectRequest {
                    name: format!(" project {n} "),
                    description: Some("about it".into()),
                    repository: source.clone(),
                    default_branch: (n == 1).then(|| "develop".to_owned()),
                })
                .await
                .unwrap();
            assert_eq!(&project.repository, source);
            assert_eq!(project.name, format!("project {n}"));
            assert_eq!(project.owner_id, user.id);
            assert_eq!(project.role, ProjectRole::Owner);
            assert_eq!(project.default_branch, if n == 1 { "develop" } else { "main" });
            let fetched = owner.get_project(project.id).await.unwrap();
            assert_eq!((fetched.id, fetched.name, fetched.repository), (project.id, project.name.clone(), source.clone()));
            ids.push(project.id);
        }
        let list = owner.list_projects(&PageQuery { limit: Some(3), cursor: None }).await.unwrap();
        assert_eq!(list.total, 4);
        assert_eq!(list.projects.iter().map(|p| p.id).collect::<Vec<_>>(), vec![ids[3], ids[2], ids[1]]);
        let rest = owner.list_projects(&PageQuery { limit: Some(3), cursor: list.next_cursor }).await.unwrap();
        assert_eq!((rest.projects.len(), rest.projects[0].id, rest.next_cursor), (1, ids[0], None));

        let leaky = refused(&owner, "https://user:ghp_secret@github.com/a/b.git").await;
        assert_eq!(leaky.status(), Some(422));
        assert!(!leaky.to_string().contains("ghp_secret"), "the error does not echo the secret: {leaky}");
        let ssh = refused(&owner, "git@github.com:a/b.git").await;
        assert_eq!(ssh.status(), Some(422));
        assert!(ssh.to_string().contains("SSH remotes are not supported"), "says what to use instead: {ssh}");
        assert_eq!(owner.list_projects(&PageQuery::default()).await.unwrap().total, 4);

        let updated = owner
            .update_project(ids[0], &UpdateProjectRequest { name: Some("renamed".into()), description: Some(String::new()), update_strategy: None, archive_merged: None })
            .await
            .unwrap();
        assert_eq!((updated.name.as_str(), updated.description.clone()), ("renamed", None));
        owner.delete_project(ids[0]).await.unwrap();
        assert_eq!(owner.get_project(ids[0]).await.unwrap_err().status(), Some(404));
    }
);

db_test!(
    async fn deleting_a_project_takes_its_sessions_with_it(backend) {
        let app = spawn_app(backend).await;
        let (owner, _) = app.user("ann").await;
        let project = app.project(&owner, "doomed").await;
        let session = owner
            .create_chat_session(project.id, &CreateChatSessionRequest { title: "s".into(), description: None, base_branch: None })
            .await
            .unwrap();
        owner.delete_project(project.id).await.unwrap();
        assert_eq!(owner.get_chat_session(project.id, session.id).await.unwrap_err().status(), Some(404));
        assert_eq!(owner.list_projects(&PageQuery::default()).await.unwrap().total, 0);
    }
);

db_test!(
    async fn members_are_added_by_email_once_and_removed_by_the_owner(backend) {
        let app = spawn_app(backend).await;
        let (owner, ann) = app.user("ann").await;
        let (_, bob) = app.user("bob").await;
        let project = app.project(&owner, "team").await;
        let add = |email: &str| AddMemberRequest { email: email.into(), role: None };
        let unknown = owner.add_member(project.id, &add("nobody@example.test")).await.unwrap_err();
        assert_eq!((unknown.status(), unknown.code()), (Some(422), Some(ErrorCode::ValidationFailed)));
        owner.add_member(project.id, &add("bob@example.test")).await.unwrap();
        let twice = owner.add_member(project.id, &add("bob@example.test")).await.unwrap_err();
        assert_eq!((twice.status(), twice.code()), (Some(409), Some(ErrorCode::AlreadyMember)));
        let members = owner.list_members(project.id).await.unwrap();
        let roles: Vec<(UserId, ProjectRole)> = members.members.iter().map(|m| (m.user_id.clone(), m.role)).collect();
        assert_eq!(roles, vec![(ann.id.clone(), ProjectRole::Owner), (bob.id.clone(), ProjectRole::Member)]);
        let creator = owner.remove_member(project.id, &ann.id).await.unwrap_err();
        assert_eq!(creator.status(), Some(409));
        owner.remove_member(project.id, &bob.id).await.unwrap();
        assert_eq!(owner.list_members(project.id).await.unwrap().total, 1);
    }
);

db_test!(
    async fn the_default_branch_setting_applies_to_new_sessions_and_everything_is_audited(backend) {
        let app = spawn_app(backend).await;
        let (owner, ann) = app.user("ann").await;
        app.user("bob").await;
        let origin = app.origin("audited", &[("README.md", "hi")], &["release/2.0", "hotfix/1"]);
        let project = app.project_from(&owner, "audited", &origin).await;
        let current = owner.get_default_branch(project.id).await.unwrap();
        let all = vec!["hotfix/1".to_owned(), "main".into(), "release/2.0".into()];
        assert_eq!(current, DefaultBranchResponse { default_branch: "main".into(), available_branches: all.clone() });
        for missing in ["nope", "kosuke-chat-abc"] {
            let err = owner
                .set_default_branch(project.id, &UpdateDefaultBranchRequest { default_branch: missing.into() })
                .await
                .unwrap_err();
            assert_eq!((err.status(), err.code()), (Some(422), Some(ErrorCode::ValidationFailed)), "{missing}");
        }
        assert_eq!(owner.get_default_branch(project.id).await.unwrap().default_branch, "main", "unchanged");
        let create = |title: &str| CreateChatSessionRequest { title: title.into(), description: None, base_branch: None };
        let before = owner.create_chat_session(project.id, &create("before")).await.unwrap();
        let changed = owner
            .set_default_branch(project.id, &UpdateDefaultBranchRequest { default_branch: "release/2.0".into() })
            .await
            .unwrap();
        assert_eq!((changed.default_branch.as_str(), changed.available_branches.clone()), ("release/2.0", all));
        assert_eq!(owner.get_project(project.id).await.unwrap().default_branch, "release/2.0");
        let after = owner.create_chat_session(project.id, &create("after")).await.unwrap();
        let explicit = owner
            .create_chat_session(
                project.id,
                &CreateChatSessionRequest { title: "hotfix".into(), description: None, base_branch: Some("hotfix/1".into()) },
            )
            .await
            .unwrap();
        assert_eq!(before.base_branch.as_deref(), Some("main"));
        assert_eq!(after.base_branch.as_deref(), Some("release/2.0"));
        assert_eq!(explicit.base_branch.as_deref(), Some("hotfix/1"));

        owner
            .update_chat_session(project.id, after.id, &UpdateChatSessionRequest { title: Some("after!".into()), ..Default::default() })
            .await
            .unwrap();
        owner.delete_chat_session(project.id, explicit.id).await.unwrap();
        let bob = owner.add_member(project.id, &AddMemberRequest { email: "bob@example.test".into(), role: None }).await.unwrap();
        owner.remove_member(project.id, &bob.user_id).await.unwrap();

        let first = owner.list_audit(project.id, &PageQuery { limit: Some(5), cursor: None }).await.unwrap();
        let rest = owner.list_audit(project.id, &PageQuery { limit: Some(5), cursor: first.next_cursor.clone() }).await.unwrap();
        let events: Vec<AuditEvent> = first.events.into_iter().chain(rest.events).collect();
        let actions: Vec<AuditAction> = events.iter().map(|e| e.action).collect();
        assert_eq!(
            actions,
            vec![
                AuditAction::MemberRemoved,
                AuditAction::MemberAdded,
                AuditAction::SessionDeleted,
                AuditAction::SessionUpdated,
                AuditAction::SessionCreated,
                AuditAction::SessionCreated,
                AuditAction::DefaultBranchChanged,
                AuditAction::SessionCreated,
                AuditAction::ProjectCreated,
            ]
        );
        assert!(events.iter().all(|e| e.actor_id.as_ref() == Some(&ann.id) && e.project_id == project.id));
        let branch_change = &events[6];
        assert_eq!(branch_change.detail, serde_json::json!({"from": "main", "to": "release/2.0"}));
        assert_eq!(events[2].chat_session_id, Some(explicit.id), "the trail outlives the deleted session");
    }
);
