//! A git server on loopback speaking git's smart HTTP protocol, through git's own CGI program
//! (`git http-backend`) over a directory of bare repositories: `http://127.0.0.1:PORT/NAME.git`.

use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

#[derive(Clone)]
pub struct FakeGitHttp {
    pub url: String,
    root: web::Data<Root>,
}

struct Root {
    path: PathBuf,
    /// The `Authorization` header every request must carry (as GitHub asks for a token);
    /// `None` serves anyone, pushes refused.
    authorization: Option<String>,
    /// Fetches (and clones) begun: each starts with `info/refs?service=git-upload-pack`.
    fetches: std::sync::atomic::AtomicUsize,
}

impl FakeGitHttp {
    /// Serves the bare repositories under `root` to anyone (fetch only).
    pub async fn start(root: PathBuf) -> FakeGitHttp {
        Self::serve(Root { path: root, authorization: None, fetches: Default::default() }).await
    }

    /// Serves the bare repositories under `root`, fetch and push, only to requests with this
    /// `Authorization` header; others get 401 asking for Basic credentials, as GitHub does.
    pub async fn start_requiring(root: PathBuf, authorization: String) -> FakeGitHttp {
        Self::serve(Root { path: root, authorization: Some(authorization), fetches: Default::default() }).await
    }

    async fn serve(root: Root) -> FakeGitHttp {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind fake git server");
        let url = format!("http://127.0.0.1:{}", listener.local_addr().expect("address").port());
        let root = web::Data::new(root);
        let served = root.clone();
        let server = actix_web::HttpServer::new(move || {
            actix_web::App::new()
                .app_data(served.clone())
                .app_data(web::PayloadConfig::new(64 * 1024 * 1024))
                .default_service(web::to(backend))
        })
        .workers(1)
        .listen(listener)
        .expect("listen")
        .run();
        tokio::spawn(server);
        FakeGitHttp { url, root }
    }

    /// How many fetches (and clones) have begun.
    pub fn fetches(&self) -> usize {
        self.root.fetches.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// Runs `git http-backend` for one request (CGI: the request in the environment and on stdin,
/// the answer's headers and body on stdout).
async fn backend(req: HttpRequest, body: Bytes, root: web::Data<Root>) -> HttpResponse {
    let mut command = Command::new("git");
    if let Some(expected) = &root.authorization {
        let given = req.headers().get("authorization").and_then(|v| v.to_str().ok());
        if given != Some(expected.as_str()) {
            return HttpResponse::Unauthorized().insert_header(("www-authenticate", "Basic realm=\"fake\"")).finish();
        }
        // An authenticated user may push (http-backend's rule for receive-pack).
        command.env("REMOTE_USER", "kosuke-test");
    }
    if req.path().ends_with("/info/refs") && req.query_string().contains("service=git-upload-pack") {
        root.fetches.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
    command
        .arg("http-backend")
        .env("GIT_PROJECT_ROOT", &root.path)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("PATH_INFO", req.path())
        .env("QUERY_STRING", req.query_string())
        .env("REQUEST_METHOD", req.method().as_str())
        .env("CONTENT_TYPE", req.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default())
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("REMOTE_ADDR", "127.0.0.1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let output = tokio::task::spawn_blocking(move || {
        let mut child = command.spawn()?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(&body)?;
        }
        child.wait_with_output()
    })
    .await;
    let Ok(Ok(output)) = output else { return HttpResponse::InternalServerError().finish() };
    let split = output.stdout.windows(4).position(|w| w == b"\r\n\r\n").map(|at| (at, 4));
    let split = split.or_else(|| output.stdout.windows(2).position(|w| w == b"\n\n").map(|at| (at, 2)));
    let Some((end, gap)) = split else { return HttpResponse::InternalServerError().finish() };
    let head = String::from_utf8_lossy(&output.stdout[..end]).into_owned();
    let mut response = HttpResponse::Ok();
    for line in head.lines() {
        let Some((name, value)) = line.split_once(':') else { continue };
        let value = value.trim();
        if name.eq_ignore_ascii_case("status") {
            let code = value.split_whitespace().next().and_then(|c| c.parse().ok()).unwrap_or(500);
            response.status(actix_web::http::StatusCode::from_u16(code).unwrap_or(actix_web::http::StatusCode::OK));
        } else {
            response.insert_header((name.trim().to_owned(), value.to_owned()));
        }
    }
    response.body(output.stdout[end + gap..].to_vec())
}
