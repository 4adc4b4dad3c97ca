//! Secrets at rest (GitHub tokens, environment variable values, chat transcripts) are sealed
//! with AES-256-GCM. The key comes from `KOSUKE_SECRET_KEY` (base64 of 32 bytes) or, by
//! default, a key file in the data dir, generated on first start with mode 0600.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::Rng;
use sha2::{Digest, Sha256};
use std::path::Path;

const PREFIX: &str = "v1:";

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("the secret key must be base64 of exactly 32 bytes")]
    BadKey,
    #[error("could not read or write the key file {path}")]
    KeyFile { path: String, source: std::io::Error },
    #[error("a sealed secret could not be opened (wrong key, or damaged)")]
    CannotOpen,
}

#[derive(Clone)]
pub struct SecretBox {
    cipher: Aes256Gcm,
    /// A separate key for signing (HMAC-SHA256), derived from the sealing key.
    mac_key: [u8; 32],
}

impl SecretBox {
    pub fn from_key(key: &[u8]) -> Result<Self, SecretError> {
        if key.len() != 32 {
            return Err(SecretError::BadKey);
        }
        let mut derive = Sha256::new();
        derive.update(b"kosuke signing key v1");
        derive.update(key);
        Ok(SecretBox { cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key)), mac_key: derive.finalize().into() })
    }

    /// The configured key, or the data dir's key file (created with mode 0600 when missing).
    pub fn load(configured: Option<&str>, data_dir: &Path) -> Result<Self, SecretError> {
        if let Some(encoded) = configured {
            let key = STANDARD.decode(encoded.trim()).map_err(|_| SecretError::BadKey)?;
            return Self::from_key(&key);
        }
        let path = data_dir.join("secret.key");
        let io = |source| SecretError::KeyFile { path: path.display().to_string(), source };
        if !path.exists() {
            let mut key = [0u8; 32];
            rand::rng().fill(&mut key);
            write_private(&path, STANDARD.encode(key).as_bytes()).map_err(io)?;
        }
        let encoded = std::fs::read_to_string(&path).map_err(io)?;
        let key = STANDARD.decode(encoded.trim()).map_err(|_| SecretError::BadKey)?;
        Self::from_key(&key)
    }

    /// `v1:` + base64(nonce ‖ ciphertext ‖ tag), with a fresh random nonce.
    pub fn seal(&self, plain: &str) -> String {
        let mut nonce = [0u8; 12];
        rand::rng().fill(&mut nonce);
        let sealed = self.cipher.encrypt(Nonce::from_slice(&nonce), plain.as_bytes()).unwrap_or_default();
        let mut bytes = nonce.to_vec();
        bytes.extend(sealed);
        format!("{PREFIX}{}", STANDARD.encode(bytes))
    }

    pub fn open(&self, sealed: &str) -> Result<String, SecretError> {
        let bytes = sealed.strip_prefix(PREFIX).and_then(|b| STANDARD.decode(b).ok()).ok_or(SecretError::CannotOpen)?;
        if bytes.len() < 12 {
            return Err(SecretError::CannotOpen);
        }
        let (nonce, ciphertext) = bytes.split_at(12);
        let plain = self.cipher.decrypt(Nonce::from_slice(nonce), ciphertext).map_err(|_| SecretError::CannotOpen)?;
        String::from_utf8(plain).map_err(|_| SecretError::CannotOpen)
    }
}

/// Whether a stored value is sealed (as opposed to plain text written before sealing).
pub fn is_sealed(value: &str) -> bool {
    value.starts_with(PREFIX)
}

/// What a message shows when its sealed content cannot be opened (another key).
const UNREADABLE: &str = "[this message was sealed with another key and cannot be read]";

impl SecretBox {
    /// A message's content and blocks as stored: the content sealed, the blocks a JSON string
    /// holding their sealed JSON text. Empty content is sealed too, so every sealed row says so.
    pub fn seal_message(
        &self,
        content: &str,
        blocks: Option<&serde_json::Value>,
    ) -> (String, Option<serde_json::Value>) {
        let blocks = blocks.map(|blocks| serde_json::Value::String(self.seal(&blocks.to_string())));
        (self.seal(content), blocks)
    }

