//! The refresh-token grant (RFC 6749 §6) with rotation, reuse detection and
//! single-successor grace (docs/ARCHITECTURE.md §3, semantics 2, 5, 6, 7).
//!
//! A refresh is one read of the family and one transaction (`FamilyWrite::rotate`). The
//! family item holds only the live generation `g`. A presented generation `p`:
//! * `p == g`: advance the family to `g + 1` and answer with the successor;
//! * `p == g - 1`, rotated within the grace window: answer with the *same* successor
//!   (re-derived, never re-issued differently), so the family never branches;
//! * anything older: reuse. The whole family and its access tokens are revoked.

use super::{LoginBinding, Sender, TokenIssuer, TokenResponse};
use crate::domain::{
    ClientRecord, FamilyRecord, LoginGuard, RevocationCause, RevocationQuery, RevocationStatus, Rotation, RotationKind,
    RotationOutcome, Scope,
};
use crate::keys::KeySet;
use crate::oauth::{OAuthError, OAuthRequest};
use crate::policy::FamilyState;
use crate::revocation::FamilyRevoker;
use crate::time::UnixTime;
use crate::tokens::refresh::RefreshToken;
use std::time::Instant;

/// How often a refresh starts over after DynamoDB cancelled its transaction for a
/// conflicting concurrent one (nothing was written; the next read sees the winner).
const MAX_ATTEMPTS: usize = 3;

const INVALID: &str = "the refresh token is invalid, expired or revoked";

