//! Rows to wire types. Secrets (password and token hashes) have no wire form.

use api_types::{
    ApiToken, AuditEvent, AuditEventId, ChatMessage, ChatSession, ChatSessionPk, MessageId, Project, ProjectId,
    ProjectMember, ProjectRole, PullRequestLife, RepositoryKind, RepositorySource, SessionActivity, TokenId, User,
    UserId,
};

pub fn user(model: super::user::Model) -> User {
    User {
        id: UserId(model.id),
        email: model.email,
        display_name: model.display_name,
        created_at: model.created_at,
        is_admin: model.is_admin,
    }
}

pub fn api_token(model: super::api_token::Model) -> ApiToken {
    ApiToken { id: TokenId(model.id), name: model.name, created_at: model.created_at, last_used_at: model.last_used_at }
}

/// The stored kind and location back to a source.
pub fn repository(kind: RepositoryKind, location: &str) -> RepositorySource {
    match kind {
        RepositoryKind::Github => {
            let (owner, repo) = location.split_once('/').unwrap_or((location, ""));
            RepositorySource::Github { owner: owner.to_owned(), repo: repo.to_owned() }
        }
        RepositoryKind::Git => RepositorySource::Git { url: location.to_owned() },
        RepositoryKind::Local => RepositorySource::Local { path: location.to_owned() },
        RepositoryKind::Empty => RepositorySource::Empty,
    }
}

pub fn project(model: super::project::Model, role: ProjectRole) -> Project {
    Project {
        id: ProjectId(model.id),
        repository: repository(model.repository_kind, &model.repository_location),
        name: model.name,
        description: model.description,
        default_branch: model.default_branch,
        update_strategy: model.update_strategy,
        archive_merged: model.archive_merged,
        repository_state: model.repository_state,
        repository_error: model.repository_error,
        repository_progress: None,
        owner_id: UserId(model.user_id),
        role,
        created_at: model.created_at,
        updated_at: model.updated_at,
    }
}

pub fn member(member: super::project_member::Model, user: super::user::Model) -> ProjectMember {
    ProjectMember {
        user_id: UserId(user.id),
        email: user.email,
        display_name: user.display_name,
        role: member.role,
        added_at: member.created_at,
    }
}

pub fn chat_session(model: super::chat_session::Model) -> ChatSession {
    ChatSession {
        id: ChatSessionPk(model.id),
        project_id: ProjectId(model.project_id),
        user_id: UserId(model.user_id),
        title: model.title,
        description: model.description,
        session_id: model.session_id,
        github_branch_name: model.github_branch_name,
        status: model.status,
        created_at: model.created_at,
        updated_at: model.updated_at,
        last_activity_at: model.last_activity_at,
        message_count: model.message_count,
        is_default: model.is_default,
        base_branch: model.base_branch,
        pull_request_number: model.pull_request_number,
        pull_request_url: model.pull_request_url,
        pull_request_life: model.pull_request_state.map(|state| PullRequestLife {
            state,
            head_sha: model.pull_request_head_sha,
            checks: model.pull_request_checks,
            review: model.pull_request_review,
            refreshed_at: model.pull_request_refreshed_at,
        }),
        workspace_state: model.workspace_state.with_setup(model.setup_state),
        workspace_error: model.workspace_error,
        disk_bytes: model.disk_bytes,
        undo_revert: model.reverted_at.is_some(),
        activity: SessionActivity::of(model.turn_state.as_deref(), model.unread_turns),
        unread: u32::try_from(model.unread_turns).unwrap_or(0),
        update_conflict: model.update_conflict.as_deref().and_then(|json| serde_json::from_str(json).ok()),
        lost_work: model.lost_work,
        notice: None,
    }
}

pub fn chat_message(model: super::chat_message::Model) -> ChatMessage {
    ChatMessage {
        id: MessageId(model.id),
        chat_session_id: ChatSessionPk(model.chat_session_id),
        user_id: model.user_id.map(UserId),
        role: model.role,
        content: model.content,
        // Stored by kosuke from `Vec<ContentBlock>`; a value that no longer reads is not shown.
        blocks: model.blocks.and_then(|blocks| serde_json::from_value(blocks).ok()),
        model: model.model,
        input_tokens: model.input_tokens,
        output_tokens: model.output_tokens,
        commit_sha: model.commit_sha,
        reverted_at: model.reverted_at,
        created_at: model.created_at,
        updated_at: model.updated_at,
    }
}

pub fn audit_event(model: super::audit_event::Model) -> AuditEvent {
    AuditEvent {
        id: AuditEventId(model.id),
        actor_id: model.actor_id.map(UserId),
        project_id: ProjectId(model.project_id),
        chat_session_id: model.chat_session_id.map(ChatSessionPk),
        action: model.action,
        detail: model.detail,
        created_at: model.created_at,
    }
}

pub fn agent_run(model: super::agent_run::Model) -> api_types::AgentRun {
    api_types::AgentRun {
        id: api_types::RunId(model.id),
        chat_session_id: ChatSessionPk(model.chat_session_id),
        status: model.status,
        assistant_message_id: model.assistant_message_id.map(MessageId),
        error: model.error,
    }
}
