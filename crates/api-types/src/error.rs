//! The one error body every failing response carries.

use serde::{Deserialize, Serialize};

/// `{"error": "<human sentence>", "code": "<snake_case code>"}`, plus the offending field for
/// validation errors. Clients match on `code`, never on the sentence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub error: String,
    pub code: ErrorCode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// Machine-readable error codes, stable across releases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 400: the body is not valid JSON.
    MalformedJson,
    /// 400: an id in the path is not a positive integer.
    InvalidId,
    /// 400: a query-string parameter is malformed (e.g. a bad cursor).
    InvalidQuery,
    /// 401: not signed in.
    Unauthenticated,
    /// A webhook delivery whose signature does not match its body.
    InvalidSignature,
    /// 401: wrong email or password.
    InvalidCredentials,
    /// 400: a file path outside the session's checkout.
    InvalidPath,
    /// 401: GitHub (or the git remote) refused the token.
    GithubUnauthorized,
    /// 403: the token lacks a permission; the sentence names the scope needed.
    GithubForbidden,
    /// 403: signed in but not allowed.
    Forbidden,
    /// 403: a state-changing request signed in by cookie came from another site.
    CrossSiteRequest,
    /// 404: no such resource, or not yours.
    NotFound,
    /// 405: the path exists, the method does not (`Allow` lists those that do).
    MethodNotAllowed,
    /// 409: the email is already registered.
    EmailTaken,
    /// 403: sign-ups are closed, or need an invite.
    SignupClosed,
    /// 422: the invite link is unknown, used or expired.
    InviteInvalid,
    /// 403: the account was disabled by an admin.
    AccountDisabled,
    /// 409: the user is already a member of the project.
    AlreadyMember,
    /// 409: the default session of a project cannot be deleted.
    DefaultSession,
    /// 409: the session has a live agent run.
    SessionBusy,
    /// 409: the change conflicts with the current state.
    Conflict,
    /// 409: the project's repository is still being cloned, or its clone failed.
    RepositoryNotReady,
    /// 409: the session's checkout is not ready (being made, archived or failed).
    WorkspaceNotReady,
    /// 409: the remote refused the push.
    PushRejected,
    /// 413: the body is larger than the server accepts.
    PayloadTooLarge,
    /// 415: the body is not `application/json`.
    UnsupportedMediaType,
    /// 422: a field failed validation; `field` names it.
    ValidationFailed,
    /// 422: there is nothing to put in a pull request.
    NoChanges,
    /// 422: the project's repository is not on GitHub.
    NotGithub,
    /// 429: too many requests; retry later.
    RateLimited,
    /// 502: GitHub or the model provider failed.
    UpstreamError,
    /// 503: a needed setting is missing.
    NotConfigured,
    /// 503: no model provider is configured.
    AgentUnavailable,
    /// 503: the agent runs commands, and no sandbox can be enforced on this machine.
    SandboxUnavailable,
    /// 503: the node holding the project's files is down (several nodes).
    NodeUnavailable,
    /// 409: no live run to cancel.
    NoLiveRun,
    /// 500: something broke on the server; the log has the cause.
    Internal,
    /// A code this client version does not know yet.
    #[serde(other)]
    Unknown,
}
