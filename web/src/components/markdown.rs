//! A small, safe markdown subset for chat messages: fenced code blocks, paragraphs, inline
//! `code`. Everything is rendered as text nodes, so no HTML in a message can run.

use leptos::prelude::*;

enum Block {
    Code(String),
    Paragraph(String),
}

fn blocks(text: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut paragraph = String::new();
    let mut code: Option<String> = None;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            match code.take() {
                Some(body) => blocks.push(Block::Code(body)),
                None => {
                    if !paragraph.trim().is_empty() {
                        blocks.push(Block::Paragraph(std::mem::take(&mut paragraph)));
                    }
                    code = Some(String::new());
                }
            }
            continue;
        }
        match code.as_mut() {
            Some(body) => {
                body.push_str(line);
                body.push('\n');
            }
            None if line.trim().is_empty() => {
                if !paragraph.trim().is_empty() {
                    blocks.push(Block::Paragraph(std::mem::take(&mut paragraph)));
                }
            }
            None => {
                if !paragraph.is_empty() {
                    paragraph.push('\n');
                }
                paragraph.push_str(line);
            }
        }
    }
    if let Some(body) = code {
        blocks.push(Block::Code(body));
    }
    if !paragraph.trim().is_empty() {
        blocks.push(Block::Paragraph(paragraph));
    }
    blocks
}

fn inline(text: String) -> impl IntoView {
    text.split('`')
        .enumerate()
        .map(
            |(n, part)| {
                if n % 2 == 1 {
                    view! { <code>{part.to_owned()}</code> }.into_any()
                } else {
                    part.to_owned().into_any()
                }
            },
        )
        .collect_view()
}

#[component]
pub fn Markdown(#[prop(into)] text: String) -> impl IntoView {
    blocks(&text)
        .into_iter()
        .map(|block| match block {
            Block::Code(body) => view! { <pre><code>{body}</code></pre> }.into_any(),
            Block::Paragraph(body) => view! { <p>{inline(body)}</p> }.into_any(),
        })
        .collect_view()
}
