//! `private_key_jwt` client authentication (RFC 7523 §2.2 and §3, OIDC Core §9): the
//! client signs a short-lived JWT with a key it registered, instead of sending a secret.
//!
//! The assertion is read twice. Unverified, only far enough to name the client
//! ([`ClientAssertion::read`]), since its keys are what verifies it; then, against those
//! keys, in full ([`AssertionVerifier::verify`]). The algorithm is the registered key's,
//! never the header's (RFC 8725 §3.1), and the `jti` is used up by one conditional write
//! (`OneTimeUse`) kept until the assertion's `exp`: a replay is refused.

use super::{OAuthError, OAuthRequest};
use crate::discovery::TOKEN_PATH;
use crate::domain::{ClientJwks, OneTimeId, algorithm_of};
use crate::ids::ClientId;
use crate::policy::{LEEWAY_SECONDS, MAX_CLIENT_ASSERTION_SECONDS, MAX_IDENTIFIER_BYTES};
use crate::store::{OneTimeUse, StoreResult};
use crate::time::UnixTime;
use jsonwebtoken::dangerous::insecure_decode_claims;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{DecodingKey, Validation, decode, decode_header};
use serde_json::Value;
use std::fmt;
use std::sync::Arc;

/// The one `client_assertion_type` of a JWT client assertion (RFC 7523 §2.2).
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// `typ` values an assertion may carry, besides none: `JWT` (RFC 7519 §5.1) and the
/// explicit type of draft-ietf-oauth-rfc7523bis. Any other (`at+jwt`, `dpop+jwt`, …) is a
/// JWT made for something else, refused.
const ACCEPTED_TYPES: [&str; 2] = ["JWT", "client-authentication+jwt"];

/// Why an assertion does not authenticate its client: the `reason` of the
/// `client.auth_failed` event. The client only ever sees `invalid_client` (RFC 7523 §3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// `client_assertion_type` is not [`JWT_BEARER`]: an authentication method this server
    /// does not offer (RFC 6749 §5.2).
    UnsupportedType,
    /// Not a JWS compact serialization with a JSON header and payload, or an algorithm no
    /// JOSE library knows (`none` among them).
    Malformed,
    /// `iss` and `sub` are not both the same client id (RFC 7523 §3 items 1 and 2).
    NotTheClient,
    /// A `typ` of another kind of JWT.
    WrongType,
    /// No registered key has the header's `kid` (or, without one, the client has several).
    UnknownKey,
    /// The header names an algorithm other than the registered key's.
    AlgorithmMismatch,
    BadSignature,
    /// `aud` names neither the token endpoint nor the issuer (RFC 7523 §3 item 3).
    WrongAudience,
    MissingExpiry,
    Expired,
    /// `exp` further ahead than `MAX_CLIENT_ASSERTION_SECONDS` (and the skew).
    ExpiresTooLate,
    /// `iat` or `nbf` in the future, beyond the tolerated skew.
    NotYetValid,
    MissingJti,
    /// A `jti` longer than `MAX_IDENTIFIER_BYTES`.
    JtiTooLong,
    /// This client used this `jti` already, and the assertion has not expired.
    Replayed,
}

impl Refusal {
    /// The stable value logged as `reason`.
    pub fn reason(self) -> &'static str {
        match self {
            Self::UnsupportedType => "unsupported_assertion_type",
            Self::Malformed => "malformed_assertion",
            Self::NotTheClient => "assertion_iss_sub",
            Self::WrongType => "assertion_typ",
            Self::UnknownKey => "assertion_unknown_key",
            Self::AlgorithmMismatch => "assertion_alg",
            Self::BadSignature => "assertion_signature",
            Self::WrongAudience => "assertion_aud",
            Self::MissingExpiry => "assertion_no_exp",
            Self::Expired => "assertion_expired",
            Self::ExpiresTooLate => "assertion_exp_too_far",
            Self::NotYetValid => "assertion_not_yet_valid",
            Self::MissingJti => "assertion_no_jti",
            Self::JtiTooLong => "assertion_jti_too_long",
            Self::Replayed => "assertion_replayed",
        }
    }
}

