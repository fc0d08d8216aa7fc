//! RFC 9068 JWT access tokens. Minting one writes nothing anywhere (docs/ARCHITECTURE.md §2).

use super::{Expectations, TokenError, sign, verify};
use crate::domain::Scope;
use crate::domain::SigningAlgorithm;
use crate::ids::{ClientId, FamilyId, Jti, Sid, Subject};
use crate::keys::KeySet;
use crate::time::UnixTime;
use serde::{Deserialize, Serialize};

/// RFC 9068 §2.1: the media type is `application/at+jwt`; `typ` drops the prefix.
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";
const ACCEPTED_TYP: &[&str] = &["at+jwt", "application/at+jwt"];

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    pub iss: String,
    /// The user, or for `client_credentials` the client itself (RFC 9068 §2.2).
    pub sub: Subject,
    pub aud: String,
    pub exp: UnixTime,
    pub iat: UnixTime,
    pub jti: Jti,
    pub client_id: ClientId,
    pub scope: Scope,
    /// The login session, when a user is involved: what logout revokes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<Sid>,
    /// The refresh-token family this token descends from: what a refresh-token revoke
    /// or reuse detection revokes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fid: Option<FamilyId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<UnixTime>,
    /// The key the token is bound to (RFC 9449 §6.1): only its holder may use it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
}

/// RFC 7800 confirmation (`jkt`, the RFC 7638 thumbprint of a DPoP key): the guard's
/// type, so that a resource server reads `cnf` as the issuer writes it.
pub use guard::claims::Confirmation;

impl AccessTokenClaims {
    /// The thumbprint of the key this token is bound to, if it is.
    pub fn bound_to(&self) -> Option<&str> {
        self.cnf.as_ref().map(|cnf| cnf.jkt.as_str())
    }
}

pub fn mint(keys: &KeySet, alg: SigningAlgorithm, claims: &AccessTokenClaims) -> Result<String, TokenError> {
    sign(keys, alg, ACCESS_TOKEN_TYP, claims)
}

/// Verify an access token: signature with the key named by `kid` (algorithm pinned by
/// the key), `typ`, `iss`, `exp`/`nbf`, and `aud` when `audience` is given.
pub fn verify_access_token(
    keys: &KeySet,
    token: &str,
    issuer: &str,
    audience: Option<&[String]>,
    now: UnixTime,
) -> Result<AccessTokenClaims, TokenError> {
    verify(keys, token, &Expectations { typ: ACCEPTED_TYP, issuer, audience, now, check_expiry: true })
}

/// The same checks except expiry: for revocation, where an expired token of ours is
/// recognised (and needs nothing done) rather than treated as unknown.
pub fn verify_access_token_even_expired(
    keys: &KeySet,
    token: &str,
    issuer: &str,
) -> Result<AccessTokenClaims, TokenError> {
    verify(
        keys,
        token,
        &Expectations { typ: ACCEPTED_TYP, issuer, audience: None, now: UnixTime::now(), check_expiry: false },
    )
}

