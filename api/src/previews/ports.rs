//! Ports for the sessions' dev servers: leased one per session from the operator's range
//! (`--preview-ports A-B`), each checked free on the host before it is handed out, never two
//! sessions on one; and the check that the process listening on a leased port is the
//! session's own (its dev server runs in the host's network, so a process of another session
//! could take a port it was not given).
//!
//! Which process holds a listening socket is read from `/proc` with the `procfs` crate: the
//! socket's inode in `/proc/net/tcp{,6}`, then the descendants of the dev server's first
//! process (by parent id) whose open files include it.

use std::collections::{HashMap, HashSet};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};
use std::ops::RangeInclusive;
use std::sync::Mutex;

/// A range of ports written `A-B` (inclusive, `A ≤ B`, neither 0).
pub fn parse_range(text: &str) -> Result<RangeInclusive<u16>, String> {
    let bad = || format!("{text:?} is not a port range; write it as A-B, for example 41000-41999");
    let (start, end) = text.trim().split_once('-').ok_or_else(bad)?;
    let (start, end): (u16, u16) = (start.trim().parse().map_err(|_| bad())?, end.trim().parse().map_err(|_| bad())?);
    if start == 0 || start > end {
        return Err(bad());
    }
    Ok(start..=end)
}

/// Which session holds which port of the range.
pub struct PortLeases {
    range: RangeInclusive<u16>,
    held: Mutex<HashMap<u16, i32>>,
}

/// Every port of the range is leased or taken by another program.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no preview port is free in {start}-{end}; stop a preview or widen --preview-ports")]
pub struct NoFreePort {
    pub start: u16,
    pub end: u16,
}

impl PortLeases {
    pub fn new(range: RangeInclusive<u16>) -> PortLeases {
        PortLeases { range, held: Mutex::new(HashMap::new()) }
    }

    /// A port for `session_pk`: the one it holds, else the first of the range that no session
    /// holds and nothing on the host listens on (loopback or any address, IPv4 or IPv6).
    pub fn lease(&self, session_pk: i32) -> Result<u16, NoFreePort> {
        let mut held = self.held();
        if let Some(port) = port_of(&held, session_pk) {
            return Ok(port);
        }
        let port = self
            .range
            .clone()
            .find(|port| !held.contains_key(port) && is_free(*port))
            .ok_or(NoFreePort { start: *self.range.start(), end: *self.range.end() })?;
        held.insert(port, session_pk);
        Ok(port)
    }

    /// Gives the session's port back, if it holds one.
    pub fn release(&self, session_pk: i32) {
        self.held().retain(|_, holder| *holder != session_pk);
    }

    /// The port the session holds.
    pub fn held_by(&self, session_pk: i32) -> Option<u16> {
        port_of(&self.held(), session_pk)
    }

    fn held(&self) -> std::sync::MutexGuard<'_, HashMap<u16, i32>> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn port_of(held: &HashMap<u16, i32>, session_pk: i32) -> Option<u16> {
    held.iter().find(|(_, holder)| **holder == session_pk).map(|(port, _)| *port)
}

/// Whether nothing listens on `port`: it can be bound on every address a dev server might
/// take (the IPv6 wildcard only where the host has IPv6).
pub(super) fn is_free(port: u16) -> bool {
    let v4 = [Ipv4Addr::LOCALHOST, Ipv4Addr::UNSPECIFIED]
        .iter()
        .all(|ip| TcpListener::bind(SocketAddr::from((*ip, port))).is_ok());
    let v6 = match TcpListener::bind(SocketAddr::from((Ipv6Addr::UNSPECIFIED, port))) {
        Ok(_) => true,
        // No IPv6 here: nothing can listen there either.
        Err(err) => err.kind() == std::io::ErrorKind::AddrNotAvailable,
    };
    v4 && v6
}

/// Who listens on a port, as `/proc` tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    /// Nothing listens on it.
    None,
    /// A process started from `root` (itself or a descendant) listens on it.
    Own,
    /// Something else does.
    Other,
}

/// Who listens on `port` (on any address): the processes descended from `root`, or others.
pub fn listener(root: u32, port: u16) -> std::io::Result<Listener> {
    let mut sockets = HashSet::new();
    for entries in [procfs::net::tcp(), procfs::net::tcp6()] {
        // A host without IPv6 has no tcp6 table.
        let Ok(entries) = entries else { continue };
        sockets.extend(
            entries
                .into_iter()
                .filter(|e| e.state == procfs::net::TcpState::Listen && e.local_address.port() == port)
                .map(|e| e.inode),
        );
    }
    if sockets.is_empty() {
        return Ok(Listener::None);
    }
    let tree = descendants(root)?;
    for pid in tree {
        let Ok(process) = procfs::process::Process::new(pid) else { continue };
        let Ok(fds) = process.fd() else { continue };
        let holds = fds
            .flatten()
            .any(|fd| matches!(fd.target, procfs::process::FDTarget::Socket(inode) if sockets.contains(&inode)));
        if holds {
            return Ok(Listener::Own);
        }
    }
    Ok(Listener::Other)
}

