//! "Describe it for me": the agent writes a pull request's title and description from the
//! chat's changes (the diff against its base, cut) and its conversation (the latest messages),
//! for the user to edit before opening the pull request. The model works in an empty scratch
//! directory: it has nothing to change there, and the checkout is left alone.

use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store;
use agent::CancellationToken;
use api_types::{ErrorCode, MessageRole, PullRequestDraft};

const DIFF_CHARS: usize = 24 * 1024;
const TRANSCRIPT_CHARS: usize = 8 * 1024;
const MESSAGES: u64 = 20;

struct Collect(String);

impl agent::EventSink for Collect {
    fn emit(&mut self, event: agent::AgentEvent) {
        if let agent::AgentEvent::Text(text) = event {
            self.0.push_str(&text);
        }
    }
}

fn cut(text: &str, limit: usize) -> &str {
    if text.len() <= limit {
        return text;
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The first non-empty line is the title (a leading `#` or `Title:` taken off), the rest the body.
pub fn parse(answer: &str) -> PullRequestDraft {
    let mut lines = answer.trim().lines();
    let title = lines.by_ref().map(str::trim).find(|l| !l.is_empty()).unwrap_or_default();
    let title = title.trim_start_matches('#').trim();
    let title = title.strip_prefix("Title:").map(str::trim).unwrap_or(title).trim_matches('*').trim();
    let title: String = title.chars().take(api_types::MAX_TITLE_CHARS).collect();
    let body = lines.collect::<Vec<_>>().join("\n");
    let body = body.trim().strip_prefix("Description:").map(str::trim).unwrap_or(body.trim()).to_owned();
    PullRequestDraft { title, body }
}

/// `POST …/{session_pk}/pull-request/describe`.
pub async fn describe(
    state: &AppState,
    user: &CurrentUser,
    project_id: i32,
    session_pk: i32,
) -> Result<PullRequestDraft, ApiError> {
    let agent = state
        .agent
        .clone()
        .map_err(|reason| ApiError::Unavailable { code: ErrorCode::AgentUnavailable, message: reason })?;
    let session = crate::services::sessions::load(&state.db, user, project_id, session_pk).await?;
    let diff = crate::services::code::diff(state, &session, api_types::DiffQuery::default()).await?;
    if diff.files.is_empty() {
        return Err(ApiError::conflict(ErrorCode::NoChanges, "The chat has no changes to describe yet."));
    }
    let recent = store::runs::history(&state.db, session.id, i64::MAX, MESSAGES).await?;
    let mut transcript = String::new();
    for message in recent.into_iter().rev().map(|m| state.secrets.open_message(m)) {
        let who = match message.role {
            MessageRole::User => "User",
            MessageRole::Assistant => "Agent",
            MessageRole::System => continue,
        };
        transcript.push_str(&format!("{who}: {}\n\n", message.content.trim()));
    }
    let transcript = if transcript.len() > TRANSCRIPT_CHARS {
        let mut start = transcript.len() - TRANSCRIPT_CHARS;
        while !transcript.is_char_boundary(start) {
            start += 1;
        }
        transcript[start..].to_owned()
    } else {
        transcript
    };
    let prompt = format!(
        "Write the title and the description of a GitHub pull request for the changes below, made in the \
         chat \"{title}\" against {base}. Answer with the title alone on the first line (at most 72 characters, \
         no prefix), a blank line, then the description in Markdown: what changes and why, then how it was \
         tested if the conversation says. Do not use any tool.\n\n<conversation>\n{transcript}</conversation>\n\n\
         <diff files=\"{files}\" insertions=\"{ins}\" deletions=\"{del}\">\n{patch}\n</diff>",
        title = session.title,
        base = diff.base_branch,
        files = diff.files_changed,
        ins = diff.insertions,
        del = diff.deletions,
        patch = cut(&diff.patch, DIFF_CHARS),
    );
    let scratch = state.settings.data_dir.join("scratch").join(crate::auth::secret::new_session_id());
    std::fs::create_dir_all(&scratch).map_err(ApiError::internal)?;
    let turn = agent::Turn {
        prompt,
        history: Vec::new(),
        place: agent::Place::dir(&scratch),
        system: "You write clear, factual pull request descriptions for a code review.".to_owned(),
        preview: None,
    };
    let mut answer = Collect(String::new());
    let ran = agent.run(turn, &mut answer, CancellationToken::new()).await;
    let _ = std::fs::remove_dir_all(&scratch);
    ran.map_err(|err| ApiError::Upstream(format!("The agent could not describe the changes: {err}.")))?;
    let draft = parse(&answer.0);
    if draft.title.is_empty() {
        return Err(ApiError::Upstream("The agent's answer had no title; try again or write it yourself.".to_owned()));
    }
    Ok(draft)
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn the_first_line_is_the_title_and_the_rest_the_body() {
        let draft = parse("\n# Title: Add a greeting\n\nSays hello.\n\n- adds greeting.txt\n");
        assert_eq!(draft.title, "Add a greeting");
        assert_eq!(draft.body, "Says hello.\n\n- adds greeting.txt");
        assert_eq!(parse("**Fix the login**").title, "Fix the login");
    }
}
