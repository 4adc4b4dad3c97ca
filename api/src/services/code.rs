//! What the Code tab and the sidebar read from a session's checkout: files, a diff against the
//! base, the branch's standing. Archived sessions have no checkout to read.

use crate::error::ApiError;
use crate::state::AppState;
use crate::workspaces::blocking;
use api_types::{
    BranchStatus, BranchStatusList, ChatSessionStatus, ErrorCode, FileContent, FileEntry, FileTree, FilesQuery,
    PullRequestRef, SessionBranchStatus, SessionDiff,
};
use checkout::{Checkout, DiffScope, Mirror};
use entity::chat_session;
use std::path::PathBuf;

/// At most this many entries in a file listing.
const MAX_FILES: usize = 20_000;
/// A filter's matches are cut here, and its text at this length.
const MAX_FILTERED: usize = 500;
const MAX_FILTER_CHARS: usize = 200;
/// Files larger than this are listed but not shown.
const MAX_FILE_BYTES: u64 = 1024 * 1024;
/// Diffs are cut at this size.
const MAX_DIFF_BYTES: usize = 2 * 1024 * 1024;

fn base_branch(session: &chat_session::Model) -> String {
    session.base_branch.clone().unwrap_or_else(|| "main".to_owned())
}

/// The session's checkout, made again if it is missing; archived sessions answer 409.
async fn checkout_path(state: &AppState, session: &chat_session::Model) -> Result<PathBuf, ApiError> {
    if session.status == ChatSessionStatus::Archived {
        return Err(ApiError::conflict(
            ErrorCode::WorkspaceNotReady,
            "The session is archived; unarchive it to see its files.",
        ));
    }
    crate::services::sessions::checkout(state, session).await
}

pub async fn files(state: &AppState, session: &chat_session::Model, query: FilesQuery) -> Result<FileTree, ApiError> {
    let filter = match query.q {
        Some(q) if q.trim().is_empty() || q.chars().count() > MAX_FILTER_CHARS => {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidQuery,
                format!("q must be 1 to {MAX_FILTER_CHARS} characters, not only spaces."),
            ));
        }
        Some(q) => Some(q.trim().to_lowercase()),
        None => None,
    };
    let path = checkout_path(state, session).await?;
    let dir = query.dir;
    let (entries, truncated) = blocking(move || {
        let checkout = Checkout::open(&path)?;
        match (dir, filter) {
            (Some(dir), None) => checkout.files_in(&dir, MAX_FILES),
            // With `dir` too, the files under it.
            (dir, Some(filter)) => {
                let under = dir
                    .map(|d| d.trim_matches('/').to_owned())
                    .filter(|d| !d.is_empty() && d != ".")
                    .map(|d| format!("{d}/"));
                let (all, _) = checkout.files(MAX_FILES)?;
                let mut found: Vec<_> = all
                    .into_iter()
                    .filter(|e| !e.is_dir && e.path.to_lowercase().contains(&filter))
                    .filter(|e| under.as_ref().is_none_or(|prefix| e.path.starts_with(prefix.as_str())))
                    .collect();
                let truncated = found.len() > MAX_FILTERED;
                found.truncate(MAX_FILTERED);
                Ok((found, truncated))
            }
            (None, None) => checkout.files(MAX_FILES),
        }
    })
    .await?;
    let files = entries
        .into_iter()
        .map(|e| FileEntry { path: e.path, is_dir: e.is_dir, is_symlink: e.is_symlink, size: e.size })
        .collect();
    Ok(FileTree { files, truncated })
}

pub async fn file(state: &AppState, session: &chat_session::Model, relative: String) -> Result<FileContent, ApiError> {
    let path = checkout_path(state, session).await?;
    let highlights = state.highlights.clone();
    blocking(move || {
        let content = Checkout::open(&path)?.read_file(&relative, MAX_FILE_BYTES)?;
        let highlighted = match (&content.blob, &content.text) {
            (Some(blob), Some(text)) => highlights.get_or_highlight(blob, &content.path, text),
            _ => Default::default(),
        };
        let (language, highlighted) = match highlighted.as_ref() {
            Some(h) => (Some(h.language.clone()), Some(h.lines.clone())),
            None => (None, None),
        };
        Ok(FileContent {
            path: content.path,
            size: content.size,
            is_binary: content.is_binary,
            content: content.text,
            too_large: content.too_large,
            blob: content.blob,
            language,
            highlighted,
        })
    })
    .await
}

