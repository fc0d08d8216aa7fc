//! JWTs this server mints and verifies. Every verifier checks `typ`, so an ID token can
//! never pass as an access token (RFC 9068 §4, RFC 8725 §3.11).

pub mod access;
pub mod id_token;
pub mod introspection;
pub mod logout;
pub mod refresh;

use crate::domain::SigningAlgorithm;
use crate::keys::KeySet;
use crate::time::UnixTime;
use jsonwebtoken::{Header, Validation, decode, decode_header, encode};
use serde::Serialize;
use serde::de::DeserializeOwned;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TokenError {
    #[error("malformed token")]
    Malformed,
    #[error("wrong token type")]
    WrongType,
    #[error("unknown key")]
    UnknownKey,
    #[error("invalid signature or algorithm")]
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
    #[error("signing failed")]
    Signing,
    /// A set made before the algorithm was required: a rotation adds it, as does
    /// `tokenctl keys generate --if-missing` for a key file.
    #[error("the key set has no active {0} key; rotate the key secret to add one")]
    NoKey(&'static str),
}

/// Sign `claims` with the active key of `alg`; the header carries `typ` and `kid`.
pub(crate) fn sign<T: Serialize>(
    keys: &KeySet,
    alg: SigningAlgorithm,
    typ: &str,
    claims: &T,
) -> Result<String, TokenError> {
    let signing = keys.signing_key(alg).ok_or(TokenError::NoKey(alg.as_str()))?;
    let mut header = Header::new(signing.algorithm);
    header.typ = Some(typ.to_string());
    header.kid = Some(signing.kid.clone());
    encode(&header, claims, &signing.key).map_err(|_| TokenError::Signing)
}

/// What a verifier demands beyond the signature.
pub struct Expectations<'a> {
    /// Accepted `typ` values, compared case-insensitively (RFC 7515 §4.1.9).
    pub typ: &'a [&'a str],
    pub issuer: &'a str,
    /// `None` accepts any audience: for the issuer itself, which checks `client_id` instead.
    pub audience: Option<&'a [String]>,
    pub now: UnixTime,
    /// Off only where an expired token is still worth recognising (revocation: an
    /// expired token needs nothing done, but is not "unknown").
    pub check_expiry: bool,
}

pub(crate) fn verify<T: DeserializeOwned>(
    keys: &KeySet,
    token: &str,
    expect: &Expectations<'_>,
) -> Result<T, TokenError> {
    let header = decode_header(token).map_err(|_| TokenError::Malformed)?;
    let typ_ok = header.typ.as_deref().is_some_and(|typ| expect.typ.iter().any(|t| t.eq_ignore_ascii_case(typ)));
    if !typ_ok {
        return Err(TokenError::WrongType);
    }
    let kid = header.kid.ok_or(TokenError::UnknownKey)?;
    let key = keys.verifying_key(&kid).filter(|key| !key.retired_at(expect.now)).ok_or(TokenError::UnknownKey)?;
    // The algorithm comes from the key; a header naming any other (including `none`)
    // fails inside `decode`.
    if header.alg != key.algorithm {
        return Err(TokenError::BadSignature);
    }
    let mut validation = Validation::new(key.algorithm);
    // Our own tokens, checked by our own functions on the same clock: no leeway. A token
    // past its `exp` is not active (RFC 7662 §2.2), not even by a few seconds. (Markers
    // and retired keys still allow `LEEWAY_SECONDS` for resource servers' clocks.)
    validation.leeway = 0;
    validation.validate_nbf = true;
    validation.validate_exp = expect.check_expiry;
    validation.set_issuer(&[expect.issuer]);
    validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
    match expect.audience {
        Some(accepted) => validation.set_audience(accepted),
        None => validation.validate_aud = false,
    }
    // jsonwebtoken compares against the wall clock; `expect.now` is checked again below
    // so that callers with an explicit clock (tests, benchmarks) get the same answer.
    let data = decode::<serde_json::Value>(token, &key.key, &validation).map_err(map_jwt_error)?;
    let exp = data.claims.get("exp").and_then(|v| v.as_u64()).ok_or(TokenError::InvalidClaims)?;
    if expect.check_expiry && exp <= expect.now.0 {
        return Err(TokenError::Expired);
    }
    serde_json::from_value(data.claims).map_err(|_| TokenError::InvalidClaims)
}

fn map_jwt_error(err: jsonwebtoken::errors::Error) -> TokenError {
    use jsonwebtoken::errors::ErrorKind as K;
    match err.kind() {
        K::ExpiredSignature => TokenError::Expired,
        K::ImmatureSignature => TokenError::NotYetValid,
        K::InvalidIssuer => TokenError::WrongIssuer,
        K::InvalidAudience => TokenError::WrongAudience,
        K::InvalidSignature | K::InvalidAlgorithm | K::InvalidAlgorithmName => TokenError::BadSignature,
        K::MissingRequiredClaim(_) | K::InvalidClaimFormat(_) | K::Json(_) => TokenError::InvalidClaims,
        _ => TokenError::Malformed,
    }
}
