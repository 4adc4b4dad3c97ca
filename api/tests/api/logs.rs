//! The server's log output in tests: shown on stdout as the binary shows it (`RUST_LOG`, `info`
//! by default), and captured in memory at debug level so a test can check what it does (not)
//! write. One subscriber serves the whole test process (nextest runs a process per test;
//! `cargo test` runs them all in one), installed before the first server starts.

use std::sync::{Arc, Mutex, OnceLock};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, fmt};

/// Everything logged in this process at debug level (sqlx and sea-orm at info) since the first
/// server started; installs the subscriber on first use.
pub fn captured_logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = buffer.clone();
        let captured = fmt::layer()
            .with_ansi(false)
            .with_writer(move || CapturedWriter(writer.clone()))
            .with_filter(EnvFilter::new("debug,sqlx=info,sea_orm=info"));
        let shown = fmt::layer().with_target(false).with_filter(api::telemetry::filter());
        let _ = tracing_subscriber::registry().with(captured).with(shown).try_init();
        buffer
    })
    .clone()
}

struct CapturedWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for CapturedWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
