//! Each session's dev server (the test dev server of `fakes`, really run in the sandbox),
//! reached through the preview proxy on its own origin: two at once on their own ports and
//! checkouts, WebSocket through the proxy, edits seen on the next request; access only by the
//! owner's one-time link (401 otherwise, another user's link refused, kosuke's cookie never
//! forwarded); crash, restart, idle stop, the least-recently-used limits, stop on archive and
//! delete, none left after shutdown or `kill -9`.

use crate::chat::{chat, finished, ready_session};
use crate::db_test;
use crate::harness::{TestApp, spawn_app_with, spawn_binary};
use crate::run_settings::log_events;
use api_types::*;
use client::Client;
use fakes::model::{Reply, text, tool};
use serde_json::json;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

const KOSUKE_JSON: &str = r#"{"dev": "/usr/bin/python3 dev_server.py", "readiness_path": "/"}"#;

/// A project whose repository runs the test dev server (`kosuke.json`), owned by the client.
pub(crate) async fn dev_project(app: &TestApp, owner: &Client) -> Project {
    static ORIGINS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let name = format!("site-{}", ORIGINS.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    let origin = app.origin(
        &name,
        &[
            ("kosuke.json", KOSUKE_JSON),
            (fakes::dev_server::FILE, fakes::dev_server::SCRIPT),
            ("index.html", "<h1>from main</h1>"),
            (".gitignore", "__pycache__/\n"),
        ],
        &[],
    );
    app.project_from(owner, &name, &origin).await
}

/// Waits until the session's dev server is no longer starting.
pub(crate) async fn settled(client: &Client, project: ProjectId, session: ChatSessionPk) -> Preview {
    for _ in 0..400 {
        let preview = client.preview(project, session).await.unwrap();
        if preview.state != PreviewState::Starting {
            return preview;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the dev server of session {session} is still starting");
}

pub(crate) async fn start(client: &Client, project: ProjectId, session: ChatSessionPk) -> Preview {
    let started = client.preview_action(project, session, PreviewAction::Start).await.unwrap();
    assert_eq!(started.kind, PreviewKind::Dev);
    let preview = settled(client, project, session).await;
    assert_eq!(preview.state, PreviewState::Running, "{:?}", preview.error);
    preview
}

/// A browser-like client of the preview proxy: `s{n}.localhost` resolves to loopback (as
/// browsers do), redirects and cookies are left to the test.
pub(crate) fn browser(sessions: &[ChatSessionPk]) -> reqwest::Client {
    let mut builder = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
    for session in sessions {
        builder = builder.resolve(&format!("s{session}.localhost"), "127.0.0.1:0".parse().unwrap());
    }
    builder.build().unwrap()
}

/// Opens the one-time link: the cookie it sets (`name=value`) and its attributes.
pub(crate) async fn enter(http: &reqwest::Client, open_url: &str) -> (String, String) {
    let answer = http.get(open_url).send().await.unwrap();
    assert_eq!(answer.status().as_u16(), 303, "{}", answer.text().await.unwrap());
    assert_eq!(answer.headers()["location"], "/");
    let set = answer.headers()["set-cookie"].to_str().unwrap().to_owned();
    let (pair, attributes) = set.split_once(';').unwrap();
    assert!(pair.starts_with("kosuke_preview="), "{set}");
    (pair.to_owned(), attributes.to_owned())
}

pub(crate) async fn page(http: &reqwest::Client, url: &str, cookie: &str) -> (u16, String) {
    let answer = http.get(url).header("cookie", cookie).send().await.unwrap();
    (answer.status().as_u16(), answer.text().await.unwrap())
}

/// One WebSocket message through the proxy to the dev server's `/ws` echo, and its answer.
pub(crate) async fn websocket_echo(proxy_port: u16, session: ChatSessionPk, cookie: &str, message: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", proxy_port)).await.unwrap();
    let handshake = format!(
        "GET /ws HTTP/1.1\r\nHost: s{session}.localhost:{proxy_port}\r\nCookie: {cookie}\r\n\
         Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n"
    );
    stream.write_all(handshake.as_bytes()).await.unwrap();
    let mut reader = BufReader::new(stream);
    let mut status = String::new();
    reader.read_line(&mut status).await.unwrap();
    assert!(status.starts_with("HTTP/1.1 101"), "{status}");
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).await.unwrap();
        if line == "\r\n" {
            break;
        }
    }
    reader.get_mut().write_all(&fakes::dev_server::client_text_frame(message)).await.unwrap();
    let mut frame = vec![0u8; 2 + "echo: ".len() + message.len()];
    reader.read_exact(&mut frame).await.unwrap();
    fakes::dev_server::server_text(&frame).expect("a text frame")
}

fn proxy_port(app: &TestApp) -> u16 {
    app.state().previews.proxy_port()
}

db_test!(
    async fn two_sessions_run_their_own_dev_servers_each_on_its_own_origin(backend) {
        let app = spawn_app_with(backend, |_| {}).await;
        let (owner, _) = app.user("ann").await;
        let project = dev_project(&app, &owner).await;
        let one = ready_session(&app, &owner, project.id, "one").await;
        let two = ready_session(&app, &owner, project.id, "two").await;
        std::fs::write(app.checkout_dir(&one).join("index.html"), "<h1>session one</h1>").unwrap();
        std::fs::write(app.checkout_dir(&two).join("index.html"), "<h1>session two</h1>").unwrap();

        let before = owner.preview(project.id, one.id).await.unwrap();
        assert_eq!((before.kind, before.state, before.open_url.as_deref()), (PreviewKind::Dev, PreviewState::Stopped, None));
        assert_eq!(before.command.as_deref(), Some("/usr/bin/python3 dev_server.py"));
        let (a, b) = tokio::join!(start(&owner, project.id, one.id), start(&owner, project.id, two.id));
        assert_ne!(a.port, b.port, "each session has its own port");
        let port = proxy_port(&app);
        assert_eq!(a.url, format!("http://s{}.localhost:{port}/", one.id));
        assert_eq!(b.url, format!("http://s{}.localhost:{port}/", two.id));
        let listed = owner.list_previews(project.id).await.unwrap().previews;
        assert_eq!(listed.len(), 2, "{listed:?}");
        assert!(listed.iter().all(|p| p.state == PreviewState::Running));

        let http = browser(&[one.id, two.id]);
        assert_eq!(page(&http, &a.url, "").await.0, 401, "no cookie, no preview");
        let (cookie_a, attributes) = enter(&http, a.open_url.as_deref().unwrap()).await;
        for attribute in ["Path=/", "HttpOnly", "SameSite=None", "Secure", "Partitioned"] {
            assert!(attributes.contains(attribute), "{attributes}");
        }
        assert!(!attributes.to_ascii_lowercase().contains("domain="), "host-only: {attributes}");
        let again = http.get(a.open_url.as_deref().unwrap()).send().await.unwrap();
        assert_eq!(again.status().as_u16(), 401, "a link opens once");
        let (cookie_b, _) = enter(&http, b.open_url.as_deref().unwrap()).await;
        assert_eq!(page(&http, &a.url, &cookie_a).await, (200, "<h1>session one</h1>".to_owned()));
        assert_eq!(page(&http, &b.url, &cookie_b).await, (200, "<h1>session two</h1>".to_owned()));
        assert_eq!(page(&http, &b.url, &cookie_a).await.0, 401, "one origin's cookie does not open another");

        // The dev server gets its preview variables, and never the preview cookie or kosuke's.
        let (status, env) = page(&http, &format!("{}env", a.url), &cookie_a).await;
        assert_eq!(status, 200);
        let env: serde_json::Value = serde_json::from_str(&env).unwrap();
        assert_eq!(env["PORT"], a.port.unwrap().to_string());
        assert_eq!(env["KOSUKE_PREVIEW_URL"], a.url);
        let cookies = format!("{cookie_a}; kosuke_session=stolen; theme=dark");
        let (_, headers) = page(&http, &format!("{}headers", a.url), &cookies).await;
        let headers: serde_json::Value = serde_json::from_str(&headers).unwrap();
        let seen = headers["cookie"].as_str().unwrap_or_default();
        assert_eq!(seen, "theme=dark", "{headers}");
        assert_eq!(headers["host"], format!("s{}.localhost:{port}", one.id), "the dev server sees its own host");

        assert_eq!(websocket_echo(port, one.id, &cookie_a, "hot reload").await, "echo: hot reload");

        // A turn's edit shows on the next request.
        app.model.script([
            Reply::Parts(vec![tool("write_file", json!({"path": "index.html", "content": "<h1>edited by a turn</h1>"}))]),
            Reply::Parts(vec![text("Changed the page.")]),
        ]);
        owner.send_chat(&chat(&project, &one, "change the page")).await.unwrap();
        assert_eq!(finished(&owner, project.id, one.id).await.status, RunStatus::Succeeded);
        assert_eq!(page(&http, &a.url, &cookie_a).await, (200, "<h1>edited by a turn</h1>".to_owned()));

        // Another user: no state, no link; their own link does not open this origin.
        let (eve, _) = app.user("eve").await;
        assert_eq!(eve.preview(project.id, one.id).await.unwrap_err().status(), Some(404));
        assert_eq!(
            eve.preview_action(project.id, one.id, PreviewAction::Stop).await.unwrap_err().status(),
            Some(404)
        );
        let theirs = dev_project(&app, &eve).await;
        let eves = ready_session(&app, &eve, theirs.id, "eve's").await;
        let eve_preview = start(&eve, theirs.id, eves.id).await;
        let stolen = eve_preview.open_url.unwrap().replace(&format!("s{}.", eves.id), &format!("s{}.", one.id));
        assert_eq!(browser(&[one.id]).get(&stolen).send().await.unwrap().status().as_u16(), 401);
        assert!(owner.list_previews(project.id).await.unwrap().previews.iter().all(|p| p.chat_session_id != eves.id));
    }
);

db_test!(
    async fn a_crash_shows_its_code_restart_brings_it_back_and_idle_stops_it(backend) {
        let app = spawn_app_with(backend, |s| s.previews.idle = Duration::from_secs(2)).await;
        let (owner, _) = app.user("ann").await;
        let project = dev_project(&app, &owner).await;
        let session = ready_session(&app, &owner, project.id, "crashy").await;
        let running = start(&owner, project.id, session.id).await;
        let http = browser(&[session.id]);
        let (cookie, _) = enter(&http, running.open_url.as_deref().unwrap()).await;
        let _ = http.get(format!("{}crash?code=3", running.url)).header("cookie", &cookie).send().await;
        let mut crashed = owner.preview(project.id, session.id).await.unwrap();
        for _ in 0..100 {
            if crashed.state != PreviewState::Running {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            crashed = owner.preview(project.id, session.id).await.unwrap();
        }
        assert_eq!((crashed.state, crashed.exit_code), (PreviewState::Crashed, Some(3)));
        let error = crashed.error.unwrap();
        assert!(error.starts_with("The dev server exited with code 3.") && error.contains("crashing with code 3"), "{error}");
        assert_eq!(crashed.open_url, None);
        let (lines, end) = log_events(&app, &owner, &owner.preview_events_url(project.id, session.id), None).await;
        assert_eq!(end, "crashed");
        assert_eq!(lines[0].text, format!("ready on {}", running.port.unwrap()));
        let (rest, _) = log_events(&app, &owner, &owner.preview_events_url(project.id, session.id), Some(lines[0].n)).await;
        assert_eq!(rest.len(), lines.len() - 1, "resumed after the first line");
        assert_eq!(page(&http, &running.url, &cookie).await.0, 503, "a crashed preview is not forwarded");

        let restarted = owner.preview_action(project.id, session.id, PreviewAction::Restart).await.unwrap();
        assert_eq!(restarted.state, PreviewState::Starting);
        let restarted = settled(&owner, project.id, session.id).await;
        assert_eq!(restarted.state, PreviewState::Running);
        assert_eq!(page(&http, &running.url, &cookie).await, (200, "<h1>from main</h1>".to_owned()), "the cookie outlives a restart");

        // Requests keep it; two seconds without any stop it, with a notice.
        for _ in 0..6 {
            tokio::time::sleep(Duration::from_millis(500)).await;
            assert_eq!(page(&http, &running.url, &cookie).await.0, 200, "used, so not idle");
        }
        let mut idle = owner.preview(project.id, session.id).await.unwrap();
        for _ in 0..100 {
            if idle.state == PreviewState::Stopped {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            idle = owner.preview(project.id, session.id).await.unwrap();
        }
        assert_eq!(idle.state, PreviewState::Stopped);
        assert!(idle.notice.as_deref().unwrap_or_default().contains("without a request"), "{:?}", idle.notice);
        assert!(owner.list_previews(project.id).await.unwrap().previews.is_empty());
        assert!(tokio::net::TcpStream::connect(("127.0.0.1", running.port.unwrap())).await.is_err(), "its process is gone");

        let stopped = owner.preview_action(project.id, session.id, PreviewAction::Start).await.unwrap();
        assert_eq!(stopped.notice, None, "starting again clears the notice");
        assert_eq!(settled(&owner, project.id, session.id).await.state, PreviewState::Running);
        let stop = owner.preview_action(project.id, session.id, PreviewAction::Stop).await.unwrap();
        assert_eq!(stop.state, PreviewState::Stopped);
    }
);

db_test!(
    async fn at_a_limit_the_least_recently_used_preview_stops_with_a_notice(backend) {
        let app = spawn_app_with(backend, |s| {
            s.previews.max_per_user = 2;
            s.previews.max_running = 3;
        })
        .await;
        let (ann, _) = app.user("ann").await;
        let project = dev_project(&app, &ann).await;
        let mut sessions = Vec::new();
        for title in ["first", "second", "third"] {
            sessions.push(ready_session(&app, &ann, project.id, title).await);
        }
        let first = start(&ann, project.id, sessions[0].id).await;
        start(&ann, project.id, sessions[1].id).await;
        // The first is used after the second started: the second is now the least recent.
        let http = browser(&[sessions[0].id]);
        let (cookie, _) = enter(&http, first.open_url.as_deref().unwrap()).await;
        assert_eq!(page(&http, &first.url, &cookie).await.0, 200);
        start(&ann, project.id, sessions[2].id).await;
        let second = ann.preview(project.id, sessions[1].id).await.unwrap();
        assert_eq!(second.state, PreviewState::Stopped);
        assert!(second.notice.as_deref().unwrap_or_default().contains("at most 2 run at once per user"), "{:?}", second.notice);
        assert_eq!(ann.preview(project.id, sessions[0].id).await.unwrap().state, PreviewState::Running);

        // Server-wide: three at most; another user's start stops ann's least recent.
        let (bob, _) = app.user("bob").await;
        let theirs = dev_project(&app, &bob).await;
        let bobs = ready_session(&app, &bob, theirs.id, "bob's").await;
        start(&bob, theirs.id, bobs.id).await;
        assert_eq!(ann.preview(project.id, sessions[2].id).await.unwrap().state, PreviewState::Running);
        let (bob2, _) = (ready_session(&app, &bob, theirs.id, "bob's second").await, ());
        start(&bob, theirs.id, bob2.id).await;
        let stopped = ann.preview(project.id, sessions[0].id).await.unwrap();
        assert_eq!(stopped.state, PreviewState::Stopped, "ann's least recently used made room");
        assert!(stopped.notice.as_deref().unwrap_or_default().contains("at most 3 run at once on this server"), "{:?}", stopped.notice);
        let running: usize = [ann.list_previews(project.id).await.unwrap(), bob.list_previews(theirs.id).await.unwrap()]
            .iter()
            .map(|list| list.previews.iter().filter(|p| p.state == PreviewState::Running).count())
            .sum();
        assert_eq!(running, 3);
    }
);

db_test!(
    async fn archiving_or_deleting_a_session_stops_its_dev_server(backend) {
        let app = spawn_app_with(backend, |_| {}).await;
        let (owner, _) = app.user("ann").await;
        let project = dev_project(&app, &owner).await;
        let archived = ready_session(&app, &owner, project.id, "to archive").await;
        let deleted = ready_session(&app, &owner, project.id, "to delete").await;
        let a = start(&owner, project.id, archived.id).await;
        let d = start(&owner, project.id, deleted.id).await;
        let update = UpdateChatSessionRequest { status: Some(ChatSessionStatus::Archived), ..Default::default() };
        owner.update_chat_session(project.id, archived.id, &update).await.unwrap();
        owner.delete_chat_session(project.id, deleted.id).await.unwrap();
        for port in [a.port.unwrap(), d.port.unwrap()] {
            assert!(tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err(), "port {port} still answers");
        }
        let http = browser(&[archived.id]);
        assert_eq!(page(&http, &a.url, "kosuke_preview=x").await.0, 404, "the proxy forgot it");
        assert!(owner.list_previews(project.id).await.unwrap().previews.is_empty());
        let refused = owner.preview_action(project.id, archived.id, PreviewAction::Start).await.unwrap_err();
        assert_eq!(refused.status(), Some(409));
    }
);

db_test!(
    async fn without_a_dev_command_the_preview_is_the_static_site_and_cannot_be_started(backend) {
        let app = spawn_app_with(backend, |s| s.sandbox_network = false).await;
        let (owner, _) = app.user("ann").await;
        let project = app.project(&owner, "plain").await;
        let session = ready_session(&app, &owner, project.id, "static").await;
        let preview = owner.preview(project.id, session.id).await.unwrap();
        assert_eq!((preview.kind, preview.state), (PreviewKind::Static, PreviewState::Running));
        assert!(preview.url.starts_with("/preview/"), "{}", preview.url);
        let refused = owner.preview_action(project.id, session.id, PreviewAction::Start).await.unwrap_err();
        assert_eq!(refused.status(), Some(409));
        assert!(refused.to_string().contains("no dev command"), "{refused}");

        // With one, but no network in the sandbox: refused with the flag to change.
        let dev = UpdateRunSettingsRequest { setup: None, dev: Some("/usr/bin/python3 -m http.server $PORT".into()), readiness_path: None };
        owner.put_run_settings(project.id, &dev).await.unwrap();
        let refused = owner.preview_action(project.id, session.id, PreviewAction::Start).await.unwrap_err();
        assert_eq!(refused.status(), Some(503));
        assert!(refused.to_string().contains("--sandbox-network off"), "{refused}");
    }
);

/// Dev servers of the real binary: the settings it needs in its environment.
fn preview_env(proxy_port: u16) -> Vec<(String, String)> {
    let ports = crate::harness::preview_ports();
    vec![
        ("KOSUKE_PREVIEW_PORTS".to_owned(), format!("{}-{}", ports.start(), ports.end())),
        ("KOSUKE_PREVIEW_BIND".to_owned(), format!("127.0.0.1:{proxy_port}")),
    ]
}

/// Processes whose command line holds `marker`.
fn processes_with(marker: &str) -> Vec<i32> {
    procfs_pids().into_iter().filter(|pid| cmdline(*pid).contains(marker)).collect()
}

fn procfs_pids() -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str().and_then(|name| name.parse().ok()))
        .collect()
}

fn cmdline(pid: i32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|raw| String::from_utf8_lossy(&raw).replace('\0', " "))
        .unwrap_or_default()
}