pub async fn diff(
    state: &AppState,
    session: &chat_session::Model,
    query: api_types::DiffQuery,
) -> Result<SessionDiff, ApiError> {
    let scope = diff_scope(&query)?;
    let path = checkout_path(state, session).await?;
    if let Some(message_id) = query.message_id {
        return turn_diff(state, session, path, message_id, scope).await;
    }
    let mirror_path = state.workspaces.project_dir(session.project_id).mirror();
    let (branch, base) = (session.github_branch_name.clone(), base_branch(session));
    let base_for_diff = base.clone();
    let (base_sha, diff, files) = blocking(move || {
        let base_oid = Mirror::open(&mirror_path)?.merge_base(&branch, &base_for_diff)?;
        let checkout = Checkout::open(&path)?;
        let diff = checkout.diff_from(base_oid, MAX_DIFF_BYTES)?;
        let files = checkout.changes_from(base_oid, &scope)?;
        Ok((base_oid.to_string(), diff, files))
    })
    .await?;
    Ok(SessionDiff {
        base_branch: base,
        base_sha,
        patch: diff.patch,
        truncated: diff.truncated || files.iter().any(|f| f.truncated),
        files_changed: diff.files_changed as u64,
        insertions: diff.insertions as u64,
        deletions: diff.deletions as u64,
        files: files.into_iter().map(shown_file).collect(),
        message_id: None,
    })
}

/// The query's file and context lines, checked.
fn diff_scope(query: &api_types::DiffQuery) -> Result<DiffScope, ApiError> {
    let context = query.context.unwrap_or(3);
    if context > api_types::MAX_DIFF_CONTEXT {
        let message = format!("context must be at most {} lines.", api_types::MAX_DIFF_CONTEXT);
        return Err(ApiError::bad_request(ErrorCode::InvalidQuery, message));
    }
    if query.path.as_ref().is_some_and(|p| p.is_empty() || p.chars().count() > 4096) {
        return Err(ApiError::bad_request(ErrorCode::InvalidQuery, "path must be 1 to 4096 characters."));
    }
    Ok(DiffScope { context, only: query.path.clone(), ..DiffScope::new(MAX_DIFF_BYTES) })
}

/// One turn's changes: its commit against its parent (`patch` is left empty).
async fn turn_diff(
    state: &AppState,
    session: &chat_session::Model,
    path: PathBuf,
    message_id: i64,
    scope: DiffScope,
) -> Result<SessionDiff, ApiError> {
    let message = crate::store::messages::find(&state.db, message_id)
        .await?
        .filter(|m| m.chat_session_id == session.id)
        .ok_or(ApiError::NotFound("message"))?;
    let Some(commit) = message.commit_sha else {
        return Err(ApiError::conflict(api_types::ErrorCode::Conflict, "That message made no commit."));
    };
    let sha = commit.clone();
    let files = blocking(move || Checkout::open(&path)?.changes_of_commit(&sha, &scope)).await?;
    Ok(SessionDiff {
        base_branch: base_branch(session),
        base_sha: commit,
        patch: String::new(),
        truncated: files.iter().any(|f| f.truncated),
        files_changed: files.len() as u64,
        insertions: files.iter().map(|f| f.additions as u64).sum(),
        deletions: files.iter().map(|f| f.deletions as u64).sum(),
        files: files.into_iter().map(shown_file).collect(),
        message_id: Some(api_types::MessageId(message.id)),
    })
}

