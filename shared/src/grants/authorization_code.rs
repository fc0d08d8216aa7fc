//! RFC 6749 §4.1.3 with PKCE (RFC 7636 §4.5, §4.6): the code the login page issued,
//! exchanged for a login's first tokens. One read of the code, then one transaction that
//! redeems it, begins the family, adds the client to the session (which must be live)
//! and checks that no revoke-all or disable of the user came since the login (at most two
//! round trips: docs/ARCHITECTURE.md §5).

use super::{Sender, TokenIssuer, TokenResponse};
use crate::domain::{ClientRecord, Redemption, RevocationCause};
use crate::ids::FamilyId;
use crate::keys::KeySet;
use crate::oauth::{OAuthError, OAuthRequest};
use crate::revocation::FamilyRevoker;
use crate::secrets::digest_of;
use crate::signin::pkce;
use crate::time::UnixTime;
use std::time::Instant;

const INVALID: &str = "the authorization code is invalid, expired or used";

impl TokenIssuer {
    pub(super) async fn authorization_code(
        &self,
        keys: &KeySet,
        req: &OAuthRequest,
        client: &ClientRecord,
        sender: Sender<'_>,
    ) -> Result<TokenResponse, OAuthError> {
        let code = req.required("code", "code is required")?;
        let redirect_uri = req.required("redirect_uri", "redirect_uri is required")?;
        let verifier = req.required("code_verifier", "code_verifier is required (PKCE)")?;
        if !pkce::valid_verifier(verifier) {
            return Err(OAuthError::invalid_request("code_verifier is malformed (RFC 7636 §4.1)"));
        }
        // Not one of our codes: no read.
        if !crate::signin::valid_code(code) {
            return Err(refused(client, "malformed_code"));
        }
        let Some(stored) = self.signins.code(&digest_of(code)).await? else {
            return Err(refused(client, "unknown_code"));
        };
        // Checked before the code is spent: a code presented by the wrong client, with the
        // wrong redirect URI or verifier, is refused and left to its rightful holder.
        if stored.client_id != client.id {
            return Err(refused(client, "another_clients_code"));
        }
        if stored.redirect_uri != redirect_uri {
            return Err(refused(client, "redirect_uri_mismatch"));
        }
        if !pkce::verifies(verifier, &stored.code_challenge) {
            return Err(refused(client, "pkce_mismatch"));
        }
        if let Some(first) = &stored.redeemed_by {
            return Err(self.replayed(client, first).await);
        }
        let now = UnixTime::now();
        if stored.valid_until <= now {
            return Err(refused(client, "expired_code"));
        }
        // The client's scopes today bound what a code issued a minute ago grants.
        let scope = stored.scope.intersection(&client.scopes);
        let mut family = self.new_family(client, &stored.sid, &stored.sub, &stored.username, scope, sender, now);
        // No family outlives its session: a logout's marker lasts only until the session's end.
        family.expires_at = family.expires_at.min(stored.session_ends_at);
        let (response, jti) =
            self.first_tokens(keys, client, &family, stored.auth_time, stored.nonce.as_deref(), sender, now)?;
        match self.signins.redeem_code(&stored, &family, now).await? {
            Redemption::Redeemed => {
                tracing::info!(event = "token.issued", grant_type = "authorization_code", client_id = %client.id,
                    sub = %family.sub, sid = %family.sid, fid = %family.fid, jti = %jti);
                Ok(response)
            }
            // Another exchange of the same code won the race.
            Redemption::Spent(Some(first)) => Err(self.replayed(client, &first).await),
            Redemption::Spent(None) => Err(refused(client, "expired_code")),
            Redemption::SessionGone => Err(refused(client, "session_ended_or_user_revoked")),
        }
    }

    /// A code presented again, by its client with its redirect URI and verifier (anything
    /// less is refused earlier and leaves the code be): the tokens its first exchange
    /// issued are revoked (RFC 6749 §4.1.2), and the answer is `invalid_grant`.
    async fn replayed(&self, client: &ClientRecord, first: &FamilyId) -> OAuthError {
        tracing::warn!(event = "authorization_code.replayed", client_id = %client.id, fid = %first);
        let revoker = FamilyRevoker {
            families: &*self.families,
            markers: &*self.markers,
            lifetimes: &self.config.lifetimes,
            deadline: Instant::now() + self.config.aws.timeouts.retry_window(),
        };
        match revoker.revoke(first, None, RevocationCause::CodeReplay).await {
            Ok(()) => {
                tracing::warn!(event = "refresh_family.revoked", reason = RevocationCause::CodeReplay.as_str(),
                    fid = %first);
                OAuthError::invalid_grant(INVALID)
            }
            Err(err) => err.into(),
        }
    }
}

fn refused(client: &ClientRecord, reason: &'static str) -> OAuthError {
    tracing::warn!(event = "authorization_code.refused", reason, client_id = %client.id);
    OAuthError::invalid_grant(INVALID)
}
