//! The one access-token check every resource-facing function uses (introspection, the
//! authorizer, userinfo): a local JWT verification, then one strongly consistent
//! denylist read. Revocation takes effect on the very next check (docs/ARCHITECTURE.md §3.1),
//! and an unreachable store fails closed (§3.10).

use crate::domain::{RevocationQuery, RevocationReason, RevocationStatus};
use crate::keys::KeySet;
use crate::store::{RevocationRead, StoreError};
use crate::time::UnixTime;
use crate::tokens::TokenError;
use crate::tokens::access::{AccessTokenClaims, verify_access_token};
use std::sync::Arc;

#[derive(Debug)]
pub enum CheckError {
    /// Not a valid access token of ours (bad signature, type, issuer, audience, expired).
    Invalid(TokenError),
    /// Valid, but on the denylist.
    Revoked(RevocationReason),
    /// The denylist could not be read: the caller must deny (and its error conversion
    /// says why in the log).
    Store(StoreError),
}

pub struct TokenChecker {
    pub issuer: String,
    pub revocations: Arc<dyn RevocationRead>,
}

impl TokenChecker {
    /// `keys`: the request's one snapshot of the key ring. `audience`: the accepted `aud`
    /// values, or `None` for any audience of this issuer.
    pub async fn check_access_token(
        &self,
        keys: &KeySet,
        token: &str,
        audience: Option<&[String]>,
    ) -> Result<AccessTokenClaims, CheckError> {
        let now = UnixTime::now();
        let claims = verify_access_token(keys, token, &self.issuer, audience, now).map_err(CheckError::Invalid)?;
        match self.revocations.revocation_status(&denylist_query(&claims)).await {
            Ok(RevocationStatus::Clear) => Ok(claims),
            Ok(RevocationStatus::Revoked(reason)) => Err(CheckError::Revoked(reason)),
            Err(err) => Err(CheckError::Store(err)),
        }
    }
}

/// The markers that could revoke this token: its own, its family's, its session's, its
/// subject's revoke-all and its client's removal. Client-credentials tokens have no
/// session, and their `sub` is a client id, so the subject marker applies to user tokens
/// only.
pub fn denylist_query(claims: &AccessTokenClaims) -> RevocationQuery {
    RevocationQuery {
        jti: Some(claims.jti.clone()),
        fid: claims.fid.clone(),
        sid: claims.sid.clone(),
        subject: claims.sid.as_ref().map(|_| (claims.sub.clone(), claims.iat)),
        client: Some((claims.client_id.clone(), claims.iat)),
        username: None,
    }
}

/// A protected resource request as the checks need it: the `Authorization` header, every
/// `DPoP` header line, and the method and URL a proof must name.
#[derive(Clone, Default)]
pub struct ResourceRequest {
    pub authorization: Option<String>,
    pub dpop: Vec<String>,
    pub method: String,
    pub url: String,
}

/// Shows neither the token nor the proofs: both are credentials until they expire.
impl std::fmt::Debug for ResourceRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResourceRequest")
            .field("authorization", &self.authorization.as_ref().map(|_| "<redacted>"))
            .field("dpop_proofs", &self.dpop.len())
            .field("method", &self.method)
            .field("url", &self.url)
            .finish()
    }
}

impl ResourceRequest {
    /// A request with this `Authorization` header and nothing else (no proof).
    pub fn with_authorization(authorization: Option<&str>) -> Self {
        Self { authorization: authorization.map(str::to_string), ..Self::default() }
    }

    /// The token and the scheme it came by, if the header holds one.
    pub fn token(&self) -> Presented<'_> {
        bearer_credentials(self.authorization.as_deref())
    }

    pub fn proofs(&self) -> Vec<&str> {
        self.dpop.iter().map(String::as_str).collect()
    }

    /// What a proof sent with `token` must match (`htm`, `htu`, `ath`), now.
    pub fn proof_target<'a>(&'a self, token: &'a str) -> crate::dpop::ProofTarget<'a> {
        crate::dpop::ProofTarget {
            method: &self.method,
            url: &self.url,
            access_token: Some(token),
            now: UnixTime::now().0,
        }
    }
}

/// `Authorization: Bearer <token>` (RFC 6750 §2.1).
pub fn bearer_token(header: Option<&str>) -> Option<&str> {
    match bearer_credentials(header) {
        Presented::Bearer(token) => Some(token),
        Presented::Nothing | Presented::Malformed | Presented::Dpop(_) => None,
    }
}

