//! Building and running the server: connect, migrate, sweep, bind (port 0 works), serve.

use crate::auth::throttle::LoginThrottle;
use crate::cache::Reads;
use crate::secrets::SecretBox;
use crate::settings::Settings;
use crate::state::AppState;
use crate::workspaces::Workspaces;
use crate::{db, extract, routes, services, store};
use actix_web::dev::Server;
use actix_web::middleware::{Compress, Logger};
use actix_web::{App, HttpServer, web};
use migration::{Migrator, MigratorTrait};
use std::net::TcpListener;
use std::sync::Arc;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The Code tab's highlighting cache holds this much source text (its tokens take about as
/// much again).
const HIGHLIGHT_CACHE_BYTES: usize = 32 * 1024 * 1024;

/// A server bound to its port, not yet running.
pub struct Application {
    port: u16,
    server: Server,
    pub state: web::Data<AppState>,
    /// The preview proxy and the idle previews' stopper, aborted when the server stops.
    background: Vec<tokio::task::JoinHandle<()>>,
}

impl Application {
    /// Connects to the database, applies pending migrations and binds the listener.
    pub async fn build(settings: Settings) -> Result<Self, BoxError> {
        std::fs::create_dir_all(&settings.data_dir)
            .map_err(|err| format!("cannot create the data dir {}: {err}", settings.data_dir.display()))?;
        // reqwest (the agent's providers) is built without a default TLS provider: ring.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let (db, writes) = db::connect_with_writes(&settings.database_url()).await?;
        checkout::set_network_timeouts(settings.fetch_timeout, settings.git_transfer_timeout)?;
        Migrator::up(&db, None).await?;
        let secrets = SecretBox::load(settings.secret_key.as_deref(), &settings.data_dir)?;
        // One of several nodes (PostgreSQL only), or alone.
        let node_id = crate::nodes::join(&db, &settings, &secrets).await?;
        let runtime = crate::runtime::Runtime::new(settings.max_concurrent_runs);
        // The other nodes' writes drop this node's cached answers, and their stored run events
        // reach this node's watchers (PostgreSQL's NOTIFY).
        let listening = match node_id {
            Some(id) => Some(
                crate::nodes::listen::spawn(&db, writes, runtime.events.ringer(), runtime.claims.clone(), id).await?,
            ),
            None => None,
        };
        store::credentials::delete_expired_logins(&db, store::now()).await?;

        let listener =
            TcpListener::bind(&settings.bind).map_err(|err| format!("cannot listen on {}: {err}", settings.bind))?;
        let port = listener.local_addr()?.port();
        // The Landlock fallback's helper is this very binary (`kosuke sandbox-exec`).
        let helper = std::env::current_exe().ok().filter(|exe| exe.file_name().is_some_and(|name| name == "kosuke"));
        let sandbox =
            sandbox::Sandbox::probe_with_helper(settings.sandbox, settings.sandbox_network, helper.as_deref())
                .map(|chosen| chosen.with_limits(settings.sandbox_limits));
        let setups = crate::workspaces::Setups::new(
            secrets.clone(),
            sandbox.clone(),
            vec![settings.data_dir.clone()],
            settings.setup_timeout,
        );
        let workspaces = Arc::new(Workspaces::new(
            settings.data_dir.clone(),
            db.clone(),
            settings.github_git_url.clone(),
            settings.fetch_timeout,
            settings.spare_checkouts,
            setups,
        ));
        workspaces.sweep(settings.adopt_data_dir, node_id).await?;
        // What runs of a server that died left running is killed before anything looks at
        // their checkouts (the interrupted runs' commits below).
        if let Ok(chosen) = &sandbox {
            let left = chosen.kill_leftovers();
            if left > 0 {
                tracing::warn!(left, "killed what the agent runs of an earlier server had left running");
            }
        }
        let interrupted = store::runs::interrupt_live(&db, node_id).await?;
        if !interrupted.is_empty() {
            tracing::warn!(
                interrupted = interrupted.len(),
                "agent runs that were live when the server stopped are marked interrupted"
            );
            services::chat::commit_interrupted(&db, &secrets, &workspaces, &interrupted).await;
        }
        match &sandbox {
            Ok(chosen) if chosen.is_enforced() => tracing::info!(
                sandbox = chosen.name(),
                network = chosen.has_network(),
                memory_and_process_limits = chosen.can_limit(),
                "agent commands run sandboxed"
            ),
            Ok(_) => tracing::warn!("--sandbox off: agent commands run unsandboxed, as the server's user"),
            Err(unavailable) => tracing::warn!("no sandbox can be enforced: {unavailable}"),
        }
        let previews = crate::previews::Previews::new(settings.previews.clone(), sandbox.clone());
        let preview_listener = TcpListener::bind(&settings.previews.bind)
            .map_err(|err| format!("cannot listen for previews on {}: {err}", settings.previews.bind))?;
        // One of several nodes: the others reach this proxy on the host of --node-url, and
        // it passes theirs on to them.
        let routing = match (node_id, settings.node_url.as_deref()) {
            (Some(me), Some(url)) => {
                let port = preview_listener.local_addr()?.port();
                match crate::nodes::previews::address(url, port) {
                    Some(address) => store::nodes::set_preview_address(&db, me, &address).await?,
                    None => tracing::warn!(url, "no preview address can be made of --node-url"),
                }
                let settings = Arc::new(settings.clone());
                Some(Arc::new(crate::nodes::previews::Routing { db: db.clone(), me, settings }))
            }
            _ => None,
        };
        let preview_proxy = crate::previews::proxy::serve(preview_listener, previews.clone(), routing)?;
        let idle_stopper = previews.spawn_idle_stopper();
        let agent = services::chat::build_agent(&settings.agent, sandbox).map(Arc::new);
        if let Err(reason) = &agent {
            tracing::warn!("the agent is unavailable: {reason}");
        }
        let state = web::Data::new(AppState {
            secrets,
            agent,
            runtime,
            reads: Reads::new(settings.read_cache, writes),
            faults: Default::default(),
            highlights: Arc::new(highlight::Cache::new(HIGHLIGHT_CACHE_BYTES)),
            radar: Arc::default(),
            pull_etags: Arc::default(),
            node_id,
            listening,
            previews,
            login_throttle: LoginThrottle::new(settings.login_attempts, settings.login_window),
            signup_throttle: crate::auth::throttle::Window::new(settings.signup_attempts, settings.login_window),
            settings: Arc::new(settings),
            db,
            workspaces,
        });
        // Run events are stored from now on; interrupted runs' watchers hear that they ended.
        state.runtime.events.start_writer(state.db.clone(), state.secrets.clone(), state.node_id.is_some());
        // Deltas whose delayed prune a stop cut short (with several nodes a finished run's wait
        // a minute) go now.
        let db = state.db.clone();
        tokio::spawn(async move {
            let before = store::now() - crate::events::PRUNE_AFTER_WITH_NODES;
            match store::events::prune_finished(&db, &crate::events::DELTA_KINDS, before).await {
                Ok(0) => {}
                Ok(pruned) => tracing::info!(pruned, "pruned the deltas of runs that finished before a stop"),
                Err(err) => {
                    tracing::warn!(error = %crate::error::Report(&err), "could not prune finished runs' deltas")
                }
            }
        });
        services::chat::announce_interrupted(&state, &interrupted).await;
        // Transcripts written before they were sealed at rest are sealed now, in the background.
        let (db, secrets) = (state.db.clone(), state.clone());
        tokio::spawn(async move {
            match services::transcripts::seal_plaintext(&db, &secrets.secrets).await {
                Ok(0) => {}
                Ok(sealed) => tracing::info!(sealed, "sealed chat messages stored in plain text"),
                Err(err) => {
                    tracing::error!(error = %crate::error::Report(&*err), "could not seal the stored chat messages")
                }
            }
        });
        // Messages queued before a restart (or on a node this one took over) start as their
        // chats' next turns.
        services::chat::queue::spawn_keeper(state.clone());
        // Open pull requests are refreshed from GitHub every `--github-poll-secs`.
        services::pull_life::spawn_poller(state.clone());
        crate::nodes::spawn_heartbeat(state.clone());
        let app_state = state.clone();
        let server = HttpServer::new(move || {
            App::new()
                .wrap(actix_web::middleware::from_fn(crate::nodes::forward::route))
                .wrap(actix_web::middleware::from_fn(crate::csrf::guard))
                .wrap(Compress::default())
                .wrap(Logger::new("%r %s %Dms").exclude("/api/health"))
                .app_data(app_state.clone())
                .app_data(web::PathConfig::default().error_handler(extract::path_error))
                .app_data(web::QueryConfig::default().error_handler(extract::query_error))
                .configure(routes::configure)
                .default_service(web::to(routes::web_app::fallback))
        })
        // A response's body often goes in a second small write after its headers; with Nagle's
        // algorithm on, a keep-alive client's delayed ACK held it back ~40 ms (a browser's
        // second fetch on a connection). Every accepted connection sends at once.
        .on_connect(|connection, _| {
            if let Some(tcp) = connection.downcast_ref::<actix_web::rt::net::TcpStream>() {
                let _ = tcp.set_nodelay(true);
            }
        })
        .listen(listener)?
        // Signals are ours (`serve`): the runs are stopped and saved before the server stops.
        .disable_signals()
        .shutdown_timeout(5)
        .run();
        Ok(Application { port, server, state, background: vec![preview_proxy, idle_stopper] })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The preview proxy's port.
    pub fn preview_port(&self) -> u16 {
        self.state.previews.proxy_port()
    }

    /// Serves until the server is stopped (`stop`).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let ended = self.server.await;
        for task in self.background {
            task.abort();
        }
        ended
    }

