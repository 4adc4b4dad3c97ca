//! The Preview tab. With a dev command, the chat's dev server: started when the tab opens,
//! its state (starting, running, crashed with its exit code, failed, stopped with why), its
//! log as it comes, Restart, Stop, Open in a new tab, its address; the running page framed
//! from its own origin (entered with a one-time link). Without one, the chat's static site in a
//! sandboxed frame (its own opaque origin: no cookies, no API).

use crate::state::{client, say, use_toasts};
use api_types::*;
use leptos::prelude::*;
use leptos::task::spawn_local;
use std::collections::HashMap;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{EventSource, MessageEvent};

/// Lines of the log kept on the page.
const LOG_LINES: usize = 500;

#[component]
pub fn PreviewTab(
    project_id: Memo<Option<ProjectId>>,
    selected: Memo<Option<ChatSessionPk>>,
    running: RwSignal<bool>,
    /// The sidebar's running previews, told of what this tab sees.
    previews: RwSignal<HashMap<i32, PreviewState>>,
) -> impl IntoView {
    let toasts = use_toasts();
    let preview = RwSignal::new(None::<Result<Preview, String>>);
    // The frame's address: set once per start (its one-time link), kept across polls.
    let frame = RwSignal::new(None::<String>);
    let log = RwSignal::new(Vec::<String>::new());
    let log_source = StoredValue::new_local(None::<LogStream>);
    let reloads = RwSignal::new(0u32);

    let show = move |id: ChatSessionPk, answer: Result<Preview, String>| {
        if selected.try_get_untracked().flatten() != Some(id) {
            return;
        }
        if let Ok(p) = &answer {
            previews.try_update(|map| {
                map.insert(id.0, p.state);
            });
            match (p.kind, p.state, &p.open_url) {
                (PreviewKind::Static, _, _) => {
                    frame.try_set(Some(p.url.clone()));
                }
                (PreviewKind::Dev, PreviewState::Running, Some(open)) => {
                    if frame.try_get_untracked().flatten().is_none() {
                        frame.try_set(Some(open.clone()));
                    }
                }
                (PreviewKind::Dev, _, _) => {
                    frame.try_set(None);
                }
            }
        }
        preview.try_set(Some(answer));
    };
    // Asks again every half second while it starts.
    fn follow(
        p: ProjectId,
        id: ChatSessionPk,
        selected: Memo<Option<ChatSessionPk>>,
        show: impl Fn(ChatSessionPk, Result<Preview, String>) + Copy + 'static,
    ) {
        spawn_local(async move {
            let answer = client().preview(p, id).await.map_err(|e| say(&e));
            let starting = matches!(&answer, Ok(p) if p.state == PreviewState::Starting);
            show(id, answer);
            if starting && selected.try_get_untracked().flatten() == Some(id) {
                set_timeout(move || follow(p, id, selected, show), std::time::Duration::from_millis(500));
            }
        });
    }
    let act = move |action: PreviewAction| {
        let (Some(p), Some(id)) = (project_id.get_untracked(), selected.get_untracked()) else { return };
        frame.set(None);
        if action != PreviewAction::Stop {
            log.set(Vec::new());
        }
        spawn_local(async move {
            match client().preview_action(p, id, action).await {
                Ok(now) => {
                    show(id, Ok(now));
                    follow(p, id, selected, show);
                    if action != PreviewAction::Stop {
                        watch_log(log_source, log, p, id);
                    }
                }
                Err(err) => toasts.error(say(&err)),
            }
        });
    };
    // The chat shown: its preview now; a stopped dev server is started (opening the tab asks
    // for it); its log followed.
    Effect::new(move |_| {
        reloads.track();
        frame.set(None);
        log.set(Vec::new());
        let (Some(p), Some(id)) = (project_id.get(), selected.get()) else {
            preview.set(Some(Err("Pick a chat to preview it.".to_owned())));
            return;
        };
        if running.get() {
            return;
        }
        spawn_local(async move {
            match client().preview(p, id).await {
                Ok(now) if now.kind == PreviewKind::Dev && now.state == PreviewState::Stopped => {
                    show(id, Ok(now));
                    act(PreviewAction::Start);
                }
                Ok(now) => {
                    let dev = now.kind == PreviewKind::Dev;
                    let starting = now.state == PreviewState::Starting;
                    show(id, Ok(now));
                    if dev {
                        watch_log(log_source, log, p, id);
                    }
                    if starting {
                        follow(p, id, selected, show);
                    }
                }
                Err(err) => show(id, Err(say(&err))),
            }
        });
    });
    on_cleanup(move || {
        if let Some(Some(stream)) = log_source.try_update_value(Option::take) {
            stream.source.close();
            crate::live::drop_later(stream);
        }
    });
    // Opens the page in a tab of its own, with a link of its own (the frame used its link).
    let open_in_tab = move |ev: leptos::ev::MouseEvent| {
        ev.prevent_default();
        let (Some(p), Some(id)) = (project_id.get_untracked(), selected.get_untracked()) else { return };
        // Opened now, while the click allows it; sent on once the link is known.
        let Some(tab) = window().open_with_url_and_target("about:blank", "_blank").ok().flatten() else { return };
        spawn_local(async move {
            match client().preview(p, id).await {
                Ok(Preview { open_url: Some(url), .. }) => {
                    let _ = tab.location().set_href(&url);
                }
                Ok(_) => {
                    let _ = tab.close();
                    toasts.error("The dev server is not running.".to_owned());
                }
                Err(err) => {
                    let _ = tab.close();
                    toasts.error(say(&err));
                }
            }
        });
    };

    view! {
        <div class="preview" data-testid="preview">
            {move || match preview.get() {
                None => view! { <p class="muted" role="status">"Loading…"</p> }.into_any(),
                Some(Err(e)) => view! { <p class="muted">{e}</p> }.into_any(),
                Some(Ok(p)) if p.kind == PreviewKind::Static => view! {
                    <div class="row">
                        <button on:click=move |_| reloads.update(|n| *n += 1)>"Reload"</button>
                        <a href=p.url.clone() target="_blank" rel="noopener">"Open in a new tab"</a>
                    </div>
                }.into_any(),
                Some(Ok(p)) => {
                    let live = matches!(p.state, PreviewState::Starting | PreviewState::Running);
                    view! {
                        <div class="row preview-bar">
                            <span class=format!("preview-state {}", state_class(p.state)) role="status" data-testid="preview-state">
                                {state_text(&p)}
                            </span>
                            <button on:click=move |_| act(PreviewAction::Restart)>{if live { "Restart" } else { "Start" }}</button>
                            {(p.state == PreviewState::Running).then(|| view! {
                                <button on:click=move |_| reloads.update(|n| *n += 1)>"Reload"</button>
                            })}
                            <button on:click=move |_| act(PreviewAction::Stop) disabled=!live>"Stop"</button>
                            {(p.state == PreviewState::Running).then(|| view! {
                                <a href=p.url.clone() target="_blank" rel="noopener" on:click=open_in_tab>"Open in a new tab"</a>
                            })}
                            <code class="preview-url" title="The preview's address">{p.url.clone()}</code>
                        </div>
                        {p.notice.clone().map(|n| view! { <p class="notice" role="status">{n}</p> })}
                        {p.error.clone().map(|e| view! { <pre class="preview-error" data-testid="preview-error">{e}</pre> })}
                    }.into_any()
                }
            }}
            {move || frame.get().map(|src| {
                let dev = matches!(preview.get_untracked(), Some(Ok(Preview { kind: PreviewKind::Dev, .. })));
                // A dev server has an origin of its own (not kosuke's): it may keep its own
                // cookies and storage there. A static site gets an opaque origin.
                let sandbox = if dev {
                    "allow-scripts allow-same-origin allow-forms allow-popups allow-modals"
                } else {
                    "allow-scripts allow-forms allow-popups allow-modals"
                };
                view! {
                    <iframe class="preview-frame" title="Preview of this chat's app" src=src sandbox=sandbox
                        data-testid="preview-frame"></iframe>
                }
            })}
            {move || {
                let lines = log.get();
                (!lines.is_empty()).then(|| view! {
                    <details class="preview-log" open=true>
                        <summary>"Dev server log"</summary>
                        <pre data-testid="preview-log">{lines.join("\n")}</pre>
                    </details>
                })
            }}
        </div>
    }
}

