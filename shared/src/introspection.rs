//! Token introspection (RFC 7662). Resource servers registered with `--introspect` may
//! ask about any token; any other client only about tokens issued to itself. Inactive,
//! unknown, expired, revoked and foreign tokens all get exactly `{"active": false}`
//! (§2.2), and an unreachable store is a 503, never `active: true` (docs/ARCHITECTURE.md §3.10).

use crate::config::Config;
use crate::domain::{ClientRecord, RevocationQuery, RevocationStatus};
use crate::ids::ClientId;
use crate::keys::{KeyRing, KeySet};
use crate::oauth::client_auth::ClientDirectory;
use crate::oauth::{OAuthError, OAuthRequest};
use crate::policy::FamilyState;
use crate::revocation::TokenKind;
use crate::store::{FamilyRead, RevocationRead};
use crate::time::UnixTime;
use crate::tokens::refresh::RefreshToken;
use crate::verify::{CheckError, TokenChecker};
use serde_json::{Value, json};
use std::sync::Arc;

pub struct Introspector {
    pub(crate) config: Arc<Config>,
    pub(crate) keys: Arc<KeyRing>,
    pub(crate) clients: Arc<ClientDirectory>,
    pub(crate) checker: TokenChecker,
    pub(crate) families: Arc<dyn FamilyRead>,
    pub(crate) revocations: Arc<dyn RevocationRead>,
}

/// An empty `scope` is not a scope value (RFC 6749 §3.3): left out.
fn without_empty_scope(mut answer: Value) -> Value {
    if answer["scope"] == ""
        && let Some(fields) = answer.as_object_mut()
    {
        fields.remove("scope");
    }
    answer
}

pub fn inactive() -> Value {
    json!({ "active": false })
}

impl Introspector {
    pub async fn introspect(&self, req: &OAuthRequest) -> Result<Value, OAuthError> {
        let keys = self.keys.current().await;
        let caller = self.clients.authenticate(req).await?;
        let token = req.required("token", "token is required")?;
        for kind in TokenKind::search_order(req.param("token_type_hint")) {
            let answer = match kind {
                TokenKind::AccessToken => self.access_token(&keys, &caller, token).await?,
                TokenKind::RefreshToken => self.refresh_token(&keys, &caller, token).await?,
            };
            if let Some(answer) = answer {
                return Ok(answer);
            }
        }
        Ok(inactive())
    }

    /// `None`: not an access token of ours at all (try the next kind).
    async fn access_token(
        &self,
        keys: &KeySet,
        caller: &ClientRecord,
        token: &str,
    ) -> Result<Option<Value>, OAuthError> {
        let claims = match self.checker.check_access_token(keys, token, None).await {
            Ok(claims) => claims,
            Err(CheckError::Store(err)) => return Err(err.into()),
            Err(CheckError::Revoked(_)) => return Ok(Some(inactive())),
            Err(CheckError::Invalid(_)) => return Ok(None),
        };
        if !may_see(caller, &claims.client_id) {
            return Ok(Some(inactive()));
        }
        let mut answer = json!({
            "active": true,
            "token_type": "Bearer",
            "scope": claims.scope,
            "client_id": claims.client_id,
            "sub": claims.sub,
            "aud": claims.aud,
            "iss": claims.iss,
            "exp": claims.exp,
            "iat": claims.iat,
            "jti": claims.jti,
        });
        if let Some(sid) = &claims.sid {
            answer["sid"] = json!(sid);
        }
        Ok(Some(without_empty_scope(answer)))
    }

    /// Active only for the family's live generation, within both lifetimes, with the
    /// user enabled and no logout or revoke-all since the login. Two round trips: the
    /// family, then one batch read of its markers and user.
    async fn refresh_token(
        &self,
        keys: &KeySet,
        caller: &ClientRecord,
        token: &str,
    ) -> Result<Option<Value>, OAuthError> {
        let Ok(refresh) = RefreshToken::decode(token, keys.refresh_mac_key()) else {
            return Ok(None);
        };
        let Some(family) = self.families.family(&refresh.family).await? else {
            return Ok(Some(inactive()));
        };
        if !may_see(caller, &family.client_id) {
            return Ok(Some(inactive()));
        }
        // The family's registration must still be the client's: a removed client's
        // families are dead, and so are those of an earlier registration of its id.
        let owner = match self.clients.get(&family.client_id).await? {
            Some(owner) if owner.epoch == family.client_epoch => owner,
            _ => return Ok(Some(inactive())),
        };
        let lifetimes = self.config.lifetimes.for_client(&owner);
        let now = UnixTime::now();
        let idle_deadline = lifetimes.idle_deadline(&family);
        if refresh.generation != family.generation || lifetimes.family_state(&family, now) != FamilyState::Live {
            return Ok(Some(inactive()));
        }
        let query = RevocationQuery::of_family(&family);
        match self.revocations.revocation_status(&query).await? {
            RevocationStatus::Revoked(_) => Ok(Some(inactive())),
            // No `token_type`: RFC 7662 §2.2 means an access token type (RFC 6749 §7.1),
            // which a refresh token does not have.
            RevocationStatus::Clear => Ok(Some(without_empty_scope(json!({
                "active": true,
                "scope": family.scope.intersection(&owner.scopes),
                "client_id": family.client_id,
                "sub": family.sub,
                "username": family.username,
                "sid": family.sid,
                "iss": self.config.issuer,
                "iat": family.rotated_at,
                "exp": family.expires_at.min(idle_deadline),
            })))),
        }
    }
}

/// RFC 7662 §4: the caller must be authorized to learn about the token.
fn may_see(caller: &ClientRecord, token_client: &ClientId) -> bool {
    caller.may_introspect || &caller.id == token_client
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Marker;
    use crate::store::{ClientAdmin, MarkerWrite};
    use crate::testing::counting::Counting;
    use crate::testing::kit;
    use crate::testing::memory::MemoryStore;
    use crate::tokens::access::mint;

    #[tokio::test]
    async fn an_access_token_check_costs_exactly_one_round_trip_and_sees_revocation_at_once() {
        let store = Arc::new(MemoryStore::new());
        store.put_client(&ClientRecord { may_introspect: true, ..kit::client("rs", &[], "") }).await.unwrap();
        let counting = Arc::new(Counting::new(store.clone()));
        let services = kit::services_over(counting.clone());
        let introspector = services.introspector();
        let claims = kit::access_claims("svc", UnixTime::now());
        let token = mint(&services.keys().snapshot(), crate::domain::SigningAlgorithm::Es256, &claims).unwrap();
        let request = || kit::form_as("rs", &format!("token={token}"));
        assert_eq!(introspector.introspect(&request()).await.unwrap()["active"], true);
        // The first call also read the caller's client record; warm instances have it cached.
        counting.reset();
        assert_eq!(introspector.introspect(&request()).await.unwrap()["active"], true);
        assert_eq!(counting.round_trips(), 1, "one BatchGetItem per introspection");

        store.put_marker(&Marker::Token { jti: claims.jti.clone(), expires_at: claims.exp }).await.unwrap();
        assert_eq!(introspector.introspect(&request()).await.unwrap(), inactive());
    }
}
