//! The key set: one active signing key, older keys kept for verification until every
//! token they signed has expired, all public halves published as the JWKS
//! (ARCHITECTURE.md §6), plus the refresh-token MAC key.

mod document;
mod source;

pub use document::{KeySetDocument, SigningAlgorithm, StoredKey, generate_key};
pub use source::{FileKeySource, KeySource, load_key_set};

use aws_lc_rs::hmac;
use jsonwebtoken::jwk::{Jwk, JwkSet, KeyAlgorithm, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use std::collections::HashMap;
use std::fmt;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the key set has no keys")]
    Empty,
    #[error("key {kid}: {reason}")]
    BadKey { kid: String, reason: String },
    #[error("refresh MAC key: {0}")]
    BadMacKey(String),
    #[error("key set unreadable: {0}")]
    Unreadable(String),
    #[error("key generation failed")]
    Generation,
}

/// A private key that signs. Its `Debug` shows only the `kid` and algorithm.
pub struct SigningKey {
    pub kid: String,
    pub algorithm: Algorithm,
    pub(crate) key: EncodingKey,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey").field("kid", &self.kid).field("algorithm", &self.algorithm).finish()
    }
}

/// A public key that verifies. The algorithm belongs to the key: a token's `alg` header
/// is only ever compared against it, never trusted (RFC 8725 §3.1).
pub struct VerifyingKey {
    pub algorithm: Algorithm,
    pub(crate) key: DecodingKey,
}

pub struct KeySet {
    signing: SigningKey,
    verifying: HashMap<String, VerifyingKey>,
    jwks: JwkSet,
    refresh_mac: hmac::Key,
}

impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeySet")
            .field("signing", &self.signing)
            .field("verifying_kids", &self.verifying.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl KeySet {
    /// Build every key object once (cold start), so requests only sign and verify.
    pub fn from_document(doc: &KeySetDocument) -> Result<Self, KeyError> {
        let mut keys = doc.keys.iter();
        let active = keys.next().ok_or(KeyError::Empty)?;
        let (signing, first_public) = load_stored_key(active)?;
        let mut verifying = HashMap::new();
        let mut jwks = Vec::new();
        verifying.insert(signing.kid.clone(), first_public.0);
        jwks.push(first_public.1);
        for stored in keys {
            let (older, public) = load_stored_key(stored)?;
            verifying.insert(older.kid, public.0);
            jwks.push(public.1);
        }
        let mac = doc.refresh_mac_key_bytes()?;
        if mac.len() < 32 {
            return Err(KeyError::BadMacKey("must be at least 32 bytes".into()));
        }
        Ok(Self {
            signing,
            verifying,
            jwks: JwkSet { keys: jwks },
            refresh_mac: hmac::Key::new(hmac::HMAC_SHA256, &mac),
        })
    }

    pub fn signing_key(&self) -> &SigningKey {
        &self.signing
    }

    pub fn verifying_key(&self, kid: &str) -> Option<&VerifyingKey> {
        self.verifying.get(kid)
    }

    /// The public JWKS (RFC 7517 §5): public parameters only.
    pub fn jwks(&self) -> &JwkSet {
        &self.jwks
    }

    pub fn refresh_mac_key(&self) -> &hmac::Key {
        &self.refresh_mac
    }
}

fn load_stored_key(stored: &StoredKey) -> Result<(SigningKey, (VerifyingKey, Jwk)), KeyError> {
    let bad = |reason: String| KeyError::BadKey { kid: stored.kid.clone(), reason };
    let algorithm = stored.alg.jwt_algorithm();
    let pem = stored.private_key_pem.as_bytes();
    let encoding = match stored.alg {
        SigningAlgorithm::Es256 => EncodingKey::from_ec_pem(pem),
        SigningAlgorithm::EdDsa => EncodingKey::from_ed_pem(pem),
        SigningAlgorithm::Rs256 => EncodingKey::from_rsa_pem(pem),
    }
    .map_err(|e| bad(e.to_string()))?;
    let mut jwk = Jwk::from_encoding_key(&encoding, algorithm).map_err(|e| bad(e.to_string()))?;
    // The kid is the RFC 7638 thumbprint, so a stored kid that disagrees with the key
    // means the file was tampered with or mixed up.
    let thumbprint = jwk.thumbprint(ThumbprintHash::SHA256).map_err(|e| bad(e.to_string()))?;
    if thumbprint != stored.kid {
        return Err(bad("kid does not match the key's RFC 7638 thumbprint".into()));
    }
    jwk.common.key_id = Some(stored.kid.clone());
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    jwk.common.key_algorithm = Some(key_algorithm(algorithm));
    let decoding = DecodingKey::from_jwk(&jwk).map_err(|e| bad(e.to_string()))?;
    Ok((
        SigningKey { kid: stored.kid.clone(), algorithm, key: encoding },
        (VerifyingKey { algorithm, key: decoding }, jwk),
    ))
}

fn key_algorithm(algorithm: Algorithm) -> KeyAlgorithm {
    match algorithm {
        Algorithm::RS256 => KeyAlgorithm::RS256,
        Algorithm::EdDSA => KeyAlgorithm::EdDSA,
        _ => KeyAlgorithm::ES256,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_algorithm_generates_a_loadable_key_with_thumbprint_kid() {
        for alg in [SigningAlgorithm::Es256, SigningAlgorithm::EdDsa, SigningAlgorithm::Rs256] {
            let doc = KeySetDocument::generate(alg).unwrap();
            let set = KeySet::from_document(&doc).unwrap();
            assert_eq!(set.signing_key().algorithm, alg.jwt_algorithm());
            assert_eq!(set.signing_key().kid, doc.keys[0].kid);
            assert!(set.verifying_key(&doc.keys[0].kid).is_some());
        }
    }

    #[test]
    fn jwks_holds_only_public_parameters() {
        let doc = KeySetDocument::generate(SigningAlgorithm::Es256).unwrap();
        let set = KeySet::from_document(&doc).unwrap();
        let json = serde_json::to_value(set.jwks()).unwrap();
        let key = &json["keys"][0];
        assert_eq!(key["kty"], "EC");
        assert_eq!(key["crv"], "P-256");
        assert_eq!(key["alg"], "ES256");
        assert_eq!(key["use"], "sig");
        assert_eq!(key["kid"], doc.keys[0].kid);
        assert!(key.get("d").is_none(), "private part leaked: {key}");
    }

    #[test]
    fn rotated_set_signs_with_first_and_verifies_with_all() {
        let old = KeySetDocument::generate(SigningAlgorithm::Es256).unwrap();
        let new = KeySetDocument::generate(SigningAlgorithm::EdDsa).unwrap();
        let mut doc = new.clone();
        doc.keys.push(old.keys[0].clone());
        let set = KeySet::from_document(&doc).unwrap();
        assert_eq!(set.signing_key().kid, new.keys[0].kid);
        assert!(set.verifying_key(&old.keys[0].kid).is_some());
        assert_eq!(set.jwks().keys.len(), 2);
    }

    #[test]
    fn mismatched_kid_is_rejected() {
        let mut doc = KeySetDocument::generate(SigningAlgorithm::Es256).unwrap();
        doc.keys[0].kid = "not-the-thumbprint".into();
        assert!(matches!(KeySet::from_document(&doc), Err(KeyError::BadKey { .. })));
    }

    #[test]
    fn debug_shows_no_key_material() {
        let doc = KeySetDocument::generate(SigningAlgorithm::Es256).unwrap();
        let set = KeySet::from_document(&doc).unwrap();
        let shown = format!("{set:?} {doc:?}");
        assert!(!shown.contains("PRIVATE KEY") && !shown.contains(&doc.refresh_mac_key), "{shown}");
    }
}
