//! The Changes view: the chat's changes against its base or one turn's, as a file list (with
//! status and +/− counts) and each file's hunks with old and new line numbers, unified or
//! side by side.

use crate::components::review::LinePick;
use api_types::{CommentSide, DiffFile, DiffHunk, DiffLine, DiffLineKind, FileChangeStatus, MessageId, SessionDiff};
use leptos::prelude::*;
use std::sync::Arc;

#[component]
pub fn DiffView(
    #[prop(into)] diff: Signal<Option<Result<SessionDiff, String>>>,
    /// The chat's turns with a commit, to show one of them alone.
    #[prop(into)]
    turns: Signal<Vec<(MessageId, String)>>,
    turn: RwSignal<Option<MessageId>>,
    /// Lines picked for a review comment (a click on a line number).
    pick: RwSignal<Option<LinePick>>,
    /// Show a file whole: its collapsed unchanged lines expanded (by its path).
    on_expand: Callback<String>,
    /// Files on which the chat's branch conflicts with its base or another chat's.
    #[prop(into)]
    conflicting: Signal<Vec<String>>,
) -> impl IntoView {
    let split = RwSignal::new(false);
    view! {
        <div class="changes" data-testid="changes">
            <div class="row changes-bar">
                <select aria-label="Which changes" on:change=move |ev| {
                    let value = event_target_value(&ev);
                    turn.set(value.parse::<i64>().ok().map(MessageId));
                }>
                    <option value="" selected=move || turn.get().is_none()>"All of this chat's changes"</option>
                    {move || turns.get().into_iter().map(|(id, label)| view! {
                        <option value=id.0.to_string() selected=move || turn.get() == Some(id)>{label}</option>
                    }).collect_view()}
                </select>
                <label class="inline"><input type="checkbox" prop:checked=move || split.get()
                    on:change=move |ev| split.set(event_target_checked(&ev)) />" Side by side"</label>
            </div>
            {move || match diff.get() {
                None => view! { <p class="muted">"Loading changes…"</p> }.into_any(),
                Some(Err(e)) => view! { <p class="error">{e}</p> }.into_any(),
                Some(Ok(d)) if d.files.is_empty() => view! {
                    <p class="muted">{if d.message_id.is_some() { "This turn changed no file.".to_owned() } else { format!("No changes against {}.", d.base_branch) }}</p>
                }.into_any(),
                Some(Ok(d)) => {
                    let against = if d.message_id.is_some() { "in this turn".to_owned() } else { format!("against {}", d.base_branch) };
                    let files = d.files.clone();
                    view! {
                        <p class="muted">{format!("{} file{} changed, +{} −{} {against}", d.files.len(), if d.files.len() == 1 { "" } else { "s" }, d.insertions, d.deletions)}
                            {d.truncated.then_some(" (long files cut)")}</p>
                        <ul class="changed-files" data-testid="changed-files">
                            {files.iter().enumerate().map(|(n, f)| view! {
                                <li><a href=format!("#changed-{n}")>{f.path.clone()}</a>" "{status_tag(f.status)}
                                    {conflicting.get().contains(&f.path).then(|| view! {
                                        <span class="conflict-tag" title="Merging would conflict on this file" data-testid="conflict-tag">" conflicts"</span>
                                    })}
                                    <span class="add">{format!(" +{}", f.additions)}</span><span class="del">{format!(" −{}", f.deletions)}</span></li>
                            }).collect_view()}
                        </ul>
                        {files.into_iter().enumerate().map(|(n, f)| file_view(n, f, split, pick, on_expand)).collect_view()}
                    }.into_any()
                }
            }}
        </div>
    }
}

fn status_tag(status: FileChangeStatus) -> AnyView {
    let (class, text, title) = match status {
        FileChangeStatus::Added => ("status added", "A", "Added"),
        FileChangeStatus::Modified => ("status modified", "M", "Modified"),
        FileChangeStatus::Deleted => ("status deleted", "D", "Deleted"),
        FileChangeStatus::Renamed => ("status renamed", "R", "Renamed"),
    };
    view! { <span class=class title=title>{text}</span> }.into_any()
}

