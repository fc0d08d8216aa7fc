//! Token introspection (RFC 7662). Resource servers registered with `--introspect` may
//! ask about any token; any other client only about tokens issued to itself. Inactive,
//! unknown, expired, revoked and foreign tokens all get exactly `{"active": false}`
//! (§2.2), and an unreachable store is a 503, never `active: true` (docs/ARCHITECTURE.md §3.10).
//!
//! A caller that asks for `application/token-introspection+jwt` gets the same answer
//! signed, with itself as the audience (RFC 9701); decided here and nowhere else.

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
use crate::tokens::introspection::{self as signed, INTROSPECTION_JWT_MEDIA_TYPE};
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

/// The answer in the representation the caller asked for.
#[derive(Debug, PartialEq)]
pub enum Introspection {
    /// RFC 7662 §2.2, `application/json`.
    Json(Value),
    /// RFC 9701 §5: the same object as the `token_introspection` claim of a JWT signed
    /// for the caller, `application/token-introspection+jwt`.
    Jwt(String),
}

impl Introspector {
    /// The RFC 7662 answer, whatever the caller's `Accept`.
    pub async fn introspect(&self, req: &OAuthRequest) -> Result<Value, OAuthError> {
        let (_, _, answer) = self.authenticated_answer(req).await?;
        Ok(answer)
    }

    /// What the endpoint sends: the signed answer when `Accept` asks for it, else JSON.
    /// Errors (client authentication, a missing `token`, the store) stay JSON (RFC 9701
    /// §4 signs only the 200 answer).
    pub async fn answer(&self, req: &OAuthRequest) -> Result<Introspection, OAuthError> {
        let (keys, caller, answer) = self.authenticated_answer(req).await?;
        if !asks_for_jwt(req.accept.as_deref()) {
            return Ok(Introspection::Json(answer));
        }
        Ok(Introspection::Jwt(signed::mint(&keys, &self.config.issuer, &caller.id, answer, UnixTime::now())?))
    }

