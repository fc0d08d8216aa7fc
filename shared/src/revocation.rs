//! Token revocation (RFC 7009). Revoking an access token puts its `jti` on the denylist
//! until the token would have expired anyway; revoking a refresh token revokes its whole
//! family and, through the family marker, every access token issued from it
//! (docs/ARCHITECTURE.md §3, semantics 1 and 2).

use crate::config::Config;
use crate::domain::{ClientRecord, FamilyRevocation, FamilyStatus, Marker, RevocationCause};
use crate::ids::FamilyId;
use crate::keys::{KeyRing, KeySet};
use crate::oauth::client_auth::ClientDirectory;
use crate::oauth::{OAuthError, OAuthErrorCode, OAuthRequest};
use crate::policy::{Covers, Lifetimes};
use crate::store::{FamilyWrite, MarkerWrite, StoreError};
use crate::time::UnixTime;
use crate::tokens::access::{is_our_other_jwt, verify_access_token_even_expired};
use crate::tokens::refresh::RefreshToken;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The kinds of token this server revokes, in the order a `token_type_hint` asks to try.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    AccessToken,
    RefreshToken,
}

impl TokenKind {
    /// RFC 7009 §2.1: the hint is only a hint. An unknown value is ignored, and a wrong
    /// one just changes the search order.
    pub fn search_order(hint: Option<&str>) -> [TokenKind; 2] {
        match hint {
            Some("refresh_token") => [TokenKind::RefreshToken, TokenKind::AccessToken],
            _ => [TokenKind::AccessToken, TokenKind::RefreshToken],
        }
    }
}

pub struct Revoker {
    pub(crate) config: Arc<Config>,
    pub(crate) keys: Arc<KeyRing>,
    pub(crate) clients: Arc<ClientDirectory>,
    pub(crate) families: Arc<dyn FamilyWrite>,
    pub(crate) markers: Arc<dyn MarkerWrite>,
}

/// Whether a search step found the token.
enum Found {
    Handled,
    NotThisKind,
}

impl Revoker {
    /// Ok means 200: also for an unknown, invalid or already revoked token (RFC 7009 §2.2).
    pub async fn revoke(&self, req: &OAuthRequest) -> Result<(), OAuthError> {
        let keys = self.keys.current().await;
        let client = self.clients.authenticate_or_identify_public(req).await?;
        let token = req.required("token", "token is required")?;
        for kind in TokenKind::search_order(req.param("token_type_hint")) {
            let found = match kind {
                TokenKind::AccessToken => self.revoke_access_token(&keys, &client, token).await?,
                TokenKind::RefreshToken => self.revoke_refresh_token(&keys, &client, token).await?,
            };
            if let Found::Handled = found {
                return Ok(());
            }
        }
        if is_our_other_jwt(&keys, token, &self.config.issuer) {
            return Err(OAuthError::new(
                OAuthErrorCode::UnsupportedTokenType,
                "only access and refresh tokens can be revoked",
            ));
        }
        tracing::info!(event = "revocation.unknown_token", client_id = %client.id);
        Ok(())
    }

    async fn revoke_access_token(
        &self,
        keys: &KeySet,
        client: &ClientRecord,
        token: &str,
    ) -> Result<Found, OAuthError> {
        let Ok(claims) = verify_access_token_even_expired(keys, token, &self.config.issuer) else {
            return Ok(Found::NotThisKind);
        };
        if claims.client_id != client.id {
            return Err(foreign(client));
        }
        let now = UnixTime::now();
        // The entry lives exactly as long as the token could still pass a check.
        let expires_at = self.config.lifetimes.marker_expiry(Covers::Token { exp: claims.exp }, now);
        if expires_at.has_passed(now) {
            return Ok(Found::Handled);
        }
        self.markers.put_marker(&Marker::Token { jti: claims.jti.clone(), expires_at }).await?;
        tracing::info!(event = "access_token.revoked", client_id = %client.id, sub = %claims.sub, jti = %claims.jti);
        Ok(Found::Handled)
    }

