//! Token endpoint logic against the in-memory store. The same behaviour is proven over
//! HTTP against `cargo lambda watch` and moto in `tests/`.

use super::*;
use crate::config::{KeySourceConfig, Lifetimes};
use crate::ids::ClientId;
use crate::keys::{KeySetDocument, SigningAlgorithm};
use crate::secrets::{ClientSecretHash, SecretString};
use crate::store::memory::MemoryStore;
use crate::store::{ClientAdmin, ClientLifetimes, SessionRead, UserAdmin, UserRecord};
use crate::tokens::access::verify_access_token;
use std::time::Duration;

const SECRET: &str = "unit-test-client-secret-000000";
const ISSUER: &str = "https://auth.example.com";

struct Fixture {
    issuer: TokenIssuer,
    store: Arc<MemoryStore>,
    user: UserRecord,
}

async fn fixture(grants: &[GrantType]) -> Fixture {
    let store = Arc::new(MemoryStore::new());
    store
        .put_client(&ClientRecord {
            id: ClientId::new("app"),
            secret_hash: ClientSecretHash::create(&SecretString::new(SECRET)).unwrap(),
            grant_types: grants.iter().copied().collect(),
            scopes: Scope::parse("openid read write").unwrap(),
            audience: Some("https://api.example.com".into()),
            may_introspect: false,
            admin: false,
            backchannel_logout_uri: None,
            lifetimes: ClientLifetimes {
                access_token: Some(120),
                ..Default::default()
            },
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
    let config = Config {
        table_name: "unused".into(),
        dynamodb_endpoint: None,
        issuer: ISSUER.into(),
        key_source: KeySourceConfig::File("unused".into()),
        lifetimes: Lifetimes::default(),
        client_cache_ttl: Duration::from_secs(60),
    };
    let keys = Arc::new(
        KeySet::from_document(&KeySetDocument::generate(SigningAlgorithm::Es256).unwrap()).unwrap(),
    );
    let issuer = TokenIssuer {
        config,
        keys,
        clients: ClientDirectory::new(store.clone(), Duration::from_secs(60)),
        users: store.clone(),
        sessions: store.clone(),
    };
    Fixture {
        issuer,
        store,
        user,
    }
}

fn form(body: &str) -> OAuthRequest {
    OAuthRequest::parse(
        Some("application/x-www-form-urlencoded"),
        None,
        body.as_bytes(),
    )
    .unwrap()
}

fn with_client(body: &str) -> OAuthRequest {
    form(&format!("client_id=app&client_secret={SECRET}&{body}"))
}

#[tokio::test]
async fn client_credentials_issues_a_verifiable_token_with_client_as_subject() {
    let f = fixture(&[GrantType::ClientCredentials]).await;
    let response = f
        .issuer
        .token(&with_client("grant_type=client_credentials&scope=read"))
        .await
        .unwrap();
    assert_eq!((response.token_type, response.expires_in), ("Bearer", 120));
    assert!(response.refresh_token.is_none() && response.id_token.is_none());
    let claims = verify_access_token(
        &f.issuer.keys,
        &response.access_token,
        ISSUER,
        Some("https://api.example.com"),
        UnixTime::now(),
    )
    .unwrap();
    assert_eq!(
        (
            claims.sub.as_str(),
            claims.client_id.as_str(),
            claims.scope.to_string().as_str()
        ),
        ("app", "app", "read")
    );
    assert!(claims.sid.is_none() && claims.fid.is_none());
}

#[tokio::test]
async fn omitted_scope_defaults_to_the_clients_scopes() {
    let f = fixture(&[GrantType::ClientCredentials]).await;
    let response = f
        .issuer
        .token(&with_client("grant_type=client_credentials"))
        .await
        .unwrap();
    assert_eq!(response.scope.to_string(), "openid read write");
}

#[tokio::test]
async fn password_grant_starts_a_session_and_family_and_returns_all_three_tokens() {
    let f = fixture(&[GrantType::Password]).await;
    let response = f
        .issuer
        .token(&with_client(
            "grant_type=password&username=alice&password=correct+horse&scope=openid+read",
        ))
        .await
        .unwrap();
    let claims = verify_access_token(
        &f.issuer.keys,
        &response.access_token,
        ISSUER,
        None,
        UnixTime::now(),
    )
    .unwrap();
    assert_eq!(claims.sub, f.user.sub);
    let (sid, fid) = (claims.sid.unwrap(), claims.fid.unwrap());
    let session = f
        .store
        .session(&sid)
        .await
        .unwrap()
        .expect("session stored");
    assert_eq!(
        session
            .client_ids
            .iter()
            .map(|c| c.as_str())
            .collect::<Vec<_>>(),
        vec!["app"]
    );
    let family = f.store.family(&fid).await.unwrap().expect("family stored");
    assert_eq!(
        (
            family.generation,
            family.sid.clone(),
            family.scope.to_string()
        ),
        (0, sid, "openid read".to_string())
    );
    let refresh = RefreshToken::decode(
        response.refresh_token.as_deref().unwrap(),
        f.issuer.keys.refresh_mac_key(),
    )
    .unwrap();
    assert_eq!(
        refresh,
        RefreshToken {
            family: fid,
            generation: 0
        }
    );
    assert!(response.id_token.is_some());
}

#[tokio::test]
async fn password_grant_without_openid_has_no_id_token() {
    let f = fixture(&[GrantType::Password]).await;
    let response = f
        .issuer
        .token(&with_client(
            "grant_type=password&username=alice&password=correct+horse&scope=read",
        ))
        .await
        .unwrap();
    assert!(response.id_token.is_none());
    assert!(response.refresh_token.is_some());
}

#[tokio::test]
async fn refused_requests_get_the_rfc_code_and_write_nothing() {
    let f = fixture(&[GrantType::ClientCredentials, GrantType::Password]).await;
    let disabled = UserRecord {
        username: "bob".into(),
        disabled: true,
        ..f.user.clone()
    };
    f.store.create_user(&disabled).await.unwrap();
    let cases: &[(&str, OAuthRequest, OAuthErrorCode)] = &[
        (
            "missing grant_type",
            with_client("scope=read"),
            OAuthErrorCode::InvalidRequest,
        ),
        (
            "unknown grant_type",
            with_client("grant_type=magic"),
            OAuthErrorCode::UnsupportedGrantType,
        ),
        (
            "refresh not yet served",
            with_client("grant_type=refresh_token&refresh_token=x"),
            OAuthErrorCode::UnsupportedGrantType,
        ),
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
        (
            "scope outside",
            with_client("grant_type=client_credentials&scope=admin"),
            OAuthErrorCode::InvalidScope,
        ),
        (
            "malformed scope",
            with_client("grant_type=client_credentials&scope=%22"),
            OAuthErrorCode::InvalidScope,
        ),
        (
            "wrong password",
            with_client("grant_type=password&username=alice&password=nope"),
            OAuthErrorCode::InvalidGrant,
        ),
        (
            "unknown user",
            with_client("grant_type=password&username=carol&password=x"),
            OAuthErrorCode::InvalidGrant,
        ),
        (
            "disabled user",
            with_client("grant_type=password&username=bob&password=correct+horse"),
            OAuthErrorCode::InvalidGrant,
        ),
        (
            "missing password",
            with_client("grant_type=password&username=alice"),
            OAuthErrorCode::InvalidRequest,
        ),
        (
            "missing username",
            with_client("grant_type=password&password=x"),
            OAuthErrorCode::InvalidRequest,
        ),
    ];
    for (name, request, code) in cases {
        let err = f.issuer.token(request).await.expect_err(name);
        assert_eq!(err.code, *code, "{name}");
    }
    assert_eq!(
        f.store.sessions_of(&f.user.sub).await.unwrap(),
        vec![],
        "no refused request wrote a session"
    );
}

#[tokio::test]
async fn a_grant_the_client_lacks_is_unauthorized_client() {
    let f = fixture(&[GrantType::ClientCredentials]).await;
    let err = f
        .issuer
        .token(&with_client(
            "grant_type=password&username=alice&password=correct+horse",
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code, OAuthErrorCode::UnauthorizedClient);
    assert_eq!(f.store.sessions_of(&f.user.sub).await.unwrap(), vec![]);
}
