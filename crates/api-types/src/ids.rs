//! Id newtypes, so a project id can't be passed where a session id is expected.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident($inner:ty)) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(transparent)]
        pub struct $name(pub $inner);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// `projects.id`.
    ProjectId(i32)
);
id_type!(
    /// `chat_sessions.id`, the `session_pk` of the paths and `chat_session_id` of `POST /api/chat`.
    ChatSessionPk(i32)
);
id_type!(
    /// `chat_messages.id`.
    MessageId(i64)
);
id_type!(
    /// `api_tokens.id`.
    TokenId(i32)
);
id_type!(
    /// `project_files.id`.
    ProjectFileId(i32)
);
id_type!(
    /// `queued_prompts.id`: a message waiting for its chat's live run to end.
    QueuedPromptId(i32)
);
id_type!(
    /// `audit_events.id`.
    AuditEventId(i64)
);

/// `users.id`: an opaque string.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(transparent)]
pub struct UserId(pub String);

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
