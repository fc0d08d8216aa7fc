//! The serialised key set: what a key source returns and `tokenctl keys generate` writes.
//! Private keys are PKCS#8 PEM, so operators can bring keys made with standard tools.

use super::KeyError;
use crate::domain::SigningAlgorithm;
use crate::time::UnixTime;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::jwk::{Jwk, ThumbprintHash};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Where a key is in its life (docs/ARCHITECTURE.md §6).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyState {
    /// Published in the JWKS, not signing yet: verifiers and caches learn it first.
    Next,
    /// The one key that signs.
    #[default]
    Active,
    /// Verifies what it signed until `retire_at`, then leaves the set.
    Retired,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct StoredKey {
    /// RFC 7638 JWK thumbprint (SHA-256) of the public key.
    pub kid: String,
    pub alg: SigningAlgorithm,
    pub private_key_pem: String,
    pub created_at: UnixTime,
    #[serde(default)]
    pub state: KeyState,
    /// For retired keys: when the last token it signed has expired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retire_at: Option<UnixTime>,
}

impl StoredKey {
    /// Whether the key still belongs in the set (and the JWKS) at `now`.
    pub fn live_at(&self, now: UnixTime) -> bool {
        self.state != KeyState::Retired || self.retire_at.is_some_and(|at| !at.has_passed(now))
    }
}

/// The whole key set as stored: exactly one active key signs; next and retired keys
/// only verify.
#[derive(Clone, Serialize, Deserialize)]
pub struct KeySetDocument {
    pub keys: Vec<StoredKey>,
    /// base64url of at least 32 random bytes.
    pub refresh_mac_key: String,
    /// When the rotation that made this set ran `createSecret` (none for a hand-made set):
    /// `finishSecret` refuses a set older than the rotation's finish window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prepared_at: Option<UnixTime>,
}

impl fmt::Debug for KeySetDocument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kids: Vec<&str> = self.keys.iter().map(|k| k.kid.as_str()).collect();
        f.debug_struct("KeySetDocument").field("kids", &kids).finish_non_exhaustive()
    }
}

impl KeySetDocument {
    /// A fresh set of one algorithm: one new key of `alg` and a new refresh MAC key.
    pub fn generate(alg: SigningAlgorithm) -> Result<Self, KeyError> {
        Self::generate_with(&[alg])
    }

    /// A fresh set as a deployment holds it: an active key of every algorithm of
    /// `SigningAlgorithm::key_set_algorithms(default)` and a new refresh MAC key.
    pub fn generate_for(default: SigningAlgorithm) -> Result<Self, KeyError> {
        Self::generate_with(&SigningAlgorithm::key_set_algorithms(default))
    }

    fn generate_with(algorithms: &[SigningAlgorithm]) -> Result<Self, KeyError> {
        Ok(Self {
            keys: algorithms.iter().map(|alg| generate_key(*alg)).collect::<Result<_, _>>()?,
            refresh_mac_key: URL_SAFE_NO_PAD.encode(crate::ids::random_bytes::<32>()),
            prepared_at: None,
        })
    }

    /// The algorithms the set holds keys of.
    pub fn algorithms(&self) -> Vec<SigningAlgorithm> {
        let mut all: Vec<SigningAlgorithm> = self.keys.iter().map(|k| k.alg).collect();
        all.sort();
        all.dedup();
        all
    }

    pub(super) fn refresh_mac_key_bytes(&self) -> Result<Vec<u8>, KeyError> {
        URL_SAFE_NO_PAD.decode(self.refresh_mac_key.trim()).map_err(|_| KeyError::BadMacKey("not base64url".into()))
    }
}

pub fn generate_key(alg: SigningAlgorithm) -> Result<StoredKey, KeyError> {
    let rng = SystemRandom::new();
    let der: Vec<u8> = match alg {
        SigningAlgorithm::Es256 => EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| KeyError::Generation)?
            .as_ref()
            .to_vec(),
        // PKCS#8 v1 (no embedded public key) is the form jsonwebtoken reads for Ed25519.
        SigningAlgorithm::EdDsa => {
            Ed25519KeyPair::generate_pkcs8v1(&rng).map_err(|_| KeyError::Generation)?.as_ref().to_vec()
        }
        SigningAlgorithm::Rs256 => {
            let pair = RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| KeyError::Generation)?;
            let der: aws_lc_rs::encoding::Pkcs8V1Der<'static> = pair.as_der().map_err(|_| KeyError::Generation)?;
            der.as_ref().to_vec()
        }
    };
    let private_key_pem = pkcs8_pem(&der);
    let encoding = alg.encoding_key(private_key_pem.as_bytes()).map_err(|_| KeyError::Generation)?;
    let kid = Jwk::from_encoding_key(&encoding, alg.jwt_algorithm())
        .and_then(|jwk| jwk.thumbprint(ThumbprintHash::SHA256))
        .map_err(|_| KeyError::Generation)?;
    Ok(StoredKey { kid, alg, private_key_pem, created_at: UnixTime::now(), state: KeyState::Active, retire_at: None })
}

fn pkcs8_pem(der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
    for line in body.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).unwrap_or_default());
        pem.push('\n');
    }
    pem.push_str("-----END PRIVATE KEY-----\n");
    pem
}
