//! Token endpoint logic against the in-memory store. The same behaviour is proven over
//! HTTP against `cargo lambda watch` and moto in `tests/`.

use super::*;
use crate::discovery::REFRESH_PATH;

use crate::domain::{ClientAuthentication, ClientLifetimes, UserRecord};
use crate::ids::ClientId;
use crate::secrets::{ClientSecretHash, PasswordHashString, SecretString};
use crate::store::{ClientAdmin, FamilyRead, SessionRead, UserAdmin};
use crate::testing::counting::Counting;
use crate::testing::kit;
use crate::testing::memory::MemoryStore;
use crate::tokens::access::verify_access_token;
use crate::tokens::refresh::RefreshToken;

const SECRET: &str = "unit-test-client-secret-000000";
const ISSUER: &str = "https://auth.example.com";

struct Fixture {
    services: crate::Services,
    issuer: TokenIssuer,
    store: Arc<MemoryStore>,
    /// Counts every call the services make to `store`.
    counting: Arc<Counting<MemoryStore>>,
    user: UserRecord,
}

impl Fixture {
    fn keys(&self) -> Arc<KeySet> {
        self.services.keys().snapshot()
    }
}

async fn fixture(grants: &[GrantType]) -> Fixture {
    fixture_with(grants, ClientLifetimes { access_token: Some(120), ..Default::default() }).await
}

async fn fixture_with(grants: &[GrantType], lifetimes: ClientLifetimes) -> Fixture {
    fixture_configured(grants, lifetimes, kit::config()).await
}

async fn fixture_configured(grants: &[GrantType], lifetimes: ClientLifetimes, config: Config) -> Fixture {
    let store = Arc::new(MemoryStore::new());
    store
        .put_client(&ClientRecord {
            dpop_bound_access_tokens: false,
            id: ClientId::new("app"),
            epoch: crate::ids::ClientEpoch::new("app-1"),
            authentication: ClientAuthentication::Secret(ClientSecretHash::create(&SecretString::new(SECRET)).unwrap()),
            grant_types: grants.iter().copied().collect(),
            scopes: Scope::parse("openid read write").unwrap(),
            audience: Some("https://api.example.com".into()),
            may_introspect: false,
            admin: false,
            backchannel_logout_uri: None,
            lifetimes,
            signing: Default::default(),
            browser: Default::default(),
        })
        .await
        .unwrap();
    let user = UserRecord {
        username: "alice".into(),
        sub: Subject::random(),
        password_hash: PasswordHashString::create(&SecretString::new("correct horse")).unwrap(),
        disabled: false,
    };
    store.create_user(&user).await.unwrap();
    let counting = Arc::new(Counting::new(store.clone()));
    let keys = Arc::new(KeyRing::ephemeral(crate::domain::SigningAlgorithm::Es256).unwrap());
    let services = crate::Services::new(config, keys, counting.clone());
    let issuer = services.token_issuer();
    Fixture { services, issuer, store, counting, user }
}

fn form(body: &str) -> OAuthRequest {
    OAuthRequest::parse(Some("application/x-www-form-urlencoded"), None, body.as_bytes()).unwrap()
}

fn with_client(body: &str) -> OAuthRequest {
    form(&format!("client_id=app&client_secret={SECRET}&{body}"))
}

#[tokio::test]
async fn client_credentials_issues_a_verifiable_token_with_client_as_subject() {
    let f = fixture(&[GrantType::ClientCredentials]).await;
    let response = f.issuer.token(&with_client("grant_type=client_credentials&scope=read")).await.unwrap();
    assert_eq!((response.token_type, response.expires_in), ("Bearer", 120));
    assert!(response.refresh_token.is_none() && response.id_token.is_none());
    let claims = verify_access_token(
        &f.keys(),
        &response.access_token,
        ISSUER,
        Some(&["https://api.example.com".to_string()]),
        UnixTime::now(),
    )
    .unwrap();
    assert_eq!(
        (claims.sub.as_str(), claims.client_id.as_str(), claims.scope.to_string().as_str()),
        ("app", "app", "read")
    );
    assert!(claims.sid.is_none() && claims.fid.is_none());
}

#[tokio::test]
async fn omitted_scope_defaults_to_the_clients_scopes() {
    let f = fixture(&[GrantType::ClientCredentials]).await;
    let response = f.issuer.token(&with_client("grant_type=client_credentials")).await.unwrap();
    assert_eq!(response.scope.to_string(), "openid read write");
}

