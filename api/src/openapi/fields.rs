//! The rules of request body fields, written into the document's schemas: for every string
//! field of a request, the length and pattern the server enforces (the patterns are
//! `api_types::validate`'s constants, beside the functions that check them). A test fails when
//! a request string field has no rule and is not named free.

use crate::services::{chat, env_vars, github, projects, run_settings};
use api_types::validate::{self, BRANCH_PATTERN, COLOR_PATTERN, FONT_PATTERN, LINE_PATTERN, TEXT_PATTERN};
use serde_json::{Value, json};

/// What one body field takes.
#[derive(Clone, Copy)]
enum Rule {
    /// One line, not blank, at most this many characters as sent.
    Line(usize),
    /// Text that may span lines, at most this many characters.
    Text(usize),
    /// Any text with something in it besides spaces, at most this many characters.
    NotBlank(usize),
    /// A pattern and a length, not empty.
    Pattern(&'static str, usize),
    /// A pattern and a length, possibly empty.
    MayBeEmpty(&'static str, usize),
    /// An email address.
    Email,
    /// A new password.
    Password,
}

/// Sent tokens: spaces around are trimmed, none inside.
const TOKEN_PATTERN: &str = r"^\s*[^\s\x00-\x1f\x7f-\x9f]+\s*$";
/// A GitHub owner: letters, digits and hyphens, not starting with one.
const OWNER_PATTERN: &str = r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}$";
/// A GitHub repository name other than `.` and `..`.
const REPO_PATTERN: &str = r"^(?!\.\.?$)[A-Za-z0-9._-]{1,100}$";
/// The git URLs kosuke clones (credentials and private hosts are refused as well).
const GIT_URL_PATTERN: &str = r"^\s*(?:https?|git|file)://[^\s\x00-\x1f\x7f-\x9f]+\s*$";
/// An absolute path on the server.
const LOCAL_PATH_PATTERN: &str = r"^/[^\x00]*$";
/// An env var value: anything but NUL.
const NO_NUL_PATTERN: &str = r"^[^\x00]*$";

/// Body fields and what they take: `(schema, property, rule)`. A property of a `oneOf` schema
/// (`RepositorySource`) is found in each variant that has it.
const BODY_RULES: &[(&str, &str, Rule)] = &[
    ("SignupRequest", "email", Rule::Email),
    ("SignupRequest", "password", Rule::Password),
    ("SignupRequest", "display_name", Rule::Line(validate::MAX_NAME_CHARS)),
    ("CreateApiTokenRequest", "name", Rule::Line(validate::MAX_NAME_CHARS)),
    ("ConnectGitHubRequest", "token", Rule::Pattern(TOKEN_PATTERN, github::MAX_TOKEN_CHARS)),
    ("ChatRequest", "prompt", Rule::NotBlank(api_types::MAX_PROMPT_CHARS)),
    ("UpdateQueuedPromptRequest", "prompt", Rule::NotBlank(api_types::MAX_PROMPT_CHARS)),
    ("ReviewComment", "path", Rule::Pattern(chat::COMMENT_PATH_PATTERN, chat::MAX_COMMENT_PATH_CHARS)),
    ("ReviewComment", "body", Rule::NotBlank(chat::MAX_COMMENT_CHARS)),
    ("CreateProjectRequest", "name", Rule::Line(validate::MAX_NAME_CHARS)),
    ("CreateProjectRequest", "description", Rule::Text(api_types::MAX_DESCRIPTION_CHARS)),
    ("CreateProjectRequest", "default_branch", Rule::Pattern(BRANCH_PATTERN, validate::MAX_BRANCH_CHARS)),
    ("RepositorySource", "owner", Rule::Pattern(OWNER_PATTERN, 39)),
    ("RepositorySource", "repo", Rule::Pattern(REPO_PATTERN, 100)),
    ("RepositorySource", "url", Rule::Pattern(GIT_URL_PATTERN, projects::MAX_GIT_URL_CHARS)),
    ("RepositorySource", "path", Rule::Pattern(LOCAL_PATH_PATTERN, projects::MAX_LOCAL_PATH_CHARS)),
    ("UpdateProjectRequest", "name", Rule::Line(validate::MAX_NAME_CHARS)),
    ("UpdateProjectRequest", "description", Rule::Text(api_types::MAX_DESCRIPTION_CHARS)),
    ("AddMemberRequest", "email", Rule::Email),
    ("CreateChatSessionRequest", "title", Rule::Line(api_types::MAX_TITLE_CHARS)),
    ("CreateChatSessionRequest", "description", Rule::Text(api_types::MAX_DESCRIPTION_CHARS)),
    ("CreateChatSessionRequest", "base_branch", Rule::Pattern(BRANCH_PATTERN, validate::MAX_BRANCH_CHARS)),
    ("UpdateChatSessionRequest", "title", Rule::Line(api_types::MAX_TITLE_CHARS)),
    ("UpdateChatSessionRequest", "description", Rule::Text(api_types::MAX_DESCRIPTION_CHARS)),
    ("DuplicateChatSessionRequest", "title", Rule::Line(api_types::MAX_TITLE_CHARS)),
    ("ForkRequest", "title", Rule::Line(api_types::MAX_TITLE_CHARS)),
    ("CreatePullRequestRequest", "title", Rule::Line(api_types::MAX_TITLE_CHARS)),
    ("CreatePullRequestRequest", "description", Rule::Text(github::MAX_PULL_BODY_CHARS)),
    ("CreatePullRequestRequest", "target_branch", Rule::Pattern(BRANCH_PATTERN, validate::MAX_BRANCH_CHARS)),
    ("UpdateDefaultBranchRequest", "default_branch", Rule::Pattern(BRANCH_PATTERN, validate::MAX_BRANCH_CHARS)),
    ("SetEnvVarRequest", "value", Rule::MayBeEmpty(NO_NUL_PATTERN, env_vars::MAX_VALUE_CHARS)),
    ("UpdateRunSettingsRequest", "setup", Rule::Text(api_types::MAX_COMMAND_CHARS)),
    ("UpdateRunSettingsRequest", "dev", Rule::Text(api_types::MAX_COMMAND_CHARS)),
    (
        "UpdateRunSettingsRequest",
        "readiness_path",
        Rule::MayBeEmpty(run_settings::READINESS_PATH_PATTERN, run_settings::MAX_READINESS_PATH_CHARS),
    ),
    (
        "PutProjectFileRequest",
        "path",
        Rule::Pattern(run_settings::FILE_PATH_PATTERN, run_settings::MAX_FILE_PATH_CHARS),
    ),
    ("PutProjectFileRequest", "content", Rule::Text(api_types::MAX_PROJECT_FILE_BYTES)),
    ("Branding", "primary_color", Rule::Pattern(COLOR_PATTERN, 7)),
    ("Branding", "accent_color", Rule::Pattern(COLOR_PATTERN, 7)),
    ("Branding", "heading_font", Rule::Pattern(FONT_PATTERN, validate::MAX_FONT_CHARS)),
    ("Branding", "body_font", Rule::Pattern(FONT_PATTERN, validate::MAX_FONT_CHARS)),
];

/// String fields of request bodies the server takes as they come (no rule to state); the test
/// that every field has its rule reads it.
#[cfg(test)]
const FREE_FIELDS: &[(&str, &str)] = &[
    ("LoginRequest", "email"),
    ("LoginRequest", "password"),
    ("ChatRequest", "github_token"),
    ("CreatePullRequestRequest", "github_token"),
    // Cut at its bound, never refused.
    ("ReviewComment", "quote"),
];

/// Writes [`BODY_RULES`] into the document's component schemas.
pub fn apply(schemas: &mut Value) {
    for (schema, property, rule) in BODY_RULES {
        let found = properties_named(&mut schemas[*schema], property);
        assert!(!found.is_empty(), "BODY_RULES names {schema}.{property}, which the document does not have");
        for field in found {
            constrain_field(field, *rule);
        }
    }
}

/// The properties of this name in an object schema, or in each variant of a `oneOf`.
fn properties_named<'a>(schema: &'a mut Value, property: &str) -> Vec<&'a mut Value> {
    if schema.get("oneOf").is_some() {
        let variants = schema["oneOf"].as_array_mut().into_iter().flatten();
        return variants.filter_map(|variant| variant.get_mut("properties")?.get_mut(property)).collect();
    }
    schema.get_mut("properties").and_then(|p| p.get_mut(property)).into_iter().collect()
}

