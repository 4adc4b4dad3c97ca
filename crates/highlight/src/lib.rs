//! Syntax highlighting for the Code tab, done on the server so the web bundle carries no
//! grammars: syntect parses a file with the syntaxes bat curates (two-face: TypeScript, TSX,
//! TOML, Dockerfile and the rest syntect's own set lacks), and each token's scope is folded
//! into a small set of kinds (`TokenKind`) that the stylesheet colours. Results are cached per
//! git blob, so a file shown again after a turn that did not change it costs a lookup.
//!
//! The work is bounded: files over `MAX_BYTES`, over `MAX_LINES` lines or with a line over
//! `MAX_LINE_BYTES` (minified code, where regex grammars are slowest) are not highlighted.

use api_types::{Token, TokenKind};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock};
use syntect::parsing::{ParseState, Scope, ScopeStack, SyntaxReference, SyntaxSet};

/// Larger files are shown without highlighting.
pub const MAX_BYTES: usize = 256 * 1024;
pub const MAX_LINES: usize = 10_000;
pub const MAX_LINE_BYTES: usize = 4_000;

/// A file's highlighting: its language and its lines of tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Highlighted {
    pub language: String,
    pub lines: Vec<Vec<Token>>,
}

/// The syntaxes, loaded once (deserialising them takes tens of milliseconds).
fn syntaxes() -> &'static SyntaxSet {
    static SET: OnceLock<SyntaxSet> = OnceLock::new();
    SET.get_or_init(two_face::syntax::extra_newlines)
}

/// The scopes kinds are read from, most specific first: a token's innermost scope that one of
/// them is a prefix of decides its kind.
fn kinds() -> &'static [(Scope, TokenKind)] {
    static KINDS: OnceLock<Vec<(Scope, TokenKind)>> = OnceLock::new();
    KINDS.get_or_init(|| {
        [
            ("comment", TokenKind::Comment),
            ("punctuation.definition.comment", TokenKind::Comment),
            ("string", TokenKind::String),
            ("constant.numeric", TokenKind::Number),
            ("constant.character.escape", TokenKind::String),
            ("constant", TokenKind::Constant),
            ("support.constant", TokenKind::Constant),
            ("entity.name.function", TokenKind::Function),
            ("support.function", TokenKind::Function),
            ("variable.function", TokenKind::Function),
            ("meta.function-call", TokenKind::Function),
            ("entity.name.tag", TokenKind::Tag),
            ("entity.other.attribute-name", TokenKind::Attribute),
            ("entity.name.type", TokenKind::Type),
            ("entity.name.class", TokenKind::Type),
            ("entity.name.struct", TokenKind::Type),
            ("entity.name.enum", TokenKind::Type),
            ("entity.name.trait", TokenKind::Type),
            ("entity.other.inherited-class", TokenKind::Type),
            ("support.type", TokenKind::Type),
            ("support.class", TokenKind::Type),
            ("storage.type", TokenKind::Keyword),
            ("storage", TokenKind::Keyword),
            ("keyword.operator", TokenKind::Operator),
            ("keyword", TokenKind::Keyword),
            ("markup.heading", TokenKind::Keyword),
            ("variable.language", TokenKind::Constant),
            ("variable.parameter", TokenKind::Variable),
            ("variable.other.member", TokenKind::Variable),
            ("entity.name", TokenKind::Function),
        ]
        .into_iter()
        .filter_map(|(name, kind)| Scope::new(name).ok().map(|scope| (scope, kind)))
        .collect()
    })
}

fn kind_of(stack: &ScopeStack) -> TokenKind {
    for scope in stack.as_slice().iter().rev() {
        if let Some((_, kind)) = kinds().iter().find(|(prefix, _)| prefix.is_prefix_of(*scope)) {
            return *kind;
        }
    }
    TokenKind::Plain
}