fn file_view(
    n: usize,
    file: DiffFile,
    split: RwSignal<bool>,
    pick: RwSignal<Option<LinePick>>,
    on_expand: Callback<String>,
) -> impl IntoView {
    let name = match &file.old_path {
        Some(old) => format!("{old} → {}", file.path),
        None => file.path.clone(),
    };
    let hunks = file.hunks.clone();
    let path = file.path.clone();
    view! {
        <details class="diff-file" id=format!("changed-{n}") open=true data-testid="diff-file">
            <summary><code>{name}</code>" "{status_tag(file.status)}
                <span class="add">{format!(" +{}", file.additions)}</span><span class="del">{format!(" −{}", file.deletions)}</span></summary>
            {if file.binary {
                view! { <p class="muted">"A binary file."</p> }.into_any()
            } else {
                view! {
                    {move || {
                        let side_by_side = split.get();
                        let path = path.clone();
                        let gaps = collapsed_before(&hunks);
                        hunks.clone().into_iter().zip(gaps).map(move |(hunk, gap)| {
                            let expand = path.clone();
                            view! {
                                {(gap > 0).then(|| view! {
                                    <button class="ghost diff-gap" data-testid="expand-context"
                                        on:click=move |_| on_expand.run(expand.clone())>
                                        {format!("⋯ {gap} unchanged line{} (show the whole file)", if gap == 1 { "" } else { "s" })}
                                    </button>
                                })}
                                {hunk_view(hunk, side_by_side, &path, pick)}
                            }
                        }).collect_view()
                    }}
                    {file.truncated.then(|| view! { <p class="muted">"The rest of this file's changes is too long to show."</p> })}
                }.into_any()
            }}
        </details>
    }
}

/// How many unchanged lines are collapsed before each hunk (from the old side's numbers, which
/// every hunk but an added file's has; the lines after the last hunk are not counted).
fn collapsed_before(hunks: &[DiffHunk]) -> Vec<u32> {
    let mut next_old = 1;
    hunks
        .iter()
        .map(|hunk| {
            let gap =
                if hunk.old_lines == 0 && hunk.old_start == 0 { 0 } else { hunk.old_start.saturating_sub(next_old) };
            next_old = hunk.old_start + hunk.old_lines;
            gap
        })
        .collect()
}

fn number(n: Option<u32>) -> String {
    n.map(|n| n.to_string()).unwrap_or_default()
}

fn line_class(kind: DiffLineKind) -> &'static str {
    match kind {
        DiffLineKind::Added => "add",
        DiffLineKind::Removed => "del",
        DiffLineKind::Context => "ctx",
    }
}

fn sign(kind: DiffLineKind) -> &'static str {
    match kind {
        DiffLineKind::Added => "+",
        DiffLineKind::Removed => "−",
        DiffLineKind::Context => " ",
    }
}

/// The side and number a line is commented on: removed lines by their old number, the others
/// by their new one.
fn commented_as(line: &DiffLine) -> Option<(CommentSide, u32)> {
    match line.kind {
        DiffLineKind::Removed => line.old.map(|n| (CommentSide::Old, n)),
        _ => line.new.map(|n| (CommentSide::New, n)),
    }
}

/// A hunk's lines as each side numbers them, to quote a pick from.
struct HunkSides {
    old: Arc<Vec<(u32, String)>>,
    new: Arc<Vec<(u32, String)>>,
}

impl HunkSides {
    fn of(lines: &[DiffLine]) -> Self {
        let side = |keep: fn(&DiffLine) -> Option<u32>| {
            Arc::new(
                lines.iter().filter_map(|l| keep(l).map(|n| (n, l.text.trim_end_matches('\n').to_owned()))).collect(),
            )
        };
        HunkSides {
            old: side(|l| if l.kind == DiffLineKind::Added { None } else { l.old }),
            new: side(|l| if l.kind == DiffLineKind::Removed { None } else { l.new }),
        }
    }

    fn of_side(&self, side: CommentSide) -> &Arc<Vec<(u32, String)>> {
        if side == CommentSide::Old { &self.old } else { &self.new }
    }
}

/// A line number that picks its line for a comment (Shift extends the pick).
fn number_cell(
    line: &DiffLine,
    shown: Option<u32>,
    path: &str,
    sides: &Arc<HunkSides>,
    pick: RwSignal<Option<LinePick>>,
) -> AnyView {
    let class = format!("num {}", line_class(line.kind));
    let Some((side, at)) = commented_as(line) else {
        return view! { <td class=class>{number(shown)}</td> }.into_any();
    };
    let (path, sides) = (path.to_owned(), sides.clone());
    view! {
        <td class=class><button class="line-number" title="Comment on this line (Shift+click for a range)"
            on:click=move |ev| {
                let next = LinePick::click(pick.get_untracked(), &path, side, at, sides.of_side(side), ev.shift_key());
                pick.set(Some(next));
            }>{number(shown)}</button></td>
    }
    .into_any()
}

