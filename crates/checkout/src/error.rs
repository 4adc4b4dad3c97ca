//! What can go wrong with a mirror or a checkout.

#[derive(Debug, thiserror::Error)]
pub enum CheckoutError {
    #[error("branch {0} does not exist")]
    BranchNotFound(String),
    #[error("{0} is not a checkout")]
    NotACheckout(String),
    #[error("no file at {0}")]
    FileNotFound(String),
    #[error("the path {0} is outside the checkout")]
    PathOutside(String),
    #[error("the remote could not be reached: {0}")]
    RemoteUnreachable(String),
    #[error("the remote refused the credentials")]
    AuthenticationFailed,
    #[error("the remote rejected the push of {reference}: {message}")]
    PushRejected { reference: String, message: String },
    #[error("commit {0} is not one of the branch's own commits behind its head")]
    NotBehindHead(String),
    #[error("there is nothing to undo")]
    NothingToUndo,
    #[error("the branch has a commit made after the revert")]
    MovedSinceRewind,
    #[error("an update from the base branch is stopped on conflicts; conclude or abort it first")]
    UpdateInProgress,
    #[error("git operation failed")]
    Git(#[from] git2::Error),
    #[error("file system operation failed")]
    Io(#[from] std::io::Error),
}

impl CheckoutError {
    /// Classifies a network-side git2 error: authentication, or the remote being unreachable.
    pub(crate) fn from_remote(err: git2::Error) -> Self {
        match err.code() {
            git2::ErrorCode::Auth => CheckoutError::AuthenticationFailed,
            _ if matches!(
                err.class(),
                git2::ErrorClass::Http | git2::ErrorClass::Net | git2::ErrorClass::Ssh | git2::ErrorClass::Os
            ) =>
            {
                CheckoutError::RemoteUnreachable(err.message().to_owned())
            }
            _ if err.message().contains("authentication") => CheckoutError::AuthenticationFailed,
            _ => CheckoutError::RemoteUnreachable(err.message().to_owned()),
        }
    }
}
