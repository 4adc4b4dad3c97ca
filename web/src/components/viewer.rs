//! The file viewer: numbered lines, highlighted by the server (`FileContent::highlighted`),
//! binary and large files summarised. A click on a line number picks it for a comment, Shift
//! extends the pick.

use crate::components::review::LinePick;
use api_types::{CommentSide, FileContent, Token};
use leptos::prelude::*;
use std::sync::Arc;

#[component]
pub fn FileViewer(
    #[prop(into)] file: Signal<Option<Result<FileContent, String>>>,
    pick: RwSignal<Option<LinePick>>,
) -> impl IntoView {
    view! {
        <div class="viewer" data-testid="file-viewer">
            {move || match file.get() {
                None => view! { <p class="muted">"Pick a file."</p> }.into_any(),
                Some(Err(e)) => view! { <p class="error">{e}</p> }.into_any(),
                Some(Ok(f)) if f.is_binary => view! { <p class="muted">{format!("{} is a binary file ({}).", f.path, size(f.size))}</p> }.into_any(),
                Some(Ok(f)) if f.too_large => view! { <p class="muted">{format!("{} is too large to show ({}).", f.path, size(f.size))}</p> }.into_any(),
                Some(Ok(f)) => lines_view(f, pick).into_any(),
            }}
        </div>
    }
}

fn size(bytes: u64) -> String {
    match bytes {
        b if b >= 1024 * 1024 => format!("{:.1} MB", b as f64 / (1024.0 * 1024.0)),
        b if b >= 1024 => format!("{:.1} KB", b as f64 / 1024.0),
        b => format!("{b} bytes"),
    }
}

fn lines_view(file: FileContent, pick: RwSignal<Option<LinePick>>) -> impl IntoView {
    let text = file.content.clone().unwrap_or_default();
    let numbered: Arc<Vec<(u32, String)>> =
        Arc::new(text.lines().enumerate().map(|(n, line)| (n as u32 + 1, line.to_owned())).collect());
    let tokens: Vec<Vec<Token>> = file.highlighted.clone().unwrap_or_default();
    // Shared by every line's button (10,000 lines: one string, not 10,000 copies).
    let path: Arc<str> = Arc::from(file.path.as_str());
    // The picked lines are marked by one rule, so picking never re-renders the lines.
    let marked = {
        let path = path.clone();
        move || match pick.get() {
            Some(p) if *p.path == *path && p.side == CommentSide::New => format!(
                ".code-lines tr:nth-child(n+{}):nth-child(-n+{}) {{ background: var(--pick); }}",
                p.start, p.end
            ),
            _ => String::new(),
        }
    };
    let rows = numbered
        .iter()
        .map(|(n, line)| {
            let n = *n;
            let code = match tokens.get(n as usize - 1) {
                Some(line_tokens) if file.highlighted.is_some() => line_tokens
                    .iter()
                    .map(|t| view! { <span class=t.kind.class()>{t.text.clone()}</span> })
                    .collect_view()
                    .into_any(),
                _ => line.clone().into_any(),
            };
            let (path, numbered) = (path.clone(), numbered.clone());
            view! {
                <tr>
                    <td class="num"><button class="line-number" aria-label=format!("Line {n}") on:click=move |ev| {
                        let next = LinePick::click(pick.get_untracked(), &path, CommentSide::New, n, &numbered, ev.shift_key());
                        pick.set(Some(next));
                    }>{n}</button></td>
                    <td class="text"><code>{code}</code></td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="row viewer-head">
            <h3>{file.path.clone()}</h3>
            <span class="muted">{file.language.clone().unwrap_or_else(|| "Plain text".to_owned())}" · "{size(file.size)}</span>
        </div>
        <style>{marked}</style>
        <table class="code-lines" data-testid="code-lines" data-language=file.language.clone().unwrap_or_default()>
            <tbody>{rows}</tbody>
        </table>
    }
}
