//! Building the web bundle without trunk: cargo for wasm32, wasm-bindgen, wasm-opt, then
//! content-hashed file names (served with a long cache), gzipped copies beside them, and an
//! `index.html` that loads them.

use crate::tools::{cargo, ensure_wasm_bindgen, project_root, run, rustup_target, wasm_opt};
use std::fs;
use std::path::PathBuf;
use std::process::Command;

/// Builds `web/dist`; `dev` skips the size-optimised profile and wasm-opt.
pub fn build(dev: bool) -> Result<PathBuf, String> {
    rustup_target("wasm32-unknown-unknown")?;
    ensure_wasm_bindgen()?;
    let root = project_root();
    let profile = if dev { "dev" } else { "wasm-release" };
    run(cargo().args(["build", "--target", "wasm32-unknown-unknown", "--package", "web", "--profile", profile]))?;
    let profile_dir = if dev { "debug" } else { profile };
    let wasm = root.join("target/wasm32-unknown-unknown").join(profile_dir).join("web.wasm");

    let staging = root.join("target/web-staging");
    let _ = fs::remove_dir_all(&staging);
    run(Command::new("wasm-bindgen")
        .args(["--target", "web", "--no-typescript", "--out-name", "web", "--out-dir"])
        .arg(&staging)
        .arg(&wasm))?;
    let bindgen_wasm = staging.join("web_bg.wasm");
    if !dev && let Some(wasm_opt) = wasm_opt() {
        run(Command::new(wasm_opt)
            .arg("-Oz")
            .arg("--enable-bulk-memory")
            .arg("--enable-nontrapping-float-to-int")
            .arg(&bindgen_wasm)
            .arg("-o")
            .arg(&bindgen_wasm))?;
    }

    let read = |path: &PathBuf| fs::read(path).map_err(|err| format!("cannot read {}: {err}", path.display()));
    let wasm_bytes = read(&bindgen_wasm)?;
    let js_bytes = read(&staging.join("web.js"))?;
    let css_bytes = read(&root.join("web/style.css"))?;
    let hash = format!("{:016x}", fnv1a(&[&wasm_bytes, &js_bytes, &css_bytes]));

    let dist = root.join("web/dist");
    let _ = fs::remove_dir_all(&dist);
    fs::create_dir_all(&dist).map_err(|err| err.to_string())?;
    let write = |name: &str, bytes: &[u8]| {
        fs::write(dist.join(name), bytes).map_err(|err| format!("cannot write {name}: {err}"))
    };
    let (js, wasm_name, css) = (format!("web-{hash}.js"), format!("web-{hash}_bg.wasm"), format!("style-{hash}.css"));
    write(&js, &js_bytes)?;
    write(&wasm_name, &wasm_bytes)?;
    write(&css, &css_bytes)?;
    write("index.html", index_html(&js, &wasm_name, &css).as_bytes())?;
    if !dev {
        gzip_beside(&dist, &[&js, &wasm_name, &css]);
    }
    println!(
        "web bundle in web/dist: wasm {} KB, js {} KB, css {} KB",
        wasm_bytes.len() / 1024,
        js_bytes.len() / 1024,
        css_bytes.len() / 1024
    );
    Ok(dist)
}

/// Writes `name.gz` beside each asset at gzip's best level; the server sends it to browsers
/// that take gzip (its compression middleware works at a faster, larger level). Without gzip
/// the server compresses as it sends.
fn gzip_beside(dist: &std::path::Path, names: &[&str]) {
    for name in names {
        let written =
            Command::new("gzip").args(["--best", "--no-name", "--keep", "--force"]).arg(dist.join(name)).status();
        if !written.is_ok_and(|status| status.success()) {
            eprintln!("note: could not gzip {name}; the server compresses it as it sends");
        }
    }
}

fn index_html(js: &str, wasm: &str, css: &str) -> String {
    format!(
        r#"<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>kosuke</title>
    <link rel="stylesheet" href="/{css}" />
    <link rel="modulepreload" href="/{js}" />
    <link rel="preload" href="/{wasm}" as="fetch" type="application/wasm" crossorigin />
  </head>
  <body>
    <script type="module">
      import init from "/{js}";
      init({{ module_or_path: "/{wasm}" }});
    </script>
  </body>
</html>
"#
    )
}

/// FNV-1a over the parts: enough to give changed content a new name.
fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in parts.iter().flat_map(|part| part.iter()) {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}