/// `root` and every process descended from it, by parent id.
fn descendants(root: u32) -> std::io::Result<Vec<i32>> {
    let all = procfs::process::all_processes().map_err(std::io::Error::other)?;
    let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
    for process in all.flatten() {
        if let Ok(stat) = process.stat() {
            children.entry(stat.ppid).or_default().push(process.pid);
        }
    }
    let root = i32::try_from(root).map_err(std::io::Error::other)?;
    let (mut found, mut next) = (Vec::new(), vec![root]);
    while let Some(pid) = next.pop() {
        found.push(pid);
        next.extend(children.remove(&pid).unwrap_or_default());
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    /// A range of `len` ports nothing listens on, found by asking the kernel for one.
    fn quiet_range(len: u16) -> RangeInclusive<u16> {
        loop {
            let probe = TcpListener::bind("127.0.0.1:0").expect("bind");
            let start = probe.local_addr().expect("addr").port();
            drop(probe);
            if let Some(end) = start.checked_add(len - 1)
                && (start..=end).all(is_free)
            {
                return start..=end;
            }
        }
    }

    #[test]
    fn ranges_are_read_as_the_operator_writes_them() {
        assert_eq!(parse_range("41000-41999"), Ok(41000..=41999));
        assert_eq!(parse_range(" 5000 - 5000 "), Ok(5000..=5000));
        for bad in ["", "5000", "0-10", "10-5", "a-b", "1-70000"] {
            assert!(parse_range(bad).is_err(), "{bad:?} was taken");
        }
    }

    #[test]
    fn each_session_gets_its_own_port_and_keeps_it_until_released() {
        let range = quiet_range(3);
        let leases = PortLeases::new(range.clone());
        let a = leases.lease(1).expect("a port for 1");
        let b = leases.lease(2).expect("a port for 2");
        assert_ne!(a, b);
        assert_eq!(leases.lease(1), Ok(a), "asking again gives the same port");
        assert_eq!(leases.held_by(2), Some(b));
        leases.release(1);
        assert_eq!(leases.held_by(1), None);
        assert_eq!(leases.lease(3), Ok(a), "a released port is leased again");
    }

    #[test]
    fn a_port_another_program_listens_on_is_skipped_and_a_full_range_says_so() {
        let range = quiet_range(2);
        let taken = TcpListener::bind(("127.0.0.1", *range.start())).expect("take the first port");
        let leases = PortLeases::new(range.clone());
        assert_eq!(leases.lease(1), Ok(*range.end()), "the port in use is passed over");
        let err = leases.lease(2).expect_err("nothing is left");
        assert_eq!(err, NoFreePort { start: *range.start(), end: *range.end() });
        assert!(err.to_string().contains("--preview-ports"), "{err}");
        drop(taken);
        assert_eq!(leases.lease(2), Ok(*range.start()), "free again once its program let go");
    }

    /// A shell whose child (a grandchild of the test) listens on `port`, as a dev server
    /// started by `npm run dev` does.
    fn listening_grandchild(port: u16) -> std::process::Child {
        let script = format!(
            "python3 -c 'import socket,time\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\ns.bind((\"127.0.0.1\",{port}))\ns.listen()\ntime.sleep(60)' & wait"
        );
        use std::os::unix::process::CommandExt;
        Command::new("sh").args(["-c", &script]).stdin(Stdio::null()).process_group(0).spawn().expect("start sh")
    }

    fn wait_for(port: u16, root: u32, want: Listener) -> Listener {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let seen = listener(root, port).expect("read /proc");
            if seen == want || Instant::now() > deadline {
                return seen;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    #[test]
    fn a_listener_is_told_apart_as_the_dev_servers_own_or_anothers() {
        let range = quiet_range(1);
        let port = *range.start();
        assert_eq!(listener(std::process::id(), port).expect("read /proc"), Listener::None);
        let mut own = listening_grandchild(port);
        let mut other = Command::new("sleep").arg("60").spawn().expect("start sleep");
        assert_eq!(wait_for(port, own.id(), Listener::Own), Listener::Own, "the grandchild is the shell's");
        assert_eq!(listener(other.id(), port).expect("read /proc"), Listener::Other, "another tree does not own it");
        // The shell leads a process group of its own: the whole tree goes at once.
        let _ = Command::new("sh").args(["-c", &format!("kill -TERM -{}", own.id())]).status();
        for child in [&mut own, &mut other] {
            let _ = child.kill();
            let _ = child.wait();
        }
        assert_eq!(wait_for(port, std::process::id(), Listener::None), Listener::None);
    }
}