/// What an `Authorization` header presents to a protected resource (RFC 6750 §2.1):
/// the guard crate's parser, so that a resource server reads the header as these
/// functions do.
pub use guard::bearer::{Presented, bearer_credentials};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Marker, Scope, SigningAlgorithm};
    use crate::ids::{ClientId, Jti, Sid, Subject};
    use crate::keys::KeySetDocument;
    use crate::store::MarkerWrite;
    use crate::testing::counting::Counting;
    use crate::testing::memory::MemoryStore;
    use crate::tokens::access::mint;

    const ISS: &str = "https://auth.example.com";

    fn setup() -> (TokenChecker, KeySet, Arc<MemoryStore>, Arc<Counting<MemoryStore>>) {
        let store = Arc::new(MemoryStore::new());
        let counting = Arc::new(Counting::new(store.clone()));
        let keys = KeySet::from_document(&KeySetDocument::generate(SigningAlgorithm::Es256).unwrap()).unwrap();
        (TokenChecker { issuer: ISS.into(), revocations: counting.clone() }, keys, store, counting)
    }

    fn claims(sid: Option<Sid>) -> AccessTokenClaims {
        let now = UnixTime::now();
        AccessTokenClaims {
            cnf: None,
            iss: ISS.into(),
            sub: Subject::new("u"),
            aud: "api".into(),
            exp: now.plus(600),
            iat: now,
            jti: Jti::random(),
            client_id: ClientId::new("c"),
            scope: Scope::parse("read").unwrap(),
            sid,
            fid: None,
            auth_time: None,
        }
    }

    #[tokio::test]
    async fn a_revoked_token_fails_on_the_next_check_with_one_round_trip() {
        let (checker, keys, store, counting) = setup();
        let claims = claims(Some(Sid::random()));
        let token = mint(&keys, SigningAlgorithm::Es256, &claims).unwrap();
        assert!(checker.check_access_token(&keys, &token, Some(&["api".to_string()])).await.is_ok());
        assert_eq!(counting.round_trips(), 1, "one batch read per check");
        store.put_marker(&Marker::Token { jti: claims.jti.clone(), expires_at: claims.exp }).await.unwrap();
        let revoked = checker.check_access_token(&keys, &token, None).await;
        assert!(matches!(revoked, Err(CheckError::Revoked(RevocationReason::TokenRevoked))), "{revoked:?}");
    }

    #[tokio::test]
    async fn an_invalid_token_costs_no_round_trip() {
        let (checker, keys, _, counting) = setup();
        let token = mint(&keys, SigningAlgorithm::Es256, &claims(None)).unwrap();
        let wrong_aud = checker.check_access_token(&keys, &token, Some(&["other".to_string()])).await;
        assert!(matches!(wrong_aud, Err(CheckError::Invalid(TokenError::WrongAudience))), "{wrong_aud:?}");
        assert!(matches!(checker.check_access_token(&keys, "nope", None).await, Err(CheckError::Invalid(_))));
        assert_eq!(counting.round_trips(), 0);
    }

    #[test]
    fn only_user_tokens_consult_the_subject_marker() {
        assert!(denylist_query(&claims(None)).subject.is_none());
        assert!(denylist_query(&claims(Some(Sid::random()))).subject.is_some());
    }

    #[test]
    fn bearer_header_parsing() {
        assert_eq!(bearer_token(Some("Bearer abc.def")), Some("abc.def"));
        assert_eq!(bearer_token(Some("bearer abc")), Some("abc"));
        for bad in [None, Some(""), Some("Basic abc"), Some("Bearer"), Some("Bearer a b")] {
            assert_eq!(bearer_token(bad), None, "{bad:?}");
        }
    }

    /// RFC 6750 §3.1: a request without bearer credentials (no header, another scheme)
    /// gets no error code; a Bearer header without one `b64token` is `invalid_request`.
    #[test]
    fn another_scheme_is_no_credentials_and_a_broken_bearer_is_malformed() {
        for nothing in [None, Some(""), Some("  "), Some("Basic Zm9vOmJhcg==")] {
            assert_eq!(bearer_credentials(nothing), Presented::Nothing, "{nothing:?}");
        }
        for malformed in ["Bearer", "Bearer ", "Bearer a b", "Bearer a=b", "Bearer ===", "Bearer \u{e9}t\u{e9}"] {
            assert_eq!(bearer_credentials(Some(malformed)), Presented::Malformed, "{malformed:?}");
        }
        assert_eq!(bearer_credentials(Some("Bearer ab+/c==")), Presented::Bearer("ab+/c=="));
        // The DPoP scheme (RFC 9449 §7.1) presents a token too, and is no bearer token.
        assert_eq!(bearer_credentials(Some("DPoP abc")), Presented::Dpop("abc"));
        assert_eq!(bearer_token(Some("DPoP abc")), None);
    }
}
