//! The built web app: client-side routes get `index.html`, content-hashed assets a long cache,
//! and a hashed asset with a gzipped sibling goes out as that file to browsers taking gzip.

use crate::harness::{Backend, spawn_app_with};
use tempfile::TempDir;

const WASM: &str = "web-0123456789abcdef_bg.wasm";

#[tokio::test]
async fn a_hashed_asset_goes_out_as_its_gzipped_sibling_when_gzip_is_accepted() {
    let web = TempDir::new().unwrap();
    std::fs::write(web.path().join("index.html"), "<!doctype html><title>kosuke</title>").unwrap();
    let raw = b"\0asm raw module bytes".to_vec();
    let gz = b"pretend these are the gzipped bytes".to_vec();
    std::fs::write(web.path().join(WASM), &raw).unwrap();
    std::fs::write(web.path().join(format!("{WASM}.gz")), &gz).unwrap();
    std::fs::write(web.path().join("style-0123456789abcdef.css"), "body{}").unwrap();
    let dir = web.path().to_path_buf();
    let app = spawn_app_with(Backend::Sqlite, move |settings| settings.web_dir = Some(dir)).await;
    let http = app.http();
    let get = |path: &str, accept: Option<&str>| {
        let mut request = http.get(app.url(path));
        if let Some(accept) = accept {
            request = request.header("accept-encoding", accept);
        }
        request.send()
    };
    let header =
        |response: &reqwest::Response, name: &str| response.headers().get(name).map(|v| v.to_str().unwrap().to_owned());

    for accept in ["gzip", "br, gzip;q=0.8", "*"] {
        let response = get(&format!("/{WASM}"), Some(accept)).await.unwrap();
        assert_eq!(response.status(), 200, "{accept}");
        assert_eq!(header(&response, "content-encoding").as_deref(), Some("gzip"), "{accept}");
        assert_eq!(header(&response, "content-type").as_deref(), Some("application/wasm"), "{accept}");
        assert_eq!(header(&response, "vary").as_deref(), Some("accept-encoding"), "{accept}");
        assert!(header(&response, "cache-control").unwrap().contains("immutable"));
        assert_eq!(response.bytes().await.unwrap().to_vec(), gz, "the stored gzip, not compressed again");
    }
    for accept in [None, Some("identity"), Some("gzip;q=0")] {
        let response = get(&format!("/{WASM}"), accept).await.unwrap();
        assert_eq!(header(&response, "content-encoding"), None, "{accept:?}");
        assert_eq!(header(&response, "content-type").as_deref(), Some("application/wasm"), "{accept:?}");
        assert_eq!(response.bytes().await.unwrap().to_vec(), raw, "{accept:?}");
    }

    // Without a sibling the asset is sent as it is (the middleware may still compress it).
    let css = get("/style-0123456789abcdef.css", None).await.unwrap();
    assert!(header(&css, "cache-control").unwrap().contains("immutable"));
    assert_eq!(css.text().await.unwrap(), "body{}");
    // Client-side routes get the page, never cached for long.
    let page = get("/projects/1/chat/abc", Some("gzip")).await.unwrap();
    assert_eq!(header(&page, "cache-control").as_deref(), Some("no-cache"));
}