#[tokio::test]
async fn password_grant_starts_a_session_and_family_and_returns_all_three_tokens() {
    let f = fixture(&[GrantType::Password]).await;
    let response = f
        .issuer
        .token(&with_client("grant_type=password&username=alice&password=correct+horse&scope=openid+read"))
        .await
        .unwrap();
    let claims = verify_access_token(&f.keys(), &response.access_token, ISSUER, None, UnixTime::now()).unwrap();
    assert_eq!(claims.sub, f.user.sub);
    let (sid, fid) = (claims.sid.unwrap(), claims.fid.unwrap());
    let session = f.store.session(&sid).await.unwrap().expect("session stored");
    assert_eq!(session.client_ids.iter().map(|c| c.as_str()).collect::<Vec<_>>(), vec!["app"]);
    let family = f.store.family(&fid).await.unwrap().expect("family stored");
    assert_eq!((family.generation, family.sid.clone(), family.scope.to_string()), (0, sid, "openid read".to_string()));
    let refresh = RefreshToken::decode(response.refresh_token.as_deref().unwrap(), f.keys().refresh_mac_key()).unwrap();
    assert_eq!(refresh, RefreshToken { family: fid, generation: 0 });
    assert!(response.id_token.is_some());
}

#[tokio::test]
async fn password_grant_without_openid_has_no_id_token() {
    let f = fixture(&[GrantType::Password]).await;
    let response = f
        .issuer
        .token(&with_client("grant_type=password&username=alice&password=correct+horse&scope=read"))
        .await
        .unwrap();
    assert!(response.id_token.is_none());
    assert!(response.refresh_token.is_some());
}

#[tokio::test]
async fn refused_requests_get_the_rfc_code_and_write_nothing() {
    let f = fixture(&[GrantType::ClientCredentials, GrantType::Password]).await;
    let disabled = UserRecord { username: "bob".into(), disabled: true, ..f.user.clone() };
    f.store.create_user(&disabled).await.unwrap();
    let cases: &[(&str, OAuthRequest, OAuthErrorCode)] = &[
        ("missing grant_type", with_client("scope=read"), OAuthErrorCode::InvalidRequest),
        ("unknown grant_type", with_client("grant_type=magic"), OAuthErrorCode::UnsupportedGrantType),
        (
            "wrong secret",
            form("client_id=app&client_secret=nope&grant_type=client_credentials"),
            OAuthErrorCode::InvalidClient,
        ),
        (
            "unknown client",
            form("client_id=ghost&client_secret=x&grant_type=client_credentials"),
            OAuthErrorCode::InvalidClient,
        ),
        ("scope outside", with_client("grant_type=client_credentials&scope=admin"), OAuthErrorCode::InvalidScope),
        ("malformed scope", with_client("grant_type=client_credentials&scope=%22"), OAuthErrorCode::InvalidScope),
        // RFC 6749 §3.3: a scope is one or more tokens; only spaces is not "no scope".
        // (`scope=` with no value at all is an omitted scope, RFC 6749 §3.1.)
        ("blank scope", with_client("grant_type=client_credentials&scope=+"), OAuthErrorCode::InvalidScope),
        (
            "wrong password",
            with_client("grant_type=password&username=alice&password=nope"),
            OAuthErrorCode::InvalidGrant,
        ),
        ("unknown user", with_client("grant_type=password&username=carol&password=x"), OAuthErrorCode::InvalidGrant),
        (
            "disabled user",
            with_client("grant_type=password&username=bob&password=correct+horse"),
            OAuthErrorCode::InvalidGrant,
        ),
        ("missing password", with_client("grant_type=password&username=alice"), OAuthErrorCode::InvalidRequest),
        ("missing username", with_client("grant_type=password&password=x"), OAuthErrorCode::InvalidRequest),
    ];
    for (name, request, code) in cases {
        let err = f.issuer.token(request).await.expect_err(name);
        assert_eq!(err.code, *code, "{name}");
    }
    assert_eq!(f.store.sessions_of(&f.user.sub).await.unwrap(), vec![], "no refused request wrote a session");
}

#[tokio::test]
async fn a_grant_the_client_lacks_is_unauthorized_client() {
    let f = fixture(&[GrantType::ClientCredentials]).await;
    let err =
        f.issuer.token(&with_client("grant_type=password&username=alice&password=correct+horse")).await.unwrap_err();
    assert_eq!(err.code, OAuthErrorCode::UnauthorizedClient);
    assert_eq!(f.store.sessions_of(&f.user.sub).await.unwrap(), vec![]);
}

