//! Local verification of our access tokens against a JWK set (docs/ARCHITECTURE.md §2
//! "Verification"; RFC 9068 §4; RFC 8725).

use crate::claims::AccessClaims;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use std::collections::HashMap;
use std::time::Duration;

/// Clock skew allowed on `exp` and `nbf` (the issuer's tokens allow the same).
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(30);

/// The `typ` values of an access token (RFC 9068 §2.1), compared case-insensitively
/// (RFC 7515 §4.1.9). ID tokens (`JWT`) and logout tokens fail here.
const ACCESS_TOKEN_TYPES: [&str; 2] = ["at+jwt", "application/at+jwt"];

/// The algorithms our issuer signs with. The algorithm is the key's, never the
/// token's: `none`, HMAC (a public key used as a secret) and anything else are refused.
const ACCEPTED: [Algorithm; 3] = [Algorithm::ES256, Algorithm::RS256, Algorithm::EdDSA];

/// A public key ready to verify, and the one algorithm it verifies.
#[derive(Clone)]
pub struct VerifyingKey {
    pub algorithm: Algorithm,
    key: DecodingKey,
}

impl std::fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyingKey").field("algorithm", &self.algorithm).finish_non_exhaustive()
    }
}

/// The usable keys of a JWKS, by `kid`. Built once per JWKS fetch, so that a request
/// only looks a key up.
#[derive(Clone, Debug, Default)]
pub struct KeySet {
    keys: HashMap<String, VerifyingKey>,
}

impl KeySet {
    /// Keep the keys that can verify our tokens: a `kid`, an `alg` among ES256, RS256
    /// and EdDSA matching the key's type, `use` absent or `sig`. Others are skipped, not
    /// fatal: a JWKS may publish keys for other purposes.
    pub fn from_jwks(jwks: &JwkSet) -> Self {
        Self::from_keys(jwks.keys.iter())
    }

    /// Parse a JWKS document leniently: a key this version cannot even parse (a future
    /// `kty` or `alg`) is skipped like any other unusable key.
    pub fn from_json(body: &[u8]) -> Result<Self, serde_json::Error> {
        #[derive(serde::Deserialize)]
        struct Document {
            keys: Vec<serde_json::Value>,
        }
        let document: Document = serde_json::from_slice(body)?;
        let keys: Vec<Jwk> = document.keys.into_iter().filter_map(|key| serde_json::from_value(key).ok()).collect();
        Ok(Self::from_keys(keys.iter()))
    }

    fn from_keys<'a>(jwks: impl Iterator<Item = &'a Jwk>) -> Self {
        let keys = jwks.filter_map(|jwk| Some((jwk.common.key_id.clone()?, verifying_key(jwk)?))).collect();
        Self { keys }
    }

    pub fn get(&self, kid: &str) -> Option<&VerifyingKey> {
        self.keys.get(kid)
    }

    pub fn contains(&self, kid: &str) -> bool {
        self.keys.contains_key(kid)
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

fn verifying_key(jwk: &Jwk) -> Option<VerifyingKey> {
    if jwk.common.public_key_use.as_ref().is_some_and(|u| *u != PublicKeyUse::Signature) {
        return None;
    }
    // The algorithm must be stated by the key and fit its type: a key is never tried
    // with an algorithm it was not published for.
    let algorithm = match (jwk.common.key_algorithm?, &jwk.algorithm) {
        (KeyAlgorithm::ES256, AlgorithmParameters::EllipticCurve(ec)) if ec.curve == EllipticCurve::P256 => {
            Algorithm::ES256
        }
        (KeyAlgorithm::RS256, AlgorithmParameters::RSA(_)) => Algorithm::RS256,
        (KeyAlgorithm::EdDSA, AlgorithmParameters::OctetKeyPair(okp)) if okp.curve == EllipticCurve::Ed25519 => {
            Algorithm::EdDSA
        }
        _ => return None,
    };
    let key = DecodingKey::from_jwk(jwk).ok()?;
    Some(VerifyingKey { algorithm, key })
}

/// Why a token was refused. `Display` is the `invalid_token: …` log detail; no variant
/// carries any part of the token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("malformed token")]
    Malformed,
    #[error("wrong token type")]
    WrongType,
    #[error("no key id")]
    MissingKeyId,
    #[error("unknown key")]
    UnknownKey,
    #[error("algorithm does not match the key")]
    AlgorithmMismatch,
    #[error("invalid signature")]
    BadSignature,
    #[error("expired")]
    Expired,
    #[error("not yet valid")]
    NotYetValid,
    #[error("wrong issuer")]
    WrongIssuer,
    #[error("wrong audience")]
    WrongAudience,
    #[error("invalid claims")]
    InvalidClaims,
}

