//! Cross-site request forgery: a state-changing request (anything but GET, HEAD, OPTIONS)
//! that is signed in by the cookie must come from kosuke's own pages. It passes when the
//! browser says so (`Sec-Fetch-Site: same-origin`, or `none` for a typed URL), when its
//! `Origin` is the server's own, or, from clients that send neither, when its body is declared
//! JSON (`Content-Type: application/json`, which no other site can send without a CORS
//! preflight kosuke never grants). Everything else gets 403 `cross_site_request` before any
//! handler runs. Requests with a bearer token carry no ambient authority and are not checked.

use crate::auth::SESSION_COOKIE;
use crate::error::ApiError;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, ResponseError};

pub async fn guard(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if is_forged(req.request()) {
        tracing::warn!(method = %req.method(), path = req.path(), "refused a cross-site request signed in by cookie");
        let response = ApiError::CrossSite.error_response();
        return Ok(req.into_response(response).map_into_right_body());
    }
    next.call(req).await.map(ServiceResponse::map_into_left_body)
}

fn is_forged(req: &HttpRequest) -> bool {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) || req.cookie(SESSION_COOKIE).is_none() {
        return false;
    }
    let header = |name: header::HeaderName| req.headers().get(name).and_then(|v| v.to_str().ok());
    if header(header::AUTHORIZATION).is_some_and(|value| value.starts_with("Bearer ")) {
        return false;
    }
    match header(header::HeaderName::from_static("sec-fetch-site")) {
        Some("same-origin" | "none") => return false,
        Some(_) => return true,
        None => {}
    }
    if let Some(origin) = header(header::ORIGIN) {
        let host = header(header::HOST).unwrap_or_default();
        let origin_host = origin.split_once("://").map(|(_, rest)| rest).unwrap_or(origin);
        return host.is_empty() || !origin_host.eq_ignore_ascii_case(host);
    }
    !header(header::CONTENT_TYPE).is_some_and(|value| value.trim_start().starts_with("application/json"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn with_cookie() -> TestRequest {
        TestRequest::post().uri("/api/auth/logout").cookie(actix_web::cookie::Cookie::new(SESSION_COOKIE, "x"))
    }

    #[test]
    fn cookie_requests_from_other_sites_are_told_apart() {
        let host = ("host", "kosuke.example:8080");
        let cases = [
            (with_cookie().insert_header(("content-type", "text/plain")), true),
            (with_cookie(), true),
            (with_cookie().insert_header(("content-type", "application/json")), false),
            (with_cookie().insert_header(("sec-fetch-site", "same-origin")), false),
            (
                with_cookie()
                    .insert_header(("sec-fetch-site", "cross-site"))
                    .insert_header(("content-type", "application/json")),
                true,
            ),
            (with_cookie().insert_header(("sec-fetch-site", "same-site")), true),
            (with_cookie().insert_header(host).insert_header(("origin", "http://kosuke.example:8080")), false),
            (with_cookie().insert_header(host).insert_header(("origin", "https://evil.example")), true),
            (with_cookie().insert_header(host).insert_header(("origin", "null")), true),
            (with_cookie().insert_header(("authorization", "Bearer kst_x")), false),
            (TestRequest::post().uri("/api/auth/login"), false),
            (TestRequest::get().uri("/api/me").cookie(actix_web::cookie::Cookie::new(SESSION_COOKIE, "x")), false),
        ];
        for (n, (request, forged)) in cases.into_iter().enumerate() {
            assert_eq!(is_forged(&request.to_http_request()), forged, "case {n}");
        }
    }
}
