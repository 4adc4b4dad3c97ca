//! The tools a model may call, all confined to the checkout by the [`Jail`]. A refused path or
//! a failed edit is a tool error the model sees (and can correct), never a crash.

use jail::{Jail, Kind};
use serde_json::{Value, json};
use std::path::Path;

/// Tool output is cut at this many characters.
pub const MAX_TOOL_OUTPUT: usize = 20_000;
const MAX_READ_BYTES: u64 = 200_000;
const MAX_LIST_ENTRIES: usize = 2_000;
const MAX_SEARCH_MATCHES: usize = 200;
/// How many entries a search walks at most.
const MAX_SEARCHED_ENTRIES: usize = 20_000;

/// A tool's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolResult {
    pub output: String,
    pub is_error: bool,
}

impl ToolResult {
    pub(crate) fn ok(output: impl Into<String>) -> Self {
        ToolResult { output: truncate(output.into()), is_error: false }
    }

    pub(crate) fn error(output: impl Into<String>) -> Self {
        ToolResult { output: truncate(output.into()), is_error: true }
    }
}

fn truncate(mut text: String) -> String {
    if text.len() > MAX_TOOL_OUTPUT {
        let mut cut = MAX_TOOL_OUTPUT;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str("\n[output truncated]");
    }
    text
}

/// A tool's name, description and JSON-schema input, for the model.
#[derive(Debug, Clone)]
pub struct ToolSpec {
    pub name: &'static str,
    pub description: &'static str,
    pub input_schema: Value,
}

/// The tool that restarts the session's dev server.
pub const RESTART_PREVIEW: &str = "restart_preview";

/// The tools offered to a model; `run_command` only where commands can run (a sandbox),
/// `restart_preview` only where the session has a preview to restart.
pub fn specs(commands: bool, preview: bool) -> Vec<ToolSpec> {
    let path = json!({"type": "string", "description": "Path relative to the project root"});
    let mut specs = vec![
        ToolSpec {
            name: "list_files",
            description: "List the files and directories under a directory of the project (recursively).",
            input_schema: json!({"type": "object", "properties": {"path": path}, "required": []}),
        },
        ToolSpec {
            name: "read_file",
            description: "Read a text file of the project.",
            input_schema: json!({"type": "object", "properties": {"path": path}, "required": ["path"]}),
        },
        ToolSpec {
            name: "write_file",
            description: "Create or overwrite a file with the given content (directories are created).",
            input_schema: json!({"type": "object", "properties": {"path": path, "content": {"type": "string"}}, "required": ["path", "content"]}),
        },
        ToolSpec {
            name: "edit_file",
            description: "Replace one exact, unique occurrence of old_text with new_text in a file.",
            input_schema: json!({"type": "object", "properties": {
                "path": path, "old_text": {"type": "string"}, "new_text": {"type": "string"}
            }, "required": ["path", "old_text", "new_text"]}),
        },
        ToolSpec {
            name: "delete_file",
            description: "Delete a file of the project.",
            input_schema: json!({"type": "object", "properties": {"path": path}, "required": ["path"]}),
        },
        ToolSpec {
            name: "search",
            description: "Search the project's text files for a regular expression; answers path:line: text.",
            input_schema: json!({"type": "object", "properties": {
                "pattern": {"type": "string"}, "path": path
            }, "required": ["pattern"]}),
        },
    ];
    if commands {
        specs.push(ToolSpec {
            name: crate::run_command::NAME,
            description: "Run a shell command (sh -c) in the project's root, in a sandbox: tests, builds, linters, \
                          package installs. Answers its output (stdout and stderr) and its exit code. It must finish: \
                          it is stopped after timeout_secs (default and most: the server's limit). Do not start \
                          servers or watchers; the project's dev server runs in the Preview.",
            input_schema: json!({"type": "object", "properties": {
                "command": {"type": "string", "description": "The shell command, e.g. `npm test`"},
                "timeout_secs": {"type": "number", "description": "Stop it after this many seconds"}
            }, "required": ["command"]}),
        });
    }
    if preview {
        specs.push(ToolSpec {
            name: RESTART_PREVIEW,
            description: "Restart the project's dev server (the Preview the user sees), e.g. after changing its \
                          configuration or dependencies, and wait until it answers. Answers whether it runs, or why \
                          it did not start with the last lines of its log.",
            input_schema: json!({"type": "object", "properties": {}, "required": []}),
        });
    }
    specs
}

pub struct Toolbox {
    jail: Jail,
}

impl Toolbox {
    pub fn new(root: &Path) -> std::io::Result<Self> {
        Ok(Toolbox { jail: Jail::new(root)? })
    }