mod refresh {
    use super::*;
    use crate::domain::{FamilyStatus, Marker};
    use crate::store::{ClientRead, MarkerWrite};

    const ALL: &[GrantType] = &[GrantType::Password, GrantType::RefreshToken, GrantType::ClientCredentials];

    async fn login(f: &Fixture, scope: &str) -> String {
        let body = format!("grant_type=password&username=alice&password=correct+horse&scope={scope}");
        f.issuer.token(&with_client(&body)).await.unwrap().refresh_token.unwrap()
    }

    async fn refresh(f: &Fixture, token: &str) -> Result<TokenResponse, OAuthError> {
        f.issuer.token(&with_client(&format!("grant_type=refresh_token&refresh_token={token}"))).await
    }

    fn family_of(f: &Fixture, token: &str) -> FamilyId {
        RefreshToken::decode(token, f.keys().refresh_mac_key()).unwrap().family
    }

    #[tokio::test]
    async fn rotation_returns_a_successor_and_grace_returns_the_same_one() {
        let f = fixture(ALL).await;
        let first = login(&f, "openid+read").await;
        let rotated = refresh(&f, &first).await.unwrap();
        let second = rotated.refresh_token.clone().unwrap();
        assert_ne!(second, first);
        assert_eq!(RefreshToken::decode(&second, f.keys().refresh_mac_key()).unwrap().generation, 1);
        let claims = verify_access_token(&f.keys(), &rotated.access_token, ISSUER, None, UnixTime::now()).unwrap();
        assert_eq!((claims.sub, claims.fid), (f.user.sub.clone(), Some(family_of(&f, &first))));

        // Within the grace window the just-rotated token yields the very same successor.
        let again = refresh(&f, &first).await.unwrap();
        assert_eq!(again.refresh_token.as_deref(), Some(second.as_str()));
        assert_ne!(again.access_token, rotated.access_token, "a fresh access token");
        assert_eq!(f.store.family(&family_of(&f, &first)).await.unwrap().unwrap().generation, 1, "no branch");

        // The successor rotates normally.
        let third = refresh(&f, &second).await.unwrap().refresh_token.unwrap();
        assert!(third.contains(".2."));
    }

    /// GIVEN two refreshes of the same token racing, WHEN the winner commits and the
    /// session is logged out before the loser's transaction fails, THEN the loser's grace
    /// answer is refused: the guard is checked again, not taken from the winner.
    #[tokio::test]
    async fn a_grace_answer_after_a_lost_race_is_refused_if_the_session_ended_in_between() {
        use crate::domain::{LoginGuard, Marker, RevocationCause, Rotation, RotationKind};
        use crate::store::{FamilyWrite, SessionEnd};
        use crate::testing::decorated::Injected;
        use crate::testing::faults::Faulty;
        let f = fixture(ALL).await;
        let first = login(&f, "read").await;
        let family = f.store.family(&family_of(&f, &first)).await.unwrap().unwrap();
        let (inner, raced) = (f.store.clone(), std::sync::atomic::AtomicBool::new(false));
        let faulty = Arc::new(Faulty::with_plan(f.store.clone(), move |op| {
            if op != "rotate" || raced.swap(true, std::sync::atomic::Ordering::SeqCst) {
                return Injected::Proceed;
            }
            // Between this request's read and its write: the winner rotates, then a logout.
            let now = UnixTime::now();
            let winner = Rotation {
                family: family.fid.clone(),
                kind: RotationKind::Advance { from: 0 },
                now,
                guard: LoginGuard::of(&family),
                bind_dpop_jkt: None,
            };
            let marker = Marker::Session {
                sid: family.sid.clone(),
                revoked_at: now,
                reason: RevocationCause::Logout,
                expires_at: now.plus(3600),
            };
            futures::executor::block_on(async {
                assert_eq!(inner.rotate(&winner).await.unwrap(), crate::domain::RotationOutcome::Committed);
                assert!(inner.end_session(&family.sid, &marker, &[]).await.unwrap());
            });
            Injected::ConditionLost { with_item: true }
        }));
        let issuer = crate::Services::new(kit::config(), f.services.keys().clone(), faulty).token_issuer();
        let loser = issuer.token(&with_client(&format!("grant_type=refresh_token&refresh_token={first}"))).await;
        assert_eq!(loser.map(|r| r.refresh_token).unwrap_err().code, OAuthErrorCode::InvalidGrant);
    }

