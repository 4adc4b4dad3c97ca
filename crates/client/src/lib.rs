//! A typed client for the kosuke API, for the web app (wasm32, where the browser keeps the
//! sign-in cookie), for tests and for third parties (natively, with a cookie store or a
//! personal access token). The only place that knows the API's URLs.

use api_types::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use transport::{Answer, Call, Http, Method};

mod runtime;
mod transport;

/// What can go wrong calling the API.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an error body.
    #[error("{status}: {}", body.error)]
    Api { status: u16, body: ErrorBody },
    /// The server could not be reached or answered something unreadable.
    #[error("request failed: {0}")]
    Transport(String),
    /// The server answered an error status without kosuke's error body.
    #[error("unexpected {status} response")]
    Unexpected { status: u16 },
}

impl ClientError {
    /// The HTTP status of an API error.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } | ClientError::Unexpected { status } => Some(*status),
            ClientError::Transport(_) => None,
        }
    }

    /// The error code of an API error.
    pub fn code(&self) -> Option<ErrorCode> {
        self.body().map(|body| body.code)
    }

    /// The server's error body, when it sent one.
    pub fn body(&self) -> Option<&ErrorBody> {
        match self {
            ClientError::Api { body, .. } => Some(body),
            _ => None,
        }
    }
}

pub type Result<T> = std::result::Result<T, ClientError>;

/// A connection to one kosuke server, signed in by cookie (after `signup`/`login`) or token.
#[derive(Debug, Clone)]
pub struct Client {
    base_url: String,
    http: Http,
    token: Option<String>,
}

impl Client {
    /// `base_url` is the server's origin, e.g. `http://127.0.0.1:8080`; empty means the page's
    /// own origin (in the browser).
    pub fn new(base_url: impl Into<String>) -> Self {
        Client { base_url: base_url.into().trim_end_matches('/').to_owned(), http: Http::new(), token: None }
    }

