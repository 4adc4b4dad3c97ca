//! GitHub: connecting a user's token, opening pull requests from sessions, listing branches
//! through the API. The token is sealed at rest, passed to git only through the credentials
//! callback, and never appears in a response, a log line or an error.

use crate::access::ProjectAccess;
use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store;
use crate::workspaces::blocking;
use api_types::{
    ChecksState, CreatePullRequestRequest, CreatePullRequestResponse, ErrorCode, GitHubAccount, PullRequestState,
    RepositoryKind, validate,
};
use checkout::{Checkout, Credentials};
use entity::project;
use github::{GitHub, GitHubError, NewPullRequest};

/// The longest token taken (as sent, spaces around it included).
pub const MAX_TOKEN_CHARS: usize = 512;
/// The longest pull-request description (GitHub's own limit).
pub const MAX_PULL_BODY_CHARS: usize = 65_536;

/// Connects a token after GitHub confirms whose it is; records the login and scopes.
pub async fn connect(state: &AppState, user: &CurrentUser, token: String) -> Result<GitHubAccount, ApiError> {
    let too_long = token.chars().count() > MAX_TOKEN_CHARS;
    let token = token.trim().to_owned();
    if too_long || token.is_empty() || token.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ApiError::validation("token", "Paste a GitHub personal access token."));
    }
    let owner = match client(state, &token)?.token_owner().await {
        Ok(owner) => owner,
        Err(GitHubError::BadCredentials) => {
            return Err(ApiError::validation("token", "GitHub did not accept this token (bad credentials)."));
        }
        Err(other) => return Err(other.into()),
    };
    let sealed = state.secrets.seal(&token);
    let saved =
        store::credentials::save_github(&state.db, &user.id, sealed, owner.login, owner.scopes.join(", ")).await?;
    Ok(account(saved))
}

pub async fn connected_account(state: &AppState, user: &CurrentUser) -> Result<GitHubAccount, ApiError> {
    let saved = store::credentials::find_github(&state.db, &user.id).await?;
    saved.map(account).ok_or(ApiError::NotFound("GitHub connection"))
}

pub async fn disconnect(state: &AppState, user: &CurrentUser) -> Result<(), ApiError> {
    Ok(store::credentials::delete_github(&state.db, &user.id).await?)
}

fn account(saved: entity::github_credential::Model) -> GitHubAccount {
    let scopes = saved.scopes.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect();
    GitHubAccount { login: saved.login, scopes, updated_at: saved.updated_at }
}

pub(crate) fn client(state: &AppState, token: &str) -> Result<GitHub, ApiError> {
    Ok(GitHub::new(&state.settings.github_api_url, token)?)
}

/// A user's token: the request's own, else the connected one (with its classic scopes).
pub(crate) struct Token {
    pub(crate) secret: String,
    scopes: Option<Vec<String>>,
}

pub(crate) async fn token_for(
    state: &AppState,
    user_id: &str,
    from_request: Option<String>,
) -> Result<Option<Token>, ApiError> {
    if let Some(secret) = from_request.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()) {
        return Ok(Some(Token { secret, scopes: None }));
    }
    let Some(saved) = store::credentials::find_github(&state.db, user_id).await? else { return Ok(None) };
    let secret = state.secrets.open(&saved.token_encrypted).map_err(ApiError::internal)?;
    let scopes = account(saved).scopes;
    Ok(Some(Token { secret, scopes: Some(scopes) }))
}

/// Git credentials for a user's work on a GitHub project (clone, fetch, push).
pub async fn git_credentials(
    state: &AppState,
    user_id: &str,
    project: &project::Model,
) -> Result<Option<Credentials>, ApiError> {
    if project.repository_kind != RepositoryKind::Github {
        return Ok(None);
    }
    Ok(token_for(state, user_id, None).await?.map(|token| Credentials::github_token(token.secret)))
}

pub(crate) fn github_repo(project: &project::Model) -> Result<(String, String), ApiError> {
    if project.repository_kind != RepositoryKind::Github {
        return Err(ApiError::validation_with_code(
            ErrorCode::NotGithub,
            "repository",
            "Pull requests can only be opened for projects on GitHub; this project's repository is elsewhere.",
        ));
    }
    let (owner, repo) = project.repository_location.split_once('/').unwrap_or_default();
    Ok((owner.to_owned(), repo.to_owned()))
}

/// The branches of a GitHub project through GitHub's API (every page), when the user has a
/// token; `None` to fall back on the mirror.
pub async fn remote_branches(
    state: &AppState,
    user_id: &str,
    project: &project::Model,
) -> Result<Option<Vec<github::RemoteBranch>>, ApiError> {
    if project.repository_kind != RepositoryKind::Github {
        return Ok(None);
    }
    let Some(token) = token_for(state, user_id, None).await? else { return Ok(None) };
    let (owner, repo) = github_repo(project)?;
    Ok(Some(client(state, &token.secret)?.branches(&owner, &repo).await?))
}