fn constrain_field(field: &mut Value, rule: Rule) {
    let (pattern, min, max, format): (Option<&str>, usize, Option<usize>, Option<&str>) = match rule {
        Rule::Line(max) => (Some(LINE_PATTERN), 1, Some(max), None),
        Rule::Text(max) => (Some(TEXT_PATTERN), 0, Some(max), None),
        Rule::NotBlank(max) => (Some(r"\S"), 1, Some(max), None),
        Rule::Pattern(pattern, max) => (Some(pattern), 1, Some(max), None),
        Rule::MayBeEmpty(pattern, max) => (Some(pattern), 0, Some(max), None),
        Rule::Email => (None, 3, Some(254), Some("email")),
        Rule::Password => {
            (None, crate::auth::password::MIN_PASSWORD_CHARS, Some(crate::auth::password::MAX_PASSWORD_CHARS), None)
        }
    };
    if let Some(pattern) = pattern {
        field["pattern"] = json!(pattern);
    }
    if min > 0 {
        field["minLength"] = json!(min);
    }
    if let Some(max) = max {
        field["maxLength"] = json!(max);
    }
    if let Some(format) = format {
        field["format"] = json!(format);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every string field of a request body has a rule or is named free: a new field cannot
    /// go undocumented.
    #[test]
    fn every_request_string_field_has_its_rule() {
        let doc = crate::openapi::document().clone();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        let mut missing = Vec::new();
        for (name, schema) in schemas {
            if !(name.ends_with("Request")
                || ["Branding", "RepositorySource", "ReviewComment"].contains(&name.as_str()))
            {
                continue;
            }
            let variants: Vec<&Value> = match schema.get("oneOf").and_then(Value::as_array) {
                Some(variants) => variants.iter().collect(),
                None => vec![schema],
            };
            for variant in variants {
                for (field, property) in variant["properties"].as_object().into_iter().flatten() {
                    let is_string = property["type"] == "string"
                        || property["type"].as_array().is_some_and(|t| t.contains(&json!("string")));
                    if !is_string || property.get("enum").is_some() {
                        continue;
                    }
                    let ruled = BODY_RULES.iter().any(|(s, f, _)| s == name && f == field)
                        || FREE_FIELDS.iter().any(|(s, f)| s == name && f == field);
                    if !ruled {
                        missing.push(format!("{name}.{field}"));
                    }
                }
            }
        }
        assert!(missing.is_empty(), "string fields without a rule in BODY_RULES or FREE_FIELDS: {missing:?}");
    }
}