    /// Signs every request with a personal access token instead of the cookie.
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api{path}", self.base_url)
    }

    /// Sends one request (`query` already encoded, `json` the body); an error status becomes
    /// `ClientError::Api` with the server's body.
    async fn call(&self, method: Method, path: &str, query: &str, json: Option<String>) -> Result<Answer> {
        let mut url = self.url(path);
        if !query.is_empty() {
            url.push('?');
            url.push_str(query);
        }
        let call = Call { method, url, token: self.token.as_deref(), json };
        check(self.http.send(call).await.map_err(ClientError::Transport)?)
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        decode(&self.call(Method::Get, path, "", None).await?)
    }

    async fn get_query<T: DeserializeOwned, Q: Serialize>(&self, path: &str, query: &Q) -> Result<T> {
        decode(&self.call(Method::Get, path, &encode_query(query)?, None).await?)
    }

    async fn with_body<T: DeserializeOwned, B: Serialize>(&self, method: Method, path: &str, body: &B) -> Result<T> {
        decode(&self.call(method, path, "", Some(encode_body(body)?)).await?)
    }

    async fn delete(&self, path: &str) -> Result<()> {
        self.call(Method::Delete, path, "", None).await.map(drop)
    }

    // --- meta

    pub async fn health(&self) -> Result<Health> {
        self.get("/health").await
    }

    // --- accounts

    pub async fn signup(&self, request: &SignupRequest) -> Result<User> {
        self.with_body(Method::Post, "/auth/signup", request).await
    }

    /// Signs up with an invite link's token (when sign-ups are by invite).
    pub async fn signup_with_invite(&self, request: &SignupRequest, invite: &str) -> Result<User> {
        let query = encode_query(&[("invite", invite)])?;
        decode(&self.call(Method::Post, "/auth/signup", &query, Some(encode_body(request)?)).await?)
    }

    // --- administration (admins only)

    pub async fn admin_users(&self) -> Result<AdminUserList> {
        self.get("/admin/users").await
    }

    pub async fn admin_update_user(&self, user: &UserId, request: &UpdateUserRequest) -> Result<AdminUser> {
        self.with_body(Method::Put, &format!("/admin/users/{}", user.0), request).await
    }

    pub async fn admin_settings(&self) -> Result<ServerSettings> {
        self.get("/admin/settings").await
    }

    pub async fn admin_set_settings(&self, settings: &ServerSettings) -> Result<ServerSettings> {
        self.with_body(Method::Put, "/admin/settings", settings).await
    }

    pub async fn admin_create_invite(&self) -> Result<Invite> {
        decode(&self.call(Method::Post, "/admin/invites", "", None).await?)
    }

    pub async fn login(&self, request: &LoginRequest) -> Result<User> {
        self.with_body(Method::Post, "/auth/login", request).await
    }

    pub async fn logout(&self) -> Result<()> {
        self.call(Method::Post, "/auth/logout", "", None).await.map(drop)
    }

    pub async fn me(&self) -> Result<User> {
        self.get("/me").await
    }

    pub async fn create_api_token(&self, request: &CreateApiTokenRequest) -> Result<CreatedApiToken> {
        self.with_body(Method::Post, "/me/tokens", request).await
    }

    pub async fn list_api_tokens(&self) -> Result<ApiTokenList> {
        self.get("/me/tokens").await
    }

    pub async fn delete_api_token(&self, id: TokenId) -> Result<()> {
        self.delete(&format!("/me/tokens/{id}")).await
    }

    pub async fn github_account(&self) -> Result<GitHubAccount> {
        self.get("/me/github").await
    }

    pub async fn connect_github(&self, request: &ConnectGitHubRequest) -> Result<GitHubAccount> {
        self.with_body(Method::Put, "/me/github", request).await
    }

    pub async fn disconnect_github(&self) -> Result<()> {
        self.delete("/me/github").await
    }

    // --- projects

    pub async fn list_projects(&self, page: &PageQuery) -> Result<ProjectList> {
        self.get_query("/projects", page).await
    }

    pub async fn create_project(&self, request: &CreateProjectRequest) -> Result<Project> {
        self.with_body(Method::Post, "/projects", request).await
    }

    pub async fn get_project(&self, id: ProjectId) -> Result<Project> {
        self.get(&format!("/projects/{id}")).await
    }

    pub async fn update_project(&self, id: ProjectId, request: &UpdateProjectRequest) -> Result<Project> {
        self.with_body(Method::Put, &format!("/projects/{id}"), request).await
    }

    pub async fn delete_project(&self, id: ProjectId) -> Result<()> {
        self.delete(&format!("/projects/{id}")).await
    }

    pub async fn list_members(&self, id: ProjectId) -> Result<MemberList> {
        self.get(&format!("/projects/{id}/members")).await
    }

    pub async fn add_member(&self, id: ProjectId, request: &AddMemberRequest) -> Result<ProjectMember> {
        self.with_body(Method::Post, &format!("/projects/{id}/members"), request).await
    }

    pub async fn remove_member(&self, id: ProjectId, user: &UserId) -> Result<()> {
        self.delete(&format!("/projects/{id}/members/{user}")).await
    }

    // --- chat sessions

    pub async fn list_chat_sessions(&self, project: ProjectId, query: &ChatSessionQuery) -> Result<ChatSessionList> {
        self.get_query(&format!("/projects/{project}/chat-sessions"), query).await
    }

    pub async fn create_chat_session(
        &self,
        project: ProjectId,
        request: &CreateChatSessionRequest,
    ) -> Result<ChatSession> {
        self.with_body(Method::Post, &format!("/projects/{project}/chat-sessions"), request).await
    }

    pub async fn get_chat_session(&self, project: ProjectId, session: ChatSessionPk) -> Result<ChatSession> {
        self.get(&format!("/projects/{project}/chat-sessions/{session}")).await
    }

    pub async fn update_chat_session(
        &self,
        project: ProjectId,
        session: ChatSessionPk,
        request: &UpdateChatSessionRequest,
    ) -> Result<ChatSession> {
        self.with_body(Method::Put, &format!("/projects/{project}/chat-sessions/{session}"), request).await
    }

    pub async fn delete_chat_session(&self, project: ProjectId, session: ChatSessionPk) -> Result<ChatSessionDeleted> {
        decode(&self.call(Method::Delete, &format!("/projects/{project}/chat-sessions/{session}"), "", None).await?)
    }

    pub async fn list_messages(
        &self,
        project: ProjectId,
        session: ChatSessionPk,
        query: &MessageQuery,
    ) -> Result<MessageList> {
        self.get_query(&format!("/projects/{project}/chat-sessions/{session}/messages"), query).await
    }

    /// Deletes the session and its branch on the remote too.
    pub async fn delete_chat_session_everywhere(
        &self,
        project: ProjectId,
        session: ChatSessionPk,
    ) -> Result<ChatSessionDeleted> {
        let path = format!("/projects/{project}/chat-sessions/{session}");
        decode(&self.call(Method::Delete, &path, "delete_remote_branch=true", None).await?)
    }

    pub async fn duplicate_chat_session(
        &self,
        project: ProjectId,
        session: ChatSessionPk,
        request: &DuplicateChatSessionRequest,
    ) -> Result<ChatSession> {
        self.with_body(Method::Post, &format!("/projects/{project}/chat-sessions/{session}/duplicate"), request).await
    }

    // --- code

    pub async fn list_files(&self, project: ProjectId, session: ChatSessionPk) -> Result<FileTree> {
        self.get(&format!("/projects/{project}/chat-sessions/{session}/files")).await
    }

    /// One directory's own entries (`""` for the root).
    pub async fn list_dir(&self, project: ProjectId, session: ChatSessionPk, dir: &str) -> Result<FileTree> {
        let query = FilesQuery { dir: Some(dir.to_owned()), q: None };
        self.get_query(&format!("/projects/{project}/chat-sessions/{session}/files"), &query).await
    }

    /// The files whose path contains `filter` (any case), at most 500.
    pub async fn find_files(&self, project: ProjectId, session: ChatSessionPk, filter: &str) -> Result<FileTree> {
        let query = FilesQuery { dir: None, q: Some(filter.to_owned()) };
        self.get_query(&format!("/projects/{project}/chat-sessions/{session}/files"), &query).await
    }

    /// `path` is relative to the checkout, `/`-separated.
    pub async fn get_file(&self, project: ProjectId, session: ChatSessionPk, path: &str) -> Result<FileContent> {
        self.get(&format!("/projects/{project}/chat-sessions/{session}/files/{path}")).await
    }

    /// `POST /api/chat` with `queue: true`: a run started, or the prompt queued behind one.
    pub async fn send_chat_or_queue(&self, request: &ChatRequest) -> Result<ChatAnswer> {
        let request = ChatRequest { queue: true, ..request.clone() };
        self.with_body(Method::Post, "/chat", &request).await
    }

    pub async fn list_queue(&self, project: ProjectId, session: ChatSessionPk) -> Result<QueuedPromptList> {
        self.get(&format!("/projects/{project}/chat-sessions/{session}/queue")).await
    }

    pub async fn edit_queued(
        &self,
        project: ProjectId,
        session: ChatSessionPk,
        queued: QueuedPromptId,
        prompt: &str,
    ) -> Result<QueuedPrompt> {
        let path = format!("/projects/{project}/chat-sessions/{session}/queue/{queued}");
        self.with_body(Method::Put, &path, &UpdateQueuedPromptRequest { prompt: prompt.to_owned() }).await
    }

    pub async fn cancel_queued(
        &self,
        project: ProjectId,
        session: ChatSessionPk,
        queued: QueuedPromptId,
    ) -> Result<()> {
        self.delete(&format!("/projects/{project}/chat-sessions/{session}/queue/{queued}")).await
    }

    /// Its user has read the chat.
    pub async fn mark_read(&self, project: ProjectId, session: ChatSessionPk) -> Result<()> {
        self.call(Method::Post, &format!("/projects/{project}/chat-sessions/{session}/read"), "", None).await.map(drop)
    }

    /// Moves the chat back to the turn `message` (an assistant message with a commit).
    pub async fn revert(&self, project: ProjectId, session: ChatSessionPk, message: MessageId) -> Result<ChatSession> {
        let path = format!("/projects/{project}/chat-sessions/{session}/revert");
        self.with_body(Method::Post, &path, &RevertRequest { message_id: message }).await
    }

    pub async fn undo_revert(&self, project: ProjectId, session: ChatSessionPk) -> Result<ChatSession> {
        decode(
            &self
                .call(Method::Post, &format!("/projects/{project}/chat-sessions/{session}/revert/undo"), "", None)
                .await?,
        )
    }

    /// A new chat from the turn `message`.
    pub async fn fork(&self, project: ProjectId, session: ChatSessionPk, request: &ForkRequest) -> Result<ChatSession> {
        self.with_body(Method::Post, &format!("/projects/{project}/chat-sessions/{session}/fork"), request).await
    }

    /// Brings the base branch's tip into the chat's branch (merge or rebase).
    pub async fn update_session(
        &self,
        project: ProjectId,
        session: ChatSessionPk,
        request: &UpdateSessionRequest,
    ) -> Result<UpdateResult> {
        self.with_body(Method::Post, &format!("/projects/{project}/chat-sessions/{session}/update"), request).await
    }

    /// Abandons the chat's update stopped on conflicts.
    pub async fn abort_update(&self, project: ProjectId, session: ChatSessionPk) -> Result<ChatSession> {
        decode(
            &self
                .call(Method::Post, &format!("/projects/{project}/chat-sessions/{session}/update/abort"), "", None)
                .await?,
        )
    }

    /// A pull request title and description the agent writes from the chat's changes.
    pub async fn describe_pull_request(&self, project: ProjectId, session: ChatSessionPk) -> Result<PullRequestDraft> {
        decode(
            &self
                .call(
                    Method::Post,
                    &format!("/projects/{project}/chat-sessions/{session}/pull-request/describe"),
                    "",
                    None,
                )
                .await?,
        )
    }

    /// Asks GitHub now how the chat's pull request stands.
    pub async fn refresh_pull_request(&self, project: ProjectId, session: ChatSessionPk) -> Result<ChatSession> {
        decode(
            &self
                .call(
                    Method::Post,
                    &format!("/projects/{project}/chat-sessions/{session}/pull-request/refresh"),
                    "",
                    None,
                )
                .await?,
        )
    }

    /// The nodes sharing the server's database (admins only).
    pub async fn list_nodes(&self) -> Result<NodeList> {
        self.get("/admin/nodes").await
    }

    /// The conflict radar: which of the caller's chats conflict with their base or each other.
    pub async fn get_conflicts(&self, project: ProjectId) -> Result<ConflictMatrix> {
        self.get(&format!("/projects/{project}/conflicts")).await
    }

    pub async fn get_diff(&self, project: ProjectId, session: ChatSessionPk) -> Result<SessionDiff> {
        self.get(&format!("/projects/{project}/chat-sessions/{session}/diff")).await
    }

    /// One turn's changes or all of the chat's, one file's or every file's, with as many
    /// lines of context as asked.
    pub async fn get_diff_of(
        &self,
        project: ProjectId,
        session: ChatSessionPk,
        query: &DiffQuery,
    ) -> Result<SessionDiff> {
        self.get_query(&format!("/projects/{project}/chat-sessions/{session}/diff"), query).await
    }

    /// Branch statuses of several chats at once (none asked, none answered, without a request).
    pub async fn branch_statuses(&self, project: ProjectId, sessions: &[ChatSessionPk]) -> Result<BranchStatusList> {
        if sessions.is_empty() {
            return Ok(BranchStatusList { statuses: Vec::new() });
        }
        let ids = sessions.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(",");
        self.get_query(&format!("/projects/{project}/branch-statuses"), &[("ids", ids)]).await
    }

    pub async fn get_branch_status(&self, project: ProjectId, session: ChatSessionPk) -> Result<BranchStatus> {
        self.get(&format!("/projects/{project}/chat-sessions/{session}/branch-status")).await
    }

    /// Opens (or finds) the session's pull request.
    pub async fn create_pull_request(
        &self,
        project: ProjectId,
        session: ChatSessionPk,
        request: &CreatePullRequestRequest,
    ) -> Result<CreatePullRequestResponse> {
        Ok(self.create_pull_request_with_status(project, session, request).await?.1)
    }

    /// Like `create_pull_request`, with the status: 201 opened now, 200 already open.
    pub async fn create_pull_request_with_status(
        &self,
        project: ProjectId,
        session: ChatSessionPk,
        request: &CreatePullRequestRequest,
    ) -> Result<(u16, CreatePullRequestResponse)> {
        let path = format!("/projects/{project}/chat-sessions/{session}/pull-request");
        let answer = self.call(Method::Post, &path, "", Some(encode_body(request)?)).await?;
        Ok((answer.status, decode(&answer)?))
    }

    // --- chat

    pub async fn agent_info(&self) -> Result<AgentInfo> {
        self.get("/agent").await
    }

    /// Sends a prompt; the run goes on in the background (see `list_runs` and the events).
    pub async fn send_chat(&self, request: &ChatRequest) -> Result<ChatAccepted> {
        self.with_body(Method::Post, "/chat", request).await
    }

    /// The session's server-sent events (for an `EventSource`).
    pub fn events_url(&self, project: ProjectId, session: ChatSessionPk) -> String {
        self.url(&format!("/projects/{project}/chat-sessions/{session}/events"))
    }

    pub async fn cancel_run(&self, project: ProjectId, session: ChatSessionPk) -> Result<AgentRun> {
        decode(
            &self.call(Method::Post, &format!("/projects/{project}/chat-sessions/{session}/cancel"), "", None).await?,
        )
    }

    pub async fn list_runs(&self, project: ProjectId, session: ChatSessionPk) -> Result<AgentRunList> {
        self.get(&format!("/projects/{project}/chat-sessions/{session}/runs")).await
    }

    pub async fn get_branding(&self, project: ProjectId) -> Result<Branding> {
        self.get(&format!("/projects/{project}/branding")).await
    }

    pub async fn set_branding(&self, project: ProjectId, branding: &Branding) -> Result<Branding> {
        self.with_body(Method::Put, &format!("/projects/{project}/branding"), branding).await
    }

    pub async fn list_env_vars(&self, project: ProjectId) -> Result<EnvVarList> {
        self.get(&format!("/projects/{project}/env-vars")).await
    }

    pub async fn set_env_var(&self, project: ProjectId, key: &str, value: &str) -> Result<EnvVar> {
        let body = SetEnvVarRequest { value: value.to_owned() };
        self.with_body(Method::Put, &format!("/projects/{project}/env-vars/{key}"), &body).await
    }

    pub async fn delete_env_var(&self, project: ProjectId, key: &str) -> Result<()> {
        self.delete(&format!("/projects/{project}/env-vars/{key}")).await
    }

    // --- settings

    pub async fn list_branches(&self, project: ProjectId) -> Result<GitHubBranchesResponse> {
        self.get(&format!("/projects/{project}/github/branches")).await
    }

    pub async fn get_default_branch(&self, project: ProjectId) -> Result<DefaultBranchResponse> {
        self.get(&format!("/projects/{project}/settings/default-branch")).await
    }

    pub async fn set_default_branch(
        &self,
        project: ProjectId,
        request: &UpdateDefaultBranchRequest,
    ) -> Result<DefaultBranchResponse> {
        self.with_body(Method::Put, &format!("/projects/{project}/settings/default-branch"), request).await
    }

    pub async fn list_audit(&self, project: ProjectId, page: &PageQuery) -> Result<AuditEventList> {
        self.get_query(&format!("/projects/{project}/audit"), page).await
    }
}

/// Turns an error status into `ClientError::Api` with the server's body.
fn check(answer: Answer) -> Result<Answer> {
    if (200..300).contains(&answer.status) {
        return Ok(answer);
    }
    let status = answer.status;
    match serde_json::from_slice::<ErrorBody>(&answer.body) {
        Ok(body) => Err(ClientError::Api { status, body }),
        Err(_) => Err(ClientError::Unexpected { status }),
    }
}

fn decode<T: DeserializeOwned>(answer: &Answer) -> Result<T> {
    serde_json::from_slice(&answer.body).map_err(|err| ClientError::Transport(format!("unreadable answer: {err}")))
}

fn encode_body<B: Serialize>(body: &B) -> Result<String> {
    serde_json::to_string(body).map_err(|err| ClientError::Transport(err.to_string()))
}

fn encode_query<Q: Serialize>(query: &Q) -> Result<String> {
    serde_urlencoded::to_string(query).map_err(|err| ClientError::Transport(err.to_string()))
}
