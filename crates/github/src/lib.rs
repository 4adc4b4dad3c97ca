//! The GitHub calls kosuke makes, through octocrab: who a token belongs to (and its scopes),
//! a repository's branches (every page), and pull requests (find one for a branch, open one).
//!
//! Failures are classified into [`GitHubError`] — bad credentials, a missing permission (with
//! the permission named), rate limits (with the wait), "already exists", "no commits" — so the
//! API can answer each one properly. The base URL is a setting (GitHub Enterprise, tests).
//! Tokens live only inside the octocrab client; no message here ever contains one.

mod error;
mod life;

pub use error::{GitHubError, PERMISSION_HINT};
pub use life::{
    ChecksState, Conditional, PullLife, PullState, ReviewState, check_state, combine, pull_state, review_of,
};

use octocrab::Octocrab;
use octocrab::params::State;
use serde::Deserialize;

/// A branch and the commit it points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteBranch {
    pub name: String,
    pub commit_sha: String,
}

/// A pull request, as much as kosuke needs of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequest {
    pub number: u64,
    /// The page a person opens.
    pub url: String,
    pub title: String,
    pub head: String,
    pub base: String,
}

/// Who a token belongs to and what it may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenOwner {
    pub login: String,
    /// Classic tokens' OAuth scopes (`X-OAuth-Scopes`); empty for fine-grained tokens.
    pub scopes: Vec<String>,
}

/// What opening a pull request takes.
#[derive(Debug, Clone)]
pub struct NewPullRequest<'a> {
    pub owner: &'a str,
    pub repo: &'a str,
    pub title: &'a str,
    pub head: &'a str,
    pub base: &'a str,
    pub body: &'a str,
    pub draft: bool,
}

/// A GitHub client signed in with one token.
pub struct GitHub {
    client: Octocrab,
    base_url: String,
}

impl GitHub {
    pub fn new(base_url: &str, token: &str) -> Result<Self, GitHubError> {
        let base_url = base_url.trim_end_matches('/').to_owned();
        let client = Octocrab::builder()
            .base_uri(base_url.as_str())
            .map_err(|err| GitHubError::Upstream(format!("invalid GitHub API URL: {err}")))?
            .personal_token(token.to_owned())
            .build()
            .map_err(|err| GitHubError::Upstream(format!("could not set up the GitHub client: {err}")))?;
        Ok(GitHub { client, base_url })
    }

    /// `GET /user`: the token's owner and, for classic tokens, its scopes.
    pub async fn token_owner(&self) -> Result<TokenOwner, GitHubError> {
        #[derive(Deserialize)]
        struct Login {
            login: String,
        }
        let response = self.client._get(format!("{}/user", self.base_url)).await.map_err(GitHubError::from_octocrab)?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = self.client.body_to_string(response).await.map_err(GitHubError::from_octocrab)?;
        if !status.is_success() {
            let parsed: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            let message = parsed["message"].as_str().unwrap_or_default().to_owned();
            return Err(GitHubError::classify(status, &message, &[], Some(&headers)));
        }
        let login: Login = serde_json::from_str(&body)
            .map_err(|err| GitHubError::Upstream(format!("GitHub answered /user with an unexpected body: {err}")))?;
        let scopes = headers
            .get("x-oauth-scopes")
            .and_then(|value| value.to_str().ok())
            .map(|value| value.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect())
            .unwrap_or_default();
        Ok(TokenOwner { login: login.login, scopes })
    }

    /// Every branch of the repository, following the `Link` header through every page.
    pub async fn branches(&self, owner: &str, repo: &str) -> Result<Vec<RemoteBranch>, GitHubError> {
        let mut page = self
            .client
            .repos(owner, repo)
            .list_branches()
            .per_page(100)
            .send()
            .await
            .map_err(GitHubError::from_octocrab)?;
        let mut branches = Vec::new();
        loop {
            branches.extend(page.items.drain(..).map(|b| RemoteBranch { name: b.name, commit_sha: b.commit.sha }));
            match self.client.get_page(&page.next).await.map_err(GitHubError::from_octocrab)? {
                Some(next) => page = next,
                None => return Ok(branches),
            }
        }
    }

    /// The open pull request whose head is `head_owner:branch`, if any.
    pub async fn find_open_pull_request(
        &self,
        owner: &str,
        repo: &str,
        head_owner: &str,
        branch: &str,
    ) -> Result<Option<PullRequest>, GitHubError> {
        let page = self
            .client
            .pulls(owner, repo)
            .list()
            .state(State::Open)
            .head(format!("{head_owner}:{branch}"))
            .per_page(10)
            .send()
            .await
            .map_err(GitHubError::from_octocrab)?;
        Ok(page.items.into_iter().map(pull_request).find(|pr| pr.head == branch))
    }

    /// `POST /repos/{owner}/{repo}/pulls`.
    pub async fn create_pull_request(&self, new: &NewPullRequest<'_>) -> Result<PullRequest, GitHubError> {
        let created = self
            .client
            .pulls(new.owner, new.repo)
            .create(new.title, new.head, new.base)
            .body(new.body)
            .draft(new.draft)
            .send()
            .await
            .map_err(GitHubError::from_octocrab)?;
        Ok(pull_request(created))
    }
}

fn pull_request(pr: octocrab::models::pulls::PullRequest) -> PullRequest {
    PullRequest {
        number: pr.number,
        url: pr.html_url.map(|url| url.to_string()).unwrap_or_default(),
        title: pr.title.unwrap_or_default(),
        head: pr.head.ref_field,
        base: pr.base.ref_field,
    }
}
