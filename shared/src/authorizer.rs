//! The decision of the API Gateway Lambda authorizer: the same verifier as everywhere,
//! so an API behind API Gateway stops accepting a revoked token on the next request
//! (`REVOCATION_CHECK=strict`), or within the feed's interval at no read per request
//! (`feed`, docs/ARCHITECTURE.md §3.11).

use crate::dpop::{DpopFailure, DpopProofs, Scheme};
use crate::feed::LocalDenylist;
use crate::keys::{KeyRing, KeySet};
use crate::time::UnixTime;
use crate::tokens::access::{AccessTokenClaims, verify_access_token};
use crate::verify::{CheckError, Presented, ResourceRequest, TokenChecker};
use std::collections::HashMap;
use std::sync::Arc;

pub struct Authorizer {
    pub(crate) keys: Arc<KeyRing>,
    pub(crate) denylist: DenylistCheck,
    /// Accepted `aud` values; `None` accepts any audience of this issuer (`EXPECTED_AUDIENCE=*`).
    pub(crate) audience: Option<Vec<String>>,
    /// DPoP proofs, used once: across instances in strict mode (one write), in this
    /// instance's memory in feed mode (no round trip).
    pub(crate) proofs: DpopProofs,
    /// API Gateway caches this authorizer's answers by the `Authorization` header alone:
    /// a cached allow would pass a bound token with no proof, so none is allowed.
    pub(crate) answers_are_cached: bool,
}

/// Where the authorizer learns of revocations.
pub(crate) enum DenylistCheck {
    /// One strongly consistent read per request.
    Strict(TokenChecker),
    /// The instance's own copy, synced from the revocation feed (boxed: it holds the
    /// replica, and an authorizer is built once per instance).
    Feed { issuer: String, copy: Box<LocalDenylist> },
}

#[derive(Debug, PartialEq, Eq)]
pub struct Decision {
    pub allow: bool,
    /// Passed to the integration as `$context.authorizer.lambda.*`.
    pub context: HashMap<String, String>,
}

/// Why the feed-mode copy could not decide.
enum FeedCheckError {
    Check(CheckError),
    Stale,
}

impl Authorizer {
    pub async fn decide(&self, request: &ResourceRequest) -> Decision {
        let deny = |reason: &str| {
            tracing::info!(event = "authorizer.denied", reason);
            Decision { allow: false, context: HashMap::new() }
        };
        let (scheme, token) = match request.token() {
            Presented::Bearer(token) => (Scheme::Bearer, token),
            Presented::Dpop(token) => (Scheme::Dpop, token),
            Presented::Nothing | Presented::Malformed => return deny("no_bearer_token"),
        };
        if scheme == Scheme::Dpop && self.answers_are_cached {
            tracing::error!(
                event = "authorizer.dpop_with_cache",
                "AuthorizerCacheTtlSeconds is above 0: DPoP proofs cannot be checked, DPoP tokens are refused"
            );
            return deny("dpop_with_authorizer_cache");
        }
        let keys = self.keys.current().await;
        let checked = match &self.denylist {
            DenylistCheck::Strict(checker) => {
                checker.check_access_token(&keys, token, self.audience.as_deref()).await.map_err(FeedCheckError::Check)
            }
            DenylistCheck::Feed { issuer, copy } => self.check_from_copy(&keys, token, issuer, copy).await,
        };
        let checked = match checked {
            Ok(claims) => {
                let proofs = request.proofs();
                let target = request.proof_target(token);
                match self.proofs.resource_request(scheme, claims.bound_to(), &proofs, &target, "authorizer").await {
                    Ok(()) => Ok(claims),
                    Err(DpopFailure::Refused(refused)) => return deny(&format!("dpop: {refused}")),
                    Err(DpopFailure::Store(err)) => Err(FeedCheckError::Check(CheckError::Store(err))),
                }
            }
            Err(err) => Err(err),
        };
        match checked {
            Ok(claims) => {
                let mut context = HashMap::from([
                    ("sub".to_string(), claims.sub.to_string()),
                    ("client_id".to_string(), claims.client_id.to_string()),
                    ("scope".to_string(), claims.scope.to_string()),
                    ("jti".to_string(), claims.jti.to_string()),
                ]);
                if let Some(jkt) = claims.bound_to() {
                    context.insert("jkt".to_string(), jkt.to_string());
                }
                Decision { allow: true, context }
            }
            Err(FeedCheckError::Check(CheckError::Invalid(err))) => deny(&format!("invalid_token: {err}")),
            Err(FeedCheckError::Check(CheckError::Revoked(reason))) => deny(reason.as_str()),
            // Fail closed (docs/ARCHITECTURE.md §3.10), and say why.
            Err(FeedCheckError::Check(CheckError::Store(err))) => {
                err.report();
                deny("store_unavailable")
            }
            Err(FeedCheckError::Stale) => {
                tracing::error!(event = "feed.stale", "the denylist copy is older than the staleness bound");
                deny("feed_stale")
            }
        }
    }

    async fn check_from_copy(
        &self,
        keys: &KeySet,
        token: &str,
        issuer: &str,
        copy: &LocalDenylist,
    ) -> Result<AccessTokenClaims, FeedCheckError> {
        let audience = self.audience.as_deref();
        let claims = verify_access_token(keys, token, issuer, audience, UnixTime::now())
            .map_err(|err| FeedCheckError::Check(CheckError::Invalid(err)))?;
        match copy.revocation(&claims).await {
            Ok(None) => Ok(claims),
            Ok(Some(reason)) => Err(FeedCheckError::Check(CheckError::Revoked(reason))),
            Err(_stale) => Err(FeedCheckError::Stale),
        }
    }
}

#[cfg(test)]
mod tests;
