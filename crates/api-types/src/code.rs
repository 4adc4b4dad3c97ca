//! A session's code as the Code tab and the sidebar see it: files, a diff against the base,
//! the branch's standing.

use crate::tokens::Token;
use serde::{Deserialize, Serialize};

/// A file or directory in a session's checkout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FileEntry {
    /// Relative to the checkout, `/`-separated.
    pub path: String,
    pub is_dir: bool,
    /// A symlink: listed as one, never followed (its target may be outside the checkout).
    #[serde(default)]
    pub is_symlink: bool,
    pub size: u64,
}

/// `GET …/{session_pk}/files`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FileTree {
    pub files: Vec<FileEntry>,
    /// The listing stopped at its limit.
    pub truncated: bool,
}

/// Query of `GET …/{session_pk}/files`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
pub struct FilesQuery {
    /// One directory's own entries (`""` for the root), for a tree loaded a directory at a
    /// time; without it, the whole tree (up to the listing's limit).
    pub dir: Option<String>,
    /// The files whose path contains this text (any case), at most 500: the tree's filter.
    /// With `dir`, only the files under that directory.
    #[cfg_attr(feature = "openapi", param(min_length = 1, max_length = 200, pattern = r"\S"))]
    pub q: Option<String>,
}

/// `GET …/{session_pk}/files/{path}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FileContent {
    pub path: String,
    pub size: u64,
    pub is_binary: bool,
    /// The text, unless the file is binary or larger than the limit.
    pub content: Option<String>,
    pub too_large: bool,
    /// The git blob id of the content (what the highlighting is cached by).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blob: Option<String>,
    /// The language it was highlighted as, when one was recognised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// `content` split into lines of classed tokens (server-side highlighting), when a language
    /// was recognised and the file is within the highlighter's limits; the lines' texts joined
    /// are `content` without its line ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub highlighted: Option<Vec<Vec<Token>>>,
}

/// `GET …/{session_pk}/diff`: the session's changes against where it left its base branch,
/// committed and not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionDiff {
    pub base_branch: String,
    pub base_sha: String,
    /// Unified diff text.
    pub patch: String,
    /// The patch was cut at the size limit.
    pub truncated: bool,
    pub files_changed: u64,
    pub insertions: u64,
    pub deletions: u64,
    /// The changed files with their hunks and numbered lines (in file order).
    #[serde(default)]
    pub files: Vec<DiffFile>,
    /// The turn these are the changes of (`?message_id=`); none: all of the chat's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<crate::MessageId>,
}

/// What happened to a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum FileChangeStatus {
    Added,
    Modified,
    Deleted,
    Renamed,
}

/// One changed file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DiffFile {
    pub path: String,
    /// Where a renamed file was.
    pub old_path: Option<String>,
    pub status: FileChangeStatus,
    pub additions: u64,
    pub deletions: u64,
    pub binary: bool,
    /// Its lines were cut at the size limit (the file is still listed).
    pub truncated: bool,
    pub hunks: Vec<DiffHunk>,
}

/// A run of changed lines with their context.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DiffHunk {
    /// `@@ -a,b +c,d @@ …`
    pub header: String,
    pub old_start: u32,
    pub old_lines: u32,
    pub new_start: u32,
    pub new_lines: u32,
    pub lines: Vec<DiffLine>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DiffLineKind {
    Context,
    Added,
    Removed,
}

/// One line: its number before (none when added) and after (none when removed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DiffLine {
    pub kind: DiffLineKind,
    pub old: Option<u32>,
    pub new: Option<u32>,
    pub text: String,
}

/// Query of `GET …/{session_pk}/diff`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
pub struct DiffQuery {
    /// One turn's changes alone: an assistant message of the chat with a commit.
    pub message_id: Option<i64>,
    /// Only this file's hunks (by its path after the change); the other files are listed
    /// with their counts and no hunks. What the Changes view asks for to expand a file.
    #[cfg_attr(feature = "openapi", param(min_length = 1, max_length = 4096))]
    pub path: Option<String>,
    /// Unchanged lines around each change, 3 when absent; up to 100,000 (a whole file: its
    /// collapsed context expanded).
    #[cfg_attr(feature = "openapi", param(minimum = 0, maximum = 100000))]
    pub context: Option<u32>,
}

/// The most context lines `GET …/diff` gives.
pub const MAX_DIFF_CONTEXT: u32 = 100_000;

/// A pull request opened from a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PullRequestRef {
    pub number: i32,
    pub url: String,
}

