//! Sign-up, sign-in, sign-out, the current user and personal access tokens.

use crate::auth::{CurrentUser, SESSION_COOKIE};
use crate::error::ApiError;
use crate::extract::{Json, PathId};
use crate::services::accounts::{self, Login};
use crate::state::AppState;
use crate::store;
use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use api_types::{ApiTokenList, CreateApiTokenRequest, CreatedApiToken, ErrorBody, LoginRequest, SignupRequest, User};

fn login_response(state: &AppState, status: actix_web::http::StatusCode, signed_in: Login) -> HttpResponse {
    let max_age = CookieDuration::seconds(i64::try_from(state.settings.login_lifetime.as_secs()).unwrap_or(i64::MAX));
    let cookie = Cookie::build(SESSION_COOKIE, signed_in.cookie_token)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.settings.secure_cookies)
        .max_age(max_age)
        .finish();
    HttpResponse::build(status).cookie(cookie).json(signed_in.user)
}

/// `?invite=` on sign-up.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
pub struct SignupQuery {
    /// The token of an invite link (needed when sign-ups are by invite).
    pub invite: Option<String>,
}

/// Create an account and sign in (sets the `kosuke_session` cookie). The first account is the
/// server's admin; after it, the sign-up mode an admin chose applies. Throttled per address.
#[utoipa::path(tag = "auth", request_body = SignupRequest, params(SignupQuery), responses(
    (status = 201, body = User), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
    (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
#[post("/api/auth/signup")]
pub async fn signup(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<SignupQuery>,
    body: Json<SignupRequest>,
) -> Result<HttpResponse, ApiError> {
    let ip = req.peer_addr().map(|addr| addr.ip());
    let signed_in = accounts::signup(&state, body.0, query.into_inner().invite, ip).await?;
    Ok(login_response(&state, actix_web::http::StatusCode::CREATED, signed_in))
}

/// Sign in with email and password (sets the `kosuke_session` cookie). Throttled.
#[utoipa::path(tag = "auth", request_body = LoginRequest, responses(
    (status = 200, body = User), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
#[post("/api/auth/login")]
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Json<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let ip = req.peer_addr().map(|addr| addr.ip());
    let signed_in = accounts::login(&state, body.0, ip).await?;
    Ok(login_response(&state, actix_web::http::StatusCode::OK, signed_in))
}

/// Sign out: revokes the sign-in server-side and clears the cookie.
#[utoipa::path(tag = "auth", responses((status = 204)))]
#[post("/api/auth/logout")]
pub async fn logout(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    accounts::logout(&state, req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned())).await?;
    let mut gone = Cookie::build(SESSION_COOKIE, "").path("/").http_only(true).same_site(SameSite::Lax).finish();
    gone.make_removal();
    Ok(HttpResponse::NoContent().cookie(gone).finish())
}

/// The signed-in user.
#[utoipa::path(tag = "auth", responses((status = 200, body = User), (status = 401, body = ErrorBody)))]
#[get("/api/me")]
pub async fn me(user: CurrentUser) -> web::Json<User> {
    web::Json(user.to_api())
}

/// The user's personal access tokens (never the secrets).
#[utoipa::path(tag = "auth", responses((status = 200, body = ApiTokenList), (status = 401, body = ErrorBody)))]
#[get("/api/me/tokens")]
pub async fn list_tokens(state: web::Data<AppState>, user: CurrentUser) -> Result<web::Json<ApiTokenList>, ApiError> {
    let tokens = store::credentials::list_api_tokens(&state.db, &user.id).await?;
    Ok(web::Json(ApiTokenList { tokens: tokens.into_iter().map(entity::convert::api_token).collect() }))
}

/// Create a personal access token; the response is the only time it is shown.
#[utoipa::path(tag = "auth", request_body = CreateApiTokenRequest, responses(
    (status = 201, body = CreatedApiToken), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[post("/api/me/tokens")]
pub async fn create_token(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: Json<CreateApiTokenRequest>,
) -> Result<HttpResponse, ApiError> {
    let created = accounts::create_api_token(&state, &user, body.0).await?;
    Ok(HttpResponse::Created().json(created))
}

/// Revoke a personal access token.
#[utoipa::path(tag = "auth", params(("token_id" = i32, Path)), responses((status = 204), (status = 404, body = ErrorBody)))]
#[delete("/api/me/tokens/{token_id}")]
pub async fn delete_token(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(PathId,)>,
) -> Result<HttpResponse, ApiError> {
    store::credentials::delete_api_token(&state.db, &user.id, path.0.0).await?;
    Ok(HttpResponse::NoContent().finish())
}
