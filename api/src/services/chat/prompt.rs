//! A prompt as it is stored and sent: checked, with its review comments, and what the agent
//! receives.

use crate::error::ApiError;
use api_types::{ContentBlock, MAX_PROMPT_CHARS, ReviewComment};

/// The prompt as stored: trimmed, not empty, within the limit.
pub(crate) fn checked_prompt(prompt: &str) -> Result<String, ApiError> {
    if prompt.chars().count() > MAX_PROMPT_CHARS {
        return Err(ApiError::validation(
            "prompt",
            format!("The prompt is longer than {MAX_PROMPT_CHARS} characters."),
        ));
    }
    let prompt = prompt.trim().to_owned();
    if prompt.is_empty() {
        return Err(ApiError::validation("prompt", "The prompt must not be empty."));
    }
    Ok(prompt)
}

/// At most this many review comments go with one prompt.
const MAX_COMMENTS: usize = 50;
/// A comment's text and its quoted code are each cut at this many characters.
pub const MAX_COMMENT_CHARS: usize = 10_000;

/// A review comment's path: relative to the checkout, no `..` segment, no NUL.
pub const COMMENT_PATH_PATTERN: &str = r"^(?!/)(?!(?:.*/)?\.\.(?:/|$))[^\x00]+$";
pub const MAX_COMMENT_PATH_CHARS: usize = 4096;

/// Review comments as stored: each on a path of the checkout, lines from 1 (first to last), a
/// comment that says something (trimmed); the quote cut to its bound.
pub(crate) fn checked_comments(comments: &[ReviewComment]) -> Result<Vec<ReviewComment>, ApiError> {
    if comments.len() > MAX_COMMENTS {
        return Err(ApiError::validation(
            "comments",
            format!("At most {MAX_COMMENTS} review comments go with one message."),
        ));
    }
    comments
        .iter()
        .map(|comment| {
            let path = &comment.path;
            if path.is_empty()
                || path.starts_with('/')
                || path.chars().count() > MAX_COMMENT_PATH_CHARS
                || path.split('/').any(|part| part == "..")
                || path.contains('\0')
            {
                return Err(ApiError::validation(
                    "comments",
                    "A comment's path must be a file of the checkout, relative to it.",
                ));
            }
            if comment.start_line == 0 || comment.end_line == 0 {
                return Err(ApiError::validation("comments", "A comment's lines are numbered from 1."));
            }
            let body = comment.body.trim();
            if body.is_empty() || comment.body.chars().count() > MAX_COMMENT_CHARS {
                return Err(ApiError::validation(
                    "comments",
                    format!("A comment must be 1 to {MAX_COMMENT_CHARS} characters."),
                ));
            }
            Ok(ReviewComment {
                path: path.clone(),
                start_line: comment.start_line.min(comment.end_line),
                end_line: comment.start_line.max(comment.end_line),
                side: comment.side,
                body: body.to_owned(),
                quote: comment.quote.chars().take(MAX_COMMENT_CHARS).collect(),
            })
        })
        .collect()
}

/// What the agent is sent: the prompt, then the review comments' block, then what an update
/// from the base stopped on.
pub(super) fn agent_prompt(prompt: String, comments: &[ReviewComment], conflicts: Option<String>) -> String {
    let mut sent = prompt;
    if !comments.is_empty() {
        sent = format!("{sent}\n\n{}", ReviewComment::block_for_agent(comments));
    }
    if let Some(conflicts) = conflicts {
        sent = format!("{sent}\n\n{conflicts}");
    }
    sent
}

/// The user message's blocks: with review comments, the prompt's text and the comments' block.
pub(super) fn message_blocks(prompt: &str, comments: &[ReviewComment]) -> Option<serde_json::Value> {
    (!comments.is_empty()).then(|| {
        serde_json::to_value([
            ContentBlock::Text { text: prompt.to_owned() },
            ContentBlock::Review { comments: comments.to_vec() },
        ])
        .unwrap_or_default()
    })
}
