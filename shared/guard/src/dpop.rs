//! DPoP proofs (RFC 9449): what binds an access token to a key its client holds, so that
//! a stolen token is useless without the key. The checks of §4.3 live here once, for the
//! token endpoint, userinfo, the Lambda authorizer and the guard.
//!
//! A proof is checked on its own (signature by its embedded public key, `typ`, `alg`,
//! `htm`, `htu`, `iat`, and `ath` at a resource); whether its `jti` was seen before is
//! the caller's replay store ([`ReplayCache`] here, a conditional write in the token
//! service).

use crate::jwk::{algorithm_of, has_private_members, thumbprint};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey};
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// The algorithms a proof may use (`dpop_signing_alg_values_supported`), as discovery
/// and the `algs` challenge parameter list them.
pub const SIGNING_ALGS: [&str; 3] = ["ES256", "EdDSA", "RS256"];

/// `SIGNING_ALGS` as a literal, for the challenges below.
macro_rules! challenge_algs {
    () => {
        "ES256 EdDSA RS256"
    };
}

/// `algs` of a `WWW-Authenticate: DPoP` challenge (RFC 9449 §7.1).
pub const CHALLENGE_ALGS: &str = challenge_algs!();
/// The challenge of a request with no credentials: either scheme will do.
pub const NO_TOKEN_CHALLENGE: &str = concat!("Bearer, DPoP algs=\"", challenge_algs!(), "\"");
/// The challenge of a missing, invalid or used proof.
pub const INVALID_PROOF_CHALLENGE: &str =
    concat!("DPoP error=\"invalid_dpop_proof\", algs=\"", challenge_algs!(), "\"");
/// The challenge of a token presented by the wrong scheme.
pub const WRONG_SCHEME_CHALLENGE: &str = concat!("DPoP error=\"invalid_token\", algs=\"", challenge_algs!(), "\"");

/// How far a proof's `iat` may be from now, either way (RFC 9449 §11.1 leaves the window
/// to the server): a minute, for clients whose clocks are somewhat off. A proof is
/// replayable only within this window, so replay entries are kept this long.
pub const PROOF_WINDOW_SECONDS: u64 = 60;

/// Longer `jti`s are refused: 128 random bits need 22 characters.
const MAX_JTI_BYTES: usize = 256;

/// No proof is anywhere near this: its key and a few claims.
const MAX_PROOF_BYTES: usize = 8 * 1024;

/// Why a proof was refused: the `reason` of the `dpop.proof_rejected` event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("missing_proof")]
    Missing,
    #[error("more_than_one_proof")]
    Multiple,
    #[error("malformed")]
    Malformed,
    #[error("wrong_typ")]
    WrongType,
    #[error("unsupported_alg")]
    UnsupportedAlgorithm,
    #[error("bad_jwk")]
    BadKey,
    #[error("private_jwk")]
    PrivateKey,
    #[error("bad_signature")]
    BadSignature,
    #[error("missing_claim")]
    MissingClaim,
    #[error("wrong_htm")]
    WrongMethod,
    #[error("wrong_htu")]
    WrongUri,
    #[error("iat_outside_window")]
    NotFresh,
    #[error("missing_ath")]
    MissingAth,
    #[error("wrong_ath")]
    WrongAth,
    /// A valid proof by another key than the one the token or family is bound to.
    #[error("wrong_key")]
    WrongKey,
    #[error("replayed")]
    Replayed,
    /// The replay cache is full of live entries: refused rather than forgetting one
    /// (a 503 at a resource: the server's capacity, not the proof, is at fault).
    #[error("replay_cache_full")]
    ReplayCacheFull,
}

/// The request a proof must be for.
#[derive(Clone, Copy, Debug)]
pub struct ProofTarget<'a> {
    /// `htm`: the request's method.
    pub method: &'a str,
    /// `htu`: the request's URL as the client addressed it (query and fragment ignored).
    pub url: &'a str,
    /// At a resource, the access token presented with the proof (`ath`); `None` at the
    /// token endpoint.
    pub access_token: Option<&'a str>,
    /// Seconds since the Unix epoch.
    pub now: u64,
}

/// A proof that passed every check but replay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedProof {
    /// The RFC 7638 thumbprint of the proof's key (`cnf.jkt`).
    pub jkt: String,
    pub jti: String,
    pub iat: u64,
}

impl VerifiedProof {
    /// Until when its `jti` must be remembered: after it, the proof is refused as stale.
    pub fn replay_expiry(&self) -> u64 {
        self.iat.saturating_add(PROOF_WINDOW_SECONDS).saturating_add(1)
    }
}

