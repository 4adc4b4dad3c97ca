//! The one shared state, handed to handlers as `web::Data<AppState>`.

use crate::auth::throttle::LoginThrottle;
use crate::settings::Settings;
use sea_orm::DatabaseConnection;
use std::sync::Arc;

pub struct AppState {
    pub db: DatabaseConnection,
    pub settings: Arc<Settings>,
    pub login_throttle: LoginThrottle,
}
