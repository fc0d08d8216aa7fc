//! The UserInfo endpoint (OIDC Core §5.3), protected by the same verifier as the
//! authorizer, so it refuses revoked tokens even where no authorizer runs (locally).
//! Errors follow RFC 6750 §3.

use crate::keys::KeyRing;
use crate::oauth::BearerError;
use crate::store::UserRead;
use crate::verify::{CheckError, Presented, TokenChecker, bearer_credentials};
use serde_json::{Value, json};
use std::sync::Arc;

pub struct UserInfo {
    pub(crate) keys: Arc<KeyRing>,
    pub(crate) checker: TokenChecker,
    pub(crate) users: Arc<dyn UserRead>,
}

impl UserInfo {
    pub async fn userinfo(&self, authorization: Option<&str>) -> Result<Value, BearerError> {
        let token = match bearer_credentials(authorization) {
            Presented::Bearer(token) => token,
            Presented::Nothing => return Err(BearerError::Missing),
            Presented::Malformed => return Err(BearerError::InvalidRequest("malformed bearer token")),
        };
        let keys = self.keys.current().await;
        let claims = match self.checker.check_access_token(&keys, token, None).await {
            Ok(claims) => claims,
            Err(CheckError::Store(err)) => return Err(err.into()),
            Err(CheckError::Revoked(_)) => return Err(BearerError::InvalidToken("the access token was revoked")),
            Err(CheckError::Invalid(_)) => {
                return Err(BearerError::InvalidToken("the access token is invalid or expired"));
            }
        };
        if !claims.scope.contains("openid") {
            return Err(BearerError::InsufficientScope);
        }
        let user = match self.users.user_profile_by_subject(&claims.sub).await? {
            Some(user) if !user.disabled => user,
            _ => return Err(BearerError::InvalidToken("the user is disabled or gone")),
        };
        let mut info = json!({ "sub": user.sub });
        if claims.scope.contains("profile") {
            info["preferred_username"] = json!(user.username);
        }
        Ok(info)
    }
}