/// The one DPoP header a request must carry (RFC 9449 §4.3 check 1): none, or more than
/// one, is refused.
pub fn single_proof<'a>(headers: &[&'a str]) -> Result<&'a str, ProofError> {
    match headers {
        [] => Err(ProofError::Missing),
        [one] => Ok(one),
        _ => Err(ProofError::Multiple),
    }
}

#[derive(serde::Deserialize)]
struct ProofClaims {
    jti: String,
    htm: String,
    htu: String,
    iat: u64,
    #[serde(default)]
    ath: Option<String>,
}

/// RFC 9449 §4.3 checks 2 to 11 (the caller checks the replay, 12).
pub fn verify_proof(proof: &str, target: &ProofTarget<'_>) -> Result<VerifiedProof, ProofError> {
    if proof.len() > MAX_PROOF_BYTES {
        return Err(ProofError::Malformed);
    }
    let mut parts = proof.split('.');
    let (Some(header), Some(payload), Some(signature), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ProofError::Malformed);
    };
    let header: serde_json::Map<String, serde_json::Value> = decode_json(header)?;
    // RFC 7515 §4.1.11: no extension this verifier does not understand.
    if header.contains_key("crit") {
        return Err(ProofError::Malformed);
    }
    let typ = header.get("typ").and_then(|t| t.as_str()).ok_or(ProofError::WrongType)?;
    if !typ.eq_ignore_ascii_case("dpop+jwt") {
        return Err(ProofError::WrongType);
    }
    let alg = header.get("alg").and_then(|a| a.as_str()).ok_or(ProofError::UnsupportedAlgorithm)?;
    let members = header.get("jwk").and_then(|k| k.as_object()).ok_or(ProofError::BadKey)?;
    if has_private_members(members) {
        return Err(ProofError::PrivateKey);
    }
    let jwk: Jwk =
        serde_json::from_value(serde_json::Value::Object(members.clone())).map_err(|_| ProofError::BadKey)?;
    let algorithm = algorithm_of(&jwk).ok_or(ProofError::BadKey)?;
    if !names_algorithm(alg, algorithm) {
        return Err(ProofError::UnsupportedAlgorithm);
    }
    let key = DecodingKey::from_jwk(&jwk).map_err(|_| ProofError::BadKey)?;
    let message = &proof[..header_and_payload_len(proof)];
    let signed = jsonwebtoken::crypto::verify(signature, message.as_bytes(), &key, algorithm).unwrap_or(false);
    if !signed {
        return Err(ProofError::BadSignature);
    }
    let claims: ProofClaims = decode_json(payload).map_err(|_| ProofError::MissingClaim)?;
    if claims.jti.is_empty() || claims.jti.len() > MAX_JTI_BYTES {
        return Err(ProofError::MissingClaim);
    }
    if claims.htm != target.method {
        return Err(ProofError::WrongMethod);
    }
    if !same_resource(&claims.htu, target.url) {
        return Err(ProofError::WrongUri);
    }
    if claims.iat.abs_diff(target.now) > PROOF_WINDOW_SECONDS {
        return Err(ProofError::NotFresh);
    }
    if let Some(token) = target.access_token {
        let ath = claims.ath.as_deref().ok_or(ProofError::MissingAth)?;
        if ath != access_token_hash(token) {
            return Err(ProofError::WrongAth);
        }
    }
    let jkt = thumbprint(&jwk).ok_or(ProofError::BadKey)?;
    Ok(VerifiedProof { jkt, jti: claims.jti, iat: claims.iat })
}

/// `EdDSA`, or `Ed25519` (the fully specified name of RFC 9864, which some clients
/// already send) for an Ed25519 key.
fn names_algorithm(alg: &str, algorithm: Algorithm) -> bool {
    match algorithm {
        Algorithm::ES256 => alg == "ES256",
        Algorithm::RS256 => alg == "RS256",
        Algorithm::EdDSA => alg == "EdDSA" || alg == "Ed25519",
        _ => false,
    }
}

fn header_and_payload_len(proof: &str) -> usize {
    proof.rfind('.').unwrap_or(proof.len())
}

fn decode_json<T: serde::de::DeserializeOwned>(part: &str) -> Result<T, ProofError> {
    let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|_| ProofError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| ProofError::Malformed)
}

/// `ath`: base64url of the SHA-256 of the access token's ASCII (RFC 9449 §4.2).
pub fn access_token_hash(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes()))
}

