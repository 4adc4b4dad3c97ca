//! Request extractors that answer bad input with `ApiError`s: a JSON body that names the
//! failing field, positive ids in paths, and query strings.

use crate::error::ApiError;
use crate::state::AppState;
use actix_web::dev::Payload;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::web::{self, BytesMut};
use actix_web::{FromRequest, HttpRequest};
use api_types::ErrorCode;
use futures_util::StreamExt;
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

/// A JSON request body. Malformed JSON is 400 `malformed_json`; a well-formed body with a wrong
/// value (unknown status, missing field) is 422 `validation_failed` naming the field; a body
/// over the limit is 413; another content type is 415.
pub struct Json<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req.app_data::<web::Data<AppState>>().map(|state| state.settings.body_limit).unwrap_or(1024 * 1024);
        let is_json = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(';').next())
            .is_some_and(|mime| {
                let mime = mime.trim();
                mime.eq_ignore_ascii_case("application/json") || mime.ends_with("+json")
            });
        let declared_length = req
            .headers()
            .get(actix_web::http::header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<usize>().ok());
        let mut payload = payload.take();
        Box::pin(async move {
            if declared_length.is_some_and(|length| length > limit) {
                return Err(ApiError::PayloadTooLarge { limit });
            }
            if !is_json {
                return Err(ApiError::UnsupportedMediaType);
            }
            let mut body = BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|_| {
                    ApiError::bad_request(ErrorCode::MalformedJson, "The request body could not be read.")
                })?;
                if body.len() + chunk.len() > limit {
                    return Err(ApiError::PayloadTooLarge { limit });
                }
                body.extend_from_slice(&chunk);
            }
            parse_json(&body).map(Json)
        })
    }
}

/// Parses a JSON body, telling syntax errors (400) from wrong values (422, with the field).
/// Integer fields take any JSON number with a zero fraction (`25.0` is `25`), as JSON Schema's
/// `integer` does.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    // Every body is an object: serde would also read a struct from an array of its fields
    // (`[null, null]`), which the document does not allow.
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|b| *b == b'[') {
        return Err(ApiError::validation("body", "The request body must be a JSON object."));
    }
    let mut value: serde_json::Value = serde_json::from_slice(body).map_err(|inner| {
        ApiError::bad_request(
            ErrorCode::MalformedJson,
            format!("The request body is not valid JSON: {}.", strip_position(&inner)),
        )
    })?;
    integral_numbers(&mut value);
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let field = if path == "." { "body".to_owned() } else { path };
        let inner = err.into_inner();
        ApiError::validation(field.clone(), format!("Invalid value for {field}: {}.", strip_position(&inner)))
    })
}

/// Turns numbers written with a zero fraction (`25.0`, `1e3`) into integers where they fit.
fn integral_numbers(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Number(number) if !number.is_i64() && !number.is_u64() => {
            const LIMIT: f64 = 9_007_199_254_740_992.0; // 2^53: every integer below is exact
            if let Some(float) = number.as_f64()
                && float.fract() == 0.0
                && float.abs() < LIMIT
            {
                *value = serde_json::Value::from(float as i64);
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(integral_numbers),
        serde_json::Value::Object(fields) => fields.values_mut().for_each(integral_numbers),
        _ => {}
    }
}

/// serde_json appends " at line 1 column 9"; the sentence reads better without it.
fn strip_position(err: &serde_json::Error) -> String {
    let text = err.to_string();
    match text.rfind(" at line ") {
        Some(index) => text[..index].to_owned(),
        None => text,
    }
}

/// An id in a path: a positive integer that fits the column. Anything else is 400 `invalid_id`
/// (via the path error handler installed in `startup`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathId(pub i32);

impl<'de> Deserialize<'de> for PathId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        match raw.parse::<i32>() {
            Ok(id) if id > 0 => Ok(PathId(id)),
            _ => Err(serde::de::Error::custom(format!("\"{}\" is not a positive integer id", raw.escape_default()))),
        }
    }
}

/// The error handler for path extraction.
pub fn path_error(err: actix_web::error::PathError, _req: &HttpRequest) -> actix_web::Error {
    let message = match err {
        actix_web::error::PathError::Deserialize(inner) => {
            format!("Invalid id in the path: {inner}.")
        }
        _ => "Invalid id in the path.".to_owned(),
    };
    ApiError::bad_request(ErrorCode::InvalidId, message).into()
}

/// The error handler for query-string extraction.
pub fn query_error(err: actix_web::error::QueryPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let message = match err {
        actix_web::error::QueryPayloadError::Deserialize(inner) => {
            format!("Invalid query string: {inner}.")
        }
        _ => "Invalid query string.".to_owned(),
    };
    ApiError::bad_request(ErrorCode::InvalidQuery, message).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use api_types::UpdateChatSessionRequest;

    #[test]
    fn syntax_errors_are_malformed_json() {
        let err = parse_json::<UpdateChatSessionRequest>(b"{\"title\": ").err();
        assert_eq!(err.map(|e| e.code()), Some(ErrorCode::MalformedJson));
        let err = parse_json::<UpdateChatSessionRequest>(b"{} trailing").err();
        assert_eq!(err.map(|e| e.code()), Some(ErrorCode::MalformedJson));
    }

    #[test]
    fn wrong_values_name_their_field() {
        let err = parse_json::<UpdateChatSessionRequest>(br#"{"status": "bogus"}"#).err();
        match err {
            Some(ApiError::Validation { field, message }) => {
                assert_eq!(field, "status");
                assert!(message.contains("unknown variant `bogus`"), "{message}");
            }
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn integers_may_be_written_with_a_zero_fraction() {
        let request: api_types::ChatRequest =
            parse_json(br#"{"project_id": 25.0, "chat_session_id": 3e0, "prompt": "hi"}"#).unwrap();
        assert_eq!((request.project_id.0, request.chat_session_id.0), (25, 3));
        for bad in [
            &br#"{"project_id": 25.5, "chat_session_id": 1, "prompt": "x"}"#[..],
            br#"{"project_id": 1e300, "chat_session_id": 1, "prompt": "x"}"#,
        ] {
            let err = parse_json::<api_types::ChatRequest>(bad).err();
            assert!(matches!(err, Some(ApiError::Validation { ref field, .. }) if field == "project_id"), "{err:?}");
        }
    }
}
