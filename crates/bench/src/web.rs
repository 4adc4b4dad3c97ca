//! The web app: sizes of the release bundle in `web/dist` (raw and gzipped), and the time from
//! navigation to the sidebar's first paint with 5,000 chats in the project, in headless
//! Chromium (the app's `kosuke:sidebar-painted` Performance API mark).

use crate::server::{PASSWORD, release_binary, signed_in};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Duration;

/// Page loads measured for the first paint.
const LOADS: usize = 7;

/// Raw bytes of the bundle's wasm, JS and CSS on disk, and the gzipped bytes the server sends
/// for each to a browser that takes gzip (its stored `.gz` sibling, or the middleware's
/// compression when there is none).
async fn sizes(address: &str) -> Value {
    let dist = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../web/dist");
    let http = reqwest::Client::new();
    let mut totals = json!({});
    let (mut raw_total, mut gzip_total) = (0, 0);
    for kind in ["wasm", "js", "css"] {
        let (mut raw, mut gzip) = (0, 0);
        for entry in std::fs::read_dir(&dist).unwrap().flatten() {
            if entry.path().extension().is_some_and(|e| e == kind) {
                raw += std::fs::metadata(entry.path()).unwrap().len() as usize;
                let name = entry.file_name().to_string_lossy().into_owned();
                let sent =
                    http.get(format!("{address}/{name}")).header("accept-encoding", "gzip").send().await.unwrap();
                assert_eq!(sent.headers()["content-encoding"], "gzip", "{name} is sent gzipped");
                gzip += sent.bytes().await.unwrap().len();
            }
        }
        println!("  {kind:<5} {raw:>10} B raw {gzip:>10} B gzipped");
        totals[kind] = json!({"raw": raw, "gzip": gzip});
        raw_total += raw;
        gzip_total += gzip;
    }
    println!("  total {raw_total:>10} B raw {gzip_total:>10} B gzipped (target: at most 400 KB gzipped)");
    totals["total"] = json!({"raw": raw_total, "gzip": gzip_total});
    totals
}

pub async fn run() -> Value {
    println!("\nweb bundle (web/dist, release build; gzipped: as the server sends it)");
    let stack = e2e::stack_with(&release_binary()).await;
    let sizes = sizes(&stack.address).await;
    let (client, user, _) = signed_in(&stack.address, "paint@example.test").await;
    let project = crate::server::new_project(&client, "paint").await;
    // Straight into the database: nothing of this project was read before, so the server's
    // read cache holds no answer from before the seeding.
    let db = api::db::connect(&stack.database_url()).await.unwrap();
    crate::api_load::seed_sessions(&db, project.id, &user.id, 0..5_000).await;

    let browser = e2e::browser(&stack, 1280, 800).await;
    browser.goto(&format!("{}/login", stack.address)).await.unwrap();
    e2e::type_into(&browser, "input[name=email]", "paint@example.test").await;
    e2e::type_into(&browser, "input[name=password]", PASSWORD).await;
    e2e::click(&browser, "button[type=submit]").await;
    e2e::wait_text(&browser, "h1", "shows the projects page", |t| t.contains("Projects")).await;

    let url = format!("{}/projects/{}", stack.address, project.id);
    let mut samples = Vec::new();
    for _ in 0..LOADS {
        browser.goto(&url).await.unwrap();
        let script = "const m = performance.getEntriesByName('kosuke:sidebar-painted'); \
                      return m.length ? m[0].startTime : null;";
        let mut painted = None;
        for _ in 0..400 {
            painted = browser.execute(script, vec![]).await.unwrap().as_f64();
            if painted.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        let painted = painted.expect("the sidebar painted");
        let cards = browser.find_all(fantoccini::Locator::Css(".session-card")).await.unwrap().len();
        assert!(cards > 0, "the sidebar shows chats");
        samples.push(Duration::from_secs_f64(painted / 1000.0));
    }
    e2e::screenshot(&browser, "bench-sidebar-5000-chats").await;
    let paint = crate::session_creation::stats(samples);
    println!(
        "  navigation to the sidebar's first paint, 5,000 chats: {:.0} ms median, {:.0} ms p95 ({LOADS} loads)",
        paint["median_ms"].as_f64().unwrap(),
        paint["p95_ms"].as_f64().unwrap()
    );
    let _ = browser.close().await;
    json!({"bundle": sizes, "sidebar_first_paint_5000_sessions": paint, "machine": crate::machine()})
}
