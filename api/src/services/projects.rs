//! Creating and changing projects and their members.

use crate::access::ProjectAccess;
use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::services::sources;
use crate::state::AppState;
use crate::store::{self, audit::AuditRecord, projects::NewProject};
use api_types::{
    AddMemberRequest, AuditAction, CreateProjectRequest, ErrorCode, Project, ProjectMember, ProjectRole,
    RepositorySource, UpdateProjectRequest, validate,
};
use sea_orm::DatabaseConnection;
use serde_json::json;

fn project_name(raw: &str) -> Result<String, ApiError> {
    validate::line(raw, "The project name", validate::MAX_NAME_CHARS)
        .map_err(|message| ApiError::validation("name", message))
}

fn project_description(raw: &str) -> Result<Option<String>, ApiError> {
    validate::session_description(raw).map_err(|message| ApiError::validation("description", message))
}

/// The longest path of a local repository.
pub const MAX_LOCAL_PATH_CHARS: usize = 4096;
/// The longest git URL.
pub const MAX_GIT_URL_CHARS: usize = 2000;

/// kosuke's git (libgit2, built without SSH) talks HTTPS, git:// and local files only.
const NO_SSH: &str = "SSH remotes are not supported: use the repository's https:// URL (kosuke passes tokens to git \
                      separately).";

/// Checks a repository source and gives what is stored for it (`owner/repo`, the URL, the path).
pub fn repository_location(source: &RepositorySource) -> Result<String, ApiError> {
    let invalid = |field: &str, message: &str| Err(ApiError::validation(format!("repository.{field}"), message));
    match source {
        RepositorySource::Github { owner, repo } => {
            let owner_ok = !owner.is_empty()
                && owner.len() <= 39
                && !owner.starts_with('-')
                && owner.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
            if !owner_ok {
                return invalid("owner", "A GitHub owner is 1 to 39 letters, digits or hyphens.");
            }
            let repo_ok = !repo.is_empty()
                && repo.len() <= 100
                && repo != "."
                && repo != ".."
                && repo.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            if !repo_ok {
                return invalid("repo", "A GitHub repository name is 1 to 100 letters, digits, '-', '_' or '.'.");
            }
            Ok(format!("{owner}/{repo}"))
        }
        RepositorySource::Git { url } => {
            let url = url.trim();
            if url.is_empty()
                || url.chars().count() > MAX_GIT_URL_CHARS
                || url.chars().any(|c| c.is_control() || c.is_whitespace())
            {
                return invalid("url", "Enter a git URL such as https://host/owner/repo.git.");
            }
            if let Some((scheme, rest)) = url.split_once("://") {
                if scheme == "ssh" {
                    return invalid("url", NO_SSH);
                }
                if !matches!(scheme, "https" | "http" | "git" | "file") {
                    return invalid("url", "Use an https://, http://, git:// or file:// URL.");
                }
                let authority = rest.split('/').next().unwrap_or_default();
                if let Some((userinfo, _)) = authority.rsplit_once('@')
                    && (scheme.starts_with("http") || userinfo.contains(':'))
                {
                    return invalid("url", "Leave credentials out of the URL; kosuke passes tokens to git separately.");
                }
                if scheme != "file" && authority.is_empty() {
                    return invalid("url", "The URL has no host.");
                }
            } else if url.split_once(':').is_some_and(|(host, path)| host.contains('@') && !path.is_empty()) {
                // git's short form of an SSH URL, `user@host:path`.
                return invalid("url", NO_SSH);
            } else {
                return invalid("url", "Enter a git URL such as https://host/owner/repo.git.");
            }
            Ok(url.to_owned())
        }
        RepositorySource::Local { path } => {
            if !path.starts_with('/') || path.contains('\0') || path.chars().count() > MAX_LOCAL_PATH_CHARS {
                return invalid("path", "Give an absolute path on the server, such as /srv/git/app.");
            }
            Ok(path.clone())
        }
        RepositorySource::Empty => Ok(String::new()),
    }
}

/// A project as the API shows it, with clone progress while it is being cloned.
pub fn present(state: &AppState, project: entity::project::Model, role: ProjectRole) -> Project {
    let id = project.id;
    let mut shown = entity::convert::project(project, role);
    if shown.repository_state == api_types::RepositoryState::Cloning {
        shown.repository_progress = state.workspaces.progress(id);
    }
    shown
}

/// Creates the project and starts making its mirror in the background
/// (`repository_state` tells when it is ready).
pub async fn create(state: &AppState, user: &CurrentUser, request: CreateProjectRequest) -> Result<Project, ApiError> {
    let db = &state.db;
    let name = project_name(&request.name)?;
    let description = match request.description.as_deref() {
        Some(raw) => project_description(raw)?,
        None => None,
    };
    let repository_location = repository_location(&request.repository)?;
    let repository_location = sources::guard(state, user, &request.repository, repository_location).await?;
    let adopt_remote_default = request.default_branch.is_none();
    let default_branch = request.default_branch.unwrap_or_else(|| "main".to_owned());
    validate::branch_name(&default_branch).map_err(|message| ApiError::validation("default_branch", message))?;
    let new = NewProject {
        owner_id: user.id.clone(),
        name,
        description,
        repository_kind: request.repository.kind(),
        repository_location,
        default_branch,
        owner_node: state.node_id,
    };
    let txn = crate::store::begin(db).await.map_err(ApiError::internal)?;
    let project = store::projects::insert(&txn, new).await?;
    store::audit::record(
        &txn,
        AuditRecord {
            actor_id: &user.id,
            project_id: project.id,
            chat_session_id: None,
            action: AuditAction::ProjectCreated,
            detail: json!({"name": project.name}),
        },
    )
    .await?;
    store::commit(txn).await.map_err(ApiError::internal)?;
    let credentials = crate::services::github::git_credentials(state, &user.id, &project).await?;
    state.workspaces.start_preparing(project.clone(), user.author(), credentials, adopt_remote_default);
    Ok(present(state, project, ProjectRole::Owner))
}

