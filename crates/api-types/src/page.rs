//! Cursor pagination parameters shared by every list endpoint.

use serde::{Deserialize, Serialize};

/// The largest `limit` a list endpoint accepts.
pub const MAX_PAGE_LIMIT: u64 = 100;
/// The `limit` used when none is given.
pub const DEFAULT_PAGE_LIMIT: u64 = 50;

/// `?limit=&cursor=` on list endpoints. `cursor` is the opaque `next_cursor` of the previous page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams, utoipa::ToSchema))]
pub struct PageQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}