    /// Runs a tool (blocking file-system work; call from a blocking thread).
    pub fn run(&self, name: &str, input: &Value) -> ToolResult {
        let text = |key: &str| input.get(key).and_then(Value::as_str);
        let result = match name {
            "list_files" => self.list(text("path").unwrap_or(".")),
            "read_file" => required(text("path"), "path").and_then(|p| self.read(p)),
            "write_file" => required(text("path"), "path")
                .and_then(|p| required(text("content"), "content").and_then(|c| self.write(p, c))),
            "edit_file" => required(text("path"), "path").and_then(|p| {
                required(text("old_text"), "old_text")
                    .and_then(|old| required(text("new_text"), "new_text").and_then(|new| self.edit(p, old, new)))
            }),
            "delete_file" => required(text("path"), "path").and_then(|p| self.delete(p)),
            "search" => required(text("pattern"), "pattern")
                .and_then(|pattern| self.search(pattern, text("path").unwrap_or("."))),
            other => Err(format!("there is no tool named {other:?}")),
        };
        match result {
            Ok(output) => ToolResult::ok(output),
            Err(message) => ToolResult::error(message),
        }
    }

    fn list(&self, relative: &str) -> Result<String, String> {
        let (entries, truncated) = self.jail.walk(relative, MAX_LIST_ENTRIES).map_err(|e| e.to_string())?;
        let mut lines: Vec<String> = entries
            .iter()
            .map(|entry| match entry.kind {
                Kind::Dir => format!("{}/", entry.path),
                // Shown as what it is; the tools never follow it out.
                Kind::Symlink => format!("{} (symlink)", entry.path),
                Kind::File => entry.path.clone(),
            })
            .collect();
        if truncated {
            lines.push(format!("[listing stopped at {MAX_LIST_ENTRIES} entries]"));
        }
        Ok(if lines.is_empty() { "(empty)".to_owned() } else { lines.join("\n") })
    }

    fn read(&self, relative: &str) -> Result<String, String> {
        let (bytes, size) = self.jail.read(relative, MAX_READ_BYTES).map_err(|e| e.to_string())?;
        if size > MAX_READ_BYTES {
            return Err(format!("{relative:?} is {size} bytes; files over {MAX_READ_BYTES} bytes are not read"));
        }
        String::from_utf8(bytes).map_err(|_| format!("{relative:?} is not a text file"))
    }

    fn write(&self, relative: &str, content: &str) -> Result<String, String> {
        self.jail.write(relative, content.as_bytes()).map_err(|e| e.to_string())?;
        Ok(format!("wrote {} bytes to {relative}", content.len()))
    }

    fn edit(&self, relative: &str, old: &str, new: &str) -> Result<String, String> {
        if old.is_empty() {
            return Err("old_text must not be empty".into());
        }
        let current = self.read(relative)?;
        match current.matches(old).count() {
            0 => Err(format!("old_text was not found in {relative}")),
            1 => {
                self.jail.write(relative, current.replacen(old, new, 1).as_bytes()).map_err(|e| e.to_string())?;
                Ok(format!("edited {relative}"))
            }
            n => Err(format!("old_text appears {n} times in {relative}; include more context so it is unique")),
        }
    }

    fn delete(&self, relative: &str) -> Result<String, String> {
        self.jail.remove(relative).map_err(|e| e.to_string())?;
        Ok(format!("deleted {relative}"))
    }

    /// Lines matching `pattern` in the files below `relative` (or in that one file): the walk
    /// never enters a symlink and reads only regular files, so it cannot leave the checkout or
    /// loop, and it stops at a bound of files and matches.
    fn search(&self, pattern: &str, relative: &str) -> Result<String, String> {
        let regex = regex::Regex::new(pattern).map_err(|e| format!("invalid pattern: {e}"))?;
        let files: Vec<String> = match self.jail.kind(relative).map_err(|e| e.to_string())? {
            Kind::File => vec![relative.trim().to_owned()],
            Kind::Symlink => return Err(format!("{relative:?} is a symlink; kosuke does not follow it")),
            Kind::Dir => {
                let (entries, _) = self.jail.walk(relative, MAX_SEARCHED_ENTRIES).map_err(|e| e.to_string())?;
                entries.into_iter().filter(|e| e.kind == Kind::File).map(|e| e.path).collect()
            }
        };
        let mut matches = Vec::new();
        for path in files {
            let Ok((bytes, _)) = self.jail.read(&path, MAX_READ_BYTES) else { continue };
            let Ok(text) = String::from_utf8(bytes) else { continue };
            for (number, line) in text.lines().enumerate() {
                if regex.is_match(line) {
                    matches.push(format!("{path}:{}: {}", number + 1, line.trim_end()));
                    if matches.len() >= MAX_SEARCH_MATCHES {
                        matches.sort();
                        matches.push(format!("[search stopped at {MAX_SEARCH_MATCHES} matches]"));
                        return Ok(matches.join("\n"));
                    }
                }
            }
        }
        matches.sort();
        Ok(if matches.is_empty() { "no matches".to_owned() } else { matches.join("\n") })
    }
}

