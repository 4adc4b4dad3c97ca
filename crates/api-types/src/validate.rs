//! Input rules both ends check: the server to reject bad input, the web app to say so early.
//! Each returns the sentence to show when the input is wrong. The OpenAPI document states the
//! same rules as JSON Schema (`*_PATTERN`, lengths), so generated clients and schemathesis
//! see what the server enforces.

use crate::session::{MAX_DESCRIPTION_CHARS, MAX_TITLE_CHARS};

/// The longest branch name we store (`VARCHAR(100)`).
pub const MAX_BRANCH_CHARS: usize = 100;

/// The longest one-line name: titles, project, token and display names (as sent, before
/// surrounding spaces are trimmed).
pub const MAX_NAME_CHARS: usize = MAX_TITLE_CHARS;

/// One line of plain text that is not blank: no control characters (Unicode `Cc`), at least
/// one character that is not a space.
pub const LINE_PATTERN: &str = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$";

/// Text that may span lines: no control characters but tab, newline and carriage return.
pub const TEXT_PATTERN: &str = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$";

/// What [`branch_name`] accepts, as a pattern (the length is `maxLength`).
pub const BRANCH_PATTERN: &str = r"^(?!-)(?!refs/)(?!(?:@|HEAD)$)(?!.*\.\.)(?!.*@\{)(?!/)(?!.*//)(?!.*/$)(?!.*\.$)(?!\.)(?!.*/\.)(?!.*\.lock/)(?!.*\.lock$)[^\x00-\x20\x7f~^:?*\[\\]+$";

/// What [`color`] accepts.
pub const COLOR_PATTERN: &str = r"^#[0-9A-Fa-f]{6}$";

/// What [`font_family`] accepts (the length is `maxLength`, 100).
pub const FONT_PATTERN: &str = r#"^[A-Za-z0-9 ,'"-]*[A-Za-z0-9,'"-][A-Za-z0-9 ,'"-]*$"#;

/// The longest font-family list.
pub const MAX_FONT_CHARS: usize = 100;

/// Refuses NUL and other control characters; a multi-line text may hold newlines and tabs
/// (and the carriage returns of CRLF).
pub fn plain_text(raw: &str, multiline: bool) -> Result<(), String> {
    let allowed = |c: char| multiline && matches!(c, '\n' | '\t' | '\r');
    match raw.chars().find(|c| c.is_control() && !allowed(*c)) {
        Some(c) => Err(format!(
            "The text contains the control character U+{:04X}; {}",
            u32::from(c),
            if multiline { "only newlines and tabs are allowed." } else { "it must be one line of plain text." }
        )),
        None => Ok(()),
    }
}

/// Checks one line of plain text of at most `max` characters as sent ([`LINE_PATTERN`]) and
/// gives it trimmed. `what` names it in the sentence ("The title").
pub fn line(raw: &str, what: &str, max: usize) -> Result<String, String> {
    plain_text(raw, false)?;
    let len = raw.chars().count();
    if len > max {
        return Err(format!("{what} is {len} characters long; at most {max} are allowed."));
    }
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(format!("{what} must not be empty."));
    }
    Ok(trimmed.to_owned())
}

/// Trims a session title and checks it is 1 to 100 characters of one line.
pub fn session_title(raw: &str) -> Result<String, String> {
    line(raw, "The title", MAX_TITLE_CHARS)
}

/// Checks a session description (at most 2000 characters). Empty means "no description".
pub fn session_description(raw: &str) -> Result<Option<String>, String> {
    plain_text(raw, true)?;
    let len = raw.chars().count();
    if len > MAX_DESCRIPTION_CHARS {
        return Err(format!("The description is {len} characters long; at most {MAX_DESCRIPTION_CHARS} are allowed."));
    }
    let trimmed = raw.trim();
    Ok((!trimmed.is_empty()).then(|| raw.to_owned()))
}

