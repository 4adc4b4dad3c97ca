//! Live run events for the open chat, through the browser's EventSource (which reconnects by
//! itself and sends Last-Event-ID, so nothing is missed). One stream at a time.

use api_types::RunEvent;
use std::cell::RefCell;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{EventSource, MessageEvent};

const EVENT_NAMES: [&str; 7] =
    ["run_started", "text_delta", "tool_started", "tool_finished", "commit_created", "run_finished", "error"];

struct Stream {
    source: EventSource,
    _listener: Closure<dyn FnMut(MessageEvent)>,
}

thread_local! {
    static CURRENT: RefCell<Option<Stream>> = const { RefCell::new(None) };
}

/// Follows `url`'s events, calling `on_event` for each; replaces any stream followed before.
pub fn follow(url: &str, on_event: impl Fn(RunEvent) + 'static) {
    stop();
    let Ok(source) = EventSource::new(url) else { return };
    let listener = Closure::<dyn FnMut(MessageEvent)>::new(move |message: MessageEvent| {
        if let Some(data) = message.data().as_string()
            && let Ok(event) = serde_json::from_str::<RunEvent>(&data)
        {
            on_event(event);
        }
    });
    for name in EVENT_NAMES {
        let _ = source.add_event_listener_with_callback(name, listener.as_ref().unchecked_ref());
    }
    CURRENT.with(|current| *current.borrow_mut() = Some(Stream { source, _listener: listener }));
}

/// Stops following.
pub fn stop() {
    CURRENT.with(|current| {
        if let Some(stream) = current.borrow_mut().take() {
            stream.source.close();
        }
    });
}
