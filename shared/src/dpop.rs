//! DPoP (RFC 9449) at this service's endpoints: proofs at the token endpoint, which bind
//! the tokens to the client's key, and the checks of a bound token at userinfo and the
//! authorizer. The proof checks themselves are the guard crate's (`guard::dpop`), so a
//! resource server checks exactly as these functions do.
//!
//! Every proof's `jti` is used once: across instances, by one conditional write
//! (`OneTimeUse`), or, where a request may cost no round trip (the authorizer in feed
//! mode), in the instance's own memory (`guard::dpop::ReplayCache`).

use crate::domain::OneTimeId;
use crate::ids::{ClientId, FamilyId};
use crate::oauth::OAuthError;
use crate::store::{OneTimeUse, StoreError};
use crate::time::UnixTime;
pub use guard::dpop::{
    BindingError, CHALLENGE_ALGS, ProofError, ProofTarget, ReplayCache, SIGNING_ALGS, Scheme, VerifiedProof,
    check_binding, single_proof, verify_proof,
};
use std::sync::Arc;

/// Where used proof ids are remembered.
pub enum ProofReplay {
    /// One conditional write per proof, seen by every instance.
    Shared(Arc<dyn OneTimeUse>),
    /// This instance's memory: no round trip; a replay to another instance within the
    /// proof's window goes unseen.
    Local(ReplayCache),
}

/// Why a resource refused a token's presentation, or could not decide.
#[derive(Debug)]
pub enum DpopFailure {
    Refused(BindingError),
    Store(StoreError),
}

pub struct DpopProofs {
    replay: ProofReplay,
}

impl DpopProofs {
    pub fn new(replay: ProofReplay) -> Self {
        Self { replay }
    }

    /// A token request's proof (RFC 9449 §5), if it sent one: checked for `POST` to
    /// `url`, and used up. `None` without a `DPoP` header.
    pub async fn token_request(&self, proofs: &[&str], url: &str) -> Result<Option<VerifiedProof>, OAuthError> {
        if proofs.is_empty() {
            return Ok(None);
        }
        let target = ProofTarget { method: "POST", url, access_token: None, now: UnixTime::now().0 };
        let proof = single_proof(proofs).and_then(|proof| verify_proof(proof, &target)).map_err(|reason| {
            log_rejected(BindingError::Proof(reason), "token");
            OAuthError::invalid_dpop_proof("the DPoP proof is invalid")
        })?;
        match self.use_once(&proof).await {
            Ok(()) => Ok(Some(proof)),
            Err(DpopFailure::Refused(reason)) => {
                log_rejected(reason, "token");
                Err(OAuthError::invalid_dpop_proof("the DPoP proof was used before"))
            }
            Err(DpopFailure::Store(err)) => Err(err.into()),
        }
    }

    /// A resource request: the token (verified) was presented by `scheme`, bound to
    /// `bound_to`; the proof must match the request and the key, and be new.
    pub async fn resource_request(
        &self,
        scheme: Scheme,
        bound_to: Option<&str>,
        proofs: &[&str],
        target: &ProofTarget<'_>,
        endpoint: &'static str,
    ) -> Result<(), DpopFailure> {
        let checked = match check_binding(scheme, bound_to, proofs, target) {
            Ok(None) => return Ok(()),
            Ok(Some(proof)) => self.use_once(&proof).await,
            Err(refused) => Err(DpopFailure::Refused(refused)),
        };
        if let Err(DpopFailure::Refused(reason)) = &checked {
            log_rejected(*reason, endpoint);
        }
        checked
    }

    async fn use_once(&self, proof: &VerifiedProof) -> Result<(), DpopFailure> {
        let replayed = || DpopFailure::Refused(BindingError::Proof(ProofError::Replayed));
        match &self.replay {
            ProofReplay::Shared(store) => {
                let id = OneTimeId::DpopProof { jkt: proof.jkt.clone(), jti: proof.jti.clone() };
                match store.use_once(&id, UnixTime(proof.replay_expiry())).await {
                    Ok(true) => Ok(()),
                    Ok(false) => Err(replayed()),
                    Err(err) => Err(DpopFailure::Store(err)),
                }
            }
            ProofReplay::Local(cache) => cache
                .use_once(proof, UnixTime::now().0)
                .map_err(|reason| DpopFailure::Refused(BindingError::Proof(reason))),
        }
    }
}

/// A token request that needed a proof and sent none (a client registered
/// `dpop_bound_access_tokens`, or a bound refresh family): logged like any refused proof,
/// answered `invalid_dpop_proof`.
pub(crate) fn proof_required(client_id: &ClientId, family: Option<&FamilyId>, description: &'static str) -> OAuthError {
    tracing::warn!(event = "dpop.proof_rejected", reason = "missing_proof", endpoint = "token", client_id = %client_id,
        fid = family.map(FamilyId::as_str));
    OAuthError::invalid_dpop_proof(description)
}

/// A refused proof is a security event: someone may hold a token without its key.
fn log_rejected(reason: BindingError, endpoint: &'static str) {
    tracing::warn!(event = "dpop.proof_rejected", reason = %reason, endpoint);
}

/// What an RFC 6750 / RFC 9449 challenge says of a refusal: `invalid_token` when the
/// token was presented by the wrong scheme, `invalid_dpop_proof` for the proof itself.
pub fn challenge_error(refused: &BindingError) -> (&'static str, &'static str) {
    match refused {
        BindingError::BoundTokenAsBearer => ("invalid_token", "the access token is DPoP-bound: use the DPoP scheme"),
        BindingError::UnboundTokenAsDpop => ("invalid_token", "the access token is not DPoP-bound"),
        BindingError::Proof(ProofError::Replayed) => ("invalid_dpop_proof", "the DPoP proof was used before"),
        BindingError::Proof(ProofError::WrongKey) => {
            ("invalid_dpop_proof", "the DPoP proof is not signed by the token's key")
        }
        BindingError::Proof(_) => ("invalid_dpop_proof", "the DPoP proof is missing or invalid"),
    }
}
