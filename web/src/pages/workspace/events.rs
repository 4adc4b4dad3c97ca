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
        reverted_at: None,
        created_at: now,
        updated_at: now,
    }
}

/// Folds a live event into the open chat's messages.
pub fn on_event(
    event: RunEvent,
    messages: RwSignal<Vec<ChatMessage>>,
    running: RwSignal<bool>,
    queued: RwSignal<bool>,
    streaming: RwSignal<Option<MessageId>>,
    session: ChatSessionPk,
    reload: impl Fn() + 'static,
) {
    let update_streaming = |event: &RunEvent| {
        let Some(id) = streaming.get_untracked() else { return };
        messages.update(|list| {
            if let Some(message) = list.iter_mut().find(|m| m.id == id) {
                let blocks = message.blocks.get_or_insert_with(Vec::new);
                ContentBlock::fold(blocks, event);
                message.content = ContentBlock::text_of(blocks);
            }
        });
    };
    let live = move |id: MessageId| {
        running.set(true);
        streaming.set(Some(id));
        messages.update(|list| {
            if !list.iter().any(|m| m.id == id) {
                list.push(placeholder(id, session));
            }
        });
    };
    match event {
        RunEvent::RunQueued { assistant_message_id, .. } => {
            live(assistant_message_id);
            queued.set(true);
        }
        RunEvent::RunStarted { assistant_message_id, .. } => {
            live(assistant_message_id);
            queued.set(false);
        }
        RunEvent::RunSnapshot { assistant_message_id, status, .. } => {
            live(assistant_message_id);
            queued.set(status == RunStatus::Queued);
            update_streaming(&event);
        }
        RunEvent::TextDelta { .. }
        | RunEvent::ToolStarted { .. }
        | RunEvent::ToolOutput { .. }
        | RunEvent::ToolFinished { .. }
        | RunEvent::Retrying { .. } => update_streaming(&event),
        RunEvent::CommitCreated { .. } | RunEvent::Error { .. } => {}
        RunEvent::RunFinished { .. } => {
            running.set(false);
            queued.set(false);
            streaming.set(None);
            reload();
        }
    }
}
