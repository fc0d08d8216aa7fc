//! OIDC ID tokens (OIDC Core §2), issued with a login's first tokens when `openid` is
//! asked (the authorization code and password grants).

use super::{TokenError, sign};
use crate::domain::SigningAlgorithm;
use crate::ids::{Sid, Subject};
use crate::keys::KeySet;
use crate::time::UnixTime;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IdTokenClaims {
    pub iss: String,
    pub sub: Subject,
    /// OIDC Core §2: the audience of an ID token is the client it was issued to.
    pub aud: String,
    pub exp: UnixTime,
    pub iat: UnixTime,
    pub auth_time: UnixTime,
    pub sid: Sid,
    /// The authorization request's `nonce`, echoed (OIDC Core §3.1.3.6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
}

pub fn mint(keys: &KeySet, alg: SigningAlgorithm, claims: &IdTokenClaims) -> Result<String, TokenError> {
    sign(keys, alg, "JWT", claims)
}

/// An ID token of ours given back as `id_token_hint` (OIDC RP-Initiated Logout §2):
/// signature, `typ` and `iss` checked, expiry not (an RP may hold an expired one, and it
/// still names the session).
pub fn verify_hint(keys: &KeySet, token: &str, issuer: &str) -> Result<IdTokenClaims, TokenError> {
    let expect =
        super::Expectations { typ: &["JWT"], issuer, audience: None, now: UnixTime::now(), check_expiry: false };
    super::verify(keys, token, &expect)
}