/// Verifies access tokens of one issuer for one resource server. Built once: the
/// `Validation` for each algorithm is prepared here, not per request.
#[derive(Clone, Debug)]
pub struct Verifier {
    leeway: u64,
    validations: [Validation; 3],
}

impl Verifier {
    /// `audiences`: the `aud` values this resource server answers to; a token must name
    /// at least one. Leeway [`DEFAULT_LEEWAY`].
    pub fn new(issuer: impl Into<String>, audiences: Vec<String>) -> Self {
        Self::with_leeway(issuer, audiences, DEFAULT_LEEWAY)
    }

    /// `leeway` is at most [`DEFAULT_LEEWAY`]: the issuer keeps a revoked token's
    /// denylist entry 30 s past the token's `exp`, no longer, so a larger leeway would
    /// accept a revoked token once its entry is gone.
    pub fn with_leeway(issuer: impl Into<String>, audiences: Vec<String>, leeway: Duration) -> Self {
        let leeway = leeway.min(DEFAULT_LEEWAY);
        let issuer = issuer.into();
        let validation = |algorithm| {
            let mut validation = Validation::new(algorithm);
            validation.set_issuer(&[&issuer]);
            validation.set_audience(&audiences);
            validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
            // Time is checked in `verify` against the caller's clock (one clock for the
            // token and the denylist; tests and benchmarks can pin it).
            validation.validate_exp = false;
            validation.validate_nbf = false;
            validation
        };
        Self { leeway: leeway.as_secs(), validations: ACCEPTED.map(validation) }
    }

    /// Verify `token` at `now` (Unix seconds): type, key, algorithm, signature, issuer,
    /// audience, lifetime, and the claims [`AccessClaims`] requires (`sub`, `iat`,
    /// `jti`, `client_id`, …).
    pub fn verify(&self, keys: &KeySet, token: &str, now: u64) -> Result<AccessClaims, VerifyError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| VerifyError::Malformed)?;
        let typ_ok =
            header.typ.as_deref().is_some_and(|typ| ACCESS_TOKEN_TYPES.iter().any(|t| t.eq_ignore_ascii_case(typ)));
        if !typ_ok {
            return Err(VerifyError::WrongType);
        }
        let kid = header.kid.as_deref().ok_or(VerifyError::MissingKeyId)?;
        let key = keys.get(kid).ok_or(VerifyError::UnknownKey)?;
        if header.alg != key.algorithm {
            return Err(VerifyError::AlgorithmMismatch);
        }
        let validation = ACCEPTED
            .iter()
            .position(|alg| *alg == key.algorithm)
            .and_then(|i| self.validations.get(i))
            .ok_or(VerifyError::AlgorithmMismatch)?;
        let claims = jsonwebtoken::decode::<AccessClaims>(token, &key.key, validation).map_err(map_error)?.claims;
        if now >= claims.exp.saturating_add(self.leeway) {
            return Err(VerifyError::Expired);
        }
        match claims.extra.get("nbf").map(serde_json::Value::as_u64) {
            None => {}
            Some(None) => return Err(VerifyError::InvalidClaims),
            Some(Some(nbf)) if nbf > now.saturating_add(self.leeway) => return Err(VerifyError::NotYetValid),
            Some(Some(_)) => {}
        }
        Ok(claims)
    }
}

/// The `kid` of a token's header, to decide whether refetching the JWKS could help.
pub fn key_id(token: &str) -> Option<String> {
    jsonwebtoken::decode_header(token).ok()?.kid
}

fn map_error(err: jsonwebtoken::errors::Error) -> VerifyError {
    use jsonwebtoken::errors::ErrorKind as K;
    match err.kind() {
        K::InvalidIssuer => VerifyError::WrongIssuer,
        K::InvalidAudience => VerifyError::WrongAudience,
        K::InvalidSignature | K::InvalidEcdsaKey | K::InvalidEddsaKey | K::InvalidRsaKey(_) | K::InvalidKeyFormat => {
            VerifyError::BadSignature
        }
        K::InvalidAlgorithm | K::InvalidAlgorithmName | K::MissingAlgorithm => VerifyError::AlgorithmMismatch,
        K::MissingRequiredClaim(_) | K::InvalidClaimFormat(_) | K::Json(_) => VerifyError::InvalidClaims,
        _ => VerifyError::Malformed,
    }
}
