//! Helpers for tests that talk to the real local stack over HTTP: moto (DynamoDB) and
//! `cargo lambda watch` (the functions). `make test` starts both and exports where they
//! are; run outside it, these tests stop with a message saying so.

pub mod apigw;
pub mod lambda_runtime;
pub mod recorder;
pub mod template;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use shared::config::Config;
use shared::ids::{ClientId, Subject, random_id};
use shared::oauth::scope::Scope;
use shared::secrets::{ClientSecretHash, PasswordHashString, SecretString};
use shared::store::dynamo::{DynamoStore, schema};
use shared::store::{ClientAdmin, ClientLifetimes, ClientRecord, GrantType, UserAdmin, UserRecord};

fn required_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run these tests with `make test`, which starts moto and cargo lambda watch")
    })
}

/// Where the stack under test lives.
pub struct Stack {
    pub base_url: String,
    pub issuer: String,
    pub http: reqwest::Client,
}

impl Stack {
    pub fn from_env() -> Self {
        Self {
            base_url: required_env("E2E_BASE_URL"),
            issuer: required_env("ISSUER"),
            http: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client"),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// POST a raw body to an endpoint; returns status, headers and the JSON body (or Null).
    pub async fn post(&self, path: &str, request: Req<'_>) -> Reply {
        let mut builder = self.http.post(self.url(path));
        if let Some(ct) = request.content_type {
            builder = builder.header("content-type", ct);
        }
        if let Some(auth) = request.authorization {
            builder = builder.header("authorization", auth);
        }
        let response = builder.body(request.body.to_vec()).send().await.expect("the stack answers");
        Reply::read(response).await
    }

    /// POST a form with HTTP Basic client authentication.
    pub async fn post_form(&self, path: &str, client: &TestClient, form: &[(&str, &str)]) -> Reply {
        let body = encode_form(form);
        self.post(path, Req::form(&body).basic(&client.basic())).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        Reply::read(self.http.get(self.url(path)).send().await.expect("the stack answers")).await
    }
}

pub fn encode_form(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(&form_escape(k));
        out.push('=');
        out.push_str(&form_escape(v));
    }
    out
}

fn form_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => (b as char).to_string(),
            b' ' => "+".to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub struct Req<'a> {
    pub content_type: Option<&'a str>,
    pub authorization: Option<String>,
    pub body: &'a [u8],
}

impl<'a> Req<'a> {
    pub fn form(body: &'a str) -> Self {
        Self { content_type: Some("application/x-www-form-urlencoded"), authorization: None, body: body.as_bytes() }
    }
    pub fn raw(content_type: Option<&'a str>, body: &'a [u8]) -> Self {
        Self { content_type, authorization: None, body }
    }
    pub fn basic(mut self, header: &str) -> Self {
        self.authorization = Some(header.to_string());
        self
    }
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub json: serde_json::Value,
}

impl Reply {
    async fn read(response: reqwest::Response) -> Self {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("body");
        let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        Self { status, headers, json }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn str(&self, field: &str) -> &str {
        self.json[field].as_str().unwrap_or_else(|| panic!("no string {field} in {}", self.json))
    }
}

/// The DynamoDB store the functions under test use (same table, same endpoint).
pub async fn stack_store() -> DynamoStore {
    DynamoStore::connect(&store_config(&required_env("TABLE_NAME"))).await
}

/// The outage stack's store (before the test stops it).
pub async fn outage_store() -> DynamoStore {
    DynamoStore::connect(&config_at(&required_env("OUTAGE_DYNAMODB_ENDPOINT"))).await
}

/// The stack's configuration, with DynamoDB at `endpoint` instead.
pub fn config_at(endpoint: &str) -> Config {
    let endpoint = endpoint.to_string();
    Config::from_lookup(move |name| match name {
        "DYNAMODB_ENDPOINT" => Some(endpoint.clone()),
        _ => std::env::var(name).ok(),
    })
    .expect("the stack's configuration")
}

/// The stack's configuration with Secrets Manager at the stack's moto too (moto serves
/// every AWS service on one port).
pub fn secrets_config() -> Config {
    let endpoint = required_env("DYNAMODB_ENDPOINT");
    Config::from_lookup(move |name| match name {
        "SECRETS_MANAGER_ENDPOINT" => Some(endpoint.clone()),
        _ => std::env::var(name).ok(),
    })
    .expect("the stack's configuration")
}

/// The race tests' own DynamoDB (see infra/test.sh).
pub fn race_config() -> Config {
    config_at(&required_env("RACE_DYNAMODB_ENDPOINT"))
}

/// A table of its own, for store tests that must not see other tests' items.
pub async fn fresh_table_store() -> DynamoStore {
    let store = DynamoStore::connect(&store_config(&format!("test-{}", random_id()))).await;
    schema::create_table(store.sdk_client(), store.table()).await.expect("create table");
    store
}

fn store_config(table: &str) -> Config {
    let table = table.to_string();
    Config::from_lookup(move |name| match name {
        "TABLE_NAME" => Some(table.clone()),
        _ => std::env::var(name).ok(),
    })
    .expect("the stack's configuration")
}

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
    let client = TestClient { id: format!("client-{}", random_id()), secret: format!("secret-{}", random_id()) };
    store
        .put_client(&ClientRecord {
            id: ClientId::new(&client.id),
            secret_hash: ClientSecretHash::create(&SecretString::new(&client.secret)).expect("hash"),
            grant_types: grants.iter().copied().collect(),
            scopes: Scope::parse(scope).expect("scope"),
            audience: audience.map(str::to_string),
            may_introspect: false,
            admin: false,
            backchannel_logout_uri: None,
            lifetimes,
        })
        .await
        .expect("seed client");
    client
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

impl Stack {
    /// The stack whose DynamoDB the outage tests stop.
    pub fn outage_from_env() -> Self {
        Self {
            base_url: required_env("OUTAGE_BASE_URL"),
            issuer: required_env("OUTAGE_BASE_URL"),
            http: reqwest::Client::new(),
        }
    }

