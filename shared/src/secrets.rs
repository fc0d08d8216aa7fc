//! Secrets at rest and in memory: client secrets, user passwords. Nothing here ever
//! prints a secret: `Debug` is redacted and comparisons run in constant time.

use crate::ids::random_bytes;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use std::fmt;
use subtle::ConstantTimeEq;

/// A secret in memory (a presented client secret or password). Its `Debug` is redacted so
/// that a `?request` in a log line cannot leak it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString(<redacted>)")
    }
}

/// A 256-bit random secret handed to a browser or a client (an authorization code, a
/// browser session's cookie secret, a CSRF token), of which only the SHA-256 is stored:
/// the table never holds anything that could be replayed. No salt is needed: 256 random
/// bits leave nothing to precompute.
pub fn new_handed_out_secret() -> SecretString {
    SecretString(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<32>()))
}

/// The stored form of a handed-out secret.
pub fn digest_of(secret: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, secret.as_bytes()))
}

/// Whether `presented` is the secret whose stored form is `stored`, in constant time.
pub fn matches_digest(presented: &str, stored: &str) -> bool {
    digest_of(presented).as_bytes().ct_eq(stored.as_bytes()).into()
}

/// Shortest client secret accepted. Client secrets are stored with a fast salted hash
/// (SHA-256), which is only sound for high-entropy secrets; a slow hash would break the
/// `client_credentials` CPU budget (docs/ARCHITECTURE.md §5). See RFC 6819 §5.1.4.1.3.
pub const MIN_CLIENT_SECRET_LEN: usize = 24;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SecretError {
    #[error("client secrets must be at least {MIN_CLIENT_SECRET_LEN} characters")]
    ClientSecretTooShort,
    #[error("passwords must not be empty")]
    EmptyPassword,
    #[error("stored hash is malformed")]
    MalformedHash,
    #[error("password hashing failed")]
    Hashing,
}

/// A client secret at rest: `sha256$<salt>$<digest>`, both base64.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientSecretHash(String);

impl fmt::Debug for ClientSecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecretHash(<redacted>)")
    }
}

impl ClientSecretHash {
    pub fn create(secret: &SecretString) -> Result<Self, SecretError> {
        if secret.expose().chars().count() < MIN_CLIENT_SECRET_LEN {
            return Err(SecretError::ClientSecretTooShort);
        }
        let salt = random_bytes::<16>();
        let digest = salted_sha256(&salt, secret.expose());
        Ok(Self(format!("sha256${}${}", STANDARD_NO_PAD.encode(salt), STANDARD_NO_PAD.encode(digest))))
    }

    pub fn from_stored(stored: String) -> Self {
        Self(stored)
    }

    pub fn stored(&self) -> &str {
        &self.0
    }

    /// Constant-time check of a presented secret; a malformed stored hash never matches.
    pub fn verify(&self, presented: &SecretString) -> bool {
        let mut parts = self.0.split('$');
        let (Some("sha256"), Some(salt), Some(expected), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return false;
        };
        let (Ok(salt), Ok(expected)) = (STANDARD_NO_PAD.decode(salt), STANDARD_NO_PAD.decode(expected)) else {
            return false;
        };
        salted_sha256(&salt, presented.expose()).as_slice().ct_eq(&expected).into()
    }

    /// The same work as a real check, when there is no client to check against.
    pub fn verify_against_dummy(presented: &SecretString) {
        let dummy = Self(format!("sha256${0}${0}", STANDARD_NO_PAD.encode([0u8; 32])));
        let _ = dummy.verify(presented);
    }
}

fn salted_sha256(salt: &[u8], secret: &str) -> Vec<u8> {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(salt);
    ctx.update(secret.as_bytes());
    ctx.finish().as_ref().to_vec()
}

/// OWASP Password Storage Cheat Sheet: argon2id, m = 19 MiB, t = 2, p = 1.
fn argon2id() -> Argon2<'static> {
    // These constants are valid argon2 parameters; `Params::DEFAULT` is the fallback only
    // to keep this function total.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or(Params::DEFAULT);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A user password at rest: an argon2id PHC string.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHashString(String);

impl fmt::Debug for PasswordHashString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHashString(<redacted>)")
    }
}

/// The hash of a random password nobody knows. Checking a login for an unknown user
/// against it costs the same as for a real user, so timing does not reveal which
/// usernames exist.
const DUMMY_PASSWORD_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$yXnbrVXOmkJBQ4ffdGiHyA$q0Pm1mh7YSfDjHv3f1VfWwRd+Ro1JrU4nmkpbQpXKSk";

impl PasswordHashString {
    pub fn create(password: &SecretString) -> Result<Self, SecretError> {
        if password.expose().is_empty() {
            return Err(SecretError::EmptyPassword);
        }
        let salt = SaltString::encode_b64(&random_bytes::<16>()).map_err(|_| SecretError::Hashing)?;
        let hash = argon2id().hash_password(password.expose().as_bytes(), &salt).map_err(|_| SecretError::Hashing)?;
        Ok(Self(hash.to_string()))
    }

    pub fn from_stored(stored: String) -> Self {
        Self(stored)
    }

    pub fn stored(&self) -> &str {
        &self.0
    }

    pub fn verify(&self, presented: &SecretString) -> bool {
        match PasswordHash::new(&self.0) {
            Ok(parsed) => argon2id().verify_password(presented.expose().as_bytes(), &parsed).is_ok(),
            Err(_) => false,
        }
    }

    /// Burn the same CPU as a real check when there is no user to check against.
    pub fn verify_against_dummy(presented: &SecretString) {
        let _ = PasswordHashString(DUMMY_PASSWORD_HASH.to_string()).verify(presented);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_secret_round_trip_and_mismatch() {
        let secret = SecretString::new("s3cr3t-s3cr3t-s3cr3t-s3cr3t");
        let hash = ClientSecretHash::create(&secret).unwrap();
        assert!(hash.verify(&secret));
        assert!(!hash.verify(&SecretString::new("s3cr3t-s3cr3t-s3cr3t-s3cr3X")));
        assert!(!hash.stored().contains("s3cr3t"));
    }

    #[test]
    fn short_client_secret_is_refused() {
        assert_eq!(ClientSecretHash::create(&SecretString::new("short")), Err(SecretError::ClientSecretTooShort));
    }

    #[test]
    fn malformed_stored_client_hash_never_matches() {
        for stored in ["", "sha256$", "md5$AAAA$AAAA", "sha256$!!$!!", "sha256$AAAA$AAAA$x"] {
            assert!(!ClientSecretHash::from_stored(stored.into()).verify(&SecretString::new("x")), "{stored}");
        }
    }

    #[test]
    fn password_round_trip_uses_argon2id_owasp_parameters() {
        let hash = PasswordHashString::create(&SecretString::new("correct horse")).unwrap();
        assert!(hash.stored().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(hash.verify(&SecretString::new("correct horse")));
        assert!(!hash.verify(&SecretString::new("wrong horse")));
    }

    #[test]
    fn dummy_hash_is_a_valid_phc_string() {
        assert!(PasswordHash::new(DUMMY_PASSWORD_HASH).is_ok());
    }

    #[test]
    fn debug_never_shows_secrets() {
        let secret = SecretString::new("hunter2-hunter2-hunter2-hunter2");
        let hash = ClientSecretHash::create(&secret).unwrap();
        let shown = format!("{secret:?} {hash:?}");
        assert!(!shown.contains("hunter2") && !shown.contains("sha256"), "{shown}");
    }
}