/// The syntax for a file: by its extension or whole name (`Dockerfile`, `Makefile`), else by
/// its first line (a shebang). Plain text is none.
fn syntax_for<'a>(set: &'a SyntaxSet, path: &str, text: &str) -> Option<&'a SyntaxReference> {
    let name = path.rsplit('/').next().unwrap_or(path);
    let by_name = name
        .rsplit_once('.')
        .and_then(|(_, extension)| set.find_syntax_by_extension(extension))
        .or_else(|| set.find_syntax_by_extension(name));
    let syntax = by_name.or_else(|| set.find_syntax_by_first_line(text.lines().next().unwrap_or_default()))?;
    (syntax.name != "Plain Text").then_some(syntax)
}

/// Whether a text is within the highlighter's bounds (one pass over its lines).
fn within_bounds(text: &str) -> bool {
    text.len() <= MAX_BYTES && {
        let mut lines = text.lines();
        lines.by_ref().take(MAX_LINES).all(|line| line.len() <= MAX_LINE_BYTES) && lines.next().is_none()
    }
}

/// Highlights `text` as the file at `path` says it is; none for plain text, an unknown
/// language, a file over the bounds, or a grammar that fails on it.
pub fn highlight(path: &str, text: &str) -> Option<Highlighted> {
    if !within_bounds(text) {
        return None;
    }
    let set = syntaxes();
    let syntax = syntax_for(set, path, text)?;
    let mut state = ParseState::new(syntax);
    let mut stack = ScopeStack::new();
    let mut lines = Vec::new();
    for line in text.split_inclusive('\n') {
        let ops = state.parse_line(line, set).ok()?;
        let mut tokens: Vec<Token> = Vec::new();
        let mut at = 0;
        for (position, op) in ops.iter().map(|(p, op)| (*p, op)).chain(std::iter::once((line.len(), &NOOP))) {
            if position > at {
                push(&mut tokens, kind_of(&stack), &line[at..position]);
                at = position;
            }
            stack.apply(op).ok()?;
        }
        // The line end is not part of any token.
        if let Some(last) = tokens.last_mut() {
            let trimmed = last.text.trim_end_matches(['\n', '\r']).len();
            last.text.truncate(trimmed);
            if last.text.is_empty() {
                tokens.pop();
            }
        }
        lines.push(tokens);
    }
    Some(Highlighted { language: syntax.name.clone(), lines })
}

static NOOP: syntect::parsing::ScopeStackOp = syntect::parsing::ScopeStackOp::Noop;

/// Adds text to a line, joined to the token before when they are of one kind.
fn push(tokens: &mut Vec<Token>, kind: TokenKind, text: &str) {
    match tokens.last_mut() {
        Some(last) if last.kind == kind => last.text.push_str(text),
        _ => tokens.push(Token { kind, text: text.to_owned() }),
    }
}

/// Highlightings by blob id and path (a blob's language comes from its name), the oldest
/// dropped first past `capacity` bytes of text.
pub struct Cache {
    capacity: usize,
    inner: Mutex<CacheInner>,
}

#[derive(Default)]
struct CacheInner {
    entries: HashMap<(String, String), (Arc<Option<Highlighted>>, usize)>,
    order: VecDeque<(String, String)>,
    bytes: usize,
    hits: u64,
}

impl Cache {
    pub fn new(capacity: usize) -> Self {
        Cache { capacity, inner: Mutex::new(CacheInner::default()) }
    }

    /// The highlighting of the blob `blob` at `path`, made on a miss.
    pub fn get_or_highlight(&self, blob: &str, path: &str, text: &str) -> Arc<Option<Highlighted>> {
        let key = (blob.to_owned(), extension_key(path));
        {
            let mut inner = self.lock();
            if let Some((found, _)) = inner.entries.get(&key).cloned() {
                inner.hits += 1;
                return found;
            }
        }
        let made = Arc::new(highlight(path, text));
        let size = text.len().max(1);
        let mut inner = self.lock();
        if inner.entries.insert(key.clone(), (made.clone(), size)).is_none() {
            inner.order.push_back(key);
            inner.bytes += size;
        }
        while inner.bytes > self.capacity {
            let Some(oldest) = inner.order.pop_front() else { break };
            if let Some((_, size)) = inner.entries.remove(&oldest) {
                inner.bytes -= size;
            }
        }
        made
    }

