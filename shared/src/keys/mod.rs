//! The key set: one active signing key, older keys kept for verification until every
//! token they signed has expired, all public halves published as the JWKS
//! (docs/ARCHITECTURE.md §6), plus the refresh-token MAC key.

mod document;
mod ring;
pub mod rotation;
pub mod secrets_manager;
mod source;

pub use document::{KeySetDocument, KeyState, StoredKey, generate_key};
pub use ring::KeyRing;
pub use source::{FileKeySource, KeySource};

use crate::domain::SigningAlgorithm;
use crate::time::UnixTime;
use aws_lc_rs::hmac;
use jsonwebtoken::jwk::{Jwk, JwkSet, KeyAlgorithm, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use std::collections::{BTreeMap, HashMap};
use std::fmt;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the key set needs one active key (at most one per algorithm), it has {0}")]
    NoSingleActiveKey(usize),
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
    /// A retired key verifies nothing from this instant on, even in a set that could not
    /// be reloaded since.
    pub retire_at: Option<UnixTime>,
}

impl VerifyingKey {
    pub fn retired_at(&self, now: UnixTime) -> bool {
        self.retire_at.is_some_and(|at| at.has_passed(now))
    }
}

pub struct KeySet {
    /// The active key of each algorithm the set holds.
    signing: BTreeMap<SigningAlgorithm, SigningKey>,
    verifying: HashMap<String, VerifyingKey>,
    jwks: JwkSet,
    refresh_mac: hmac::Key,
}

impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeySet")
            .field("signing", &self.signing.values().collect::<Vec<_>>())
            .field("verifying_kids", &self.verifying.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl KeySet {
    /// Build every key object once (cold start), so requests only sign and verify.
    pub fn from_document(doc: &KeySetDocument) -> Result<Self, KeyError> {
        Self::from_document_at(doc, UnixTime::now())
    }

    /// The set as it stands at `now`: retired keys past their `retire_at` are gone.
    pub fn from_document_at(doc: &KeySetDocument, now: UnixTime) -> Result<Self, KeyError> {
        // Each algorithm signs with its one active key; one with only retired keys (no
        // longer required) signs nothing and still verifies.
        let mut signing = BTreeMap::new();
        for alg in doc.algorithms() {
            let active: Vec<&StoredKey> =
                doc.keys.iter().filter(|k| k.alg == alg && k.state == KeyState::Active).collect();
            match active.as_slice() {
                [] => {}
                [active] => {
                    signing.insert(alg, load_stored_key(active)?.0);
                }
                more => return Err(KeyError::NoSingleActiveKey(more.len())),
            }
        }
        if signing.is_empty() {
            return Err(KeyError::NoSingleActiveKey(0));
        }
        let mut verifying = HashMap::new();
        let mut jwks = Vec::new();
        for stored in doc.keys.iter().filter(|k| k.live_at(now)) {
            let (_, (public, jwk)) = load_stored_key(stored)?;
            verifying.insert(stored.kid.clone(), public);
            jwks.push(jwk);
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

    /// The active key of `alg`, if the set holds that algorithm.
    pub fn signing_key(&self, alg: SigningAlgorithm) -> Option<&SigningKey> {
        self.signing.get(&alg)
    }

    /// The algorithms the set signs with.
    pub fn algorithms(&self) -> impl Iterator<Item = SigningAlgorithm> + '_ {
        self.signing.keys().copied()
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
    let encoding = stored.alg.encoding_key(pem).map_err(|e| bad(e.to_string()))?;
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
        (
            VerifyingKey {
                algorithm,
                key: decoding,
                retire_at: stored.retire_at.filter(|_| stored.state == KeyState::Retired),
            },
            jwk,
        ),
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
            assert_eq!(set.signing_key(alg).unwrap().algorithm, alg.jwt_algorithm());
            assert_eq!(set.signing_key(alg).unwrap().kid, doc.keys[0].kid);
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
    fn the_active_key_signs_and_next_and_unexpired_retired_keys_verify() {
        let now = UnixTime::now();
        let mut doc = KeySetDocument::generate(SigningAlgorithm::Es256).unwrap();
        let mut retired = generate_key(SigningAlgorithm::EdDsa).unwrap();
        retired.state = KeyState::Retired;
        retired.retire_at = Some(now.plus(60));
        let mut next = generate_key(SigningAlgorithm::Es256).unwrap();
        next.state = KeyState::Next;
        doc.keys.insert(0, next.clone());
        doc.keys.push(retired.clone());
        let set = KeySet::from_document_at(&doc, now).unwrap();
        assert_eq!(set.signing_key(SigningAlgorithm::Es256).unwrap().kid, doc.keys[1].kid, "the active key signs");
        assert!(set.verifying_key(&retired.kid).is_some() && set.verifying_key(&next.kid).is_some());
        assert_eq!(set.jwks().keys.len(), 3);
        let later = KeySet::from_document_at(&doc, now.plus(61)).unwrap();
        assert!(later.verifying_key(&retired.kid).is_none(), "gone once its tokens have expired");
        assert_eq!(later.jwks().keys.len(), 2);
    }

    #[test]
    fn a_retired_key_stops_verifying_at_its_retire_at_even_without_a_reload() {
        use crate::tokens::access::{mint, verify_access_token};
        let now = UnixTime::now();
        let old = KeySetDocument::generate(SigningAlgorithm::Es256).unwrap();
        let token = mint(
            &KeySet::from_document(&old).unwrap(),
            SigningAlgorithm::Es256,
            &crate::testing::kit::access_claims("c", now),
        )
        .unwrap();
        let mut rotated = KeySetDocument::generate(SigningAlgorithm::Es256).unwrap();
        let mut retired = old.keys[0].clone();
        retired.state = KeyState::Retired;
        retired.retire_at = Some(now.plus(60));
        rotated.keys.push(retired);
        // Built once, at `now`, as a warm instance whose reloads all fail would hold it.
        let set = KeySet::from_document_at(&rotated, now).unwrap();
        let iss = crate::testing::kit::ISSUER;
        assert!(verify_access_token(&set, &token, iss, None, now.plus(59)).is_ok());
        assert_eq!(
            verify_access_token(&set, &token, iss, None, now.plus(60)),
            Err(crate::tokens::TokenError::UnknownKey)
        );
    }

    #[test]
    fn a_set_needs_exactly_one_active_key() {
        let mut doc = KeySetDocument::generate(SigningAlgorithm::Es256).unwrap();
        doc.keys.push(generate_key(SigningAlgorithm::Es256).unwrap());
        assert!(matches!(KeySet::from_document(&doc), Err(KeyError::NoSingleActiveKey(2))));
        doc.keys.iter_mut().for_each(|k| k.state = KeyState::Next);
        assert!(matches!(KeySet::from_document(&doc), Err(KeyError::NoSingleActiveKey(0))));
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