fn required<'a>(value: Option<&'a str>, name: &str) -> Result<&'a str, String> {
    value.ok_or_else(|| format!("the input needs a string {name:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toolbox() -> (tempfile::TempDir, Toolbox) {
        let dir = tempfile::TempDir::new().unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.path().join("a.txt"), "one\ntwo\ntwo\n").ok();
        let toolbox = Toolbox::new(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        (dir, toolbox)
    }

    #[test]
    fn edits_need_one_exact_match() {
        let (dir, tools) = toolbox();
        assert!(tools.run("edit_file", &json!({"path": "a.txt", "old_text": "two", "new_text": "2"})).is_error);
        assert!(tools.run("edit_file", &json!({"path": "a.txt", "old_text": "zzz", "new_text": "2"})).is_error);
        let done = tools.run("edit_file", &json!({"path": "a.txt", "old_text": "one", "new_text": "1"}));
        assert!(!done.is_error, "{}", done.output);
        assert_eq!(std::fs::read_to_string(dir.path().join("a.txt")).ok().as_deref(), Some("1\ntwo\ntwo\n"));
    }

    #[test]
    fn writes_lists_searches_and_deletes() {
        let (dir, tools) = toolbox();
        assert!(!tools.run("write_file", &json!({"path": "src/new.rs", "content": "fn main() {}\n"})).is_error);
        assert_eq!(tools.run("list_files", &json!({})).output, "a.txt\nsrc/\nsrc/new.rs");
        assert_eq!(tools.run("search", &json!({"pattern": "fn \\w+"})).output, "src/new.rs:1: fn main() {}");
        assert!(tools.run("search", &json!({"pattern": "("})).is_error);
        assert!(!tools.run("delete_file", &json!({"path": "a.txt"})).is_error);
        assert!(!dir.path().join("a.txt").exists());
        assert!(tools.run("read_file", &json!({"path": "a.txt"})).is_error);
        assert!(tools.run("no_such_tool", &json!({})).is_error);
        assert!(tools.run("read_file", &json!({})).is_error, "a missing input is a tool error");
    }

    #[test]
    fn escapes_are_tool_errors_and_touch_nothing_outside() {
        let outer = tempfile::TempDir::new().unwrap_or_else(|e| panic!("{e}"));
        let root = outer.path().join("checkout");
        std::fs::create_dir_all(root.join(".git")).ok();
        std::os::unix::fs::symlink(outer.path(), root.join("up")).ok();
        let tools = Toolbox::new(&root).unwrap_or_else(|e| panic!("{e}"));
        for (name, input) in [
            ("write_file", json!({"path": "../escaped.txt", "content": "x"})),
            ("write_file", json!({"path": "up/escaped.txt", "content": "x"})),
            ("write_file", json!({"path": "/tmp/escaped.txt", "content": "x"})),
            ("write_file", json!({"path": ".git/hooks/pre-commit", "content": "x"})),
            ("delete_file", json!({"path": "../checkout/../escaped.txt"})),
            ("read_file", json!({"path": "up/checkout/.git/HEAD"})),
        ] {
            let result = tools.run(name, &input);
            assert!(result.is_error, "{name} {input}: {}", result.output);
        }
        assert!(!outer.path().join("escaped.txt").exists());
        assert!(!root.join(".git/hooks").exists());
    }

    #[test]
    fn search_never_follows_a_symlink_out_or_round_a_loop() {
        let outer = tempfile::TempDir::new().unwrap_or_else(|e| panic!("{e}"));
        let root = outer.path().join("checkout");
        std::fs::create_dir_all(root.join("src")).ok();
        std::fs::write(outer.path().join("secret.key"), "TOPSECRET\n").ok();
        std::fs::create_dir_all(outer.path().join("elsewhere")).ok();
        std::fs::write(outer.path().join("elsewhere/notes.txt"), "TOPSECRET too\n").ok();
        std::fs::write(root.join("src/lib.rs"), "// TOPSECRET is not here\n").ok();
        // A committed link to a file outside, one to a directory outside, and a cycle.
        std::os::unix::fs::symlink("../../secret.key", root.join("src/k")).ok();
        std::os::unix::fs::symlink("../elsewhere", root.join("out")).ok();
        std::os::unix::fs::symlink(".", root.join("src/loop")).ok();
        std::os::unix::fs::symlink("../loop2", root.join("loop1")).ok();
        std::os::unix::fs::symlink("loop1", root.join("loop2")).ok();
        let tools = Toolbox::new(&root).unwrap_or_else(|e| panic!("{e}"));
        let found = tools.run("search", &json!({"pattern": "TOPSECRET"}));
        assert_eq!(found.output, "src/lib.rs:1: // TOPSECRET is not here", "only the file inside, once");
        for start in ["src/loop", "out", "loop1", "src/k"] {
            let result = tools.run("search", &json!({"pattern": "TOPSECRET", "path": start}));
            assert!(result.is_error && !result.output.contains("TOPSECRET too"), "{start}: {}", result.output);
        }
    }
}
