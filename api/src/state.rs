//! The one shared state, handed to handlers as `web::Data<AppState>`.

use crate::auth::CurrentUser;
use crate::auth::throttle::LoginThrottle;
use crate::cache::Reads;
use crate::faults::Faults;
use crate::runtime::Runtime;
use crate::secrets::SecretBox;
use crate::settings::Settings;
use crate::workspaces::Workspaces;
use sea_orm::DatabaseConnection;
use std::sync::Arc;

pub struct AppState {
    pub db: DatabaseConnection,
    pub settings: Arc<Settings>,
    pub login_throttle: LoginThrottle,
    /// Sign-ups per address.
    pub signup_throttle: crate::auth::throttle::Window,
    pub workspaces: Arc<Workspaces>,
    pub secrets: SecretBox,
    /// The agent, or why there is none (names the settings to set).
    pub agent: Result<Arc<agent::Agent>, String>,
    /// The owners of active sessions: live runs, their events, the locks on each session.
    pub runtime: Runtime,
    /// Answers to reads, kept until the next write.
    pub reads: Reads,
    /// The sessions' dev servers, reached through the preview proxy.
    pub previews: Arc<crate::previews::Previews>,
    /// Failures tests inject (all off otherwise).
    pub faults: Faults,
    /// The Code tab's syntax highlighting, kept per blob.
    pub highlights: Arc<highlight::Cache>,
    /// The conflict radar's merges, kept per pair of commits.
    pub radar: Arc<crate::services::radar::RadarCache>,
    /// This node's row in `nodes` when it runs as one of several (`--node-url`).
    pub node_id: Option<i32>,
    /// The listener for the other nodes' writes (with `node_id`).
    pub listening: Option<Arc<crate::nodes::listen::Listening>>,
    /// The pull requests' last conditional answers from GitHub.
    pub pull_etags: Arc<crate::services::pull_life::ETags>,
}

impl CurrentUser {
    /// The user as the author of the commits their sessions make.
    pub fn author(&self) -> checkout::Author {
        checkout::Author { name: self.display_name.clone(), email: self.email.clone() }
    }
}
