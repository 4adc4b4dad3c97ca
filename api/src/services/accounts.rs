//! Sign-up, sign-in and personal access tokens.

use crate::auth::throttle::Verdict;
use crate::auth::{API_TOKEN_PREFIX, CurrentUser, password, secret};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::{self, credentials::NewUser};
use api_types::{
    CreateApiTokenRequest, CreatedApiToken, ErrorCode, LoginRequest, SignupMode, SignupRequest, TokenId, User, validate,
};

use std::net::IpAddr;

/// A signed-in browser: the user, and the cookie value to set.
pub struct Login {
    pub user: User,
    pub cookie_token: String,
}

fn normalize_email(raw: &str) -> Result<String, ApiError> {
    let email = raw.trim().to_lowercase();
    let valid = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
        })
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if !valid {
        return Err(ApiError::validation("email", "Enter a valid email address."));
    }
    Ok(email)
}

async fn run_blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(ApiError::internal)
}

/// Creates an account and signs it in. The first account is the admin; after it, who may sign
/// up follows the mode an admin chose (`open`, `invite` with a one-use link, `closed`).
/// Sign-ups are throttled per address.
pub async fn signup(
    state: &AppState,
    request: SignupRequest,
    invite: Option<String>,
    ip: Option<IpAddr>,
) -> Result<Login, ApiError> {
    let address = ip.map(|ip| ip.to_string()).unwrap_or_default();
    if let Some(retry_after) = state.signup_throttle.wait(&address) {
        let message = format!("Too many sign-ups from here; try again in {} seconds.", retry_after.as_secs().max(1));
        return Err(ApiError::RateLimited { retry_after, message });
    }
    let email = normalize_email(&request.email)?;
    let display_name = validate::line(&request.display_name, "The display name", validate::MAX_NAME_CHARS)
        .map_err(|message| ApiError::validation("display_name", message))?;
    if request.password.chars().count() < password::MIN_PASSWORD_CHARS {
        return Err(ApiError::validation(
            "password",
            format!("The password must be at least {} characters.", password::MIN_PASSWORD_CHARS),
        ));
    }
    if request.password.chars().count() > password::MAX_PASSWORD_CHARS {
        return Err(ApiError::validation("password", "The password is too long."));
    }
    let plain = request.password;
    let password_hash =
        run_blocking(move || password::hash(&plain)).await?.map_err(|err| ApiError::internal(err.to_string()))?;
    // Read before the transaction: inside it, another pool connection could be needed while
    // all of them wait for this one's write lock.
    let mode = signup_mode(state).await?;
    let txn = crate::store::begin(&state.db).await.map_err(ApiError::internal)?;
    let is_first = store::accounts::count_users(&txn).await? == 0;
    let needs_invite = !is_first && mode == SignupMode::Invite;
    if !is_first && mode == SignupMode::Closed {
        return Err(ApiError::Refused {
            code: ErrorCode::SignupClosed,
            message: "Sign-ups are closed on this server; ask its admin for an account.".into(),
        });
    }
    if needs_invite && invite.is_none() {
        return Err(ApiError::Refused {
            code: ErrorCode::SignupClosed,
            message: "Sign-ups on this server need an invite link from its admin.".into(),
        });
    }
    let new = NewUser { id: secret::new_user_id(), email, display_name, password_hash, is_admin: is_first };
    let user = store::credentials::insert_user(&txn, new).await.map_err(|err| {
        if err.is_conflict() {
            ApiError::conflict(ErrorCode::EmailTaken, "An account with this email already exists.")
        } else {
            err.into()
        }
    })?;
    if needs_invite {
        let token = invite.unwrap_or_default();
        if !store::accounts::use_invite(&txn, &secret::hash(&token), &user.id).await? {
            return Err(ApiError::Unprocessable {
                code: ErrorCode::InviteInvalid,
                field: "invite".into(),
                message: "This invite link is unknown, used already or expired; ask for a new one.".into(),
            });
        }
    }
    store::commit(txn).await.map_err(ApiError::internal)?;
    state.signup_throttle.record(&address);
    if is_first {
        tracing::info!(user_id = %user.id, "the first account is the admin");
    }
    start_login(state, entity::convert::user(user)).await
}

/// The sign-up mode in force: an admin's choice, else the server's setting.
pub async fn signup_mode(state: &AppState) -> Result<SignupMode, ApiError> {
    let stored = store::accounts::setting(&state.db, SIGNUP_SETTING).await?;
    Ok(stored.as_deref().and_then(SignupMode::parse).unwrap_or(state.settings.signup))
}

/// The `server_settings` key of the sign-up mode.
pub const SIGNUP_SETTING: &str = "signup";

async fn start_login(state: &AppState, user: User) -> Result<Login, ApiError> {
    let cookie_token = secret::new_token();
    store::credentials::insert_login(&state.db, &user.id.0, secret::hash(&cookie_token), state.settings.login_lifetime)
        .await?;
    Ok(Login { user, cookie_token })
}

/// Checks the password; failures are throttled per account and address.
pub async fn login(state: &AppState, request: LoginRequest, ip: Option<IpAddr>) -> Result<Login, ApiError> {
    let email = request.email.trim().to_lowercase();
    match state.login_throttle.check(&email, ip) {
        Verdict::Wait(retry_after) => {
            let message = format!("Too many failed sign-ins; try again in {} seconds.", retry_after.as_secs().max(1));
            return Err(ApiError::RateLimited { retry_after, message });
        }
        Verdict::Go(slow_down) if !slow_down.is_zero() => tokio::time::sleep(slow_down).await,
        Verdict::Go(_) => {}
    }
    let user = store::credentials::find_user_by_email(&state.db, &email).await?;
    let phc = user.as_ref().map(|u| u.password_hash.clone()).unwrap_or_else(|| password::decoy_hash().to_owned());
    let plain = request.password;
    let matches = run_blocking(move || password::verify(&plain, &phc)).await?;
    match user {
        Some(user) if matches && user.disabled_at.is_some() => Err(ApiError::Refused {
            code: ErrorCode::AccountDisabled,
            message: "This account was disabled by the server's admin.".into(),
        }),
        Some(user) if matches => {
            state.login_throttle.record_success(&email, ip);
            start_login(state, entity::convert::user(user)).await
        }
        _ => {
            state.login_throttle.record_failure(&email, ip);
            Err(ApiError::InvalidCredentials)
        }
    }
}

pub async fn logout(state: &AppState, cookie_token: Option<String>) -> Result<(), ApiError> {
    if let Some(token) = cookie_token {
        store::credentials::delete_login(&state.db, &secret::hash(&token)).await?;
    }
    Ok(())
}

pub async fn create_api_token(
    state: &AppState,
    user: &CurrentUser,
    request: CreateApiTokenRequest,
) -> Result<CreatedApiToken, ApiError> {
    let name = validate::line(&request.name, "The token name", validate::MAX_NAME_CHARS)
        .map_err(|message| ApiError::validation("name", message))?;
    let token = format!("{API_TOKEN_PREFIX}{}", secret::new_token());
    let model = store::credentials::insert_api_token(&state.db, &user.id, name, secret::hash(&token)).await?;
    Ok(CreatedApiToken { id: TokenId(model.id), name: model.name, token, created_at: model.created_at })
}