    #[tokio::test]
    async fn reuse_outside_grace_revokes_the_whole_family() {
        let f = fixture_with(ALL, ClientLifetimes { refresh_grace: Some(0), ..Default::default() }).await;
        let first = login(&f, "read").await;
        let second = refresh(&f, &first).await.unwrap().refresh_token.unwrap();
        let err = refresh(&f, &first).await.unwrap_err();
        assert_eq!(err.code, OAuthErrorCode::InvalidGrant);
        let family = f.store.family(&family_of(&f, &first)).await.unwrap().unwrap();
        assert_eq!(family.status, FamilyStatus::Revoked);
        assert_eq!(refresh(&f, &second).await.unwrap_err().code, OAuthErrorCode::InvalidGrant, "successor dead too");
    }

    #[tokio::test]
    async fn an_older_generation_is_reuse_even_inside_the_grace_window() {
        let f = fixture(ALL).await;
        let first = login(&f, "read").await;
        let second = refresh(&f, &first).await.unwrap().refresh_token.unwrap();
        let _third = refresh(&f, &second).await.unwrap();
        assert_eq!(refresh(&f, &first).await.unwrap_err().code, OAuthErrorCode::InvalidGrant);
        assert_eq!(f.store.family(&family_of(&f, &first)).await.unwrap().unwrap().status, FamilyStatus::Revoked);
    }

    #[tokio::test]
    async fn scope_may_narrow_but_never_widen() {
        let f = fixture(ALL).await;
        let token = login(&f, "openid+read").await;
        let narrowed = f
            .issuer
            .token(&with_client(&format!("grant_type=refresh_token&refresh_token={token}&scope=read")))
            .await
            .unwrap();
        assert_eq!(narrowed.scope.to_string(), "read");
        let next = narrowed.refresh_token.unwrap();
        // RFC 6749 §6: the new refresh token keeps the original grant's scope.
        let full = refresh(&f, &next).await.unwrap();
        assert_eq!(full.scope.to_string(), "openid read");
        let next = full.refresh_token.unwrap();
        let widened = f
            .issuer
            .token(&with_client(&format!("grant_type=refresh_token&refresh_token={next}&scope=read+write")))
            .await
            .unwrap_err();
        assert_eq!(widened.code, OAuthErrorCode::InvalidScope);
        let emptied = f
            .issuer
            .token(&with_client(&format!("grant_type=refresh_token&refresh_token={next}&scope=+")))
            .await
            .unwrap_err();
        assert_eq!(emptied.code, OAuthErrorCode::InvalidScope, "an empty scope is not a narrowing");
        assert_eq!(f.store.family(&family_of(&f, &next)).await.unwrap().unwrap().generation, 2, "nothing written");
    }

    #[tokio::test]
    async fn refused_when_user_disabled_or_subject_revoked_after_login() {
        let f = fixture(ALL).await;
        let token = login(&f, "read").await;
        f.store.replace_user(&UserRecord { disabled: true, ..f.user.clone() }).await.unwrap();
        assert_eq!(refresh(&f, &token).await.unwrap_err().code, OAuthErrorCode::InvalidGrant);
        f.store.replace_user(&f.user).await.unwrap();

        let now = UnixTime::now();
        let marker = Marker::Subject { sub: f.user.sub.clone(), not_before: now.plus(1), expires_at: now.plus(3600) };
        f.store.put_marker(&marker).await.unwrap();
        assert_eq!(refresh(&f, &token).await.unwrap_err().code, OAuthErrorCode::InvalidGrant);
        assert_eq!(f.store.family(&family_of(&f, &token)).await.unwrap().unwrap().generation, 0, "nothing advanced");
    }

    #[tokio::test]
    async fn a_client_that_lost_the_grant_is_unauthorized() {
        // No client cache: the change is seen at once.
        let config = Config { client_cache_ttl: std::time::Duration::ZERO, ..kit::config() };
        let f = fixture_configured(ALL, ClientLifetimes::default(), config).await;
        let token = login(&f, "read").await;
        let mut client = f.store.client(&ClientId::new("app")).await.unwrap().unwrap();
        client.grant_types.remove(&GrantType::RefreshToken);
        f.store.put_client(&client).await.unwrap();
        let err = refresh(&f, &token).await;
        assert_eq!(err.unwrap_err().code, OAuthErrorCode::UnauthorizedClient);
    }

