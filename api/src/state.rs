//! The one shared state, handed to handlers as `web::Data<AppState>`.

use crate::auth::CurrentUser;
use crate::auth::throttle::LoginThrottle;
use crate::secrets::SecretBox;
use crate::settings::Settings;
use crate::workspaces::Workspaces;
use sea_orm::DatabaseConnection;
use std::sync::Arc;

pub struct AppState {
    pub db: DatabaseConnection,
    pub settings: Arc<Settings>,
    pub login_throttle: LoginThrottle,
    pub workspaces: Arc<Workspaces>,
    pub secrets: SecretBox,
}

impl CurrentUser {
    /// The user as the author of the commits their sessions make.
    pub fn author(&self) -> checkout::Author {
        checkout::Author { name: self.display_name.clone(), email: self.email.clone() }
    }
}
