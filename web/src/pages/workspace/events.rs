//! Folding a run's live events into the open chat's messages.

use api_types::*;
use leptos::prelude::*;

pub fn placeholder(id: MessageId, session: ChatSessionPk) -> ChatMessage {
    let now = chrono::DateTime::from_timestamp_millis(js_sys::Date::now() as i64).unwrap_or_default();
    ChatMessage {
        id,
        chat_session_id: session,
        user_id: None,
        role: MessageRole::Assistant,
        content: String::new(),
        blocks: None,
        model: None,
        input_tokens: None,
        output_tokens: None,
        commit_sha: None,
        created_at: now,
        updated_at: now,
    }
}

/// Folds a live event into the open chat's messages.
pub fn on_event(
    event: RunEvent,
    messages: RwSignal<Vec<ChatMessage>>,
    running: RwSignal<bool>,
    streaming: RwSignal<Option<MessageId>>,
    reload: impl Fn() + 'static,
) {
    let update_streaming = |f: &dyn Fn(&mut Vec<ContentBlock>)| {
        let Some(id) = streaming.get_untracked() else { return };
        messages.update(|list| {
            if let Some(message) = list.iter_mut().find(|m| m.id == id) {
                let blocks = message.blocks.get_or_insert_with(Vec::new);
                f(blocks);
                message.content = blocks
                    .iter()
                    .filter_map(|b| match b {
                        ContentBlock::Text { text } => Some(text.as_str()),
                        _ => None,
                    })
                    .collect();
            }
        });
    };
    match event {
        RunEvent::RunStarted { assistant_message_id, .. } => {
            running.set(true);
            streaming.set(Some(assistant_message_id));
        }
        RunEvent::TextDelta { text, .. } => update_streaming(&|blocks| match blocks.last_mut() {
            Some(ContentBlock::Text { text: last }) => last.push_str(&text),
            _ => blocks.push(ContentBlock::Text { text: text.clone() }),
        }),
        RunEvent::ToolStarted { tool_use_id, name, input, .. } => update_streaming(&|blocks| {
            blocks.push(ContentBlock::ToolUse {
                id: tool_use_id.clone(),
                name: name.clone(),
                input: input.clone(),
                output: None,
                is_error: false,
            })
        }),
        RunEvent::ToolFinished { tool_use_id, output, is_error, .. } => update_streaming(&|blocks| {
            for block in blocks.iter_mut() {
                if let ContentBlock::ToolUse { id, output: slot, is_error: error, .. } = block
                    && *id == tool_use_id
                {
                    *slot = Some(output.clone());
                    *error = is_error;
                }
            }
        }),
        RunEvent::CommitCreated { .. } | RunEvent::Error { .. } => {}
        RunEvent::RunFinished { .. } => {
            running.set(false);
            streaming.set(None);
            reload();
        }
    }
}
