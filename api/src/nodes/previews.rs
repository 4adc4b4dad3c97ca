//! Previews through any node: a node's preview proxy, asked for a session whose dev server
//! runs on another node, passes the request on (WebSockets included) to that node's proxy
//! (`nodes.preview_address`, recorded when it starts listening), which admits it by the
//! preview's cookie and answers as it would directly. The `Host` header and the preview's
//! cookie go on unchanged; nothing of kosuke's own sign-in ever comes to a preview origin.

use crate::settings::Settings;
use crate::store;
use sea_orm::DatabaseConnection;
use std::sync::Arc;

/// Where another node's preview is.
#[derive(Debug, PartialEq, Eq)]
pub enum Elsewhere {
    /// On the node whose preview proxy is at this `host:port`.
    At(String),
    /// On node `n`, which is down.
    Down(i32),
}

/// What a preview proxy needs to find another node's previews.
pub struct Routing {
    pub db: DatabaseConnection,
    pub me: i32,
    pub settings: Arc<Settings>,
}

impl Routing {
    /// Where session `session_pk`'s preview is, when it is not this node's.
    pub async fn find(&self, session_pk: i32) -> Option<Elsewhere> {
        let owner = match store::nodes::holding_session(&self.db, session_pk).await {
            Ok(owner) => owner?,
            Err(err) => {
                tracing::warn!(session_pk, error = %crate::error::Report(&err), "could not find a preview's node");
                return None;
            }
        };
        if owner.id == self.me {
            return None;
        }
        match owner.preview_address {
            Some(address) if super::alive(&self.settings, owner.heartbeat_at) => Some(Elsewhere::At(address)),
            _ => Some(Elsewhere::Down(owner.id)),
        }
    }
}

/// The address the other nodes reach this node's preview proxy at: the host of its
/// `--node-url` and the port the proxy listens on.
pub fn address(node_url: &str, preview_port: u16) -> Option<String> {
    // An IPv6 host comes in its brackets.
    let url = reqwest::Url::parse(node_url).ok()?;
    Some(format!("{}:{preview_port}", url.host_str()?))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_preview_proxy_is_reached_on_the_host_of_the_node_url() {
        assert_eq!(super::address("http://10.0.0.11:8080", 8081).as_deref(), Some("10.0.0.11:8081"));
        assert_eq!(super::address("https://node-a.internal/", 9000).as_deref(), Some("node-a.internal:9000"));
        assert_eq!(super::address("http://[::1]:8080", 8081).as_deref(), Some("[::1]:8081"));
        assert_eq!(super::address("not a url", 8081), None);
    }
}
