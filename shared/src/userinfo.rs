//! The UserInfo endpoint (OIDC Core §5.3), protected by the same verifier as the
//! authorizer, so it refuses revoked tokens even where no authorizer runs (locally).
//! Errors follow RFC 6750 §3.

use crate::store::UserRead;
use crate::verify::{CheckError, TokenChecker, bearer_token};
use serde_json::{Value, json};
use std::sync::Arc;

pub struct UserInfo {
    pub checker: TokenChecker,
    pub users: Arc<dyn UserRead>,
}

/// An RFC 6750 error: the status, and the `error` code for the `WWW-Authenticate` header.
#[derive(Debug, PartialEq, Eq)]
pub enum BearerError {
    /// No credentials: 401 with a bare challenge (RFC 6750 §3.1).
    Missing,
    /// 401 `invalid_token`.
    InvalidToken(&'static str),
    /// 403 `insufficient_scope`.
    InsufficientScope,
    /// 503: the denylist could not be read.
    Unavailable,
}

impl UserInfo {
    pub async fn userinfo(&self, authorization: Option<&str>) -> Result<Value, BearerError> {
        if authorization.is_none() {
            return Err(BearerError::Missing);
        }
        let token = bearer_token(authorization).ok_or(BearerError::InvalidToken("malformed Authorization header"))?;
        let claims = match self.checker.check_access_token(token, None).await {
            Ok(claims) => claims,
            Err(CheckError::StoreUnavailable) => return Err(BearerError::Unavailable),
            Err(CheckError::Revoked(_)) => return Err(BearerError::InvalidToken("the access token was revoked")),
            Err(CheckError::Invalid(_)) => {
                return Err(BearerError::InvalidToken("the access token is invalid or expired"));
            }
        };
        if !claims.scope.contains("openid") {
            return Err(BearerError::InsufficientScope);
        }
        let user = match self.users.user_by_subject(&claims.sub).await {
            Ok(Some(user)) if !user.disabled => user,
            Ok(_) => return Err(BearerError::InvalidToken("the user is disabled or gone")),
            Err(err) => {
                tracing::error!(event = "store.unavailable", error = %err);
                return Err(BearerError::Unavailable);
            }
        };
        let mut info = json!({ "sub": user.sub });
        if claims.scope.contains("profile") {
            info["preferred_username"] = json!(user.username);
        }
        Ok(info)
    }
}