pub async fn update(
    db: &DatabaseConnection,
    user: &CurrentUser,
    project_id: i32,
    request: UpdateProjectRequest,
) -> Result<Project, ApiError> {
    let access = ProjectAccess::load_as_owner(db, project_id, user).await?;
    let name = request.name.as_deref().map(project_name).transpose()?;
    let description = request.description.as_deref().map(project_description).transpose()?;
    let detail = json!({"name": name, "description_changed": description.is_some(), "update_strategy": request.update_strategy, "archive_merged": request.archive_merged});
    let txn = crate::store::begin(db).await.map_err(ApiError::internal)?;
    let project = store::projects::update(
        &txn,
        access.project,
        name,
        description,
        request.update_strategy,
        request.archive_merged,
    )
    .await?;
    store::audit::record(
        &txn,
        AuditRecord {
            actor_id: &user.id,
            project_id,
            chat_session_id: None,
            action: AuditAction::ProjectUpdated,
            detail,
        },
    )
    .await?;
    store::commit(txn).await.map_err(ApiError::internal)?;
    Ok(entity::convert::project(project, access.role))
}

pub async fn delete(db: &DatabaseConnection, user: &CurrentUser, project_id: i32) -> Result<(), ApiError> {
    let access = ProjectAccess::load_as_owner(db, project_id, user).await?;
    store::projects::delete(db, access.id()).await?;
    Ok(())
}

pub async fn add_member(
    db: &DatabaseConnection,
    user: &CurrentUser,
    project_id: i32,
    request: AddMemberRequest,
) -> Result<ProjectMember, ApiError> {
    let access = ProjectAccess::load_as_owner(db, project_id, user).await?;
    let email = request.email.trim().to_lowercase();
    let Some(member_user) = store::credentials::find_user_by_email(db, &email).await? else {
        return Err(ApiError::validation("email", "No kosuke account uses this email address."));
    };
    let role = request.role.unwrap_or(ProjectRole::Member);
    let txn = crate::store::begin(db).await.map_err(ApiError::internal)?;
    let member = store::members::insert(&txn, access.id(), &member_user.id, role).await.map_err(|err| {
        if err.is_conflict() {
            ApiError::conflict(ErrorCode::AlreadyMember, "This user is already a member of the project.")
        } else {
            err.into()
        }
    })?;
    store::audit::record(
        &txn,
        AuditRecord {
            actor_id: &user.id,
            project_id,
            chat_session_id: None,
            action: AuditAction::MemberAdded,
            detail: json!({"user_id": member_user.id, "role": role}),
        },
    )
    .await?;
    store::commit(txn).await.map_err(ApiError::internal)?;
    Ok(entity::convert::member(member, member_user))
}

/// The owner removes anyone but the project's creator; a member may remove themselves.
pub async fn remove_member(
    db: &DatabaseConnection,
    user: &CurrentUser,
    project_id: i32,
    member_id: &str,
) -> Result<(), ApiError> {
    let access = ProjectAccess::load(db, project_id, user).await?;
    if member_id != user.id && access.role != ProjectRole::Owner {
        return Err(ApiError::forbidden("Only an owner of this project can remove other members."));
    }
    if member_id == access.project.user_id {
        return Err(ApiError::conflict(ErrorCode::Conflict, "The project's creator cannot be removed."));
    }
    let txn = crate::store::begin(db).await.map_err(ApiError::internal)?;
    store::members::delete(&txn, project_id, member_id).await?;
    store::audit::record(
        &txn,
        AuditRecord {
            actor_id: &user.id,
            project_id,
            chat_session_id: None,
            action: AuditAction::MemberRemoved,
            detail: json!({"user_id": member_id}),
        },
    )
    .await?;
    store::commit(txn).await.map_err(ApiError::internal)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn git(url: &str) -> Result<String, ApiError> {
        repository_location(&RepositorySource::Git { url: url.to_owned() })
    }

    #[test]
    fn git_urls_are_accepted_without_credentials_only() {
        for ok in ["https://example.com/a/b.git", "http://example.com/a", "git://example.com/a/b.git", "file:///srv/a"]
        {
            assert!(git(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "ftp://x/y",
            "https://user:tok@example.com/a",
            "https://tok@example.com/a",
            "just-a-word",
            "https:///x",
        ] {
            assert!(git(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ssh_remotes_are_refused_with_what_to_use_instead() {
        for ssh in ["git@example.com:a/b.git", "ssh://git@example.com/a/b", "ssh://example.com:2222/a"] {
            let error = git(ssh).expect_err("refused").to_string();
            assert!(error.contains("SSH remotes are not supported") && error.contains("https://"), "{ssh}: {error}");
        }
    }

    #[test]
    fn github_names_follow_githubs_rules() {
        let gh = |owner: &str, repo: &str| {
            repository_location(&RepositorySource::Github { owner: owner.to_owned(), repo: repo.to_owned() })
        };
        assert_eq!(gh("octocat", "Hello-World").ok(), Some("octocat/Hello-World".to_owned()));
        assert!(gh("-bad", "x").is_err());
        assert!(gh("ok", "..").is_err());
        assert!(gh("ok", "a/b").is_err());
    }
}
