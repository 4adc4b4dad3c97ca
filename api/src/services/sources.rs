//! Where a project's repository may come from: a server path (`local`, or a `file://` URL)
//! never inside the data dir, and for other users than admins only under `--repo-roots`, with
//! one answer for every refusal; a git host only when it does not resolve to an address of the
//! server's own network, unless the operator allows it.

use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::state::AppState;
use api_types::RepositorySource;

/// The one answer to a server path that cannot be a project, whatever the reason (missing, not
/// allowed, inside the data dir): nothing is learnt about the server's files from it.
fn path_refused(field: &str) -> ApiError {
    ApiError::validation(
        format!("repository.{field}"),
        "This path cannot be used as a repository here: it does not exist, or it is not allowed (admins may use any \
         path outside kosuke's data directory; other users only paths under the server's --repo-roots).",
    )
}

/// Where a repository may come from: a server path (`local`, or a `file://` URL) only outside
/// the data dir, and for other users than admins only under `--repo-roots`; a git host only if
/// it does not resolve to a loopback, private, link-local or unique-local address (unless
/// `--allow-private-git-hosts`). Server paths are stored resolved, so a symlink swapped later
/// cannot point the project elsewhere.
pub async fn guard(
    state: &AppState,
    user: &CurrentUser,
    source: &RepositorySource,
    location: String,
) -> Result<String, ApiError> {
    match source {
        RepositorySource::Local { .. } => allowed_server_path(state, user, &location, "path"),
        RepositorySource::Git { .. } if location.starts_with("file://") => {
            let path = &location["file://".len()..];
            Ok(format!("file://{}", allowed_server_path(state, user, path, "url")?))
        }
        RepositorySource::Git { .. } if !state.settings.allow_private_git_hosts => {
            check_git_host(&location).await?;
            Ok(location)
        }
        _ => Ok(location),
    }
}

fn allowed_server_path(state: &AppState, user: &CurrentUser, path: &str, field: &str) -> Result<String, ApiError> {
    let real = std::fs::canonicalize(path).map_err(|_| path_refused(field))?;
    let data = std::fs::canonicalize(&state.settings.data_dir).unwrap_or_else(|_| state.settings.data_dir.clone());
    let under_a_root = state
        .settings
        .repo_roots
        .iter()
        .filter_map(|root| std::fs::canonicalize(root).ok())
        .any(|root| real.starts_with(root));
    if real.starts_with(&data) || !(user.is_admin || under_a_root) {
        return Err(path_refused(field));
    }
    Ok(real.display().to_string())
}

/// Refuses a git URL whose host resolves to an address inside the server's network.
async fn check_git_host(url: &str) -> Result<(), ApiError> {
    let Some((host, port)) = host_and_port(url) else { return Ok(()) };
    let addresses: Vec<std::net::IpAddr> = match host.parse::<std::net::IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => tokio::net::lookup_host((host.as_str(), port))
            .await
            .map(|a| a.map(|a| a.ip()).collect())
            .unwrap_or_default(),
    };
    if addresses.iter().any(|ip| is_internal(*ip)) {
        return Err(ApiError::validation(
            "repository.url",
            "kosuke does not fetch from loopback, private or link-local addresses; the operator can allow them with \
             --allow-private-git-hosts.",
        ));
    }
    Ok(())
}

/// The host and port of `scheme://[user@]host[:port]/…` (the scheme's default port if none).
fn host_and_port(url: &str) -> Option<(String, u16)> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split('/').next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    let (host, port) = match host_port.strip_prefix('[') {
        Some(bracketed) => {
            let (host, after) = bracketed.split_once(']')?;
            (host, after.strip_prefix(':'))
        }
        None => match host_port.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        },
    };
    let default = match scheme {
        "https" => 443,
        "http" => 80,
        _ => 9418,
    };
    let port = match port {
        Some(port) => port.parse().ok()?,
        None => default,
    };
    (!host.is_empty()).then(|| (host.to_ascii_lowercase(), port))
}

/// Loopback, private (RFC 1918), shared (RFC 6598), link-local, unique-local, unspecified or
/// multicast: addresses of the server's own network (or cloud metadata) rather than the internet.
fn is_internal(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(v4) => {
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || (v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64)
        }
        std::net::IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_internal(std::net::IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_ports_are_read_from_git_urls() {
        assert_eq!(host_and_port("http://127.0.0.1:8080/a.git"), Some(("127.0.0.1".into(), 8080)));
        assert_eq!(host_and_port("https://user@Example.com/a"), Some(("example.com".into(), 443)));
        assert_eq!(host_and_port("git://[::1]/a"), Some(("::1".into(), 9418)));
        assert_eq!(host_and_port("http://169.254.169.254/"), Some(("169.254.169.254".into(), 80)));
    }

    #[test]
    fn internal_addresses_are_told_from_public_ones() {
        for internal in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_internal(internal.parse().unwrap_or_else(|_| panic!("{internal}"))), "{internal}");
        }
        for public in ["140.82.112.3", "8.8.8.8", "2606:4700::1111", "172.32.0.1"] {
            assert!(!is_internal(public.parse().unwrap_or_else(|_| panic!("{public}"))), "{public}");
        }
    }
}