    /// A stored message's content and blocks opened; plain values (rows from before sealing)
    /// come back as they are.
    pub fn try_open_message(
        &self,
        message: &entity::chat_message::Model,
    ) -> Result<(String, Option<serde_json::Value>), SecretError> {
        let content = if is_sealed(&message.content) { self.open(&message.content)? } else { message.content.clone() };
        let blocks = match &message.blocks {
            Some(serde_json::Value::String(sealed)) if is_sealed(sealed) => {
                Some(serde_json::from_str(&self.open(sealed)?).map_err(|_| SecretError::CannotOpen)?)
            }
            other => other.clone(),
        };
        Ok((content, blocks))
    }

    /// A stored message opened (see `try_open_message`); one this key cannot open shows a
    /// sentence saying so instead.
    pub fn open_message(&self, mut message: entity::chat_message::Model) -> entity::chat_message::Model {
        let (content, blocks) = self.try_open_message(&message).unwrap_or_else(|_| (UNREADABLE.to_owned(), None));
        message.content = content;
        message.blocks = blocks;
        message
    }
}

impl SecretBox {
    /// HMAC-SHA256 of `message`, hex.
    pub fn sign(&self, message: &str) -> String {
        hmac_sha256_hex(&self.mac_key, message.as_bytes())
    }

    /// Whether `signature` is `message`'s, compared in constant time.
    pub fn verify(&self, message: &str, signature: &str) -> bool {
        same(self.sign(message).as_bytes(), signature.as_bytes())
    }
}

/// HMAC-SHA256 (the `hmac` crate) of `message` under `key`, as lowercase hex.
pub fn hmac_sha256_hex(key: &[u8], message: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    // HMAC takes a key of any length: this never fails.
    let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(key) else { return String::new() };
    mac.update(message);
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `hex` is the HMAC-SHA256 of `message` under `key` (as GitHub signs a webhook
/// delivery), compared in constant time.
pub fn hmac_sha256_matches(key: &[u8], message: &[u8], hex: &str) -> bool {
    same(hmac_sha256_hex(key, message).as_bytes(), hex.to_ascii_lowercase().as_bytes())
}

/// Whether two secrets are equal, compared in constant time (`subtle`).
pub fn same(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.ct_eq(b).into()
}

/// A new random key: the box, and the key as `KOSUKE_SECRET_KEY` takes it (base64).
pub fn new_key() -> Result<(SecretBox, String), SecretError> {
    let mut key = [0u8; 32];
    rand::rng().fill(&mut key);
    Ok((SecretBox::from_key(&key)?, STANDARD.encode(key)))
}

/// Writes a new file readable by its owner only.
pub fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(contents)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn sealed_secrets_open_only_with_their_key() {
        let dir = tempfile::TempDir::new().unwrap_or_else(|_| unreachable!());
        let secrets = SecretBox::load(None, dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let mode = std::fs::metadata(dir.path().join("secret.key")).map(|m| m.permissions().mode() & 0o777).ok();
        assert_eq!(mode, Some(0o600));
        let sealed = secrets.seal("ghp_example");
        assert!(!sealed.contains("ghp_example"));
        assert_ne!(sealed, secrets.seal("ghp_example"), "fresh nonce each time");
        assert_eq!(secrets.open(&sealed).ok().as_deref(), Some("ghp_example"));
        let again = SecretBox::load(None, dir.path()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(again.open(&sealed).ok().as_deref(), Some("ghp_example"), "the key file is reused");
        let other = SecretBox::from_key(&[7u8; 32]).unwrap_or_else(|e| panic!("{e}"));
        assert!(other.open(&sealed).is_err());
        assert!(matches!(SecretBox::load(Some("c2hvcnQ="), dir.path()), Err(SecretError::BadKey)));
        let signature = secrets.sign("preview:7:1700000000");
        assert!(secrets.verify("preview:7:1700000000", &signature));
        assert!(!secrets.verify("preview:8:1700000000", &signature));
        assert!(!other.verify("preview:7:1700000000", &signature));
    }
}
