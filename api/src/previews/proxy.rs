//! The preview proxy: its own listener (`--preview-bind`), where each session's dev server has
//! its own origin, told by the `Host` header (`s{session_pk}.{domain}`). It is `hyper` 1 on
//! both sides: requests and answers are streamed, the dev server's own headers passed (its
//! `X-Frame-Options` dropped, so the workspace can frame it), and WebSocket upgrades (hot
//! reload) bridged over a connection of their own.
//!
//! Access: `GET /__kosuke/open?token=…` with a one-time token from `GET …/preview` (the owner
//! only) sets a host-only cookie for that origin and redirects to `/`; any other request
//! without that cookie gets 401. The cookie is taken off what the dev server receives, and
//! kosuke's own cookie never comes here (it is host-only on kosuke's host, another site).

use super::{Admission, Previews};
use crate::nodes::previews::{Elsewhere, Routing};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full, combinators::BoxBody};
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::{Client, connect::HttpConnector};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Where a one-time link is redeemed, on every preview origin.
pub const OPEN_PATH: &str = "/__kosuke/open";
/// The cookie that lets the owner's browser into a preview origin.
pub const COOKIE: &str = "kosuke_preview";

type Body = BoxBody<Bytes, hyper::Error>;
type Upstream = Client<HttpConnector, Incoming>;

/// Serves previews on `listener` until the task is aborted; with `routing` (one of several
/// nodes), another node's previews are passed on to it.
pub fn serve(
    listener: std::net::TcpListener,
    previews: Arc<Previews>,
    routing: Option<Arc<Routing>>,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    listener.set_nonblocking(true)?;
    let listener = tokio::net::TcpListener::from_std(listener)?;
    previews.set_proxy_port(listener.local_addr()?.port());
    let upstream: Upstream = Client::builder(TokioExecutor::new()).build_http();
    Ok(tokio::spawn(async move {
        loop {
            let (stream, peer) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(err) => {
                    tracing::warn!(error = %err, "the preview proxy could not accept a connection");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let (previews, upstream, routing) = (previews.clone(), upstream.clone(), routing.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    let (previews, upstream, routing) = (previews.clone(), upstream.clone(), routing.clone());
                    async move {
                        let answer = handle(&previews, &upstream, routing.as_deref(), peer, request).await;
                        Ok::<_, std::convert::Infallible>(answer)
                    }
                });
                let connection = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .with_upgrades();
                if let Err(err) = connection.await {
                    tracing::debug!(error = %err, "a preview connection ended");
                }
            });
        }
    }))
}

async fn handle(
    previews: &Previews,
    upstream: &Upstream,
    routing: Option<&Routing>,
    peer: SocketAddr,
    request: Request<Incoming>,
) -> Response<Body> {
    let host = request.headers().get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default().to_owned();
    let Some(session_pk) = previews.session_of_host(&host) else {
        return page(StatusCode::NOT_FOUND, "There is no preview at this address.");
    };
    if let Some(routing) = routing
        && !previews.has(session_pk)
    {
        match routing.find(session_pk).await {
            Some(Elsewhere::At(address)) => {
                let target = Target { address, local: None };
                return forward(upstream, request, target, peer, &host).await;
            }
            Some(Elsewhere::Down(node)) => {
                return page(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &format!("This preview runs on node {node}, which is down. Its chat says when it is back."),
                );
            }
            None => {}
        }
    }
    if request.uri().path() == OPEN_PATH {
        return open(previews, session_pk, request.uri());
    }
    let access = cookie(request.headers(), COOKIE);
    match previews.admit(session_pk, access.as_deref()) {
        Admission::Unknown => page(
            StatusCode::NOT_FOUND,
            "This preview is not running on this server. Open it from its chat's Preview tab in kosuke.",
        ),
        Admission::Denied => page(
            StatusCode::UNAUTHORIZED,
            "Open this preview from its chat's Preview tab in kosuke: only the chat's owner may see it.",
        ),
        Admission::NotRunning(state) => page(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!("The dev server is {state}. Its chat's Preview tab in kosuke shows its log and starts it again."),
        ),
        Admission::Forward { port, tunnels } => {
            let target = Target { address: format!("127.0.0.1:{port}"), local: Some(tunnels) };
            forward(upstream, request, target, peer, &host).await
        }
    }
}

