//! Who gets into a preview's origin: one-time links for the session's owner (two minutes),
//! redeemed once on the origin they name for the preview's cookie secret, and what the proxy
//! does with a request carrying that cookie.

use super::{Previews, dev_server::DevState, proxy};
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::{Duration, Instant};

/// How long a link from `GET …/preview` opens the preview.
const TICKET_LIFETIME: Duration = Duration::from_secs(120);

/// What the proxy may do with a request for a session's origin.
pub enum Admission {
    /// No such preview (never started on this server, or removed).
    Unknown,
    /// The request does not carry the cookie the owner's link set.
    Denied,
    /// The dev server is not running; what it is instead.
    NotRunning(String),
    /// Forward it to this port; hold `tunnel` while a WebSocket is open.
    Forward { port: u16, tunnels: Arc<AtomicUsize> },
}

pub(super) struct Ticket {
    pub(super) session_pk: i32,
    user_id: String,
    expires: Instant,
}

impl Previews {
    /// A one-time link into the session's origin for its owner, valid for two minutes.
    pub fn open_url(&self, session_pk: i32, user_id: &str) -> String {
        let token = crate::auth::secret::new_token();
        let mut tickets = self.tickets();
        let now = Instant::now();
        tickets.retain(|_, ticket| ticket.expires > now);
        tickets
            .insert(token.clone(), Ticket { session_pk, user_id: user_id.to_owned(), expires: now + TICKET_LIFETIME });
        format!("{}{}?token={token}", self.origin(session_pk), proxy::OPEN_PATH)
    }

    /// The cookie value a one-time link gives, once, on the origin it was made for.
    pub fn redeem(&self, session_pk: i32, token: &str) -> Option<String> {
        let ticket = self.tickets().remove(token)?;
        if ticket.session_pk != session_pk || ticket.expires < Instant::now() {
            return None;
        }
        let entries = self.entries();
        let entry = entries.get(&session_pk).filter(|entry| entry.user_id == ticket.user_id)?;
        Some(entry.access.clone())
    }

    /// What the proxy does with a request for the session's origin carrying `access`.
    pub fn admit(&self, session_pk: i32, access: Option<&str>) -> Admission {
        let mut entries = self.entries();
        let Some(entry) = entries.get_mut(&session_pk) else { return Admission::Unknown };
        if !access.is_some_and(|given| crate::secrets::same(given.as_bytes(), entry.access.as_bytes())) {
            return Admission::Denied;
        }
        let Some(server) = &entry.server else {
            return Admission::NotRunning("stopped".to_owned());
        };
        match server.state() {
            DevState::Running => {
                entry.last_used = Instant::now();
                Admission::Forward { port: server.port, tunnels: entry.tunnels.clone() }
            }
            DevState::Starting => Admission::NotRunning("starting".to_owned()),
            DevState::Crashed { .. } => Admission::NotRunning("crashed".to_owned()),
            DevState::Failed { .. } => Admission::NotRunning("failed".to_owned()),
        }
    }
}
