//! The sessions' dev servers (issue 15, item 4), being built: the ports they are given and
//! the check that the process on a session's port is its own (`ports`); one dev server run in
//! the sandbox from starting to running, crashed or failed, and stopped (`dev_server`). The
//! manager (limits, idle stop, the proxy) is next.

pub mod dev_server;
pub mod ports;