    #[tokio::test]
    async fn a_new_registration_of_the_id_inherits_no_family_and_narrowed_scopes_narrow_families() {
        let config = Config { client_cache_ttl: std::time::Duration::ZERO, ..kit::config() };
        let f = fixture_configured(ALL, ClientLifetimes::default(), config).await;
        let token = login(&f, "openid+read+write").await;
        // Narrowed: the family's next access token holds only what the client still may.
        let mut client = f.store.client(&ClientId::new("app")).await.unwrap().unwrap();
        client.scopes = Scope::parse("openid read").unwrap();
        f.store.put_client(&client).await.unwrap();
        let narrowed = refresh(&f, &token).await.unwrap();
        assert_eq!(narrowed.scope.to_string(), "openid read");
        // Removed and registered again: same id, new registration; the family is dead.
        client.epoch = crate::ids::ClientEpoch::random();
        f.store.put_client(&client).await.unwrap();
        let next = narrowed.refresh_token.unwrap();
        assert_eq!(refresh(&f, &next).await.unwrap_err().code, OAuthErrorCode::InvalidGrant);
        // The new registration's own logins rotate as usual.
        let fresh = login(&f, "read").await;
        assert!(refresh(&f, &fresh).await.is_ok());
    }

    #[tokio::test]
    async fn idle_and_absolute_expiry_are_invalid_grant() {
        let f = fixture_with(ALL, ClientLifetimes { refresh_idle: Some(60), ..Default::default() }).await;
        let now = UnixTime::now();
        let (session, mut family) = kit::session(UnixTime(now.0 - 120), 3600);
        family.client_id = ClientId::new("app");
        family.client_epoch = crate::ids::ClientEpoch::new("app-1");
        family.username = f.user.username.clone();
        family.sub = f.user.sub.clone();
        f.store.begin_session(&session, &family).await.unwrap();
        let idle = RefreshToken { family: family.fid.clone(), generation: 0 }.encode(f.keys().refresh_mac_key());
        assert_eq!(refresh(&f, &idle).await.unwrap_err().code, OAuthErrorCode::InvalidGrant, "idle for 120 s > 60 s");

        let (session, mut family) = kit::session(UnixTime(now.0 - 7200), 3600);
        family.client_id = ClientId::new("app");
        f.store.begin_session(&session, &family).await.unwrap();
        let expired = RefreshToken { family: family.fid.clone(), generation: 0 }.encode(f.keys().refresh_mac_key());
        assert_eq!(refresh(&f, &expired).await.unwrap_err().code, OAuthErrorCode::InvalidGrant, "past expires_at");
    }

    #[tokio::test]
    async fn foreign_client_gets_invalid_grant_and_the_token_is_not_burnt() {
        let f = fixture(ALL).await;
        let token = login(&f, "read").await;
        let other_secret = "other-client-secret-0000000000";
        f.store
            .put_client(&ClientRecord {
                dpop_bound_access_tokens: false,
                id: ClientId::new("other"),
                authentication: ClientAuthentication::Secret(
                    ClientSecretHash::create(&SecretString::new(other_secret)).unwrap(),
                ),
                ..f.store.client(&ClientId::new("app")).await.unwrap().unwrap()
            })
            .await
            .unwrap();
        let foreign = form(&format!(
            "client_id=other&client_secret={other_secret}&grant_type=refresh_token&refresh_token={token}"
        ));
        assert_eq!(f.issuer.token(&foreign).await.unwrap_err().code, OAuthErrorCode::InvalidGrant);
        assert!(refresh(&f, &token).await.is_ok(), "the owner can still use it");
    }

