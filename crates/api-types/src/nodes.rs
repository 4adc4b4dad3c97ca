//! The kosuke nodes sharing one PostgreSQL database (`GET /api/admin/nodes`, admins only).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NodeInfo {
    pub id: i32,
    /// Where the other nodes reach it (`--node-url`).
    pub url: String,
    pub started_at: DateTime<Utc>,
    pub heartbeat_at: DateTime<Utc>,
    /// Its last heartbeat is younger than the lease.
    pub alive: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NodeList {
    pub nodes: Vec<NodeInfo>,
    /// The node that answered (none when it runs alone, without `--node-url`).
    pub this_node: Option<i32>,
    /// The answering node's listener for the other nodes' writes (none when alone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listener: Option<ListenerInfo>,
}

/// What the answering node heard of the other nodes' writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ListenerInfo {
    /// Write announcements received since it started.
    pub received: u64,
    /// Times its connection to PostgreSQL was lost and made again; each dropped every cached
    /// answer (announcements sent meanwhile were lost).
    pub reconnects: u64,
}