/// `GET …/{session_pk}/branch-status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BranchStatus {
    pub branch: String,
    pub base_branch: String,
    pub head_sha: String,
    /// Commits on the session branch that the base lacks.
    pub ahead: u64,
    /// Commits on the base that the session branch lacks.
    pub behind: u64,
    /// The remote has the branch at its current head.
    pub pushed: bool,
    /// The checkout has uncommitted changes.
    pub dirty: bool,
    pub pull_request: Option<PullRequestRef>,
}

/// `POST …/{session_pk}/duplicate`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DuplicateChatSessionRequest {
    /// Defaults to "Copy of {title}".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

/// `POST …/{session_pk}/revert`: move the chat's branch back to the commit of one of its
/// turns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RevertRequest {
    /// An assistant message of the chat that made a commit.
    pub message_id: crate::MessageId,
}

/// `POST …/{session_pk}/fork`: a new chat whose branch starts at one turn's commit, with the
/// conversation up to and including that turn.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ForkRequest {
    /// An assistant message of the chat that made a commit.
    pub message_id: crate::MessageId,
    /// Defaults to "Fork of {title}".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

/// Query of `DELETE …/{session_pk}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
pub struct DeleteChatSessionQuery {
    /// Also delete the branch on the remote (it is kept by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_remote_branch: Option<bool>,
}

/// The answer to `DELETE …/{session_pk}`: the session is gone with its checkout and local
/// branch; what else happened.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChatSessionDeleted {
    /// Whether the branch on the remote was deleted (only when asked).
    pub remote_branch_deleted: bool,
    /// A live run stopped first, or why the remote branch is still there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notice: Option<String>,
}

/// `POST …/{session_pk}/pull-request`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatePullRequestRequest {
    /// Defaults to the session's title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Defaults to the session's description and its commit list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Defaults to the project's default branch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_branch: Option<String>,
    /// Use this token instead of the one connected in account settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub github_token: Option<String>,
    /// Open it as a draft.
    #[serde(default)]
    pub draft: bool,
}

/// The pull request opened (201) or already open (200) for the session's branch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatePullRequestResponse {
    pub pull_request_url: String,
    pub pull_request_number: i32,
    pub title: String,
    pub source_branch: String,
    pub target_branch: String,
}

/// Which preview a session has: its dev server (the project's `dev` command) or, without
/// one, its static site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PreviewKind {
    Static,
    Dev,
}

/// Where a session's dev server stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PreviewState {
    /// Not running: never started on this server, stopped, or stopped when idle.
    Stopped,
    Starting,
    Running,
    /// It exited after it was running.
    Crashed,
    /// It never answered: it exited, did not answer in time, or could not start.
    Failed,
}

/// `GET …/{session_pk}/preview`: the session's preview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Preview {
    pub kind: PreviewKind,
    /// Static: a path on this server (`/preview/…/`), valid for an hour. Dev: the preview's
    /// own origin (`http://s{session}.{domain}:{port}/`).
    pub url: String,
    /// Static previews are always `running`.
    pub state: PreviewState,
    /// Dev, starting or running: a one-time link (two minutes) that lets this browser into
    /// the preview's origin, then shows `/`.
    pub open_url: Option<String>,
    /// The dev server's own port (on the server's loopback).
    pub port: Option<u16>,
    pub command: Option<String>,
    /// Crashed: its exit code, when it exited with one.
    pub exit_code: Option<i32>,
    /// Crashed or failed: why, with the log's last lines.
    pub error: Option<String>,
    /// Why it stopped, when its user did not stop it (idle, or to make room for another).
    pub notice: Option<String>,
}

/// What to do with a session's dev server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PreviewAction {
    /// Start it unless it is starting or running.
    Start,
    /// Stop it (if it runs) and start it again.
    Restart,
    Stop,
}

/// `POST …/{session_pk}/preview`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PreviewActionRequest {
    pub action: PreviewAction,
}

/// One session's dev server, for the sidebar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PreviewSummary {
    pub chat_session_id: crate::ChatSessionPk,
    pub state: PreviewState,
}

/// `GET /api/projects/{id}/previews`: the user's sessions of the project whose dev server is
/// not stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PreviewList {
    pub previews: Vec<PreviewSummary>,
}

/// One chat's branch against its base, for the sidebar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionBranchStatus {
    pub chat_session_id: crate::ChatSessionPk,
    pub ahead: u64,
    pub behind: u64,
    pub pushed: bool,
    pub pull_request: Option<PullRequestRef>,
}

/// `GET /api/projects/{id}/branch-statuses?ids=1,2,3`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BranchStatusList {
    pub statuses: Vec<SessionBranchStatus>,
}