/// Redeems a one-time link: the cookie for this origin, and on to `/`.
fn open(previews: &Previews, session_pk: i32, uri: &Uri) -> Response<Body> {
    let token =
        uri.query().unwrap_or_default().split('&').find_map(|pair| pair.strip_prefix("token=")).unwrap_or_default();
    let Some(access) = previews.redeem(session_pk, token) else {
        return page(
            StatusCode::UNAUTHORIZED,
            "This link has been used or has expired. Open the preview again from its chat's Preview tab in kosuke.",
        );
    };
    // A `*.localhost` origin is a secure context even over http, and another site than
    // kosuke's own `localhost`: framed there, its cookie must be `SameSite=None` (which needs
    // `Secure`), partitioned under the framing site. A deployment's preview domain is
    // usually a subdomain of kosuke's own site, where `Lax` works over plain http.
    let attributes = if previews.settings.domain == "localhost"
        || previews.settings.domain.ends_with(".localhost")
        || previews.settings.secure_cookie
    {
        "SameSite=None; Secure; Partitioned"
    } else {
        "SameSite=Lax"
    };
    let cookie = format!("{COOKIE}={access}; Path=/; HttpOnly; {attributes}");
    let mut response = page(StatusCode::SEE_OTHER, "Opening the preview…");
    let headers = response.headers_mut();
    headers.insert(header::LOCATION, HeaderValue::from_static("/"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        headers.insert(header::SET_COOKIE, value);
    }
    response
}

/// Where a request goes on to.
struct Target {
    /// `host:port`.
    address: String,
    /// The session's dev server on this node (its open WebSockets counted here), or `None`
    /// for another node's preview proxy (which gets the preview's cookie and `Host` as sent).
    local: Option<Arc<AtomicUsize>>,
}

async fn forward(
    upstream: &Upstream,
    mut request: Request<Incoming>,
    target: Target,
    peer: SocketAddr,
    host: &str,
) -> Response<Body> {
    let path = request.uri().path_and_query().map_or("/", |p| p.as_str());
    let Ok(uri) = format!("http://{}{path}", target.address).parse::<Uri>() else {
        return page(StatusCode::BAD_REQUEST, "The request's path cannot be forwarded.");
    };
    let upgrade = wants_upgrade(request.headers());
    let headers = request.headers_mut();
    remove_hop_by_hop(headers);
    remove_cookie(headers, crate::auth::SESSION_COOKIE);
    if target.local.is_some() {
        remove_cookie(headers, COOKIE);
        if let Ok(value) = HeaderValue::from_str(&peer.ip().to_string()) {
            headers.insert(HeaderName::from_static("x-forwarded-for"), value);
        }
        if let Ok(value) = HeaderValue::from_str(host) {
            headers.insert(HeaderName::from_static("x-forwarded-host"), value);
        }
        headers.insert(HeaderName::from_static("x-forwarded-proto"), HeaderValue::from_static("http"));
    }
    if let Some(protocol) = upgrade {
        return tunnel(request, uri, &target, protocol).await;
    }
    *request.uri_mut() = uri;
    match upstream.request(request).await {
        Ok(answer) => {
            let (mut parts, body) = answer.into_parts();
            remove_hop_by_hop(&mut parts.headers);
            parts.headers.remove(header::X_FRAME_OPTIONS);
            Response::from_parts(parts, body.boxed())
        }
        Err(err) if target.local.is_none() => {
            page(StatusCode::BAD_GATEWAY, &format!("The node running this preview did not answer: {err}"))
        }
        Err(err) => page(StatusCode::BAD_GATEWAY, &format!("The dev server did not answer: {err}")),
    }
}

/// Bridges a WebSocket (any `Upgrade`) to the dev server on a connection of its own.
async fn tunnel(mut request: Request<Incoming>, uri: Uri, target: &Target, protocol: HeaderValue) -> Response<Body> {
    let bad_gateway = |err: &dyn std::fmt::Display| {
        page(StatusCode::BAD_GATEWAY, &format!("The dev server did not take the connection: {err}"))
    };
    let stream = match tokio::net::TcpStream::connect(target.address.as_str()).await {
        Ok(stream) => stream,
        Err(err) => return bad_gateway(&err),
    };
    let (mut sender, connection) = match hyper::client::conn::http1::handshake(TokioIo::new(stream)).await {
        Ok(pair) => pair,
        Err(err) => return bad_gateway(&err),
    };
    tokio::spawn(connection.with_upgrades());
    let client_side = hyper::upgrade::on(&mut request);
    let (mut parts, _) = request.into_parts();
    parts.uri = uri.path_and_query().map_or_else(|| Uri::from_static("/"), |p| Uri::from(p.clone()));
    parts.headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    parts.headers.insert(header::UPGRADE, protocol);
    let mut answer = match sender.send_request(Request::from_parts(parts, Empty::<Bytes>::new())).await {
        Ok(answer) => answer,
        Err(err) => return bad_gateway(&err),
    };
    if answer.status() != StatusCode::SWITCHING_PROTOCOLS {
        let (mut parts, body) = answer.into_parts();
        remove_hop_by_hop(&mut parts.headers);
        return Response::from_parts(parts, body.boxed());
    }
    let server_side = hyper::upgrade::on(&mut answer);
    let tunnels = target.local.clone();
    tokio::spawn(async move {
        let _open = tunnels.map(Tunnel::open);
        let (Ok(client), Ok(server)) = tokio::join!(client_side, server_side) else { return };
        let _ = tokio::io::copy_bidirectional(&mut TokioIo::new(client), &mut TokioIo::new(server)).await;
    });
    let (parts, _) = answer.into_parts();
    Response::from_parts(parts, empty())
}

/// Counts an open WebSocket for as long as it lives.
struct Tunnel(Arc<AtomicUsize>);

impl Tunnel {
    fn open(count: Arc<AtomicUsize>) -> Tunnel {
        count.fetch_add(1, Ordering::Relaxed);
        Tunnel(count)
    }
}

impl Drop for Tunnel {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The protocol asked for, when the request asks to upgrade its connection.
fn wants_upgrade(headers: &HeaderMap) -> Option<HeaderValue> {
    let asks = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|token| token.trim().eq_ignore_ascii_case("upgrade"));
    asks.then(|| headers.get(header::UPGRADE).cloned()).flatten()
}

/// The headers of one hop (RFC 9110 §7.6.1): those `Connection` names and the fixed ones.
fn remove_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in [
        header::CONNECTION,
        header::TE,
        header::TRAILER,
        header::TRANSFER_ENCODING,
        header::UPGRADE,
        header::PROXY_AUTHENTICATE,
        header::PROXY_AUTHORIZATION,
        HeaderName::from_static("keep-alive"),
        HeaderName::from_static("proxy-connection"),
    ] {
        headers.remove(name);
    }
}

