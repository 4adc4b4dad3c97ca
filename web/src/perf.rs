//! Performance API marks for the benchmarks (`cargo xtask bench` reads them in headless
//! Chromium): each is set once per page load, after the browser has painted the change.

use std::cell::RefCell;
use std::collections::HashSet;

thread_local! {
    static MARKED: RefCell<HashSet<&'static str>> = RefCell::new(HashSet::new());
}

/// The sidebar shows its first page of chats.
pub const SIDEBAR_PAINTED: &str = "kosuke:sidebar-painted";

/// Sets `performance.mark(name)` after the next paint, the first time only. Two animation
/// frames: the first runs before the paint that shows the change, the second after it.
pub fn mark_after_paint(name: &'static str) {
    if !MARKED.with(|marked| marked.borrow_mut().insert(name)) {
        return;
    }
    leptos::prelude::request_animation_frame(move || {
        leptos::prelude::request_animation_frame(move || {
            if let Some(performance) = web_sys::window().and_then(|w| w.performance()) {
                let _ = performance.mark(name);
            }
        })
    });
}