    /// A thief and its victim refresh at the same moment: the reuse is detected, but the
    /// revoking transaction keeps losing to the concurrent rotation. The revocation is not
    /// lost: the family's marker stands in, and no rotation gets past it.
    #[tokio::test]
    async fn a_revocation_whose_transaction_keeps_losing_still_stops_the_family() {
        use crate::domain::RevocationQuery;
        use crate::store::{RevocationRead, StoreError};
        use crate::testing::decorated::Injected;
        use crate::testing::faults::Faulty;
        let f = fixture_with(ALL, ClientLifetimes { refresh_grace: Some(0), ..Default::default() }).await;
        let faulty = Arc::new(Faulty::with_plan(f.store.clone(), |op| match op {
            "revoke_family" => Injected::Fail(StoreError::Conflict),
            _ => Injected::Proceed,
        }));
        let issuer = kit::services_with(f.services.config().clone(), faulty).token_issuer();
        let issuer = TokenIssuer { keys: f.services.keys().clone(), ..issuer };
        let call = |token: String| {
            let issuer = &issuer;
            async move { issuer.token(&with_client(&format!("grant_type=refresh_token&refresh_token={token}"))).await }
        };
        let stolen = login(&f, "read").await;
        let victims = call(stolen.clone()).await.unwrap();
        // The thief presents the rotated token: reuse.
        assert_eq!(call(stolen.clone()).await.unwrap_err().code, OAuthErrorCode::InvalidGrant);
        // The victim's successor never rotates again, and the family's tokens are denied.
        let successor = victims.refresh_token.unwrap();
        assert_eq!(call(successor).await.unwrap_err().code, OAuthErrorCode::InvalidGrant);
        let fid = family_of(&f, &stolen);
        let query = RevocationQuery { fid: Some(fid), ..Default::default() };
        assert!(matches!(
            f.store.revocation_status(&query).await.unwrap(),
            crate::domain::RevocationStatus::Revoked(_)
        ));
    }

    /// docs/ARCHITECTURE.md §5: a refresh costs at most two round trips; bad tokens cost none.
    #[tokio::test]
    async fn round_trips_per_refresh_are_within_budget() {
        let f = fixture_with(ALL, ClientLifetimes { refresh_grace: Some(10), ..Default::default() }).await;
        let (issuer, counting) = (&f.issuer, &f.counting);
        let call = |token: String| {
            let issuer = &issuer;
            async move { issuer.token(&with_client(&format!("grant_type=refresh_token&refresh_token={token}"))).await }
        };
        let first = login(&f, "read").await;

        counting.reset();
        let second = call(first.clone()).await.unwrap().refresh_token.unwrap();
        assert_eq!(counting.round_trips(), 2, "rotation: read + conditional write");

        counting.reset();
        call(first.clone()).await.unwrap();
        assert_eq!(counting.round_trips(), 2, "grace: read + conditional write");

        counting.reset();
        let mac = second.rsplit_once('.').unwrap().1;
        let fid = family_of(&f, &first);
        let garbage = [
            "garbage".to_string(),
            second[..second.len() - 4].to_string(),
            format!("{fid}.99999999999999999999.{mac}"),
            format!("{fid}.7.{mac}"),
        ];
        for bad in garbage {
            assert_eq!(call(bad).await.unwrap_err().code, OAuthErrorCode::InvalidGrant);
        }
        let missing = issuer.token(&with_client("grant_type=refresh_token")).await.unwrap_err();
        assert_eq!(missing.code, OAuthErrorCode::InvalidRequest);
        assert_eq!(counting.round_trips(), 0, "forged, truncated or missing tokens are refused without a read");

        let grace_zero = fixture_with(ALL, ClientLifetimes { refresh_grace: Some(0), ..Default::default() }).await;
        let (issuer, counting) = (&grace_zero.issuer, &grace_zero.counting);
        let old = login(&grace_zero, "read").await;
        issuer.token(&with_client(&format!("grant_type=refresh_token&refresh_token={old}"))).await.unwrap();
        counting.reset();
        issuer.token(&with_client(&format!("grant_type=refresh_token&refresh_token={old}"))).await.unwrap_err();
        assert_eq!(counting.round_trips(), 2, "reuse: read + revoking write");
    }

    #[tokio::test]
    async fn the_refresh_endpoint_answers_only_refresh_grants() {
        let f = fixture(ALL).await;
        let err = f
            .issuer
            .token_for(&with_client("grant_type=client_credentials"), REFRESH_ENDPOINT_GRANTS, REFRESH_PATH)
            .await;
        assert_eq!(err.unwrap_err().code, OAuthErrorCode::UnsupportedGrantType);
        let token = login(&f, "read").await;
        let ok = f
            .issuer
            .token_for(
                &with_client(&format!("grant_type=refresh_token&refresh_token={token}")),
                REFRESH_ENDPOINT_GRANTS,
                REFRESH_PATH,
            )
            .await;
        assert!(ok.is_ok());
    }
}

