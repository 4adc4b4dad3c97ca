//! Page sizes and opaque cursors. A cursor is base64url text naming the last row of a page;
//! clients pass it back unchanged as `cursor`.

use crate::error::ApiError;
use api_types::{DEFAULT_PAGE_LIMIT, ErrorCode, MAX_PAGE_LIMIT};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};

/// The page size to use: 1 to 100, 50 when absent.
pub fn limit(requested: Option<u64>) -> Result<u64, ApiError> {
    match requested {
        None => Ok(DEFAULT_PAGE_LIMIT),
        Some(limit) if (1..=MAX_PAGE_LIMIT).contains(&limit) => Ok(limit),
        Some(_) => Err(ApiError::bad_request(
            ErrorCode::InvalidQuery,
            format!("limit must be between 1 and {MAX_PAGE_LIMIT}."),
        )),
    }
}

fn bad_cursor() -> ApiError {
    ApiError::bad_request(ErrorCode::InvalidQuery, "The cursor is not one this server gave out.")
}

fn decode(cursor: &str) -> Result<String, ApiError> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad_cursor())?;
    String::from_utf8(bytes).map_err(|_| bad_cursor())
}

/// A cursor after the row with this id.
pub fn encode_id(id: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("id:{id}"))
}

pub fn decode_id(cursor: Option<&str>) -> Result<Option<i64>, ApiError> {
    let Some(cursor) = cursor else {
        return Ok(None);
    };
    let text = decode(cursor)?;
    let id = text.strip_prefix("id:").and_then(|id| id.parse().ok()).ok_or_else(bad_cursor)?;
    Ok(Some(id))
}

/// A cursor after the row with this (timestamp, id), for lists ordered by activity.
pub fn encode_activity(at: DateTime<Utc>, id: i32) -> String {
    URL_SAFE_NO_PAD.encode(format!("at:{}:{id}", at.timestamp_micros()))
}

pub fn decode_activity(cursor: Option<&str>) -> Result<Option<(DateTime<Utc>, i32)>, ApiError> {
    let Some(cursor) = cursor else {
        return Ok(None);
    };
    let text = decode(cursor)?;
    let mut parts = text.strip_prefix("at:").ok_or_else(bad_cursor)?.splitn(2, ':');
    let micros = parts.next().and_then(|m| m.parse::<i64>().ok()).ok_or_else(bad_cursor)?;
    let id = parts.next().and_then(|id| id.parse::<i32>().ok()).ok_or_else(bad_cursor)?;
    let at = DateTime::from_timestamp_micros(micros).ok_or_else(bad_cursor)?;
    Ok(Some((at, id)))
}

/// Cuts a page fetched with `limit + 1` rows to `limit` and gives the cursor of the next page.
pub fn finish_page<T>(mut rows: Vec<T>, limit: u64, cursor_of: impl Fn(&T) -> String) -> (Vec<T>, Option<String>) {
    let has_more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    let next = if has_more { rows.last().map(cursor_of) } else { None };
    (rows, next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip() {
        assert_eq!(decode_id(Some(&encode_id(42))).ok().flatten(), Some(42));
        let at = DateTime::from_timestamp_micros(1_763_700_000_123_456).unwrap_or_default();
        assert_eq!(decode_activity(Some(&encode_activity(at, 7))).ok().flatten(), Some((at, 7)));
    }

    #[test]
    fn foreign_cursors_and_limits_are_rejected() {
        assert!(decode_id(Some("not base64!")).is_err());
        assert!(decode_id(Some(&encode_activity(Utc::now(), 1))).is_err());
        assert!(decode_activity(Some(&encode_id(1))).is_err());
        assert!(limit(Some(0)).is_err());
        assert!(limit(Some(101)).is_err());
        assert_eq!(limit(None).ok(), Some(50));
    }

    #[test]
    fn pages_know_when_more_follow() {
        let (rows, next) = finish_page(vec![1, 2, 3], 2, |n| n.to_string());
        assert_eq!((rows, next), (vec![1, 2], Some("2".to_owned())));
        let (rows, next) = finish_page(vec![1, 2], 2, |n| n.to_string());
        assert_eq!((rows, next), (vec![1, 2], None));
    }
}
