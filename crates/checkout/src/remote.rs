//! Talking to the project's remote: credentials through git2's callback (never in a URL or
//! config), progress reports, a time bound on fetches, and push results checked per ref.

use crate::error::CheckoutError;
use git2::{Cred, CredentialType, FetchOptions, PushOptions, RemoteCallbacks};
use std::cell::{Cell, RefCell};
use std::fmt;
use std::time::{Duration, Instant};

/// A username and token for an HTTPS remote. `Debug` never shows the token.
#[derive(Clone)]
pub struct Credentials {
    pub username: String,
    pub token: String,
}

impl Credentials {
    /// GitHub's convention for tokens over HTTPS.
    pub fn github_token(token: impl Into<String>) -> Self {
        Credentials { username: "x-access-token".to_owned(), token: token.into() }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials").field("username", &self.username).field("token", &"<redacted>").finish()
    }
}

/// How far a clone or fetch has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Progress {
    pub received_objects: usize,
    pub total_objects: usize,
    pub received_bytes: usize,
}

/// The result of a bounded fetch: the remote's news, or why the mirror's last state is used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchOutcome {
    Updated,
    /// No remote to fetch from (a new empty or purely local repository).
    NoRemote,
    /// The remote could not be reached (or refused us) in time; the mirror is as it was.
    Stale(String),
}

/// Sets libgit2's network timeouts, process-wide. Call once at start-up, before any git work.
pub fn set_network_timeouts(connect: Duration, io: Duration) -> Result<(), CheckoutError> {
    let millis = |d: Duration| i32::try_from(d.as_millis()).unwrap_or(i32::MAX);
    // SAFETY: libgit2 options are global; this runs at start-up before other threads use git2.
    unsafe {
        git2::opts::set_server_connect_timeout_in_milliseconds(millis(connect))?;
        git2::opts::set_server_timeout_in_milliseconds(millis(io))?;
    }
    Ok(())
}

/// Callbacks that answer the first credential request (and only the first: libgit2 asks
/// again after a refusal, which would otherwise loop), report progress and stop at a deadline.
pub(crate) fn callbacks<'a>(
    credentials: Option<&'a Credentials>,
    deadline: Option<Instant>,
    mut progress: Option<&'a mut dyn FnMut(Progress)>,
) -> RemoteCallbacks<'a> {
    let mut callbacks = RemoteCallbacks::new();
    let asked = Cell::new(false);
    callbacks.credentials(move |_url, username_from_url, allowed| {
        if asked.replace(true) {
            return Err(git2::Error::new(git2::ErrorCode::Auth, git2::ErrorClass::Net, "authentication failed"));
        }
        match credentials {
            Some(creds) if allowed.contains(CredentialType::USER_PASS_PLAINTEXT) => {
                Cred::userpass_plaintext(&creds.username, &creds.token)
            }
            _ if allowed.contains(CredentialType::DEFAULT) => Cred::default(),
            _ => Cred::username(username_from_url.unwrap_or("git")),
        }
    });
    callbacks.transfer_progress(move |stats| {
        if let Some(report) = progress.as_mut() {
            report(Progress {
                received_objects: stats.received_objects(),
                total_objects: stats.total_objects(),
                received_bytes: stats.received_bytes(),
            });
        }
        deadline.is_none_or(|deadline| Instant::now() < deadline)
    });
    callbacks
}

pub(crate) fn fetch_options<'a>(callbacks: RemoteCallbacks<'a>) -> FetchOptions<'a> {
    let mut options = FetchOptions::new();
    options.remote_callbacks(callbacks).prune(git2::FetchPrune::On).download_tags(git2::AutotagOption::None);
    options
}

/// Pushes refspecs to `origin` and fails if the remote rejected any of them.
pub(crate) fn push(
    repo: &git2::Repository,
    refspecs: &[String],
    credentials: Option<&Credentials>,
) -> Result<(), CheckoutError> {
    // An anonymous remote at origin's URL: it has no refspecs, so the push writes no ref here
    // (no lock is needed for the transfer); the caller updates the tracking ref under the lock.
    let origin = repo.find_remote("origin")?;
    let url = origin.pushurl()?.or(origin.url().ok()).unwrap_or_default().to_owned();
    let mut remote = repo.remote_anonymous(&url)?;
    let rejection: RefCell<Option<(String, String)>> = RefCell::new(None);
    {
        let mut callbacks = callbacks(credentials, None, None);
        callbacks.push_update_reference(|reference, status| {
            if let Some(message) = status {
                rejection.replace(Some((reference.to_owned(), message.to_owned())));
            }
            Ok(())
        });
        let mut options = PushOptions::new();
        options.remote_callbacks(callbacks);
        remote.push(refspecs, Some(&mut options)).map_err(CheckoutError::from_remote)?;
    }
    match rejection.into_inner() {
        Some((reference, message)) => Err(CheckoutError::PushRejected { reference, message }),
        None => Ok(()),
    }
}