/// Whether `token` is one of our signed JWTs of another type (an ID token): such a token
/// is recognised but is not revocable (RFC 7009 §2.2.1 `unsupported_token_type`).
pub fn is_our_other_jwt(keys: &KeySet, token: &str, issuer: &str) -> bool {
    let expect = Expectations { typ: &["JWT"], issuer, audience: None, now: UnixTime::now(), check_expiry: false };
    verify::<serde_json::Value>(keys, token, &expect).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::SigningAlgorithm;
    use crate::keys::KeySetDocument;
    use crate::tokens::id_token::{self, IdTokenClaims};
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    const ISS: &str = "https://auth.example.com";

    fn keys(alg: SigningAlgorithm) -> KeySet {
        KeySet::from_document(&KeySetDocument::generate(alg).unwrap()).unwrap()
    }

    const ES256: SigningAlgorithm = SigningAlgorithm::Es256;

    fn claims(now: UnixTime) -> AccessTokenClaims {
        AccessTokenClaims {
            cnf: None,
            iss: ISS.into(),
            sub: Subject::new("user-1"),
            aud: "https://api.example.com".into(),
            exp: now.plus(600),
            iat: now,
            jti: Jti::random(),
            client_id: ClientId::new("web"),
            scope: Scope::parse("openid read").unwrap(),
            sid: Some(Sid::random()),
            fid: Some(FamilyId::random()),
            auth_time: Some(now),
        }
    }

    #[test]
    fn every_algorithm_round_trips_with_typ_and_kid() {
        for alg in [SigningAlgorithm::Es256, SigningAlgorithm::EdDsa, SigningAlgorithm::Rs256] {
            let keys = keys(alg);
            let now = UnixTime::now();
            let token = mint(&keys, alg, &claims(now)).unwrap();
            let header = jsonwebtoken::decode_header(&token).unwrap();
            assert_eq!(header.typ.as_deref(), Some("at+jwt"));
            assert_eq!(header.kid.as_deref(), Some(keys.signing_key(alg).unwrap().kid.as_str()));
            let back =
                verify_access_token(&keys, &token, ISS, Some(&["https://api.example.com".to_string()]), now).unwrap();
            assert_eq!(back, claims_with(&back, now));
        }
    }

    fn claims_with(back: &AccessTokenClaims, now: UnixTime) -> AccessTokenClaims {
        AccessTokenClaims { jti: back.jti.clone(), sid: back.sid.clone(), fid: back.fid.clone(), ..claims(now) }
    }

    #[test]
    fn id_token_is_never_accepted_as_access_token() {
        let keys = keys(SigningAlgorithm::Es256);
        let now = UnixTime::now();
        let id = id_token::mint(
            &keys,
            ES256,
            &IdTokenClaims {
                iss: ISS.into(),
                sub: Subject::new("u"),
                aud: "web".into(),
                exp: now.plus(300),
                iat: now,
                auth_time: now,
                sid: Sid::random(),
                nonce: None,
            },
        )
        .unwrap();
        assert_eq!(verify_access_token(&keys, &id, ISS, None, now), Err(TokenError::WrongType));
    }

    #[test]
    fn expired_wrong_issuer_wrong_audience_and_foreign_key_are_rejected() {
        let keys = keys(SigningAlgorithm::Es256);
        let now = UnixTime::now();
        let mut old = claims(UnixTime(now.0 - 10_000));
        old.exp = UnixTime(now.0 - 1_000);
        let expired = mint(&keys, ES256, &old).unwrap();
        assert_eq!(verify_access_token(&keys, &expired, ISS, None, now), Err(TokenError::Expired));

        let token = mint(&keys, ES256, &claims(now)).unwrap();
        assert_eq!(verify_access_token(&keys, &token, "https://evil", None, now), Err(TokenError::WrongIssuer));
        assert_eq!(
            verify_access_token(&keys, &token, ISS, Some(&["other".to_string()]), now),
            Err(TokenError::WrongAudience)
        );
        let other = self::keys(SigningAlgorithm::Es256);
        assert_eq!(verify_access_token(&other, &token, ISS, None, now), Err(TokenError::UnknownKey));
    }

    #[test]
    fn a_token_past_its_exp_is_expired_without_leeway() {
        let keys = keys(SigningAlgorithm::Es256);
        let now = UnixTime::now();
        let mut late = claims(UnixTime(now.0 - 606));
        late.exp = UnixTime(now.0 - 6);
        let token = mint(&keys, ES256, &late).unwrap();
        assert_eq!(verify_access_token(&keys, &token, ISS, None, now), Err(TokenError::Expired));
        let mut last_second = claims(UnixTime(now.0 - 599));
        last_second.exp = now.plus(1);
        assert!(verify_access_token(&keys, &mint(&keys, ES256, &last_second).unwrap(), ISS, None, now).is_ok());
    }

    #[test]
    fn alg_none_and_tampered_payload_are_rejected() {
        let keys = keys(SigningAlgorithm::Es256);
        let now = UnixTime::now();
        let token = mint(&keys, ES256, &claims(now)).unwrap();
        let parts: Vec<&str> = token.split('.').collect();

        let none_header = URL_SAFE_NO_PAD.encode(
            format!(r#"{{"alg":"none","typ":"at+jwt","kid":"{}"}}"#, keys.signing_key(ES256).unwrap().kid).as_bytes(),
        );
        let unsigned = format!("{none_header}.{}.", parts[1]);
        assert!(verify_access_token(&keys, &unsigned, ISS, None, now).is_err());

        let mut payload: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        payload["scope"] = "admin".into();
        let forged = format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(payload.to_string()), parts[2]);
        assert_eq!(verify_access_token(&keys, &forged, ISS, None, now), Err(TokenError::BadSignature));

        let hs_header = URL_SAFE_NO_PAD.encode(
            format!(r#"{{"alg":"HS256","typ":"at+jwt","kid":"{}"}}"#, keys.signing_key(ES256).unwrap().kid).as_bytes(),
        );
        let confused = format!("{hs_header}.{}.{}", parts[1], parts[2]);
        assert_eq!(verify_access_token(&keys, &confused, ISS, None, now), Err(TokenError::BadSignature));

        assert_eq!(verify_access_token(&keys, "garbage", ISS, None, now), Err(TokenError::Malformed));
    }
}
