//! The decision of the API Gateway Lambda authorizer: the same verifier as everywhere,
//! so an API behind API Gateway stops accepting a revoked token on the next request.

use crate::keys::KeyRing;
use crate::verify::{CheckError, TokenChecker, bearer_token};
use std::collections::HashMap;
use std::sync::Arc;

pub struct Authorizer {
    pub(crate) keys: Arc<KeyRing>,
    pub(crate) checker: TokenChecker,
    /// Accepted `aud` values; `None` accepts any audience of this issuer (`EXPECTED_AUDIENCE=*`).
    pub(crate) audience: Option<Vec<String>>,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Decision {
    pub allow: bool,
    /// Passed to the integration as `$context.authorizer.lambda.*`.
    pub context: HashMap<String, String>,
}

impl Authorizer {
    pub async fn decide(&self, authorization: Option<&str>) -> Decision {
        let deny = |reason: &str| {
            tracing::info!(event = "authorizer.denied", reason);
            Decision { allow: false, context: HashMap::new() }
        };
        let Some(token) = bearer_token(authorization) else {
            return deny("no_bearer_token");
        };
        let keys = self.keys.current().await;
        match self.checker.check_access_token(&keys, token, self.audience.as_deref()).await {
            Ok(claims) => Decision {
                allow: true,
                context: HashMap::from([
                    ("sub".to_string(), claims.sub.to_string()),
                    ("client_id".to_string(), claims.client_id.to_string()),
                    ("scope".to_string(), claims.scope.to_string()),
                    ("jti".to_string(), claims.jti.to_string()),
                ]),
            },
            Err(CheckError::Invalid(err)) => deny(&format!("invalid_token: {err}")),
            Err(CheckError::Revoked(reason)) => deny(reason.as_str()),
            // Fail closed (docs/ARCHITECTURE.md §3.10), and say why.
            Err(CheckError::Store(err)) => {
                err.report();
                deny("store_unavailable")
            }
        }
    }
}