    /// One key snapshot for the whole call: the token is checked, and the answer signed,
    /// with the same set.
    async fn authenticated_answer(&self, req: &OAuthRequest) -> Result<(Arc<KeySet>, ClientRecord, Value), OAuthError> {
        let keys = self.keys.current().await;
        let caller = self.clients.authenticate(req).await?;
        let token = req.required("token", "token is required")?;
        for kind in TokenKind::search_order(req.param("token_type_hint")) {
            let answer = match kind {
                TokenKind::AccessToken => self.access_token(&keys, &caller, token).await?,
                TokenKind::RefreshToken => self.refresh_token(&keys, &caller, token).await?,
            };
            if let Some(answer) = answer {
                return Ok((keys, caller, answer));
            }
        }
        Ok((keys, caller, inactive()))
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
            // RFC 9449 §6.2: a bound token is `DPoP`, and its `cnf` says to which key.
            "token_type": if claims.cnf.is_some() { "DPoP" } else { "Bearer" },
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
        if let Some(cnf) = &claims.cnf {
            answer["cnf"] = json!(cnf);
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

/// Whether `Accept` asks for the signed answer: its media type named (never through a
/// wildcard, so `*/*` stays JSON) with a weight above 0, and no higher weight on
/// `application/json` (RFC 9110 §12.5.1: the most specific range matching a type gives
/// its weight). Type and subtype compare case-insensitively; a malformed `q` drops its
/// range.
fn asks_for_jwt(accept: Option<&str>) -> bool {
    let Some(accept) = accept else { return false };
    let mut jwt = 0;
    // (specificity, weight) of the ranges that match `application/json`.
    let mut json = (0, 0);
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or_default().trim();
        let q = parts
            .filter_map(|param| param.split_once('='))
            .find(|(name, _)| name.trim().eq_ignore_ascii_case("q"))
            .map_or(Some(1000), |(_, value)| weight(value.trim()));
        let Some(q) = q else { continue };
        if media.eq_ignore_ascii_case(INTROSPECTION_JWT_MEDIA_TYPE) {
            jwt = jwt.max(q);
            continue;
        }
        let specificity = match media.to_ascii_lowercase().as_str() {
            "application/json" => 3,
            "application/*" => 2,
            "*/*" => 1,
            _ => continue,
        };
        if (specificity, q) > json {
            json = (specificity, q);
        }
    }
    jwt > 0 && jwt >= json.1
}

/// An RFC 9110 §12.4.2 qvalue in thousandths: `0`, `0.5`, `1.000`; `None` if malformed.
fn weight(value: &str) -> Option<u16> {
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths: u16 = format!("{fraction:0<3}").parse().ok()?;
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Services;
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

    const JWT: &str = "application/token-introspection+jwt";

    /// GIVEN a resource server `rs`, a client `svc` and a live access token of `svc`.
    async fn signed_world() -> (Services, String) {
        let services = kit::services();
        services
            .store()
            .put_client(&ClientRecord { may_introspect: true, ..kit::client("rs", &[], "") })
            .await
            .unwrap();
        services.store().put_client(&kit::client("svc", &[], "read")).await.unwrap();
        let claims = kit::access_claims("svc", UnixTime::now());
        let token = mint(&services.keys().snapshot(), crate::domain::SigningAlgorithm::Es256, &claims).unwrap();
        (services, token)
    }

    fn asking(caller: &str, token: &str, accept: Option<&str>) -> OAuthRequest {
        kit::form_as(caller, &format!("token={token}")).with_accept(accept)
    }

    /// A resource server's check: the `kid`'s key from the JWKS, RS256 pinned, `iss` and
    /// `aud` (the caller) required; the header and claims.
    fn verified(services: &Services, answer: Introspection, caller: &str) -> (jsonwebtoken::Header, Value) {
        let Introspection::Jwt(jwt) = answer else { panic!("not signed: {answer:?}") };
        let header = jsonwebtoken::decode_header(&jwt).unwrap();
        let keys = services.keys().snapshot();
        let jwk = keys.jwks().find(header.kid.as_deref().unwrap()).unwrap();
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        validation.set_issuer(&[kit::ISSUER]);
        validation.set_audience(&[caller]);
        validation.set_required_spec_claims(&["iss", "aud", "iat"]);
        validation.validate_exp = false;
        let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
        (header, jsonwebtoken::decode::<Value>(&jwt, &key, &validation).unwrap().claims)
    }

    #[tokio::test]
    async fn a_caller_asking_for_a_jwt_gets_the_plain_answer_signed_for_itself() {
        let (services, token) = signed_world().await;
        let introspector = services.introspector();
        let plain = introspector.introspect(&asking("rs", &token, None)).await.unwrap();
        assert_eq!(plain["active"], true);
        // WHEN `rs` asks for the signed answer
        let before = UnixTime::now();
        let answer = introspector.answer(&asking("rs", &token, Some(JWT))).await.unwrap();
        // THEN an RS256 `token-introspection+jwt` for `rs`, holding exactly the plain answer
        let (header, claims) = verified(&services, answer, "rs");
        assert_eq!(header.typ.as_deref(), Some("token-introspection+jwt"));
        assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
        assert_eq!((claims["iss"].as_str(), claims["aud"].as_str()), (Some(kit::ISSUER), Some("rs")));
        let iat = claims["iat"].as_u64().unwrap();
        assert!(iat >= before.0 && iat <= UnixTime::now().0, "iat {iat}");
        assert_eq!(claims["token_introspection"], plain);
        let mut names: Vec<&String> = claims.as_object().unwrap().keys().collect();
        names.sort();
        assert_eq!(names, ["aud", "iat", "iss", "token_introspection"]);
    }

    #[tokio::test]
    async fn an_inactive_answer_is_signed_too_and_the_audience_is_always_the_caller() {
        let (services, token) = signed_world().await;
        let introspector = services.introspector();
        // GIVEN a token nobody issued, asked about by `svc`; THEN exactly {"active": false}, for `svc`
        let answer = introspector.answer(&asking("svc", "not-a-token", Some(JWT))).await.unwrap();
        let (_, claims) = verified(&services, answer, "svc");
        assert_eq!(claims["token_introspection"], json!({ "active": false }));
        // GIVEN `svc`'s own live token, asked about by `svc`: active, and still for `svc`
        let answer = introspector.answer(&asking("svc", &token, Some(JWT))).await.unwrap();
        let (_, claims) = verified(&services, answer, "svc");
        assert_eq!(
            (claims["aud"].as_str(), claims["token_introspection"]["active"].as_bool()),
            (Some("svc"), Some(true))
        );
    }

    #[tokio::test]
    async fn without_the_jwt_media_type_or_with_q_0_the_answer_is_the_plain_json() {
        let (services, token) = signed_world().await;
        let introspector = services.introspector();
        let plain = introspector.introspect(&asking("rs", &token, None)).await.unwrap();
        for accept in [None, Some("application/json"), Some("*/*"), Some("application/*"), Some(&format!("{JWT};q=0"))]
        {
            let answer = introspector.answer(&asking("rs", &token, accept)).await.unwrap();
            assert_eq!(answer, Introspection::Json(plain.clone()), "{accept:?}");
        }
    }

    #[tokio::test]
    async fn a_refused_caller_gets_the_json_error_whatever_it_accepts() {
        let (services, token) = signed_world().await;
        let request = kit::form(&format!("client_id=rs&client_secret=wrong&token={token}")).with_accept(Some(JWT));
        let err = services.introspector().answer(&request).await.unwrap_err();
        assert_eq!((err.code.as_str(), err.status()), ("invalid_client", 401));
    }

    #[test]
    fn accept_asks_for_the_jwt_only_by_name_and_with_a_weight_at_least_json_s() {
        let asks = [
            "application/token-introspection+jwt",
            "Application/Token-Introspection+JWT",
            " application/token-introspection+jwt ; charset=utf-8",
            "application/json;q=0.5, application/token-introspection+jwt",
            "application/token-introspection+jwt;q=0.8, */*;q=0.1",
            "application/token-introspection+jwt; Q=1.000, application/json",
            "text/html, application/token-introspection+jwt;q=0.001",
        ];
        for accept in asks {
            assert!(asks_for_jwt(Some(accept)), "{accept}");
        }
        let plain = [
            "",
            "*/*",
            "application/*",
            "application/json",
            "application/jwt",
            "application/token-introspection+jwt;q=0",
            "application/token-introspection+jwt; q=0.000",
            "application/token-introspection+jwt;q=0.5, application/json",
            "application/token-introspection+jwt;q=0.5, */*",
            // A malformed weight drops its range.
            "application/token-introspection+jwt;q=2",
            "application/token-introspection+jwt;q=0.5000",
            "application/token-introspection+jwt;q=-1",
            "application/token-introspection+jwt;q=",
        ];
        for accept in plain {
            assert!(!asks_for_jwt(Some(accept)), "{accept}");
        }
        assert!(!asks_for_jwt(None));
    }
}