    async fn revoke_refresh_token(
        &self,
        keys: &KeySet,
        client: &ClientRecord,
        token: &str,
    ) -> Result<Found, OAuthError> {
        let Ok(refresh) = RefreshToken::decode(token, keys.refresh_mac_key()) else {
            return Ok(Found::NotThisKind);
        };
        let cause = RevocationCause::RevokedByClient;
        let Some(family) = self.families.family(&refresh.family).await? else {
            // The family is gone (expired): its refresh tokens are dead, but access tokens
            // issued from it just before may not be. The MAC proved the token ours.
            self.family_revoker().revoke(&refresh.family, None, cause).await?;
            return Ok(Found::Handled);
        };
        if family.client_id != client.id {
            return Err(foreign(client));
        }
        if family.status == FamilyStatus::Revoked {
            return Ok(Found::Handled);
        }
        self.family_revoker().revoke(&family.fid, Some(family.expires_at), cause).await?;
        tracing::info!(event = "refresh_family.revoked", reason = cause.as_str(), client_id = %client.id,
            sub = %family.sub, fid = %family.fid);
        Ok(Found::Handled)
    }
}

/// Transactions a concurrent refresh cancels are tried this often (within the retry
/// window) before the marker alone stands in for the whole revocation.
const FAMILY_REVOCATION_ATTEMPTS: u32 = 3;
/// And the marker alone this often.
const MARKER_ATTEMPTS: u32 = 2;

/// Revokes families so that a revocation is never lost (docs/ARCHITECTURE.md §3.2,
/// §3.5, §3.7): the family update and its marker in one transaction, tried again when a
/// concurrent transaction (a refresh racing this very revocation: a thief and its victim)
/// cancels it; should that keep failing, the marker alone, which every rotation checks
/// atomically and which outlives the family.
pub(crate) struct FamilyRevoker<'a> {
    pub families: &'a dyn FamilyWrite,
    pub markers: &'a dyn MarkerWrite,
    pub lifetimes: &'a Lifetimes,
    /// No transaction is tried after this; the marker alone is (the caller's request
    /// budget, `StoreTimeouts::retry_window` from its start).
    pub deadline: Instant,
}

impl FamilyRevoker<'_> {
    /// Returns an error only if not even the marker could be written.
    pub async fn revoke(
        &self,
        fid: &FamilyId,
        family_expires_at: Option<UnixTime>,
        cause: RevocationCause,
    ) -> Result<(), StoreError> {
        let now = UnixTime::now();
        let expires_at = self.lifetimes.marker_expiry(Covers::Family { family_expires_at }, now);
        let mut pause = Duration::from_millis(20);
        for _ in 0..FAMILY_REVOCATION_ATTEMPTS {
            if Instant::now() >= self.deadline {
                break;
            }
            match self.families.revoke_family(fid, now, cause, expires_at).await {
                Ok(FamilyRevocation::Revoked) => return Ok(()),
                Ok(FamilyRevocation::FamilyAbsent) => break,
                Err(StoreError::Conflict | StoreError::Unavailable(_)) => {
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                }
                Err(err) => return Err(err),
            }
        }
        let marker = Marker::Family { fid: fid.clone(), revoked_at: now, reason: cause, expires_at };
        let mut last = None;
        for _ in 0..MARKER_ATTEMPTS {
            match self.markers.put_marker(&marker).await {
                Ok(()) => {
                    tracing::warn!(event = "refresh_family.revoked_by_marker", fid = %fid, reason = cause.as_str());
                    return Ok(());
                }
                Err(err) => last = Some(err),
            }
            tokio::time::sleep(pause).await;
        }
        Err(last.unwrap_or_else(|| StoreError::Unavailable("the family marker could not be written".into())))
    }
}

impl Revoker {
    fn family_revoker(&self) -> FamilyRevoker<'_> {
        FamilyRevoker {
            families: &*self.families,
            markers: &*self.markers,
            lifetimes: &self.config.lifetimes,
            deadline: Instant::now() + self.config.aws.timeouts.retry_window(),
        }
    }
}

