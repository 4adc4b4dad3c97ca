//! Relative times: "just now", "5m ago", "2h ago", "yesterday", "3d ago", then the date.

use chrono::{DateTime, Datelike, Utc};

pub fn relative(at: DateTime<Utc>) -> String {
    let now_ms = js_sys::Date::now() as i64;
    let seconds = ((now_ms - at.timestamp_millis()) / 1000).max(0);
    match seconds {
        0..=59 => "just now".to_owned(),
        60..=3599 => format!("{}m ago", seconds / 60),
        3600..=86_399 => format!("{}h ago", seconds / 3600),
        86_400..=172_799 => "yesterday".to_owned(),
        172_800..=604_799 => format!("{}d ago", seconds / 86_400),
        // Not `format("%Y-%m-%d")`: chrono's format strings are parsed at run time, and that
        // parser alone is kilobytes of the bundle.
        _ => format!("{:04}-{:02}-{:02}", at.year(), at.month(), at.day()),
    }
}