/// An assertion as presented, read just far enough to name the client whose keys are to
/// verify it. Its `Debug` shows only that client: the JWT itself is a credential until
/// it expires.
pub struct ClientAssertion {
    client_id: ClientId,
    jwt: String,
}

impl fmt::Debug for ClientAssertion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientAssertion").field("client_id", &self.client_id).finish_non_exhaustive()
    }
}

impl ClientAssertion {
    /// The client the assertion claims to come from: not proven until verified.
    pub fn client_id(&self) -> &ClientId {
        &self.client_id
    }

    /// The `client_assertion_type` and `client_assertion` parameters (RFC 7521 §4.2),
    /// and the `client_id` beside them if any, which must name the same client. Both
    /// parameters are required together (`invalid_request`); an assertion that names no
    /// client is `invalid_client`, logged here since no client can be counted against.
    pub fn read(assertion_type: Option<&str>, jwt: Option<&str>, client_id: Option<&str>) -> Result<Self, OAuthError> {
        let (Some(assertion_type), Some(jwt)) = (assertion_type, jwt) else {
            return Err(OAuthError::invalid_request("client_assertion and client_assertion_type go together"));
        };
        let refuse = |refusal: Refusal| {
            // The `client_id` parameter, if it could be one, is the only name there is:
            // no part of an unverified assertion is logged.
            let named = client_id.filter(|id| crate::policy::valid_client_id(id));
            tracing::warn!(event = "client.auth_failed", client_id = named, reason = refusal.reason());
            OAuthError::invalid_client()
        };
        if assertion_type != JWT_BEARER {
            return Err(refuse(Refusal::UnsupportedType));
        }
        let claims: Value = insecure_decode_claims(jwt).map_err(|_| refuse(Refusal::Malformed))?;
        let issuer = client_of(&claims).ok_or_else(|| refuse(Refusal::NotTheClient))?;
        // RFC 7521 §4.2: a `client_id` parameter must identify the same client.
        if client_id.is_some_and(|id| id != issuer) {
            return Err(OAuthError::invalid_request("client_id does not match the client_assertion"));
        }
        Ok(Self { client_id: ClientId::new(issuer), jwt: jwt.to_string() })
    }
}

/// Whether a request carries a client assertion at all (either parameter).
pub fn presented(req: &OAuthRequest) -> bool {
    req.param("client_assertion").is_some() || req.param("client_assertion_type").is_some()
}

/// `iss` and `sub`, both the same string: the client the claims are about.
fn client_of(claims: &Value) -> Option<&str> {
    let iss = claims.get("iss")?.as_str()?;
    (claims.get("sub")?.as_str()? == iss).then_some(iss)
}

/// What verifies assertions: the `aud` values that name this server, and the record of
/// `jti`s already used. Built once per instance.
pub struct AssertionVerifier {
    /// The token endpoint URL (OIDC Core §9) and the issuer (RFC 7523 §3 item 3).
    audiences: [String; 2],
    used: Arc<dyn OneTimeUse>,
}

/// What an authentic assertion still needs: its `jti` used up until its `exp`.
struct Authentic {
    jti: String,
    exp: UnixTime,
}

impl AssertionVerifier {
    pub fn new(issuer: &str, used: Arc<dyn OneTimeUse>) -> Self {
        Self { audiences: [format!("{issuer}{TOKEN_PATH}"), issuer.to_string()], used }
    }

    /// Whether `assertion` proves its client, whose registered keys are `keys`, at
    /// `now`. Everything is checked before the one store call, which uses the `jti` up
    /// (so a refused assertion uses nothing). The outer error is the store's.
    pub async fn verify(
        &self,
        assertion: &ClientAssertion,
        keys: &ClientJwks,
        now: UnixTime,
    ) -> StoreResult<Result<(), Refusal>> {
        let authentic = match self.check(assertion, keys, now) {
            Ok(authentic) => authentic,
            Err(refusal) => return Ok(Err(refusal)),
        };
        let id = OneTimeId::ClientAssertion { client_id: assertion.client_id.clone(), jti: authentic.jti };
        let first_use = self.used.use_once(&id, authentic.exp).await?;
        Ok(if first_use { Ok(()) } else { Err(Refusal::Replayed) })
    }