/// Opens a pull request from the session's branch (pushing it first), or returns the one
/// already open for it. `true` when it was created now.
pub async fn open_pull_request(
    state: &AppState,
    user: &CurrentUser,
    project_id: i32,
    session_pk: i32,
    request: CreatePullRequestRequest,
) -> Result<(bool, CreatePullRequestResponse), ApiError> {
    let access = ProjectAccess::load(&state.db, project_id, user).await?;
    let session = store::sessions::load_for_user(&state.db, project_id, session_pk, &user.id).await?;
    let (owner, repo) = github_repo(&access.project)?;
    let request_draft = request.draft;
    let target = request.target_branch.clone().unwrap_or_else(|| access.project.default_branch.clone());
    validate::branch_name(&target).map_err(|message| ApiError::validation("target_branch", message))?;
    let title = validate::session_title(request.title.as_deref().unwrap_or(&session.title))
        .map_err(|message| ApiError::validation("title", message))?;
    if let Some(description) = &request.description {
        validate::plain_text(description, true).map_err(|message| ApiError::validation("description", message))?;
        if description.chars().count() > MAX_PULL_BODY_CHARS {
            return Err(ApiError::validation(
                "description",
                format!("The description is longer than {MAX_PULL_BODY_CHARS} characters."),
            ));
        }
    }
    let Some(token) = token_for(state, &user.id, request.github_token).await? else {
        return Err(ApiError::UpstreamAuth {
            forbidden: false,
            message: format!(
                "Connect a GitHub token in your account settings to open pull requests. {}.",
                github::PERMISSION_HINT
            ),
        });
    };
    if let Some(scopes) = &token.scopes
        && !scopes.is_empty()
        && !scopes.iter().any(|s| s == "repo" || s == "public_repo")
    {
        return Err(ApiError::UpstreamAuth {
            forbidden: true,
            message: format!(
                "Your GitHub token has the scopes {} but not `repo`. {}.",
                scopes.join(", "),
                github::PERMISSION_HINT
            ),
        });
    }

    let session_owner = state.runtime.owner(session.id);
    let _work = crate::services::sessions::idle_work(&session_owner, "open a pull request from").await?;
    let branch = session.github_branch_name.clone();
    let checkout_dir = state.workspaces.project_dir(project_id).checkout(&session.session_id);
    let author = user.author();
    blocking(move || match Checkout::open(&checkout_dir) {
        Ok(checkout) => checkout.commit_all("kosuke: changes before opening the pull request", &author).map(|_| ()),
        Err(_) => Ok(()),
    })
    .await?;
    let (branch_for_git, target_for_git) = (branch.clone(), target.clone());
    let commits = state
        .workspaces
        .with_mirror(project_id, move |mirror| {
            if !mirror.branch_exists(&target_for_git) {
                return Err(checkout::CheckoutError::BranchNotFound(target_for_git));
            }
            mirror.commits_ahead(&branch_for_git, &target_for_git)
        })
        .await?;
    if commits.is_empty() {
        return Err(ApiError::validation_with_code(
            ErrorCode::NoChanges,
            "target_branch",
            format!("The session's branch has no commits that {target} lacks; there is nothing to review yet."),
        ));
    }
    let (branch_to_push, credentials) = (branch.clone(), Credentials::github_token(token.secret.clone()));
    state
        .workspaces
        .with_mirror(project_id, move |mirror| mirror.push_branch(&branch_to_push, Some(&credentials)))
        .await?;

    let github = client(state, &token.secret)?;
    let (pull_request, created) = match github.find_open_pull_request(&owner, &repo, &owner, &branch).await? {
        Some(existing) => (existing, false),
        None => {
            let body = request.description.unwrap_or_else(|| describe(session.description.as_deref(), &commits));
            let draft = request_draft;
            let new = NewPullRequest {
                owner: &owner,
                repo: &repo,
                title: &title,
                head: &branch,
                base: &target,
                body: &body,
                draft,
            };
            match github.create_pull_request(&new).await {
                Ok(created) => (created, true),
                Err(GitHubError::PullRequestExists) => {
                    let existing = github.find_open_pull_request(&owner, &repo, &owner, &branch).await?;
                    (existing.ok_or(GitHubError::PullRequestExists)?, false)
                }
                Err(other) => return Err(other.into()),
            }
        }
    };
    let number = i32::try_from(pull_request.number).unwrap_or(i32::MAX);
    store::pull_requests::set_pull_request(&state.db, session.id, number, pull_request.url.clone()).await?;
    if created {
        let opened = if request_draft { PullRequestState::Draft } else { PullRequestState::Open };
        store::pull_requests::set_pull_request_life(
            &state.db,
            session.id,
            opened,
            None,
            Some(ChecksState::Pending),
            None,
        )
        .await?;
    }
    Ok((
        created,
        CreatePullRequestResponse {
            pull_request_url: pull_request.url,
            pull_request_number: number,
            title: pull_request.title,
            source_branch: branch,
            target_branch: pull_request.base,
        },
    ))
}

/// The default body: the session's description, then its commits.
fn describe(description: Option<&str>, commits: &[(String, String)]) -> String {
    let mut body = String::new();
    if let Some(description) = description.filter(|d| !d.trim().is_empty()) {
        body.push_str(description.trim());
        body.push_str("\n\n");
    }
    body.push_str("Commits:\n");
    for (sha, summary) in commits.iter().rev() {
        body.push_str(&format!("- {} {summary}\n", &sha[..sha.len().min(7)]));
    }
    body.push_str("\nOpened from a kosuke chat session.");
    body
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[test]
    fn the_default_body_lists_commits_oldest_first() {
        let commits =
            vec![("bbbbbbbbbb".to_owned(), "Second".to_owned()), ("aaaaaaaaaa".to_owned(), "First".to_owned())];
        assert_eq!(
            describe(Some("Adds login.\n"), &commits),
            "Adds login.\n\nCommits:\n- aaaaaaa First\n- bbbbbbb Second\n\nOpened from a kosuke chat session."
        );
    }
}
