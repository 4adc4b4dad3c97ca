//! Review comments: a comment on lines of a file, sent with a prompt (`ChatRequest::comments`),
//! kept in the transcript (`ContentBlock::Review`) and with a queued message.

use serde::{Deserialize, Serialize};

/// A comment on a line or range of a file, from the Code tab's viewer or its changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReviewComment {
    /// Relative to the checkout, `/`-separated.
    pub path: String,
    /// The first line, from 1.
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub start_line: u32,
    /// The last line (the two may come in either order; they are stored first to last).
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub end_line: u32,
    /// Which version of the file the lines number: the file as it is (`new`, the viewer's and
    /// added lines) or as it was (`old`, removed lines).
    #[serde(default)]
    pub side: CommentSide,
    /// The code the lines hold, as the user saw it (cut at 10,000 characters).
    pub quote: String,
    pub body: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CommentSide {
    #[default]
    New,
    Old,
}

impl ReviewComment {
    /// `src/a.rs:3` or `src/a.rs:3-5`, with `(before the change)` for the old side.
    pub fn location(&self) -> String {
        let lines = if self.start_line == self.end_line {
            self.start_line.to_string()
        } else {
            format!("{}-{}", self.start_line, self.end_line)
        };
        let side = if self.side == CommentSide::Old { " (before the change)" } else { "" };
        format!("{}:{lines}{side}", self.path)
    }

    /// The comments as the agent reads them after the prompt: each one's file and lines, the
    /// quoted code and the comment.
    pub fn block_for_agent(comments: &[ReviewComment]) -> String {
        let mut out = String::from("<review_comments>\nThe user left these comments on the code. Address each one.\n");
        for (n, comment) in comments.iter().enumerate() {
            out.push_str(&format!("\n{}. {}\n", n + 1, comment.location()));
            for line in comment.quote.lines() {
                out.push_str("> ");
                out.push_str(line);
                out.push('\n');
            }
            out.push_str("Comment: ");
            out.push_str(comment.body.trim());
            out.push('\n');
        }
        out.push_str("</review_comments>");
        out
    }
}