    /// Everything but single use, without I/O: header, key, signature, then claims.
    fn check(&self, assertion: &ClientAssertion, keys: &ClientJwks, now: UnixTime) -> Result<Authentic, Refusal> {
        let header = decode_header(&assertion.jwt).map_err(|_| Refusal::Malformed)?;
        // RFC 7515 §4.1.11: no extension this verifier does not understand.
        if header.crit.is_some() {
            return Err(Refusal::Malformed);
        }
        let typ_ok = header.typ.as_deref().is_none_or(|typ| ACCEPTED_TYPES.iter().any(|t| t.eq_ignore_ascii_case(typ)));
        if !typ_ok {
            return Err(Refusal::WrongType);
        }
        let jwk = keys.key_for(header.kid.as_deref()).ok_or(Refusal::UnknownKey)?;
        // A registered key has exactly one algorithm (`ClientJwks::parse` checked it).
        let algorithm = algorithm_of(jwk).ok_or(Refusal::UnknownKey)?;
        if header.alg != algorithm {
            return Err(Refusal::AlgorithmMismatch);
        }
        let key = DecodingKey::from_jwk(jwk).map_err(|_| Refusal::UnknownKey)?;
        // The signature alone here: the claims are judged below, by `now`, each with its
        // own reason.
        let mut validation = Validation::new(algorithm);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        let claims = decode::<Value>(&assertion.jwt, &key, &validation)
            .map_err(|err| match err.kind() {
                ErrorKind::InvalidSignature | ErrorKind::InvalidAlgorithm => Refusal::BadSignature,
                _ => Refusal::Malformed,
            })?
            .claims;
        // The same bytes `read` found the client in, now signed; checked again all the
        // same, so that nothing rests on two parses agreeing.
        if client_of(&claims) != Some(assertion.client_id.as_str()) {
            return Err(Refusal::NotTheClient);
        }
        self.judge(&claims, now)
    }

    /// The claims of an authentic assertion (RFC 7523 §3): `aud`, the time window, `jti`.
    fn judge(&self, claims: &Value, now: UnixTime) -> Result<Authentic, Refusal> {
        let names_us = |aud: &Value| aud.as_str().is_some_and(|aud| self.audiences.iter().any(|ours| ours == aud));
        let aud_ok = match claims.get("aud") {
            // One audience only: an assertion that names other servers too could have
            // been made for one of them and replayed here (the 2025 audience-injection
            // findings behind draft-ietf-oauth-rfc7523bis).
            Some(Value::Array(auds)) => matches!(auds.as_slice(), [one] if names_us(one)),
            Some(aud) => names_us(aud),
            None => false,
        };
        if !aud_ok {
            return Err(Refusal::WrongAudience);
        }
        // No leeway on `exp`, as for every token this server verifies; a client's clock
        // that runs ahead is tolerated by `LEEWAY_SECONDS` on the future side alone.
        let exp = match claims.get("exp") {
            None => return Err(Refusal::MissingExpiry),
            Some(exp) => numeric_date(exp).ok_or(Refusal::Malformed)?,
        };
        if exp.has_passed(now) {
            return Err(Refusal::Expired);
        }
        let horizon = now.plus(LEEWAY_SECONDS);
        if exp > horizon.plus(MAX_CLIENT_ASSERTION_SECONDS) {
            return Err(Refusal::ExpiresTooLate);
        }
        for name in ["iat", "nbf"] {
            if let Some(value) = claims.get(name)
                && numeric_date(value).ok_or(Refusal::Malformed)? > horizon
            {
                return Err(Refusal::NotYetValid);
            }
        }
        let jti = claims.get("jti").and_then(Value::as_str).filter(|jti| !jti.is_empty()).ok_or(Refusal::MissingJti)?;
        if jti.len() > MAX_IDENTIFIER_BYTES {
            return Err(Refusal::JtiTooLong);
        }
        Ok(Authentic { jti: jti.to_string(), exp })
    }
}

/// An RFC 7519 NumericDate: seconds, possibly with a fraction (dropped).
fn numeric_date(value: &Value) -> Option<UnixTime> {
    let seconds = value.as_u64().or_else(|| value.as_f64().filter(|s| s.is_finite() && *s >= 0.0).map(|s| s as u64));
    seconds.map(UnixTime)
}

#[cfg(test)]
mod tests;
