//! The UserInfo endpoint (OIDC Core §5.3), protected by the same verifier as the
//! authorizer, so it refuses revoked tokens even where no authorizer runs (locally).
//! Errors follow RFC 6750 §3.

use crate::dpop::{DpopFailure, DpopProofs, Scheme, challenge_error};
use crate::keys::KeyRing;
use crate::oauth::BearerError;
use crate::store::UserRead;
use crate::verify::{CheckError, Presented, ResourceRequest, TokenChecker};
use serde_json::{Value, json};
use std::sync::Arc;

pub struct UserInfo {
    pub(crate) keys: Arc<KeyRing>,
    pub(crate) checker: TokenChecker,
    pub(crate) users: Arc<dyn UserRead>,
    /// DPoP-bound tokens' proofs, each used once across instances (one write).
    pub(crate) proofs: DpopProofs,
}

impl UserInfo {
    pub async fn userinfo(&self, request: &ResourceRequest) -> Result<Value, BearerError> {
        let (scheme, token) = match request.token() {
            Presented::Bearer(token) => (Scheme::Bearer, token),
            Presented::Dpop(token) => (Scheme::Dpop, token),
            Presented::Nothing => return Err(BearerError::Missing),
            Presented::Malformed => return Err(BearerError::InvalidRequest("malformed bearer token")),
        };
        // RFC 9449 §7.1: a token presented by the DPoP scheme is refused with its challenge.
        let invalid_token = |description| match scheme {
            Scheme::Bearer => BearerError::InvalidToken(description),
            Scheme::Dpop => BearerError::Dpop { error: "invalid_token", description },
        };
        let keys = self.keys.current().await;
        let claims = match self.checker.check_access_token(&keys, token, None).await {
            Ok(claims) => claims,
            Err(CheckError::Store(err)) => return Err(err.into()),
            Err(CheckError::Revoked(_)) => return Err(invalid_token("the access token was revoked")),
            Err(CheckError::Invalid(_)) => return Err(invalid_token("the access token is invalid or expired")),
        };
        let proofs = request.proofs();
        match self
            .proofs
            .resource_request(scheme, claims.bound_to(), &proofs, &request.proof_target(token), "userinfo")
            .await
        {
            Ok(()) => {}
            Err(DpopFailure::Refused(refused)) => {
                let (error, description) = challenge_error(&refused);
                return Err(BearerError::Dpop { error, description });
            }
            Err(DpopFailure::Store(err)) => return Err(err.into()),
        }
        if !claims.scope.contains("openid") {
            return Err(BearerError::InsufficientScope);
        }
        let user = match self.users.user_profile_by_subject(&claims.sub).await? {
            Some(user) if !user.disabled => user,
            _ => return Err(invalid_token("the user is disabled or gone")),
        };
        let mut info = json!({ "sub": user.sub });
        if claims.scope.contains("profile") {
            info["preferred_username"] = json!(user.username);
        }
        Ok(info)
    }
}