    /// RFC 7662 introspection as `caller`.
    pub async fn introspect(&self, caller: &TestClient, token: &str) -> Reply {
        self.post_form("/oauth2/introspect", caller, &[("token", token)]).await
    }

    /// RFC 7009 revocation as `caller`, with an optional hint.
    pub async fn revoke(&self, caller: &TestClient, token: &str, hint: Option<&str>) -> Reply {
        let mut form = vec![("token", token)];
        if let Some(hint) = hint {
            form.push(("token_type_hint", hint));
        }
        self.post_form("/oauth2/revoke", caller, &form).await
    }

    pub async fn userinfo(&self, bearer: Option<&str>) -> Reply {
        let mut request = self.http.get(self.url("/userinfo"));
        if let Some(token) = bearer {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        Reply::read(request.send().await.expect("the stack answers")).await
    }

    /// Invoke the authorizer function with an API Gateway (payload 2.0) authorizer event,
    /// through the Lambda invoke API that `cargo lambda invoke` uses.
    pub async fn authorize(&self, authorization: Option<&str>) -> Reply {
        let mut event: serde_json::Value =
            serde_json::from_str(include_str!("../../functions/authorizer/fixtures/authorizer-event.json"))
                .expect("fixture");
        match authorization {
            Some(value) => {
                event["identitySource"] = serde_json::json!([value]);
                event["headers"]["authorization"] = serde_json::json!(value);
            }
            None => {
                event.as_object_mut().expect("object").remove("identitySource");
                event["headers"].as_object_mut().expect("headers").remove("authorization");
            }
        }
        let url = self.url("/2015-03-31/functions/authorizer/invocations");
        Reply::read(self.http.post(url).json(&event).send().await.expect("the stack answers")).await
    }
}

/// A client for the logout tests: optionally an admin, optionally with a back-channel
/// logout URI built from its (fresh) client id.
pub async fn seed_rp_client(admin: bool, logout_uri: Option<&dyn Fn(&str) -> String>) -> TestClient {
    let client = TestClient { id: format!("client-{}", random_id()), secret: format!("secret-{}", random_id()) };
    stack_store()
        .await
        .put_client(&ClientRecord {
            id: ClientId::new(&client.id),
            secret_hash: ClientSecretHash::create(&SecretString::new(&client.secret)).expect("hash"),
            grant_types: [GrantType::Password, GrantType::RefreshToken, GrantType::ClientCredentials]
                .into_iter()
                .collect(),
            scopes: Scope::parse("openid read").expect("scope"),
            audience: None,
            may_introspect: false,
            admin,
            backchannel_logout_uri: logout_uri.map(|uri| uri(&client.id)),
            lifetimes: ClientLifetimes::default(),
        })
        .await
        .expect("seed client");
    client
}

/// A loopback port nobody listens on (yet).
pub fn unused_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// Relying parties on loopback (`tests/rp/receivers.py`), validating every logout token
/// with PyJWT. Stopped when dropped.
pub struct Receivers {
    child: std::process::Child,
    pub ports: Vec<u16>,
}

impl Receivers {
    /// `modes`: `ok`, `slow:MS`, `flaky:N`, each optionally `@PORT`.
    pub fn start(stack: &Stack, modes: &[&str]) -> Self {
        use std::io::BufRead;
        let python = required_env("PYTHON");
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/rp/receivers.py");
        let mut child = std::process::Command::new(python)
            .arg(script)
            .arg(stack.url("/.well-known/jwks.json"))
            .arg(&stack.issuer)
            .args(modes)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("receivers start");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        std::io::BufReader::new(stdout).read_line(&mut line).expect("receivers report their ports");
        let ports: serde_json::Value = serde_json::from_str(&line).expect("ports JSON");
        let ports =
            ports["ports"].as_array().expect("ports").iter().map(|p| p.as_u64().expect("port") as u16).collect();
        Self { child, ports }
    }

    pub fn uri(port: u16, client_id: &str) -> String {
        format!("http://127.0.0.1:{port}/logout/{client_id}")
    }

    /// Every logout request receiver `i` has seen, with PyJWT's verdict.
    pub async fn received(&self, i: usize) -> Vec<serde_json::Value> {
        let url = format!("http://127.0.0.1:{}/received", self.ports[i]);
        let body = reqwest::get(url).await.expect("receiver answers").json::<serde_json::Value>().await.expect("json");
        body.as_array().cloned().unwrap_or_default()
    }
}

impl Drop for Receivers {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Stack {
    pub async fn logout(&self, caller: &TestClient, form: &[(&str, &str)]) -> Reply {
        self.post_form("/oauth2/logout", caller, form).await
    }

    /// Run `logout-retry` once, as its schedule would, through the Lambda invoke API.
    pub async fn run_logout_retry(&self) -> Reply {
        let url = self.url("/2015-03-31/functions/logout-retry/invocations");
        Reply::read(self.http.post(url).json(&serde_json::json!({})).send().await.expect("the stack answers")).await
    }
}