    /// Stops gracefully: every live run is stopped and waited for (each ends `interrupted`,
    /// its transcript saved and its work committed), then the server.
    pub async fn stop(state: &AppState, server: &actix_web::dev::ServerHandle) {
        let stopped = state.runtime.shutdown(SHUTDOWN_GRACE).await;
        if stopped > 0 {
            tracing::info!(stopped, "live runs were stopped and saved");
        }
        // Their last events too, so a watcher resumes after the restart.
        state.runtime.events.flush(std::time::Duration::from_secs(5)).await;
        let previews = state.previews.shutdown().await;
        if previews > 0 {
            tracing::info!(previews, "dev servers were stopped");
        }
        server.stop(true).await;
    }
}

/// How long shutdown waits for the live runs to save and commit.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(20);

/// `kosuke serve`: serves until SIGINT or SIGTERM, then stops gracefully.
pub async fn serve(settings: Settings) -> Result<(), BoxError> {
    let bind = settings.bind.clone();
    let app = Application::build(settings).await?;
    let host = bind.rsplit_once(':').map(|(host, _)| host).unwrap_or("127.0.0.1");
    tracing::info!("kosuke is listening on http://{host}:{}", app.port());
    tracing::info!("previews are served on port {}", app.preview_port());
    let (state, handle) = (app.state.clone(), app.server.handle());
    let mut server = tokio::spawn(app.run_until_stopped());
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        ended = &mut server => {
            ended.map_err(|err| Box::new(err) as BoxError)??;
            return Ok(());
        }
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    tracing::info!("stopping: live runs are stopped and saved first");
    Application::stop(&state, &handle).await;
    server.await.map_err(|err| Box::new(err) as BoxError)??;
    Ok(())
}