fn cookies(headers: &HeaderMap) -> impl Iterator<Item = actix_web::cookie::Cookie<'_>> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| actix_web::cookie::Cookie::parse(pair.trim()).ok())
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    cookies(headers).find(|c| c.name() == name).map(|c| c.value().to_owned())
}

/// Takes the cookie `name` off the request, leaving the others as they were.
fn remove_cookie(headers: &mut HeaderMap, name: &str) {
    if cookie(headers, name).is_none() {
        return;
    }
    let kept: Vec<String> = cookies(headers).filter(|c| c.name() != name).map(|c| c.stripped().to_string()).collect();
    headers.remove(header::COOKIE);
    if let Ok(value) = HeaderValue::from_str(&kept.join("; "))
        && !kept.is_empty()
    {
        headers.insert(header::COOKIE, value);
    }
}

fn empty() -> Body {
    Empty::<Bytes>::new().map_err(|never| match never {}).boxed()
}

/// A small page of the proxy's own.
fn page(status: StatusCode, text: &str) -> Response<Body> {
    let html = format!(
        "<!doctype html><meta charset=utf-8><title>Preview</title>\
         <p style=\"font-family:system-ui;padding:2rem;color:#57606a\">{}</p>",
        text.replace('&', "&amp;").replace('<', "&lt;")
    );
    let mut response = Response::new(Full::new(Bytes::from(html)).map_err(|never| match never {}).boxed());
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_headers_and_our_cookie_are_taken_off() {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONNECTION, HeaderValue::from_static("keep-alive, x-private"));
        headers.insert(HeaderName::from_static("x-private"), HeaderValue::from_static("1"));
        headers.insert(header::TRANSFER_ENCODING, HeaderValue::from_static("chunked"));
        headers.insert(header::ACCEPT, HeaderValue::from_static("text/html"));
        headers.insert(header::COOKIE, HeaderValue::from_static("theme=dark; kosuke_preview=secret; lang=en"));
        remove_hop_by_hop(&mut headers);
        remove_cookie(&mut headers, COOKIE);
        assert_eq!(headers.len(), 2, "{headers:?}");
        assert_eq!(headers[header::COOKIE], "theme=dark; lang=en");
        remove_cookie(&mut headers, "theme");
        remove_cookie(&mut headers, "lang");
        assert!(headers.get(header::COOKIE).is_none());
    }

    #[test]
    fn an_upgrade_is_asked_by_the_connection_header() {
        let mut headers = HeaderMap::new();
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        assert_eq!(wants_upgrade(&headers), None);
        headers.insert(header::CONNECTION, HeaderValue::from_static("keep-alive, Upgrade"));
        assert_eq!(wants_upgrade(&headers), Some(HeaderValue::from_static("websocket")));
    }
}
