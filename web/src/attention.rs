//! Chats that need their user, outside the open chat: the browser tab's title counts them,
//! and a system notification says when a chat's turn ended while kosuke was in the background
//! (once its user allowed notifications on the account page).

use api_types::{ChatSession, SessionActivity};
use web_sys::{Notification, NotificationOptions, NotificationPermission};

const TITLE: &str = "kosuke";

/// "(3) kosuke" while three chats need their user, "kosuke" otherwise.
pub fn show_in_title(sessions: &[ChatSession]) {
    let count = sessions.iter().filter(|s| s.activity.needs_you()).count();
    let title = if count == 0 { TITLE.to_owned() } else { format!("({count}) {TITLE}") };
    if let Some(document) = web_sys::window().and_then(|w| w.document()) {
        document.set_title(&title);
    }
}

/// Whether the page is out of sight (another tab, minimised).
pub fn page_hidden() -> bool {
    web_sys::window().and_then(|w| w.document()).is_some_and(|d| d.hidden())
}

/// Notifications are allowed.
pub fn allowed() -> bool {
    Notification::permission() == NotificationPermission::Granted
}

/// Asks the browser to allow notifications (from a click).
pub fn ask() {
    let _ = Notification::request_permission();
}

/// Tells of a chat whose turn just ended, when the page is hidden and notifications are allowed.
pub fn notify_ended(before: SessionActivity, now: &ChatSession) {
    if before != SessionActivity::Running || !now.activity.needs_you() || !page_hidden() || !allowed() {
        return;
    }
    let body = match now.activity {
        SessionActivity::FailedUnread => "The agent's turn failed.",
        SessionActivity::WaitingForYou => "The agent asks you something.",
        _ => "The agent finished its turn.",
    };
    let options = NotificationOptions::new();
    options.set_body(body);
    options.set_tag(&format!("kosuke-chat-{}", now.id));
    let _ = Notification::new_with_options(&now.title, &options);
}
