//! Who is calling: the sign-in cookie (browsers) or `Authorization: Bearer` (personal access
//! tokens). Both are random secrets of which only a SHA-256 is stored.

pub mod password;
pub mod secret;
pub mod throttle;

use crate::cache::TokenKind;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store;
use actix_web::dev::Payload;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use futures_util::future::LocalBoxFuture;

/// The name of the sign-in cookie.
pub const SESSION_COOKIE: &str = "kosuke_session";
/// The prefix of personal access tokens, so they are recognisable in a leak scan.
pub const API_TOKEN_PREFIX: &str = "kst_";

/// The signed-in user of a request; extracting it answers 401 when there is none.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub id: String,
    pub email: String,
    pub display_name: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub is_admin: bool,
}

impl From<entity::user::Model> for CurrentUser {
    fn from(user: entity::user::Model) -> Self {
        CurrentUser {
            id: user.id,
            email: user.email,
            display_name: user.display_name,
            created_at: user.created_at,
            is_admin: user.is_admin,
        }
    }
}

impl CurrentUser {
    pub fn to_api(&self) -> api_types::User {
        api_types::User {
            id: api_types::UserId(self.id.clone()),
            email: self.email.clone(),
            display_name: self.display_name.clone(),
            created_at: self.created_at,
            is_admin: self.is_admin,
        }
    }
}

impl FromRequest for CurrentUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let bearer = req
            .headers()
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(|token| token.trim().to_owned());
        let cookie = req.cookie(SESSION_COOKIE).map(|cookie| cookie.value().to_owned());
        // Set only by `nodes::forward::route`, once the forwarding node's signature is checked.
        let vouched = req.extensions().get::<crate::nodes::forward::Vouched>().cloned();
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::internal("application state is missing"))?;
            if let Some(crate::nodes::forward::Vouched(id)) = vouched {
                let user = store::credentials::find_user(&state.db, &id).await?;
                return match user {
                    Some(user) if user.disabled_at.is_none() => Ok(CurrentUser::from(user)),
                    _ => Err(ApiError::Unauthenticated),
                };
            }
            let (kind, token) = match (bearer, cookie) {
                (Some(token), _) => (TokenKind::ApiToken, token),
                (None, Some(token)) => (TokenKind::Login, token),
                (None, None) => return Err(ApiError::Unauthenticated),
            };
            let hash = secret::hash(&token);
            let db = &state.db;
            let lookup = async {
                let found = match kind {
                    TokenKind::ApiToken => store::credentials::user_for_api_token(db, &hash).await?,
                    TokenKind::Login => store::credentials::user_for_login(db, &hash).await?,
                };
                let (user, until) = found.ok_or(ApiError::Unauthenticated)?;
                Ok::<_, ApiError>((CurrentUser::from(user), until))
            };
            let now = chrono::Utc::now();
            let (user, _) =
                state.reads.users.get_or_load_if((kind, hash.clone()), |(_, until)| *until > now, lookup).await?;
            Ok(user)
        })
    }
}
