//! OIDC ID tokens (OIDC Core §2), issued with the password grant when `openid` is asked.

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
}

pub fn mint(keys: &KeySet, alg: SigningAlgorithm, claims: &IdTokenClaims) -> Result<String, TokenError> {
    sign(keys, alg, "JWT", claims)
}
