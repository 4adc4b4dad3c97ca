//! The built web app: static files from the web dir, `index.html` for every other non-API path
//! (client-side routing), long cache for content-hashed assets, and JSON 404s under `/api`.
//! A content-hashed asset with a gzipped sibling (`web-….wasm.gz`, written by `cargo xtask
//! web` at gzip's best level) is sent as that file to browsers that accept gzip, instead of
//! being compressed again on every request at the compression middleware's faster level.

use crate::error::ApiError;
use crate::state::AppState;
use actix_files::NamedFile;
use actix_web::http::header::{ACCEPT_ENCODING, CACHE_CONTROL, ContentEncoding, HeaderValue, VARY};
use actix_web::{HttpRequest, HttpResponse, web};
use std::path::{Path, PathBuf};

const NOT_BUILT_PAGE: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>kosuke</title></head>\
<body><main><h1>kosuke</h1><p>The API is running at <code>/api</code>, but the web app has not been built.</p>\
<p>Build it with <code>cargo xtask web</code>, or start everything with <code>cargo xtask run</code>.</p></main></body></html>";

/// The fallback for every request no route matched.
pub async fn fallback(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let path = req.path();
    if path == "/api" || path.starts_with("/api/") {
        return Err(match crate::openapi::methods_of(path) {
            Some(allow) => ApiError::MethodNotAllowed { method: req.method().to_string(), allow },
            None => ApiError::NoRoute,
        });
    }
    let Some(web_dir) = state.settings.web_dir.as_deref() else {
        return Ok(HttpResponse::Ok().content_type("text/html; charset=utf-8").body(NOT_BUILT_PAGE));
    };
    let (file, is_asset) = match safe_join(web_dir, path) {
        Some(file) if file.is_file() => (file, true),
        _ => (web_dir.join("index.html"), false),
    };
    let hashed = is_asset && is_content_hashed(&file);
    let gzipped = hashed.then(|| gzipped_sibling(&file)).flatten();
    let named = match gzipped {
        Some(gz) if accepts_gzip(&req) => {
            let extension = file.extension().and_then(|e| e.to_str()).unwrap_or_default();
            NamedFile::open_async(&gz)
                .await
                .map_err(ApiError::internal)?
                .set_content_type(actix_files::file_extension_to_mime(extension))
                .set_content_encoding(ContentEncoding::Gzip)
        }
        _ => NamedFile::open_async(&file).await.map_err(ApiError::internal)?,
    };
    let mut response = named.into_response(&req);
    let cache = if hashed { "public, max-age=31536000, immutable" } else { "no-cache" };
    response.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static(cache));
    if hashed {
        response.headers_mut().insert(VARY, HeaderValue::from_static("accept-encoding"));
    }
    Ok(response)
}

/// `file.gz` beside `file`, when the build wrote one.
fn gzipped_sibling(file: &Path) -> Option<PathBuf> {
    let mut name = file.file_name()?.to_os_string();
    name.push(".gz");
    Some(file.with_file_name(name)).filter(|gz| gz.is_file())
}

/// Whether the request's `Accept-Encoding` takes gzip (by name or `*`, with a weight above 0).
fn accepts_gzip(req: &HttpRequest) -> bool {
    let Some(header) = req.headers().get(ACCEPT_ENCODING).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    header.split(',').any(|part| {
        let mut pieces = part.split(';').map(str::trim);
        let coding = pieces.next().unwrap_or_default();
        let refused = pieces.any(|p| p.strip_prefix("q=").and_then(|q| q.parse::<f32>().ok()) == Some(0.0));
        (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
    })
}

/// Joins a URL path under the web dir, refusing hidden files and any `..`.
fn safe_join(root: &Path, url_path: &str) -> Option<PathBuf> {
    let mut path = root.to_path_buf();
    for segment in url_path.split('/').filter(|s| !s.is_empty()) {
        if segment.starts_with('.') || segment.contains('\\') || segment.contains('\0') {
            return None;
        }
        path.push(segment);
    }
    (path != root).then_some(path)
}

/// trunk names built assets `name-<16 hex digits>[_bg].ext`; those never change content.
fn is_content_hashed(file: &Path) -> bool {
    let Some(stem) = file.file_stem().and_then(|s| s.to_str()) else {
        return false;
    };
    let stem = stem.strip_suffix("_bg").unwrap_or(stem);
    stem.rsplit_once('-').is_some_and(|(_, hash)| hash.len() == 16 && hash.chars().all(|c| c.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_assets_are_recognised() {
        assert!(is_content_hashed(Path::new("dist/web-0123456789abcdef_bg.wasm")));
        assert!(is_content_hashed(Path::new("dist/web-0123456789abcdef.js")));
        assert!(!is_content_hashed(Path::new("dist/index.html")));
        assert!(!is_content_hashed(Path::new("dist/style.css")));
    }

    #[test]
    fn paths_cannot_leave_the_web_dir() {
        let root = Path::new("/srv/web");
        assert_eq!(safe_join(root, "/a/b.js"), Some(PathBuf::from("/srv/web/a/b.js")));
        assert_eq!(safe_join(root, "/../etc/passwd"), None);
        assert_eq!(safe_join(root, "/.env"), None);
        assert_eq!(safe_join(root, "/"), None);
    }
}