fn state_class(state: PreviewState) -> &'static str {
    match state {
        PreviewState::Running => "running",
        PreviewState::Starting => "starting",
        PreviewState::Crashed | PreviewState::Failed => "failed",
        PreviewState::Stopped => "stopped",
    }
}

fn state_text(p: &Preview) -> String {
    let command = p.command.clone().unwrap_or_default();
    match p.state {
        PreviewState::Starting => format!("Starting `{command}`…"),
        PreviewState::Running => match p.port {
            Some(port) => format!("Running on port {port}"),
            None => "Running".to_owned(),
        },
        PreviewState::Crashed => match p.exit_code {
            Some(code) => format!("Crashed (exit code {code})"),
            None => "Crashed".to_owned(),
        },
        PreviewState::Failed => "Did not start".to_owned(),
        PreviewState::Stopped => "Stopped".to_owned(),
    }
}

/// The dev server's log stream (EventSource resumes by itself with `Last-Event-ID`).
struct LogStream {
    source: EventSource,
    _listener: Closure<dyn FnMut(MessageEvent)>,
}

/// Follows the chat's dev server log into `log`, replacing the stream followed before.
fn watch_log(
    streams: StoredValue<Option<LogStream>, LocalStorage>,
    log: RwSignal<Vec<String>>,
    p: ProjectId,
    id: ChatSessionPk,
) {
    if let Some(Some(old)) = streams.try_update_value(Option::take) {
        old.source.close();
        // Maybe called from inside its own listener: its closure goes once that returns.
        crate::live::drop_later(old);
    }
    let Ok(source) = EventSource::new(&client().preview_events_url(p, id)) else { return };
    let closer = source.clone();
    let listener = Closure::<dyn FnMut(MessageEvent)>::new(move |message: MessageEvent| {
        let Some(data) = message.data().as_string() else { return };
        match serde_json::from_str::<LogEvent>(&data) {
            Ok(LogEvent::Line(line)) => {
                let kept = log.try_update(|lines| {
                    lines.push(line.text);
                    let excess = lines.len().saturating_sub(LOG_LINES);
                    lines.drain(..excess);
                });
                if kept.is_none() {
                    closer.close();
                }
            }
            // The log ended: no reconnecting to an ended log.
            Ok(LogEvent::End(_)) | Err(_) => closer.close(),
        }
    });
    for name in ["line", "end"] {
        let _ = source.add_event_listener_with_callback(name, listener.as_ref().unchecked_ref());
    }
    streams.try_set_value(Some(LogStream { source, _listener: listener }));
}