async fn gone(marker: &str) -> bool {
    for _ in 0..100 {
        if processes_with(marker).is_empty() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

db_test!(
    async fn no_dev_server_is_left_after_shutdown_or_kill_9_and_restart(backend) {
        let proxy = crate::harness::free_port();
        let env = preview_env(proxy);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let mut app = spawn_binary(backend, &env).await;
        let (owner, _) = app.user("ann").await;
        let project = dev_project(&app, &owner).await;
        let session = ready_session(&app, &owner, project.id, "one").await;
        let marker = format!("marker-{proxy}-{}", session.id);
        let dev = UpdateRunSettingsRequest {
            setup: None,
            dev: Some(format!("/usr/bin/python3 dev_server.py {marker}")),
            readiness_path: None,
        };
        owner.put_run_settings(project.id, &dev).await.unwrap();
        let running = start(&owner, project.id, session.id).await;
        assert_eq!(running.url, format!("http://s{}.localhost:{proxy}/", session.id));
        assert!(!processes_with(&marker).is_empty(), "the dev server runs with its marker");
        app.kill_and_restart_binary().await;
        assert!(gone(&marker).await, "kill -9 left {:?}", processes_with(&marker));

        let owner = app.client();
        owner.login(&LoginRequest { email: "ann@example.test".into(), password: "ann-password".into() }).await.unwrap();
        assert_eq!(owner.preview(project.id, session.id).await.unwrap().state, PreviewState::Stopped);
        start(&owner, project.id, session.id).await;
        assert!(!processes_with(&marker).is_empty());
        assert!(app.terminate_binary().await, "the server stopped cleanly");
        assert!(gone(&marker).await, "shutdown left {:?}", processes_with(&marker));
    }
);

/// A turn whose model calls `restart_preview`: the dev server restarts (a new process on the
/// same port) and the model is told it answers; offered only with a dev command.
async fn the_agent_restarts_the_preview(app: TestApp) {
    let (owner, _) = app.user("ann").await;
    let project = dev_project(&app, &owner).await;
    let session = ready_session(&app, &owner, project.id, "agent").await;
    let marker = format!("restart-{}-{}", proxy_port(&app), session.id);
    let dev = format!("/usr/bin/python3 dev_server.py {marker}");
    let settings = UpdateRunSettingsRequest { setup: None, dev: Some(dev), readiness_path: None };
    owner.put_run_settings(project.id, &settings).await.unwrap();
    let before = start(&owner, project.id, session.id).await;
    let first = processes_with(&marker);
    assert!(!first.is_empty());
    let http = browser(&[session.id]);
    let (cookie, _) = enter(&http, before.open_url.as_deref().unwrap()).await;
    app.model
        .script([Reply::Parts(vec![tool("restart_preview", json!({}))]), Reply::Parts(vec![text("Restarted it.")])]);
    owner.send_chat(&chat(&project, &session, "restart the dev server")).await.unwrap();
    let run = finished(&owner, project.id, session.id).await;
    assert_eq!(run.status, RunStatus::Succeeded, "{:?}", run.error);
    let requests = app.model.requests();
    assert!(serde_json::to_string(&requests[0]).unwrap().contains("restart_preview"), "offered to the model");
    let told = serde_json::to_string(&requests[1]).unwrap();
    assert!(told.contains("restarted and answers on port"), "{told}");
    assert_eq!(owner.preview(project.id, session.id).await.unwrap().state, PreviewState::Running);
    let second = processes_with(&marker);
    assert!(
        !second.is_empty() && second.iter().all(|pid| !first.contains(pid)),
        "new processes: {first:?} → {second:?}"
    );
    assert_eq!(page(&http, &before.url, &cookie).await.0, 200, "the same cookie opens the restarted server");

    // Without a dev command the tool is not offered.
    let plain = app.project(&owner, "plain").await;
    let other = ready_session(&app, &owner, plain.id, "plain").await;
    app.model.script([Reply::Parts(vec![text("Nothing to restart.")])]);
    owner.send_chat(&chat(&plain, &other, "hello")).await.unwrap();
    finished(&owner, plain.id, other.id).await;
    let last = app.model.requests().pop().unwrap();
    assert!(!serde_json::to_string(&last).unwrap().contains("restart_preview"), "not offered without a dev command");
}

db_test!(
    async fn anthropic_restart_preview_restarts_the_dev_server(backend) {
        the_agent_restarts_the_preview(spawn_app_with(backend, |_| {}).await).await;
    }
);

db_test!(
    async fn openai_restart_preview_restarts_the_dev_server(backend) {
        the_agent_restarts_the_preview(crate::chat::spawn_openai_app(backend).await).await;
    }
);
