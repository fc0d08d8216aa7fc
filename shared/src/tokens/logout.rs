//! OIDC Back-Channel Logout 1.0 logout tokens (§2.4, with the errata: `exp` required and
//! `typ: logout+jwt`). A fresh `jti` for every delivery attempt.

use super::{TokenError, sign};
use crate::domain::SigningAlgorithm;
use crate::ids::{ClientId, Jti, Sid, Subject};
use crate::keys::KeySet;
use crate::time::UnixTime;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub const LOGOUT_TOKEN_TYP: &str = "logout+jwt";
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// Short-lived: it only has to reach the RP (§2.4 recommends two minutes or less).
pub const LOGOUT_TOKEN_LIFETIME: u64 = 120;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogoutTokenClaims {
    pub iss: String,
    pub aud: ClientId,
    pub iat: UnixTime,
    pub exp: UnixTime,
    pub jti: Jti,
    pub sid: Sid,
    pub sub: Subject,
    /// `{"http://schemas.openid.net/event/backchannel-logout": {}}`; never a `nonce`
    /// (§2.4 forbids it, so that a logout token cannot pass as an ID token).
    pub events: Value,
}

pub fn mint(
    keys: &KeySet,
    alg: SigningAlgorithm,
    issuer: &str,
    aud: &ClientId,
    sid: &Sid,
    sub: &Subject,
    now: UnixTime,
) -> Result<String, TokenError> {
    let claims = LogoutTokenClaims {
        iss: issuer.to_string(),
        aud: aud.clone(),
        iat: now,
        exp: now.plus(LOGOUT_TOKEN_LIFETIME),
        jti: Jti::random(),
        sid: sid.clone(),
        sub: sub.clone(),
        events: json!({ BACKCHANNEL_LOGOUT_EVENT: {} }),
    };
    sign(keys, alg, LOGOUT_TOKEN_TYP, &claims)
}
