//! Several kosuke nodes on one PostgreSQL database: a node started with `--node-url` (and
//! `--node-secret`) registers in `nodes` and beats every `node_heartbeat`; it is dead once its
//! heartbeat is older than `node_lease_beats` beats. Without `--node-url` kosuke runs alone,
//! exactly as a single process does. Several nodes need PostgreSQL: SQLite is one file on one
//! machine, so `--node-url` on SQLite refuses to start.

pub mod forward;
pub mod listen;
pub mod previews;
pub mod takeover;

use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::secrets::SecretBox;
use crate::settings::Settings;
use crate::state::AppState;
use crate::store;
use api_types::{NodeInfo, NodeList};
use sea_orm::{DatabaseConnection, DbBackend};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Registers this node when it runs as one of several; its id, or `None` alone.
pub async fn join(db: &DatabaseConnection, settings: &Settings, secrets: &SecretBox) -> Result<Option<i32>, BoxError> {
    let Some(url) = settings.node_url.as_deref() else { return Ok(None) };
    if db.get_database_backend() != DbBackend::Postgres {
        return Err("Several kosuke nodes need PostgreSQL: --node-url is set but the database is SQLite, \
                    which only one process on one machine may use. Give every node the same \
                    --database-url postgres://…, or leave --node-url unset to run one node."
            .into());
    }
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(
            format!("--node-url must be an http:// or https:// address the other nodes reach, not {url:?}.").into()
        );
    }
    if settings.node_secret.as_deref().is_none_or(|s| s.len() < 16) {
        return Err("--node-url needs --node-secret (at least 16 characters), the same on every node: \
                    it is what the nodes call each other with."
            .into());
    }
    if settings.secret_key.is_none() {
        return Err("--node-url needs --secret-key (KOSUKE_SECRET_KEY), the same on every node: a node \
                    with a key file of its own would seal what it stores so that no other node could \
                    read it."
            .into());
    }
    same_key_as_the_others(db, secrets).await?;
    let node = store::nodes::register(db, url).await?;
    tracing::info!(node_id = node.id, url, "joined the cluster");
    let adopted = store::projects::adopt_unowned(db, node.id).await?;
    if adopted > 0 {
        tracing::info!(node_id = node.id, adopted, "holds the projects made while kosuke ran alone");
    }
    Ok(Some(node.id))
}

/// The node holding project `project_id` when that is another node than this one (`None`
/// alone, on this node, or for a project made while kosuke ran alone).
pub(crate) async fn held_elsewhere(
    state: &AppState,
    project_id: i32,
) -> Result<Option<entity::node::Model>, store::StoreError> {
    let Some(me) = state.node_id else { return Ok(None) };
    Ok(store::nodes::holding(&state.db, project_id).await?.filter(|node| node.id != me))
}

/// The server setting holding a known text sealed with the nodes' key.
pub const KEY_CHECK: &str = "node_key_check";
const KEY_CHECK_TEXT: &str = "kosuke nodes share this key";

/// Refuses a node whose `--secret-key` is not the one the nodes before it seal with (what
/// they stored would be unreadable here, and what it stored unreadable there). The first
/// node leaves a text sealed with its key for the next to open.
async fn same_key_as_the_others(db: &DatabaseConnection, secrets: &SecretBox) -> Result<(), BoxError> {
    // Left only where none is: of two nodes starting at once, one text stays and both check it.
    store::accounts::add_setting(db, KEY_CHECK, &secrets.seal(KEY_CHECK_TEXT)).await?;
    let sealed = store::accounts::setting(db, KEY_CHECK).await?.unwrap_or_default();
    if secrets.open(&sealed).is_ok_and(|text| text == KEY_CHECK_TEXT) {
        return Ok(());
    }
    Err("this node's --secret-key is not the one the other nodes seal with: give every node the same \
         KOSUKE_SECRET_KEY."
        .into())
}

/// Beats every `node_heartbeat` until the server stops; after each beat, takes over the
/// projects of nodes that died (`takeover.rs`).
pub fn spawn_heartbeat(state: actix_web::web::Data<AppState>) {
    let Some(id) = state.node_id else { return };
    let every = state.settings.node_heartbeat;
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        loop {
            ticks.tick().await;
            if state.runtime.is_stopping() {
                return;
            }
            if let Err(err) = store::nodes::beat(&state.db, id).await {
                tracing::warn!(node_id = id, error = %err, "the heartbeat was not recorded");
                continue;
            }
            takeover::sweep(&state).await;
        }
    });
}

/// Whether a node whose last heartbeat was at `at` is alive now.
pub(crate) fn alive(settings: &Settings, at: chrono::DateTime<chrono::Utc>) -> bool {
    let lease = settings.node_heartbeat * settings.node_lease_beats.max(1);
    chrono::Utc::now().signed_duration_since(at).to_std().map_or(true, |age| age <= lease)
}

/// The live node holding the fewest active sessions (this one on a tie), for a new project.
pub(crate) async fn least_loaded(state: &AppState) -> Result<Option<i32>, ApiError> {
    let me = state.node_id;
    let mut live: Vec<(i64, bool, i32)> = Vec::new();
    let loads = store::nodes::active_sessions_by_node(&state.db).await?;
    for node in store::nodes::all(&state.db).await? {
        if alive(&state.settings, node.heartbeat_at) {
            let load = loads.iter().find(|(id, _)| *id == node.id).map_or(0, |(_, n)| *n);
            live.push((load, Some(node.id) != me, node.id));
        }
    }
    Ok(live.into_iter().min().map(|(_, _, id)| id))
}

/// `GET /api/admin/nodes` (admins only).
pub async fn list(state: &AppState, user: &CurrentUser) -> Result<NodeList, ApiError> {
    if !user.is_admin {
        return Err(ApiError::forbidden("Only the server's admins may do this."));
    }
    let nodes = store::nodes::all(&state.db).await?;
    Ok(NodeList {
        nodes: nodes
            .into_iter()
            .map(|n| NodeInfo {
                alive: alive(&state.settings, n.heartbeat_at),
                id: n.id,
                url: n.url,
                started_at: n.started_at,
                heartbeat_at: n.heartbeat_at,
            })
            .collect(),
        this_node: state.node_id,
        listener: state.listening.as_ref().map(|l| api_types::ListenerInfo {
            received: l.received.load(std::sync::atomic::Ordering::Relaxed),
            reconnects: l.reconnects.load(std::sync::atomic::Ordering::Relaxed),
        }),
    })
}
