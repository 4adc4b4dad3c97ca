//! Chat messages of a session.

use crate::chat::ContentBlock;
use crate::ids::{ChatSessionPk, MessageId, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "db", derive(sea_orm::EnumIter, sea_orm::DeriveActiveEnum))]
#[cfg_attr(feature = "db", sea_orm(rs_type = "String", db_type = "String(sea_orm::sea_query::StringLen::N(20))"))]
#[serde(rename_all = "snake_case")]
pub enum MessageRole {
    #[cfg_attr(feature = "db", sea_orm(string_value = "user"))]
    User,
    #[cfg_attr(feature = "db", sea_orm(string_value = "assistant"))]
    Assistant,
    #[cfg_attr(feature = "db", sea_orm(string_value = "system"))]
    System,
}

/// One message of a chat session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChatMessage {
    pub id: MessageId,
    pub chat_session_id: ChatSessionPk,
    pub user_id: Option<UserId>,
    pub role: MessageRole,
    pub content: String,
    /// Structured content (text, tool use with input and result, errors), when present.
    pub blocks: Option<Vec<ContentBlock>>,
    pub model: Option<String>,
    pub input_tokens: Option<i32>,
    pub output_tokens: Option<i32>,
    /// The commit this turn made on the session branch.
    pub commit_sha: Option<String>,
    /// When a revert to an earlier turn undid this turn (its commit is off the branch).
    #[serde(default)]
    pub reverted_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Which end of the conversation a message page starts from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum MessageOrder {
    /// Oldest first.
    #[default]
    Asc,
    /// Newest first (what a chat view loads first, then scrolls back).
    Desc,
}

/// Query of `GET …/messages`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
pub struct MessageQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<MessageOrder>,
    /// 1 to 100; 50 when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// `GET /api/projects/{id}/chat-sessions/{session_pk}/messages`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MessageList {
    pub messages: Vec<ChatMessage>,
    pub total: u64,
    pub next_cursor: Option<String>,
}