/// RFC 7009 §2.1: a client may revoke only tokens issued to it. The request is refused
/// and the token stays valid.
fn foreign(client: &ClientRecord) -> OAuthError {
    tracing::warn!(event = "revocation.foreign_token", client_id = %client.id);
    OAuthError::new(OAuthErrorCode::UnauthorizedClient, "the token was not issued to this client")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{GrantType, RevocationQuery, RevocationReason, RevocationStatus, SigningAlgorithm};
    use crate::ids::ClientId;
    use crate::store::{ClientAdmin, RevocationRead, SessionWrite};
    use crate::testing::counting::Counting;
    use crate::testing::kit;
    use crate::testing::memory::MemoryStore;
    use crate::tokens::access::{AccessTokenClaims, mint};

    struct Fixture {
        revoker: Revoker,
        keys: Arc<KeySet>,
        store: Arc<MemoryStore>,
        counting: Arc<Counting<MemoryStore>>,
    }

    /// Clients `app` and `other`, and a revoker whose client cache is warm: the counts
    /// below are the revocation's own round trips.
    async fn fixture() -> Fixture {
        let store = Arc::new(MemoryStore::new());
        for id in ["app", "other"] {
            store.put_client(&kit::client(id, &[GrantType::ClientCredentials], "read")).await.unwrap();
        }
        let counting = Arc::new(Counting::new(store.clone()));
        let services = kit::services_over(counting.clone());
        let revoker = services.revoker();
        for id in ["app", "other"] {
            revoker.clients.get(&ClientId::new(id)).await.unwrap();
        }
        counting.reset();
        Fixture { revoker, keys: services.keys().snapshot(), store, counting }
    }

    fn request(client: &str, token: &str) -> OAuthRequest {
        kit::form_as(client, &format!("token={token}"))
    }

    fn access_token(client: &str) -> AccessTokenClaims {
        kit::access_claims(client, UnixTime::now())
    }

    async fn status(f: &Fixture, query: RevocationQuery) -> RevocationStatus {
        f.store.revocation_status(&query).await.unwrap()
    }

    #[tokio::test]
    async fn an_access_token_is_denylisted_until_it_expires() {
        let f = fixture().await;
        let claims = access_token("app");
        let token = mint(&f.keys, SigningAlgorithm::Es256, &claims).unwrap();
        f.revoker.revoke(&request("app", &token)).await.unwrap();
        let query = RevocationQuery { jti: Some(claims.jti.clone()), ..Default::default() };
        assert_eq!(status(&f, query).await, RevocationStatus::Revoked(RevocationReason::TokenRevoked));
        assert_eq!(f.counting.round_trips(), 1, "an access token revoke is one put, and touches no family");
    }

    #[tokio::test]
    async fn another_clients_token_is_refused_and_left_alone() {
        let f = fixture().await;
        let claims = access_token("app");
        let token = mint(&f.keys, SigningAlgorithm::Es256, &claims).unwrap();
        let err = f.revoker.revoke(&request("other", &token)).await.unwrap_err();
        assert_eq!(err.code, OAuthErrorCode::UnauthorizedClient);
        let query = RevocationQuery { jti: Some(claims.jti), ..Default::default() };
        assert_eq!(status(&f, query).await, RevocationStatus::Clear);
    }

    #[tokio::test]
    async fn a_refresh_token_revoke_costs_two_round_trips_and_kills_the_family() {
        let f = fixture().await;
        let (session, mut family) = kit::session(UnixTime::now(), 3600);
        family.client_id = ClientId::new("app");
        f.store.begin_session(&session, &family).await.unwrap();
        let token = RefreshToken { family: family.fid.clone(), generation: 0 }.encode(f.keys.refresh_mac_key());
        f.revoker.revoke(&request("app", &token)).await.unwrap();
        assert_eq!(f.counting.round_trips(), 2, "family read + revoking write");
        let query = RevocationQuery { fid: Some(family.fid), ..Default::default() };
        assert_eq!(status(&f, query).await, RevocationStatus::Revoked(RevocationReason::FamilyRevoked));
    }

    #[tokio::test]
    async fn unknown_tokens_are_a_quiet_success() {
        let f = fixture().await;
        for token in ["garbage", "a.b.c", "AAAAAAAAAAAAAAAAAAAAAA.0.AAAA"] {
            assert_eq!(f.revoker.revoke(&request("app", token)).await, Ok(()), "{token}");
        }
        assert_eq!(f.counting.round_trips(), 0, "no read for a token that cannot be ours");
    }
}