    /// How many lookups the cache answered (for tests and the bench).
    pub fn hits(&self) -> u64 {
        self.lock().hits
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CacheInner> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// What of a path decides its language: its extension, or its name when it has none.
fn extension_key(path: &str) -> String {
    let name = path.rsplit('/').next().unwrap_or(path);
    match name.rsplit_once('.') {
        Some((_, extension)) => extension.to_owned(),
        None => name.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds_of<'a>(h: &'a Highlighted, line: usize) -> Vec<(TokenKind, &'a str)> {
        h.lines[line].iter().map(|t| (t.kind, t.text.as_str())).collect()
    }

    #[test]
    fn rust_keywords_strings_and_comments_are_told_apart() {
        let h = highlight("src/main.rs", "// hi\nfn main() {\n    let s = \"x\";\n}\n").expect("rust");
        assert_eq!(h.language, "Rust");
        assert_eq!(h.lines.len(), 4);
        assert_eq!(kinds_of(&h, 0), vec![(TokenKind::Comment, "// hi")]);
        assert!(kinds_of(&h, 1).contains(&(TokenKind::Keyword, "fn")), "{:?}", kinds_of(&h, 1));
        assert!(kinds_of(&h, 1).iter().any(|(k, t)| *k == TokenKind::Function && t.contains("main")));
        assert!(kinds_of(&h, 2).iter().any(|(k, t)| *k == TokenKind::String && t.contains('x')));
    }

    #[test]
    fn the_lines_joined_are_the_text() {
        let text = "const a: number = 1;\r\n\nexport function f() { return `t${a}`; }\nlast";
        let h = highlight("web/a.ts", text).expect("typescript is in bat's set");
        assert_eq!(h.language, "TypeScript");
        let joined: Vec<String> = h.lines.iter().map(|l| l.iter().map(|t| t.text.as_str()).collect()).collect();
        assert_eq!(joined, text.lines().map(str::to_owned).collect::<Vec<_>>());
        assert!(kinds_of(&h, 0).contains(&(TokenKind::Number, "1")), "{:?}", kinds_of(&h, 0));
    }

    #[test]
    fn languages_come_from_names_and_shebangs() {
        assert_eq!(highlight("Dockerfile", "FROM debian\n").map(|h| h.language), Some("Dockerfile".into()));
        assert_eq!(
            highlight("bin/run", "#!/bin/sh\necho hi\n").map(|h| h.language),
            Some("Bourne Again Shell (bash)".into())
        );
        assert_eq!(
            highlight("app/page.tsx", "export default () => <div a=\"b\" />;\n").map(|h| h.language),
            Some("TypeScriptReact".into())
        );
        assert_eq!(highlight("notes.txt", "just words\n"), None);
        assert_eq!(highlight("data.unknownext", "x\n"), None);
    }

    #[test]
    fn files_past_the_bounds_are_not_highlighted() {
        assert!(highlight("min.js", &"a".repeat(MAX_LINE_BYTES + 1)).is_none());
        assert!(highlight("big.js", &"a;\n".repeat(MAX_LINES + 1)).is_none());
        assert!(highlight("ok.js", &"a;\n".repeat(100)).is_some());
    }

    #[test]
    fn the_cache_answers_a_blob_again_and_drops_the_oldest() {
        let cache = Cache::new(40);
        let first = cache.get_or_highlight("b1", "a.rs", "fn a() {}\n");
        let again = cache.get_or_highlight("b1", "other/name.rs", "fn a() {}\n");
        assert!(Arc::ptr_eq(&first, &again));
        assert_eq!(cache.hits(), 1);
        // The same blob under another language is its own entry.
        let as_text = cache.get_or_highlight("b1", "a.txt", "fn a() {}\n");
        assert!(as_text.is_none());
        for n in 0..10 {
            cache.get_or_highlight(&format!("x{n}"), "a.rs", "fn b() {}\n");
        }
        assert!(cache.lock().bytes <= 40);
        cache.get_or_highlight("b1", "a.rs", "fn a() {}\n");
        assert_eq!(cache.hits(), 1, "the first entry was dropped");
    }
}
