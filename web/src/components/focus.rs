//! Keyboard focus for tabs, menus and dialogs, after the WAI-ARIA authoring practices: arrow
//! keys move within a tab list or a menu, a modal dialog takes the focus and keeps Tab inside
//! until it closes, then gives the focus back to what had it.

use leptos::prelude::*;
use send_wrapper::SendWrapper;
use wasm_bindgen::JsCast;
use web_sys::{Element, Event, FocusEvent, HtmlElement, KeyboardEvent, Node};

/// What can take the keyboard's focus.
const FOCUSABLE: &str = "a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), \
                         textarea:not([disabled]), [tabindex]:not([tabindex='-1'])";

/// The item a key moves to among `count` items in a row (`horizontal`) or a column: the arrows
/// step and wrap around, Home and End go to the ends. `None` for any other key.
pub fn step(key: &str, current: usize, count: usize, horizontal: bool) -> Option<usize> {
    if count == 0 {
        return None;
    }
    let (next, previous) = if horizontal { ("ArrowRight", "ArrowLeft") } else { ("ArrowDown", "ArrowUp") };
    match key {
        "Home" => Some(0),
        "End" => Some(count - 1),
        k if k == next => Some((current + 1) % count),
        k if k == previous => Some((current + count - 1) % count),
        _ => None,
    }
}

/// The elements under `container` that `selector` matches, in document order.
fn elements(container: &Element, selector: &str) -> Vec<HtmlElement> {
    let Ok(list) = container.query_selector_all(selector) else { return vec![] };
    (0..list.length()).filter_map(|i| list.item(i)?.dyn_into::<HtmlElement>().ok()).collect()
}

fn has_focus(element: &HtmlElement) -> bool {
    document().active_element().is_some_and(|active| active == **element)
}

/// The element whose listener handles `ev` (the tab list, the menu, the dialog, the card).
fn listener(ev: &Event) -> Option<Element> {
    ev.current_target()?.dyn_into::<Element>().ok()
}

/// Whether a `focusout` takes the focus out of the listening element altogether (to another
/// part of the page, or nowhere: a click on something that takes no focus).
pub fn focus_left(ev: &FocusEvent) -> bool {
    let Some(container) = listener(ev) else { return false };
    let next = ev.related_target().and_then(|t| t.dyn_into::<Node>().ok());
    !container.contains(next.as_ref())
}

/// Moves the focus among the `selector` items under the listening element by `step`'s keys;
/// returns the index it moved to.
pub fn move_among(ev: &KeyboardEvent, selector: &str, horizontal: bool) -> Option<usize> {
    let items = elements(&listener(ev)?, selector);
    let current = items.iter().position(has_focus).unwrap_or(0);
    let next = step(&ev.key(), current, items.len(), horizontal)?;
    ev.prevent_default();
    items[next].focus().ok()?;
    Some(next)
}

/// After the next render, focuses the first element `selector` matches when it can take the
/// focus, else the first element under it that can (a menu's first item, a dialog's first field).
pub fn focus_soon(selector: &'static str) {
    request_animation_frame(move || {
        let Some(target) = document().query_selector(selector).ok().flatten() else { return };
        let first = if target.matches(FOCUSABLE).unwrap_or(false) {
            target.dyn_into::<HtmlElement>().ok()
        } else {
            elements(&target, FOCUSABLE).into_iter().next()
        };
        if let Some(first) = first {
            let _ = first.focus();
        }
    });
}

/// Keeps Tab and Shift+Tab inside the listening element: from its last focusable element to its
/// first, and back.
fn keep_tab_inside(ev: &KeyboardEvent) {
    let Some(container) = listener(ev) else { return };
    let items = elements(&container, FOCUSABLE);
    let (Some(first), Some(last)) = (items.first(), items.last()) else { return };
    let wrap_to = if ev.shift_key() { has_focus(first).then_some(last) } else { has_focus(last).then_some(first) };
    if let Some(target) = wrap_to {
        ev.prevent_default();
        let _ = target.focus();
    }
}

/// Opens a modal dialog, the first element `selector` matches: the focus moves to its first
/// field or button, and when the scope this is called in ends (the dialog goes away) the focus
/// returns to the element that had it when the dialog opened. Call it where the dialog's view
/// is made, and handle the dialog's keys with `modal_keys`.
pub fn modal(selector: &'static str) {
    let opener = SendWrapper::new(document().active_element().and_then(|e| e.dyn_into::<HtmlElement>().ok()));
    on_cleanup(move || {
        if let Some(opener) = opener.take().filter(|e| e.is_connected()) {
            let _ = opener.focus();
        }
    });
    focus_soon(selector);
}

/// A modal dialog's keys: Escape calls `close`; Tab and Shift+Tab stay inside the dialog.
pub fn modal_keys(ev: &KeyboardEvent, close: impl FnOnce()) {
    match ev.key().as_str() {
        "Escape" => close(),
        "Tab" => keep_tab_inside(ev),
        _ => {}
    }
}
