//! A project's branding: colors and fonts the agent is told to use.

use crate::access::ProjectAccess;
use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store;
use api_types::{Branding, validate};
use entity::project;

/// The project's branding, or the defaults.
pub fn of(project: &project::Model) -> Branding {
    project.branding.clone().and_then(|json| serde_json::from_value(json).ok()).unwrap_or_default()
}

pub async fn get(state: &AppState, user: &CurrentUser, project_id: i32) -> Result<Branding, ApiError> {
    let access = ProjectAccess::load(&state.db, project_id, user).await?;
    Ok(of(&access.project))
}

pub async fn set(
    state: &AppState,
    user: &CurrentUser,
    project_id: i32,
    branding: Branding,
) -> Result<Branding, ApiError> {
    let access = ProjectAccess::load_as_owner(&state.db, project_id, user).await?;
    for (field, value) in [("primary_color", &branding.primary_color), ("accent_color", &branding.accent_color)] {
        validate::color(value).map_err(|message| ApiError::validation(field, message))?;
    }
    for (field, value) in [("body_font", &branding.body_font), ("heading_font", &branding.heading_font)] {
        validate::font_family(value).map_err(|message| ApiError::validation(field, message))?;
    }
    let json = serde_json::to_value(&branding).map_err(ApiError::internal)?;
    store::projects::set_branding(&state.db, access.project, json).await?;
    Ok(branding)
}

/// The sentence the agent's instructions get.
pub fn instructions(branding: &Branding) -> String {
    format!(
        "The project's branding: primary color {}, accent color {}, body font {}, heading font {}. \
         Use them for anything visual you build.",
        branding.primary_color, branding.accent_color, branding.body_font, branding.heading_font
    )
}