/// docs/ARCHITECTURE.md §5: `client_credentials` with the client cached costs no round trip;
/// a password login costs the user read and one write (session and family together).
#[tokio::test]
async fn round_trips_per_issue_are_within_budget() {
    let f = fixture(&[GrantType::ClientCredentials, GrantType::Password]).await;
    let (issuer, counting) = (&f.issuer, &f.counting);
    issuer.token(&with_client("grant_type=client_credentials")).await.unwrap();
    assert_eq!(counting.round_trips(), 1, "a cold instance reads the client once");
    counting.reset();
    issuer.token(&with_client("grant_type=client_credentials")).await.unwrap();
    assert_eq!(counting.round_trips(), 0, "client_credentials with the client cached");
    issuer.token(&with_client("grant_type=password&username=alice&password=correct+horse")).await.unwrap();
    assert_eq!(counting.round_trips(), 2, "password: user read + one transactional write");
}

/// Brute-force throttling (`policy::FREE_FAILURES`, then a doubling window), for
/// usernames and client ids alike, known or not.
mod throttling {
    use super::*;
    use crate::domain::{Attempted, FailureCount};
    use crate::store::FailureStore;

    const LOGIN: &str = "grant_type=password&username=alice&password=correct+horse";

    fn wrong_password(username: &str) -> OAuthRequest {
        with_client(&format!("grant_type=password&username={username}&password=guess"))
    }

    async fn code_of(f: &Fixture, req: &OAuthRequest) -> OAuthErrorCode {
        f.issuer.token(req).await.expect_err("refused").code
    }

    #[tokio::test]
    async fn five_failed_logins_then_every_attempt_is_429_even_the_right_password() {
        let f = fixture(&[GrantType::Password]).await;
        for username in ["alice", "nobody"] {
            for attempt in 1..=5 {
                assert_eq!(code_of(&f, &wrong_password(username)).await, OAuthErrorCode::InvalidGrant, "{attempt}");
            }
            let throttled = f.issuer.token(&wrong_password(username)).await.expect_err("throttled");
            assert_eq!(throttled.status(), 429, "{username}");
            assert!(matches!(throttled.retry_after, Some(1 | 2)), "a one-second window: {:?}", throttled.retry_after);
            assert_eq!(throttled.body()["error"], "temporarily_unavailable");
        }
        let right = f.issuer.token(&with_client(LOGIN)).await.expect_err("throttled too");
        assert_eq!(right.code, OAuthErrorCode::Throttled);
        assert_eq!(f.store.sessions_of(&f.user.sub).await.unwrap(), vec![], "no session");
    }

    #[tokio::test]
    async fn after_the_window_the_right_password_works_and_ends_the_run() {
        let f = fixture(&[GrantType::Password]).await;
        let alice = Attempted::Username("alice".into());
        // Six failures, the last three seconds ago: their two-second window is over.
        let past = UnixTime(UnixTime::now().0 - 3);
        for _ in 0..6 {
            f.store.record_failure(&alice, past).await.unwrap();
        }
        f.issuer.token(&with_client(LOGIN)).await.expect("the window is over");
        assert_eq!(f.store.user_for_login("alice").await.unwrap().1, FailureCount::default(), "the run is over");
        // Four more failures are free again.
        for _ in 0..4 {
            assert_eq!(code_of(&f, &wrong_password("alice")).await, OAuthErrorCode::InvalidGrant);
        }
        f.issuer.token(&with_client(LOGIN)).await.expect("not throttled");
    }

    #[tokio::test]
    async fn failed_client_authentication_throttles_the_id_known_or_not() {
        let f = fixture(&[GrantType::ClientCredentials]).await;
        let attempt = |id: &str, secret: &str| {
            form(&format!("client_id={id}&client_secret={secret}&grant_type=client_credentials"))
        };
        for id in ["app", "ghost"] {
            for _ in 0..5 {
                assert_eq!(code_of(&f, &attempt(id, "guess")).await, OAuthErrorCode::InvalidClient, "{id}");
            }
            let throttled = f.issuer.token(&attempt(id, "guess")).await.expect_err("throttled");
            assert_eq!(throttled.status(), 429, "{id}");
            assert!(matches!(throttled.retry_after, Some(1 | 2)), "{id}: {:?}", throttled.retry_after);
        }
        assert_eq!(code_of(&f, &attempt("app", SECRET)).await, OAuthErrorCode::Throttled, "the right secret too");
    }

