//! The sessions' dev servers (issue 15, item 4), being built: so far the ports they are given
//! and the check that the process on a session's port is its own (`ports`).

pub mod ports;