fn hunk_view(hunk: DiffHunk, side_by_side: bool, path: &str, pick: RwSignal<Option<LinePick>>) -> AnyView {
    let rows = if side_by_side { split_rows(&hunk.lines) } else { Vec::new() };
    let sides = Arc::new(HunkSides::of(&hunk.lines));
    let picked = move |path: String, line: &DiffLine| {
        let at = commented_as(line);
        move || matches!((pick.get(), at), (Some(p), Some((side, n))) if p.contains(&path, side, n))
    };
    view! {
        <table class="hunk">
            <tr class="hunk-header"><td colspan=if side_by_side { "4" } else { "3" }><code>{hunk.header.clone()}</code></td></tr>
            {if side_by_side {
                rows.into_iter().map(|(old, new)| view! {
                    <tr>
                        {half(old.as_ref(), true, path, &sides, pick)}
                        {half(new.as_ref(), false, path, &sides, pick)}
                    </tr>
                }).collect_view().into_any()
            } else {
                hunk.lines.into_iter().map(|line| {
                    let is_picked = picked(path.to_owned(), &line);
                    let removed = line.kind == DiffLineKind::Removed;
                    let old_cell = if removed {
                        number_cell(&line, line.old, path, &sides, pick)
                    } else {
                        view! { <td class="num">{number(line.old)}</td> }.into_any()
                    };
                    let new_cell = if removed {
                        view! { <td class="num">{number(line.new)}</td> }.into_any()
                    } else {
                        number_cell(&line, line.new, path, &sides, pick)
                    };
                    view! {
                        <tr class=line_class(line.kind) class:picked=is_picked data-testid="diff-line">
                            {old_cell}
                            {new_cell}
                            <td class="text"><code>{sign(line.kind)}{line.text}</code></td>
                        </tr>
                    }
                }).collect_view().into_any()
            }}
        </table>
    }
    .into_any()
}

fn half(
    line: Option<&DiffLine>,
    old: bool,
    path: &str,
    sides: &Arc<HunkSides>,
    pick: RwSignal<Option<LinePick>>,
) -> AnyView {
    match line {
        Some(line) => {
            let n = if old { line.old } else { line.new };
            // A context line is commented on from its new side only.
            let cell = if old && line.kind == DiffLineKind::Context {
                view! { <td class=format!("num {}", line_class(line.kind))>{number(n)}</td> }.into_any()
            } else {
                number_cell(line, n, path, sides, pick)
            };
            view! {
                {cell}
                <td class=format!("text {}", line_class(line.kind))><code>{line.text.clone()}</code></td>
            }
            .into_any()
        }
        None => view! { <td class="num"></td><td class="text empty"></td> }.into_any(),
    }
}

/// Lines side by side: context on both sides, each run of removed lines beside the added lines
/// that follow it.
fn split_rows(lines: &[DiffLine]) -> Vec<(Option<DiffLine>, Option<DiffLine>)> {
    let mut rows = Vec::new();
    let (mut removed, mut added): (Vec<DiffLine>, Vec<DiffLine>) = (Vec::new(), Vec::new());
    let flush = |rows: &mut Vec<_>, removed: &mut Vec<DiffLine>, added: &mut Vec<DiffLine>| {
        let count = removed.len().max(added.len());
        let (mut r, mut a) = (removed.drain(..), added.drain(..));
        for _ in 0..count {
            rows.push((r.next(), a.next()));
        }
    };
    for line in lines {
        match line.kind {
            DiffLineKind::Removed => {
                if !added.is_empty() {
                    flush(&mut rows, &mut removed, &mut added);
                }
                removed.push(line.clone());
            }
            DiffLineKind::Added => added.push(line.clone()),
            DiffLineKind::Context => {
                flush(&mut rows, &mut removed, &mut added);
                rows.push((Some(line.clone()), Some(line.clone())));
            }
        }
    }
    flush(&mut rows, &mut removed, &mut added);
    rows
}
