//! Clients and users registered for one test, each with fresh random ids so tests can
//! share one table.

use crate::env::stack_store;
use crate::http::{Reply, Stack, form_escape};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use shared::domain::{
    BrowserSettings, ClientAuthentication, ClientJwks, ClientLifetimes, ClientRecord, ClientSigning, GrantType, Scope,
    UserRecord,
};
use shared::ids::{ClientEpoch, ClientId, Subject, random_id};
use shared::secrets::{ClientSecretHash, PasswordHashString, SecretString};
use shared::store::dynamo::DynamoStore;
use shared::store::{ClientAdmin, UserAdmin};
use shared::testing::kit::ClientKey;

/// A client registered for one test, with its plain secret.
pub struct TestClient {
    pub id: String,
    pub secret: String,
}

impl TestClient {
    pub fn basic(&self) -> String {
        format!("Basic {}", STANDARD.encode(format!("{}:{}", form_escape(&self.id), form_escape(&self.secret))))
    }
}

pub async fn seed_client(grants: &[GrantType], scope: &str, audience: Option<&str>) -> TestClient {
    seed_client_with(grants, scope, audience, ClientLifetimes::default()).await
}

pub async fn seed_client_with(
    grants: &[GrantType],
    scope: &str,
    audience: Option<&str>,
    lifetimes: ClientLifetimes,
) -> TestClient {
    seed_client_into(&stack_store().await, grants, scope, audience, lifetimes).await
}

pub async fn seed_client_into(
    store: &DynamoStore,
    grants: &[GrantType],
    scope: &str,
    audience: Option<&str>,
    lifetimes: ClientLifetimes,
) -> TestClient {
    seed_record(store, grants, scope, |record| {
        record.audience = audience.map(str::to_string);
        record.lifetimes = lifetimes;
    })
    .await
}

/// A client whose tokens are signed with the algorithms it registered.
pub async fn seed_signing_client(grants: &[GrantType], scope: &str, signing: ClientSigning) -> TestClient {
    seed_record(&stack_store().await, grants, scope, |record| record.signing = signing).await
}

/// A client that signs users in through the browser (authorization code + PKCE), public
/// (no secret: its `secret` is empty) or confidential, with its back-channel logout URI
/// built from its fresh id.
pub async fn seed_browser_client(
    public: bool,
    redirect_uris: &[&str],
    logout_uri: Option<&dyn Fn(&str) -> String>,
) -> TestClient {
    seed_browser_client_into(&stack_store().await, public, redirect_uris, logout_uri).await
}

pub async fn seed_browser_client_into(
    store: &DynamoStore,
    public: bool,
    redirect_uris: &[&str],
    logout_uri: Option<&dyn Fn(&str) -> String>,
) -> TestClient {
    let grants = [GrantType::AuthorizationCode, GrantType::RefreshToken];
    let mut client = seed_record(store, &grants, "openid profile read", |record| {
        if public {
            record.authentication = ClientAuthentication::None;
        }
        record.backchannel_logout_uri = logout_uri.map(|uri| uri(record.id.as_str()));
        record.browser = BrowserSettings {
            name: Some(format!("Test app {}", &record.id.as_str()[7..12])),
            redirect_uris: redirect_uris.iter().map(|u| u.to_string()).collect(),
            post_logout_redirect_uris: redirect_uris.iter().map(|u| format!("{u}?signed-out")).collect(),
            allowed_origins: Vec::new(),
        };
    })
    .await;
    if public {
        client.secret.clear();
    }
    client
}

/// Registers a client with fresh credentials; `edit` sets what the test is about.
async fn seed_record(
    store: &DynamoStore,
    grants: &[GrantType],
    scope: &str,
    edit: impl FnOnce(&mut ClientRecord),
) -> TestClient {
    let client = TestClient { id: format!("client-{}", random_id()), secret: format!("secret-{}", random_id()) };
    let mut record = ClientRecord {
        dpop_bound_access_tokens: false,
        id: ClientId::new(&client.id),
        epoch: ClientEpoch::random(),
        authentication: ClientAuthentication::Secret(
            ClientSecretHash::create(&SecretString::new(&client.secret)).expect("hash"),
        ),
        grant_types: grants.iter().copied().collect(),
        scopes: Scope::parse(scope).expect("scope"),
        audience: None,
        may_introspect: false,
        admin: false,
        backchannel_logout_uri: None,
        lifetimes: ClientLifetimes::default(),
        signing: ClientSigning::default(),
        browser: Default::default(),
    };
    edit(&mut record);
    store.put_client(&record).await.expect("seed client");
    client
}

/// A client registered by the public half of `key` (`private_key_jwt`): its id. It has
/// no secret; it authenticates with `key.assertion(id, …)`.
pub async fn seed_key_client_into(
    store: &DynamoStore,
    grants: &[GrantType],
    scope: &str,
    key: &ClientKey,
    may_introspect: bool,
) -> String {
    let keys = ClientJwks::parse(&key.jwks()).expect("a public key set");
    let client = seed_record(store, grants, scope, |record| {
        record.authentication = ClientAuthentication::PrivateKeyJwt(keys);
        record.may_introspect = may_introspect;
    })
    .await;
    client.id
}

pub struct TestUser {
    pub username: String,
    pub password: String,
    pub sub: Subject,
}

pub async fn seed_user(disabled: bool) -> TestUser {
    seed_user_into(&stack_store().await, disabled).await
}

pub async fn seed_user_into(store: &DynamoStore, disabled: bool) -> TestUser {
    let user = TestUser {
        username: format!("user-{}", random_id()),
        password: format!("pw {}", random_id()),
        sub: Subject::random(),
    };
    store
        .create_user(&UserRecord {
            username: user.username.clone(),
            sub: user.sub.clone(),
            password_hash: PasswordHashString::create(&SecretString::new(&user.password)).expect("hash"),
            disabled,
        })
        .await
        .expect("seed user");
    user
}

/// Log `user` in with the password grant over HTTP; returns the token response.
pub async fn password_login(stack: &Stack, client: &TestClient, user: &TestUser, scope: &str) -> Reply {
    let reply = stack
        .post_form(
            "/oauth2/token",
            client,
            &[("grant_type", "password"), ("username", &user.username), ("password", &user.password), ("scope", scope)],
        )
        .await;
    assert_eq!(reply.status, 200, "login failed: {}", reply.json);
    reply
}

/// A client registered with `dpop_bound_access_tokens` (`tokenctl client add
/// --require-dpop`): it gets no bearer token.
pub async fn seed_dpop_client(grants: &[GrantType], scope: &str) -> TestClient {
    seed_record(&stack_store().await, grants, scope, |record| record.dpop_bound_access_tokens = true).await
}

/// A resource server: a client registered with `--introspect` (no grants), which may
/// introspect any token and read the revocation feed.
pub async fn seed_resource_server_into(store: &DynamoStore) -> TestClient {
    seed_record(store, &[], "", |record| record.may_introspect = true).await
}

/// A client for the logout tests: optionally an admin, optionally with a back-channel
/// logout URI built from its (fresh) client id.
pub async fn seed_rp_client(admin: bool, logout_uri: Option<&dyn Fn(&str) -> String>) -> TestClient {
    let grants = [GrantType::Password, GrantType::RefreshToken, GrantType::ClientCredentials];
    seed_record(&stack_store().await, &grants, "openid read", |record| {
        record.admin = admin;
        record.backchannel_logout_uri = logout_uri.map(|uri| uri(record.id.as_str()));
    })
    .await
}
