//! Live run events for the open chat, through the browser's EventSource (which reconnects by
//! itself and sends Last-Event-ID, so nothing is missed). One stream at a time.

use api_types::RunEvent;
use std::cell::RefCell;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{EventSource, MessageEvent};

struct Stream {
    generation: u64,
    source: EventSource,
    _listener: Closure<dyn FnMut(MessageEvent)>,
}

thread_local! {
    static CURRENT: RefCell<Option<Stream>> = const { RefCell::new(None) };
    static GENERATION: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Follows `url`'s events, calling `on_event` for each; replaces any stream followed before.
/// Returns the stream's generation, for [`stop_if`].
pub fn follow(url: &str, on_event: impl Fn(RunEvent) + 'static) -> u64 {
    stop();
    let generation = GENERATION.with(|g| {
        g.set(g.get() + 1);
        g.get()
    });
    let Ok(source) = EventSource::new(url) else { return generation };
    let listener = Closure::<dyn FnMut(MessageEvent)>::new(move |message: MessageEvent| {
        if let Some(data) = message.data().as_string()
            && let Ok(event) = serde_json::from_str::<RunEvent>(&data)
        {
            on_event(event);
        }
    });
    for name in api_types::RunEvent::NAMES {
        let _ = source.add_event_listener_with_callback(name, listener.as_ref().unchecked_ref());
    }
    CURRENT.with(|current| *current.borrow_mut() = Some(Stream { generation, source, _listener: listener }));
    generation
}

/// Stops following, if the stream followed is still `generation` (a page leaving must not stop
/// the stream the next page started).
pub fn stop_if(generation: u64) {
    let current = CURRENT.with(|current| current.borrow().as_ref().map(|s| s.generation));
    if current == Some(generation) {
        stop();
    }
}

/// Stops following.
pub fn stop() {
    let stream = CURRENT.with(|current| current.borrow_mut().take());
    if let Some(stream) = stream {
        stream.source.close();
        drop_later(stream);
    }
}

/// Drops `value` once the code running now has returned. A stream is often replaced from
/// inside its own listener (an event changes a signal, an effect follows another stream):
/// dropping its closure then would free the function the browser is still running ("closure
/// invoked recursively or after being dropped"). Its source is closed first, so it is never
/// called again.
pub fn drop_later<T: 'static>(value: T) {
    leptos::task::spawn_local(async move { drop(value) });
}
