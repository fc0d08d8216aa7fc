//! Token introspection (RFC 7662). Resource servers registered with `--introspect` may
//! ask about any token; any other client only about tokens issued to itself. Inactive,
//! unknown, expired, revoked and foreign tokens all get exactly `{"active": false}`
//! (§2.2), and an unreachable store is a 503, never `active: true` (ARCHITECTURE.md §3.10).

use crate::config::Config;
use crate::grants::store_failure;
use crate::keys::KeyRing;
use crate::oauth::client_auth::ClientDirectory;
use crate::oauth::{OAuthError, OAuthRequest};
use crate::revocation::TokenKind;
use crate::store::{ClientRecord, FamilyRead, FamilyStatus, RevocationQuery, RevocationRead, RevocationStatus};
use crate::time::UnixTime;
use crate::tokens::refresh::RefreshToken;
use crate::verify::{CheckError, TokenChecker};
use serde_json::{Value, json};
use std::sync::Arc;

pub struct Introspector {
    pub config: Config,
    pub keys: Arc<KeyRing>,
    pub clients: ClientDirectory,
    pub checker: TokenChecker,
    pub families: Arc<dyn FamilyRead>,
    pub revocations: Arc<dyn RevocationRead>,
}

pub fn inactive() -> Value {
    json!({ "active": false })
}

impl Introspector {
    pub async fn introspect(&self, req: &OAuthRequest) -> Result<Value, OAuthError> {
        self.keys.current().await;
        let caller = self.clients.authenticate(req).await?;
        let token = req.required("token", "token is required")?;
        for kind in TokenKind::search_order(req.param("token_type_hint")) {
            let answer = match kind {
                TokenKind::AccessToken => self.access_token(&caller, token).await?,
                TokenKind::RefreshToken => self.refresh_token(&caller, token).await?,
            };
            if let Some(answer) = answer {
                return Ok(answer);
            }
        }
        Ok(inactive())
    }

    /// `None`: not an access token of ours at all (try the next kind).
    async fn access_token(&self, caller: &ClientRecord, token: &str) -> Result<Option<Value>, OAuthError> {
        let claims = match self.checker.check_access_token(token, None).await {
            Ok(claims) => claims,
            Err(CheckError::StoreUnavailable) => return Err(OAuthError::unavailable()),
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
        Ok(Some(answer))
    }

    /// Active only for the family's live generation, within both lifetimes, with the
    /// user enabled and no logout or revoke-all since the login. Two round trips: the
    /// family, then one batch read of its markers and user.
    async fn refresh_token(&self, caller: &ClientRecord, token: &str) -> Result<Option<Value>, OAuthError> {
        let Ok(refresh) = RefreshToken::decode(token, self.keys.snapshot().refresh_mac_key()) else {
            return Ok(None);
        };
        let Some(family) = self.families.family(&refresh.family).await.map_err(store_failure)? else {
            return Ok(Some(inactive()));
        };
        if !may_see(caller, &family.client_id) || family.status != FamilyStatus::Active {
            return Ok(Some(inactive()));
        }
        let owner = self.clients.get(&family.client_id).await.map_err(store_failure)?;
        let idle = owner.and_then(|c| c.lifetimes.refresh_idle).unwrap_or(self.config.lifetimes.refresh_idle);
        let now = UnixTime::now();
        let idle_deadline = family.rotated_at.plus(idle);
        if refresh.generation != family.generation || idle_deadline.has_passed(now) {
            return Ok(Some(inactive()));
        }
        let query = RevocationQuery {
            fid: Some(family.fid.clone()),
            sid: Some(family.sid.clone()),
            subject: Some((family.sub.clone(), family.created_at)),
            username: Some(family.username.clone()),
            ..Default::default()
        };
        match self.revocations.revocation_status(&query).await.map_err(store_failure)? {
            RevocationStatus::Revoked(_) => Ok(Some(inactive())),
            RevocationStatus::Clear => Ok(Some(json!({
                "active": true,
                "token_type": "refresh_token",
                "scope": family.scope,
                "client_id": family.client_id,
                "sub": family.sub,
                "username": family.username,
                "sid": family.sid,
                "iss": self.config.issuer,
                "iat": family.rotated_at,
                "exp": family.expires_at.min(idle_deadline),
            }))),
        }
    }
}

/// RFC 7662 §4: the caller must be authorized to learn about the token.
fn may_see(caller: &ClientRecord, token_client: &crate::ids::ClientId) -> bool {
    caller.may_introspect || &caller.id == token_client
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::keys::{KeyRing, SigningAlgorithm};

    use crate::store::counting::Counting;
    use crate::store::memory::MemoryStore;
    use crate::store::{ClientAdmin, Marker, MarkerWrite};
    use crate::tokens::access::mint;
    use std::time::Duration;

    #[tokio::test]
    async fn an_access_token_check_costs_exactly_one_round_trip_and_sees_revocation_at_once() {
        let store = Arc::new(MemoryStore::new());
        store
            .put_client(&ClientRecord { may_introspect: true, ..crate::testkit::client("rs", &[], "") })
            .await
            .unwrap();
        let counting = Arc::new(Counting::new(store.clone()));
        let keys = Arc::new(KeyRing::ephemeral(SigningAlgorithm::Es256).unwrap());
        let config = crate::testkit::config();
        let introspector = Introspector {
            checker: TokenChecker { keys: keys.clone(), issuer: config.issuer.clone(), revocations: counting.clone() },
            clients: ClientDirectory::new(counting.clone(), Duration::from_secs(60)),
            families: counting.clone(),
            revocations: counting.clone(),
            keys,
            config,
        };
        let now = UnixTime::now();
        let claims = crate::testkit::access_claims("svc", now);
        let token = mint(&introspector.keys.snapshot(), &claims).unwrap();
        let request = || {
            let body = format!("client_id=rs&client_secret={}&token={token}", crate::testkit::CLIENT_SECRET);
            OAuthRequest::parse(Some("application/x-www-form-urlencoded"), None, body.as_bytes()).unwrap()
        };
        assert_eq!(introspector.introspect(&request()).await.unwrap()["active"], true);
        // The first call also read the caller's client record; warm instances have it cached.
        counting.reset();
        assert_eq!(introspector.introspect(&request()).await.unwrap()["active"], true);
        assert_eq!(counting.round_trips(), 1, "one BatchGetItem per introspection");

        store.put_marker(&Marker::Token { jti: claims.jti.clone(), expires_at: claims.exp }).await.unwrap();
        assert_eq!(introspector.introspect(&request()).await.unwrap(), inactive());
    }
}