/// Checks a short branch name against git's ref-name rules (`git check-ref-format --branch`)
/// and our length limit.
pub fn branch_name(name: &str) -> Result<(), String> {
    let fail = |why: &str| Err(format!("\"{}\" is not a valid branch name: {why}.", name.escape_default()));
    if name.is_empty() {
        return Err("The branch name must not be empty.".to_owned());
    }
    if name.chars().count() > MAX_BRANCH_CHARS {
        return Err(format!("The branch name is longer than {MAX_BRANCH_CHARS} characters."));
    }
    if name.starts_with('-') {
        return fail("it must not start with '-'");
    }
    if name == "@" || name == "HEAD" {
        return fail("it is reserved by git");
    }
    if name.starts_with("refs/") {
        return fail("give the short name, without 'refs/heads/'");
    }
    if let Some(c) =
        name.chars().find(|c| c.is_ascii_control() || matches!(c, ' ' | '~' | '^' | ':' | '?' | '*' | '[' | '\\'))
    {
        return fail(&format!("it contains the character {:?}", c));
    }
    if name.contains("..") {
        return fail("it contains '..'");
    }
    if name.contains("@{") {
        return fail("it contains '@{'");
    }
    if name.starts_with('/') || name.ends_with('/') || name.contains("//") {
        return fail("it has an empty path component");
    }
    if name.ends_with('.') {
        return fail("it ends with '.'");
    }
    for component in name.split('/') {
        if component.starts_with('.') {
            return fail("a path component starts with '.'");
        }
        if component.ends_with(".lock") {
            return fail("a path component ends with '.lock'");
        }
    }
    Ok(())
}

/// Checks a `#RRGGBB` color.
pub fn color(value: &str) -> Result<(), String> {
    let ok = value.len() == 7 && value.starts_with('#') && value[1..].chars().all(|c| c.is_ascii_hexdigit());
    if ok { Ok(()) } else { Err(format!("\"{}\" is not a color like #1a2b3c.", value.escape_default())) }
}

/// Checks a CSS font-family list: ASCII letters and digits, spaces, commas, quotes and
/// hyphens, at most 100.
pub fn font_family(value: &str) -> Result<(), String> {
    let ok = !value.trim().is_empty()
        && value.len() <= MAX_FONT_CHARS
        && value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | ',' | '-' | '\'' | '"'));
    if ok { Ok(()) } else { Err("A font is a list of family names such as Inter, sans-serif.".to_owned()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_branch_names() {
        for ok in ["main", "develop", "feature/login", "release-1.2", "kosuke-chat-abc123", "a@b"] {
            assert_eq!(branch_name(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn rejects_names_git_would_refuse() {
        let long = "a".repeat(101);
        for bad in [
            "",
            "..",
            "-x",
            "a b",
            "refs/heads/../x",
            "a.lock",
            "a/b.lock/c",
            ".hidden",
            "a/.b",
            "a..b",
            "a~1",
            "a^",
            "a:b",
            "a?",
            "a*",
            "a[b",
            "a\\b",
            "a/",
            "/a",
            "a//b",
            "a.",
            "@",
            "a@{1}",
            "tab\there",
            "HEAD",
            long.as_str(),
        ] {
            assert!(branch_name(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn titles_are_trimmed_and_bounded() {
        assert_eq!(session_title("  Fix login  "), Ok("Fix login".to_owned()));
        assert!(session_title("   ").is_err());
        assert!(session_title("").is_err());
        assert!(session_title(&"x".repeat(101)).is_err());
        assert_eq!(session_title(&"é".repeat(100)).map(|t| t.chars().count()), Ok(100));
    }

    #[test]
    fn colors_and_fonts_are_checked() {
        assert!(color("#0B57d0").is_ok());
        for bad in ["0b57d0", "#0b57d", "#0b57dz", "red", "#0b57d0;x"] {
            assert!(color(bad).is_err(), "{bad}");
        }
        assert!(font_family("\"Inter Tight\", system-ui, sans-serif").is_ok());
        assert!(font_family("x; background: url(evil)").is_err());
        assert!(font_family("  ").is_err());
    }

    #[test]
    fn descriptions_are_bounded_and_blank_means_none() {
        assert_eq!(session_description("  "), Ok(None));
        assert_eq!(session_description("why"), Ok(Some("why".to_owned())));
        assert!(session_description(&"x".repeat(2001)).is_err());
    }
}