    /// An unknown id costs what a wrong secret costs: one read while the instance has not
    /// seen the id, then none (the count's update is the one write both make).
    #[tokio::test]
    async fn an_unknown_client_id_costs_the_round_trips_of_a_wrong_secret() {
        let f = fixture(&[GrantType::ClientCredentials]).await;
        let mut costs = Vec::new();
        for id in ["app", "ghost"] {
            let mut rounds = Vec::new();
            for _ in 0..2 {
                f.counting.reset();
                let req = form(&format!("client_id={id}&client_secret=guess&grant_type=client_credentials"));
                assert_eq!(code_of(&f, &req).await, OAuthErrorCode::InvalidClient);
                rounds.push(f.counting.round_trips());
            }
            costs.push(rounds);
        }
        assert_eq!(costs, [[2, 1], [2, 1]]);
    }
}

/// DPoP at the token endpoint (RFC 9449 §5): a proof binds the token; a proof is good
/// once; a client registered with `dpop_bound_access_tokens` gets no bearer token.
mod dpop {
    use super::*;
    use crate::domain::SigningAlgorithm;
    use crate::store::ClientRead;
    use crate::testing::dpop::DpopKey;

    const TOKEN_URL: &str = "https://auth.example.com/oauth2/token";

    fn claims_of(f: &Fixture, token: &str) -> AccessTokenClaims {
        verify_access_token(&f.keys(), token, ISSUER, None, UnixTime::now()).unwrap()
    }

    #[tokio::test]
    async fn a_proof_by_any_supported_key_binds_the_token_at_one_round_trip_more() {
        let f = fixture(&[GrantType::ClientCredentials]).await;
        f.issuer.token(&with_client("grant_type=client_credentials")).await.unwrap();
        for alg in [SigningAlgorithm::Es256, SigningAlgorithm::EdDsa, SigningAlgorithm::Rs256] {
            let key = DpopKey::generate(alg);
            f.counting.reset();
            let request =
                with_client("grant_type=client_credentials").with_dpop(vec![key.proof("POST", TOKEN_URL, None)]);
            let response = f.issuer.token(&request).await.unwrap();
            assert_eq!(f.counting.round_trips(), 1, "the proof's single use: one conditional write");
            assert_eq!(response.token_type, "DPoP");
            assert_eq!(claims_of(&f, &response.access_token).bound_to(), Some(key.jkt.as_str()), "{alg:?}");
        }
    }

    #[tokio::test]
    async fn a_replayed_wrong_or_doubled_proof_is_invalid_dpop_proof_and_issues_nothing() {
        let f = fixture(&[GrantType::ClientCredentials]).await;
        let key = DpopKey::generate(SigningAlgorithm::Es256);
        let proof = key.proof("POST", TOKEN_URL, None);
        let with = |proofs: Vec<String>| with_client("grant_type=client_credentials").with_dpop(proofs);
        f.issuer.token(&with(vec![proof.clone()])).await.expect("the first use");
        for (case, proofs) in [
            ("replayed", vec![proof.clone()]),
            ("two headers", vec![key.proof("POST", TOKEN_URL, None), key.proof("POST", TOKEN_URL, None)]),
            ("wrong htm", vec![key.proof("GET", TOKEN_URL, None)]),
            ("wrong htu", vec![key.proof("POST", "https://auth.example.com/oauth2/refresh", None)]),
            ("not a proof", vec!["a.b.c".into()]),
        ] {
            let err = f.issuer.token(&with(proofs)).await.unwrap_err();
            assert_eq!((err.code.as_str(), err.status()), ("invalid_dpop_proof", 400), "{case}");
        }
    }

    #[tokio::test]
    async fn a_client_that_requires_dpop_gets_no_bearer_token() {
        let f = fixture(&[GrantType::ClientCredentials]).await;
        let mut client = f.store.client(&ClientId::new("app")).await.unwrap().unwrap();
        client.dpop_bound_access_tokens = true;
        f.store.put_client(&client).await.unwrap();
        let err = f.issuer.token(&with_client("grant_type=client_credentials")).await.unwrap_err();
        assert_eq!(err.code.as_str(), "invalid_dpop_proof");
        let key = DpopKey::generate(SigningAlgorithm::Es256);
        let bound = with_client("grant_type=client_credentials").with_dpop(vec![key.proof("POST", TOKEN_URL, None)]);
        assert_eq!(f.issuer.token(&bound).await.unwrap().token_type, "DPoP");
    }
}
