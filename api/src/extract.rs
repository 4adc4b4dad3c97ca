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
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let malformed = |inner: &serde_json::Error| {
        ApiError::bad_request(
            ErrorCode::MalformedJson,
            format!("The request body is not valid JSON: {}.", strip_position(inner)),
        )
    };
    // Every body is an object: serde would also read a struct from an array of its fields
    // (`[null, null]`), which the document does not allow.
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|b| *b == b'[') {
        return Err(ApiError::validation("body", "The request body must be a JSON object."));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                let field = if path == "." { "body".to_owned() } else { path };
                ApiError::validation(field.clone(), format!("Invalid value for {field}: {}.", strip_position(&inner)))
            }
            _ => malformed(&inner),
        }
    })?;
    deserializer.end().map_err(|inner| malformed(&inner))?;
    Ok(value)
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
}