/// `htu` against the request's URL: the same after syntax-based normalisation (case of
/// scheme and host, default port), without query or fragment (RFC 9449 §4.3 check 9).
pub fn same_resource(htu: &str, request_url: &str) -> bool {
    let strip = |raw: &str| {
        let mut url = url::Url::parse(raw).ok()?;
        url.set_query(None);
        url.set_fragment(None);
        Some(url)
    };
    match (strip(htu), strip(request_url)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// How a resource request presented its access token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    Bearer,
    Dpop,
}

/// Why a resource refuses a token's presentation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BindingError {
    /// A DPoP-bound token sent as a bearer token: whoever sends it may not hold the key
    /// (RFC 9449 §7.2).
    #[error("bound_token_as_bearer")]
    BoundTokenAsBearer,
    /// The DPoP scheme with a token bound to no key: nothing to prove.
    #[error("unbound_token_as_dpop")]
    UnboundTokenAsDpop,
    #[error("{0}")]
    Proof(ProofError),
}

/// Whether a verified token was presented as its binding requires (RFC 9449 §7): a bound
/// token only with the DPoP scheme and a proof by its key for this request and this
/// token; an unbound one only as a bearer token. Returns the proof, for the caller's
/// replay check.
pub fn check_binding(
    scheme: Scheme,
    bound_to: Option<&str>,
    proofs: &[&str],
    target: &ProofTarget<'_>,
) -> Result<Option<VerifiedProof>, BindingError> {
    match (scheme, bound_to) {
        (Scheme::Bearer, None) => Ok(None),
        (Scheme::Bearer, Some(_)) => Err(BindingError::BoundTokenAsBearer),
        (Scheme::Dpop, None) => Err(BindingError::UnboundTokenAsDpop),
        (Scheme::Dpop, Some(jkt)) => {
            let proof = single_proof(proofs).map_err(BindingError::Proof)?;
            let verified = verify_proof(proof, target).map_err(BindingError::Proof)?;
            if verified.jkt != jkt {
                return Err(BindingError::Proof(ProofError::WrongKey));
            }
            Ok(Some(verified))
        }
    }
}

/// Seen proof ids, in memory, for resource servers that check proofs locally (the guard,
/// the authorizer in feed mode). Bounded: full of live entries, it refuses new proofs
/// rather than forget one (fail closed). Per process: a proof replayed to another
/// instance within its window is not caught here.
pub struct ReplayCache {
    seen: Mutex<Seen>,
    capacity: usize,
}

#[derive(Default)]
struct Seen {
    /// Each proof's replay key, and until when it is remembered.
    entries: HashMap<[u8; 32], u64>,
    /// When expired entries were last dropped: at most once a second, so that a full
    /// cache does not scan all its entries for every request.
    swept_at: u64,
}

/// About 70 bytes an entry: 200,000 live proofs (over 1,600 DPoP requests a second held
/// for the two-minute window) in about 14 MB.
pub const DEFAULT_REPLAY_CAPACITY: usize = 200_000;

impl Default for ReplayCache {
    fn default() -> Self {
        Self::new(DEFAULT_REPLAY_CAPACITY)
    }
}

impl std::fmt::Debug for ReplayCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplayCache").field("capacity", &self.capacity).finish_non_exhaustive()
    }
}

impl ReplayCache {
    pub fn new(capacity: usize) -> Self {
        Self { seen: Mutex::new(Seen::default()), capacity }
    }

    /// Record the proof's first use: an error for a replay within its window, or when
    /// the cache is full of live entries.
    pub fn use_once(&self, proof: &VerifiedProof, now: u64) -> Result<(), ProofError> {
        let key = replay_key(&proof.jkt, &proof.jti);
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        if seen.entries.get(&key).is_some_and(|expires| *expires > now) {
            return Err(ProofError::Replayed);
        }
        if seen.entries.len() >= self.capacity && seen.swept_at < now {
            seen.entries.retain(|_, expires| *expires > now);
            seen.swept_at = now;
        }
        if seen.entries.len() >= self.capacity {
            return Err(ProofError::ReplayCacheFull);
        }
        seen.entries.insert(key, proof.replay_expiry());
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.seen.lock().unwrap_or_else(PoisonError::into_inner).entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn replay_key(jkt: &str, jti: &str) -> [u8; 32] {
    let mut input = Vec::with_capacity(jkt.len() + jti.len() + 1);
    input.extend_from_slice(jkt.as_bytes());
    // A thumbprint is base64url: a NUL cannot occur in it, so no two pairs collide.
    input.push(0);
    input.extend_from_slice(jti.as_bytes());
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &input);
    let mut key = [0u8; 32];
    key.copy_from_slice(digest.as_ref());
    key
}

#[cfg(test)]
mod tests;
