//! Liveness and the API description.

use crate::error::ApiError;
use crate::state::AppState;
use actix_web::{HttpResponse, get, web};
use api_types::Health;

/// Whether the server and its database answer.
#[utoipa::path(tag = "meta", responses((status = 200, body = Health)))]
#[get("/api/health")]
pub async fn health(state: web::Data<AppState>) -> Result<web::Json<Health>, ApiError> {
    state.db.ping().await.map_err(ApiError::internal)?;
    Ok(web::Json(Health {
        status: "ok".to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        database: crate::db::backend_name(&state.db).to_owned(),
    }))
}

/// This API's OpenAPI 3.1 description, generated from the handlers.
#[utoipa::path(tag = "meta", responses((status = 200, description = "OpenAPI document", content_type = "application/json")))]
#[get("/api/openapi.json")]
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(crate::openapi::document())
}
