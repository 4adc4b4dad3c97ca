//! Random secrets (sign-in cookies, access tokens, session ids) and their stored hashes.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::Rng;
use rand::distr::Alphanumeric;
use sha2::{Digest, Sha256};

/// 32 bytes from the OS CSPRNG, base64url without padding (43 characters).
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// What is stored for a token: hex SHA-256. Tokens are random, so no salt or slow hash is needed.
pub fn hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// A session id: 20 random lowercase letters and digits (about 103 bits), valid in a ref name.
pub fn new_session_id() -> String {
    rand::rng().sample_iter(Alphanumeric).map(|byte| char::from(byte).to_ascii_lowercase()).take(20).collect()
}

/// A user id: `u_` and 20 random lowercase letters and digits.
pub fn new_user_id() -> String {
    format!("u_{}", new_session_id())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn session_ids_are_lowercase_alphanumeric_and_distinct() {
        let ids: HashSet<String> = (0..1000).map(|_| new_session_id()).collect();
        assert_eq!(ids.len(), 1000);
        for id in &ids {
            assert_eq!(id.len(), 20);
            assert!(id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()), "{id}");
        }
    }

    #[test]
    fn hashes_are_stable_hex() {
        assert_eq!(hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_ne!(new_token(), new_token());
    }
}