/// What the family's state means for the presented token.
enum Verdict {
    Rotate(RotationKind),
    Reuse,
    Refuse(&'static str),
}

impl TokenIssuer {
    pub(super) async fn refresh(
        &self,
        keys: &KeySet,
        req: &OAuthRequest,
        client: &ClientRecord,
        sender: Sender<'_>,
    ) -> Result<TokenResponse, OAuthError> {
        let presented = req.required("refresh_token", "refresh_token is required")?;
        // The MAC is checked before anything is read: a forged, truncated or
        // garbage token costs no round trip.
        let token = RefreshToken::decode(presented, keys.refresh_mac_key()).map_err(|_| {
            tracing::warn!(event = "refresh_token.invalid", client_id = %client.id, reason = "malformed_or_forged");
            OAuthError::invalid_grant(INVALID)
        })?;
        let successor = token.successor().ok_or(OAuthError::invalid_grant(INVALID))?;

        // Each attempt is two store calls; a new one starts only inside the retry window,
        // so the function answers well inside its Lambda timeout (docs/operations.md).
        let deadline = Instant::now() + self.config.aws.timeouts.retry_window();
        for _ in 0..MAX_ATTEMPTS {
            if Instant::now() >= deadline {
                break;
            }
            let now = UnixTime::now();
            let Some(family) = self.families.family(&token.family).await? else {
                tracing::info!(event = "refresh_token.invalid", client_id = %client.id, fid = %token.family,
                    reason = "unknown_or_expired_family");
                return Err(OAuthError::invalid_grant(INVALID));
            };
            // RFC 6749 §6 and §10.4: a refresh token is bound to its client. Another
            // client's token is refused and left untouched (not burnt).
            if family.client_id != client.id {
                tracing::warn!(event = "refresh_token.foreign_client", client_id = %client.id, fid = %family.fid);
                return Err(OAuthError::invalid_grant(INVALID));
            }
            // A family belongs to the registration it began under: a client removed and
            // added again with the same id inherits nothing.
            if family.client_epoch != client.epoch {
                return Err(refused(client, &family, "client_re_registered"));
            }
            // RFC 9449 §5: a bound family refreshes only with a proof by its key. Refused
            // without touching the family: whoever holds the token without the key has
            // reused nothing.
            if let Some(bound) = family.dpop_jkt.as_deref() {
                match sender.jkt {
                    None => {
                        let needs = "this refresh token is DPoP-bound: send a proof by its key";
                        return Err(crate::dpop::proof_required(&client.id, Some(&family.fid), needs));
                    }
                    Some(jkt) if jkt != bound => return Err(refused(client, &family, "dpop_key_mismatch")),
                    Some(_) => {}
                }
            }
            let scope = refresh_scope(req, &family, client)?;
            let binding =
                LoginBinding { sid: family.sid.clone(), fid: family.fid.clone(), auth_time: family.created_at };
            // Signed before the write, so that a signing failure leaves nothing behind.
            let (access_token, expires_in, jti) =
                self.mint_access(keys, client, &scope, family.sub.clone(), Some(binding), sender, now)?;
            let respond = || TokenResponse {
                access_token: access_token.clone(),
                token_type: sender.token_type(),
                expires_in,
                scope: scope.clone(),
                refresh_token: Some(successor.encode(keys.refresh_mac_key())),
                id_token: None,
            };

            let kind = match self.judge(client, &family, token.generation, now) {
                Verdict::Rotate(kind) => kind,
                Verdict::Reuse => return Err(self.reuse_detected(client, &family, token.generation, deadline).await),
                Verdict::Refuse(reason) => return Err(refused(client, &family, reason)),
            };
            // RFC 9449 §5: a public client's refresh token issued in answer to a proof is
            // bound to its key, also when the family began without one.
            let bind_dpop_jkt = match (kind, family.dpop_jkt.as_deref(), sender.jkt) {
                (RotationKind::Advance { .. }, None, Some(jkt)) if client.is_public() => Some(jkt.to_string()),
                _ => None,
            };
            let rotation =
                Rotation { family: family.fid.clone(), kind, now, guard: LoginGuard::of(&family), bind_dpop_jkt };
            match self.families.rotate(&rotation).await? {
                RotationOutcome::Committed => {
                    let event = match kind {
                        RotationKind::Advance { .. } => "refresh_token.rotated",
                        RotationKind::Grace { .. } => "refresh_token.grace_reissued",
                    };
                    tracing::info!(event, client_id = %client.id, sub = %family.sub, fid = %family.fid,
                        generation = successor.generation, jti = %jti);
                    return Ok(respond());
                }
                // Lost a race: the family as the winner left it decides, without a
                // second read of it. The winner checked the login guard, but a logout,
                // revoke-all or disable may have come since: the grace answer is given
                // only if the family's markers and user still allow it now (a read, so
                // that the race's losers do not contend for the family item again).
                RotationOutcome::FamilyChanged(Some(current)) => {
                    return match self.judge(client, &current, token.generation, now) {
                        Verdict::Rotate(RotationKind::Grace { .. }) => {
                            // The winner may have bound the family to its key.
                            if current.dpop_jkt.as_deref().is_some_and(|bound| sender.jkt != Some(bound)) {
                                return Err(refused(client, &current, "dpop_key_mismatch"));
                            }
                            if let RevocationStatus::Revoked(reason) =
                                self.revocations.revocation_status(&RevocationQuery::of_family(&current)).await?
                            {
                                return Err(refused(client, &current, reason.as_str()));
                            }
                            tracing::info!(event = "refresh_token.grace_reissued", client_id = %client.id,
                                sub = %current.sub, fid = %current.fid, generation = successor.generation, jti = %jti);
                            Ok(respond())
                        }
                        Verdict::Reuse => Err(self.reuse_detected(client, &current, token.generation, deadline).await),
                        // The family looks as expected, yet the write failed: it expired in
                        // between. Nothing was reused.
                        Verdict::Rotate(RotationKind::Advance { .. }) => {
                            Err(refused(client, &current, "family_expired"))
                        }
                        Verdict::Refuse(reason) => Err(refused(client, &current, reason)),
                    };
                }
                RotationOutcome::FamilyChanged(None) => return Err(refused(client, &family, "family_gone")),
                RotationOutcome::UserRefused => return Err(refused(client, &family, "user_disabled_or_gone")),
                RotationOutcome::SubjectRevoked => return Err(refused(client, &family, "subject_revoked")),
                RotationOutcome::SessionRevoked => return Err(refused(client, &family, "session_revoked")),
                RotationOutcome::FamilyRevoked => return Err(refused(client, &family, "family_revoked")),
                RotationOutcome::Contended => continue,
            }
        }
        tracing::error!(event = "refresh_token.contended", client_id = %client.id, fid = %token.family);
        Err(OAuthError::unavailable())
    }

