//! The Code tab's highlighted lines: tokens of a small set of kinds (`FileContent::highlighted`).

use serde::{Deserialize, Serialize};

/// A run of text of one kind in a highlighted line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Token {
    pub kind: TokenKind,
    pub text: String,
}

/// What a token is, as a small set of classes a stylesheet colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    Plain,
    Comment,
    String,
    Number,
    Constant,
    Keyword,
    Function,
    Type,
    Tag,
    Attribute,
    Variable,
    Operator,
}

impl TokenKind {
    /// Its CSS class (`tok-keyword`, …).
    pub fn class(self) -> &'static str {
        match self {
            TokenKind::Plain => "tok-plain",
            TokenKind::Comment => "tok-comment",
            TokenKind::String => "tok-string",
            TokenKind::Number => "tok-number",
            TokenKind::Constant => "tok-constant",
            TokenKind::Keyword => "tok-keyword",
            TokenKind::Function => "tok-function",
            TokenKind::Type => "tok-type",
            TokenKind::Tag => "tok-tag",
            TokenKind::Attribute => "tok-attribute",
            TokenKind::Variable => "tok-variable",
            TokenKind::Operator => "tok-operator",
        }
    }
}