fn shown_file(file: checkout::FileChange) -> api_types::DiffFile {
    use api_types::{DiffFile, DiffHunk, DiffLine, DiffLineKind, FileChangeStatus};
    DiffFile {
        path: file.path,
        old_path: file.old_path,
        status: match file.status {
            checkout::ChangeStatus::Added => FileChangeStatus::Added,
            checkout::ChangeStatus::Modified => FileChangeStatus::Modified,
            checkout::ChangeStatus::Deleted => FileChangeStatus::Deleted,
            checkout::ChangeStatus::Renamed => FileChangeStatus::Renamed,
        },
        additions: file.additions as u64,
        deletions: file.deletions as u64,
        binary: file.binary,
        truncated: file.truncated,
        hunks: file
            .hunks
            .into_iter()
            .map(|hunk| DiffHunk {
                header: hunk.header,
                old_start: hunk.old_start,
                old_lines: hunk.old_lines,
                new_start: hunk.new_start,
                new_lines: hunk.new_lines,
                lines: hunk
                    .lines
                    .into_iter()
                    .map(|line| DiffLine {
                        kind: match line.kind {
                            checkout::LineKind::Added => DiffLineKind::Added,
                            checkout::LineKind::Removed => DiffLineKind::Removed,
                            checkout::LineKind::Context => DiffLineKind::Context,
                        },
                        old: line.old,
                        new: line.new,
                        text: line.text,
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// Ahead/behind the base, pushed or not, uncommitted changes, the pull request. Works for
/// archived sessions too (from the branch alone; they have nothing uncommitted).
pub async fn branch_status(state: &AppState, session: &chat_session::Model) -> Result<BranchStatus, ApiError> {
    let dir = state.workspaces.project_dir(session.project_id);
    let (mirror_path, checkout_dir) = (dir.mirror(), dir.checkout(&session.session_id));
    let (branch, base) = (session.github_branch_name.clone(), base_branch(session));
    let (branch_for_status, base_for_status) = (branch.clone(), base.clone());
    let (status, dirty) = blocking(move || {
        let status = Mirror::open(&mirror_path)?.branch_status(&branch_for_status, &base_for_status)?;
        let dirty = match Checkout::open(&checkout_dir) {
            Ok(checkout) => checkout.is_dirty()?,
            Err(_) => false,
        };
        Ok((status, dirty))
    })
    .await?;
    Ok(BranchStatus {
        branch,
        base_branch: base,
        head_sha: status.head_sha,
        ahead: status.ahead as u64,
        behind: status.behind as u64,
        pushed: status.pushed,
        dirty,
        pull_request: session
            .pull_request_number
            .zip(session.pull_request_url.clone())
            .map(|(number, url)| PullRequestRef { number, url }),
    })
}

/// The branch status of several of the caller's chats at once (the sidebar), opening the
/// project's mirror once. At most 100 ids; ids that are not the caller's are left out.
pub async fn branch_statuses(
    state: &AppState,
    user: &crate::auth::CurrentUser,
    project_id: i32,
    ids: &[i32],
) -> Result<BranchStatusList, ApiError> {
    if ids.len() > 100 {
        return Err(ApiError::bad_request(ErrorCode::InvalidQuery, "Ask for at most 100 chats at a time."));
    }
    let access = crate::access::ProjectAccess::load(&state.db, project_id, user).await?;
    let sessions = crate::store::sessions::many_for_user(&state.db, access.id(), &user.id, ids).await?;
    let mirror_path = state.workspaces.project_dir(project_id).mirror();
    let wanted: Vec<(i32, String, String)> =
        sessions.iter().map(|s| (s.id, s.github_branch_name.clone(), base_branch(s))).collect();
    let computed = blocking(move || {
        let mirror = Mirror::open(&mirror_path)?;
        Ok(wanted
            .into_iter()
            .filter_map(|(id, branch, base)| mirror.branch_status(&branch, &base).ok().map(|status| (id, status)))
            .collect::<Vec<_>>())
    })
    .await?;
    let statuses = computed
        .into_iter()
        .filter_map(|(id, status)| {
            let session = sessions.iter().find(|s| s.id == id)?;
            Some(SessionBranchStatus {
                chat_session_id: api_types::ChatSessionPk(id),
                ahead: status.ahead as u64,
                behind: status.behind as u64,
                pushed: status.pushed,
                pull_request: session
                    .pull_request_number
                    .zip(session.pull_request_url.clone())
                    .map(|(number, url)| PullRequestRef { number, url }),
            })
        })
        .collect();
    Ok(BranchStatusList { statuses })
}