    fn judge(&self, client: &ClientRecord, family: &FamilyRecord, presented: u32, now: UnixTime) -> Verdict {
        let lifetimes = self.lifetimes(client);
        match lifetimes.family_state(family, now) {
            FamilyState::Revoked => return Verdict::Refuse("family_revoked"),
            FamilyState::Idle => return Verdict::Refuse("idle_timeout"),
            FamilyState::Live => {}
        }
        let grace = lifetimes.refresh_grace;
        let current = family.generation;
        if presented == current {
            return Verdict::Rotate(RotationKind::Advance { from: presented });
        }
        if presented > current {
            // Only a rolled-back table can produce a valid MAC for a future generation.
            return Verdict::Refuse("generation_ahead_of_family");
        }
        let just_rotated = presented + 1 == current;
        let within_grace = grace > 0 && now.0.saturating_sub(family.rotated_at.0) <= grace;
        if just_rotated && within_grace {
            let rotated_since = UnixTime(now.0.saturating_sub(grace));
            return Verdict::Rotate(RotationKind::Grace { current, rotated_since });
        }
        Verdict::Reuse
    }

    /// Semantics 5: the family and every access token issued from it are revoked, and
    /// the event is logged for audit.
    async fn reuse_detected(
        &self,
        client: &ClientRecord,
        family: &FamilyRecord,
        presented: u32,
        deadline: Instant,
    ) -> OAuthError {
        tracing::warn!(event = "refresh_token.reuse_detected", client_id = %client.id, sub = %family.sub,
            sid = %family.sid, fid = %family.fid, presented_generation = presented, current_generation = family.generation);
        let cause = RevocationCause::RefreshTokenReuse;
        let revoker = FamilyRevoker {
            families: &*self.families,
            markers: &*self.markers,
            lifetimes: &self.config.lifetimes,
            deadline,
        };
        let revoked = revoker.revoke(&family.fid, Some(family.expires_at), cause).await;
        match revoked {
            Ok(()) => {
                tracing::warn!(event = "refresh_family.revoked", reason = cause.as_str(), fid = %family.fid, sub = %family.sub);
                OAuthError::invalid_grant(INVALID)
            }
            Err(err) => err.into(),
        }
    }
}

fn refused(client: &ClientRecord, family: &FamilyRecord, reason: &'static str) -> OAuthError {
    tracing::info!(event = "refresh_token.refused", reason, client_id = %client.id, sub = %family.sub, fid = %family.fid);
    OAuthError::invalid_grant(INVALID)
}

/// RFC 6749 §6: a refresh may narrow the scope, never widen it; and the client must
/// still hold every scope it asks for. Without a `scope`, the grant's scope narrowed to
/// what the client holds today (a client whose scopes were narrowed narrows its families).
fn refresh_scope(req: &OAuthRequest, family: &FamilyRecord, client: &ClientRecord) -> Result<Scope, OAuthError> {
    let scope = match req.param("scope") {
        None => return Ok(family.scope.intersection(&client.scopes)),
        Some(raw) => super::scope_param(raw)?,
    };
    if !scope.is_subset_of(&family.scope) {
        return Err(OAuthError::invalid_scope("a refresh cannot widen the scope of the original grant"));
    }
    if !scope.is_subset_of(&client.scopes) {
        return Err(OAuthError::invalid_scope("the client no longer holds the requested scope"));
    }
    Ok(scope)
}
