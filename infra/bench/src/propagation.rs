//! Revocation propagation to a resource server behind the guard: from the answer of the
//! call that revokes (revoke, logout, a client's removal) to the first 401 the example
//! API (`shared/guard/examples/hello_api.rs`, polling the feed every second) gives the
//! same token. Each trial uses fresh tokens, users and clients.
//!
//! Usage (infra/bench/propagation.sh starts the stack and the API):
//! bench-propagation TRIALS, with the stack's environment (TABLE_NAME, DYNAMODB_ENDPOINT,
//! ISSUER, CLIENT_CACHE_TTL_SECONDS) and EXAMPLE_API_URL.

use shared::admin::ClientRegistry;
use shared::config::Config;
use shared::domain::{ClientAuthentication, ClientRecord, GrantType, Scope, UserRecord};
use shared::ids::{ClientEpoch, ClientId, Subject, random_id};
use shared::secrets::{ClientSecretHash, PasswordHashString, SecretString};
use shared::store::dynamo::DynamoStore;
use shared::store::{ClientAdmin, UserAdmin};
use std::sync::Arc;
use std::time::{Duration, Instant};

const AUDIENCE: &str = "https://api.example.com";
const KINDS: [&str; 5] = ["jti", "fid", "sid", "sub", "client"];

struct Bench {
    http: reqwest::Client,
    issuer: String,
    api: String,
    store: Arc<DynamoStore>,
    registry: ClientRegistry,
    /// A client with every grant the trials use, and one that may log anyone out.
    app: (String, String),
    admin: (String, String),
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set (run infra/bench/propagation.sh)"))
}

async fn seed_client(store: &DynamoStore, grants: &[GrantType], admin: bool) -> (String, String) {
    let (id, secret) = (format!("prop-{}", random_id()), format!("secret-{}", random_id()));
    let record = ClientRecord {
        dpop_bound_access_tokens: false,
        authentication: ClientAuthentication::Secret(ClientSecretHash::create(&SecretString::new(&secret)).unwrap()),
        grant_types: grants.iter().copied().collect(),
        scopes: Scope::parse("openid read").unwrap(),
        audience: Some(AUDIENCE.into()),
        admin,
        ..shared::testing::kit::client(&id, &[], "")
    };
    let record = ClientRecord { id: ClientId::new(&id), epoch: ClientEpoch::random(), ..record };
    store.put_client(&record).await.expect("seed a client");
    (id, secret)
}

impl Bench {
    async fn post(&self, path: &str, (id, secret): &(String, String), form: &[(&str, &str)]) -> serde_json::Value {
        let reply = self
            .http
            .post(format!("{}{path}", self.issuer))
            .basic_auth(id, Some(secret))
            .form(form)
            .send()
            .await
            .expect("the stack answers");
        assert!(reply.status().is_success(), "{path}: {}", reply.status());
        reply.json().await.unwrap_or(serde_json::Value::Null)
    }

    async fn login(&self) -> (serde_json::Value, Subject) {
        let (username, password, sub) = (format!("user-{}", random_id()), random_id(), Subject::random());
        let hash = PasswordHashString::create(&SecretString::new(&password)).unwrap();
        let user = UserRecord { username: username.clone(), sub: sub.clone(), password_hash: hash, disabled: false };
        self.store.create_user(&user).await.expect("seed a user");
        let form =
            [("grant_type", "password"), ("username", &username), ("password", &password), ("scope", "openid read")];
        (self.post("/oauth2/token", &self.app, &form).await, sub)
    }

    async fn hello(&self, token: &str) -> u16 {
        let reply = self.http.get(format!("{}/hello", self.api)).bearer_auth(token).send().await.expect("the API");
        reply.status().as_u16()
    }

    /// Revoke one way, and measure until the API refuses the token.
    async fn trial(&self, kind: &str) -> Duration {
        if kind == "client" {
            let client = seed_client(&self.store, &[GrantType::ClientCredentials], false).await;
            let cc = self.post("/oauth2/token", &client, &[("grant_type", "client_credentials")]).await;
            return self.removal(cc["access_token"].as_str().unwrap(), &client.0).await;
        }
        // The token to watch, and the call that revokes it: (path, caller, form).
        let (token, (path, caller, form)) = if kind == "jti" {
            let cc = self.post("/oauth2/token", &self.app, &[("grant_type", "client_credentials")]).await;
            let token = cc["access_token"].as_str().unwrap().to_string();
            (token.clone(), ("/oauth2/revoke", &self.app, vec![("token", token)]))
        } else {
            let (login, sub) = self.login().await;
            let token = login["access_token"].as_str().unwrap().to_string();
            let refresh = login["refresh_token"].as_str().unwrap().to_string();
            let call = match kind {
                "fid" => ("/oauth2/revoke", &self.app, vec![("token", refresh)]),
                "sid" => ("/oauth2/logout", &self.app, vec![("refresh_token", refresh)]),
                _ => ("/oauth2/logout", &self.admin, vec![("sub", sub.to_string())]),
            };
            (token, call)
        };
        assert_eq!(self.hello(&token).await, 200, "{kind}: the token works before");
        out_of_step().await;
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.post(path, caller, &form).await;
        self.until_refused(&token, Instant::now()).await
    }

    async fn removal(&self, token: &str, client: &str) -> Duration {
        assert_eq!(self.hello(token).await, 200, "client: the token works before");
        out_of_step().await;
        self.registry.remove(&ClientId::new(client)).await.expect("remove the client");
        self.until_refused(token, Instant::now()).await
    }

    async fn until_refused(&self, token: &str, since: Instant) -> Duration {
        loop {
            match self.hello(token).await {
                401 => return since.elapsed(),
                200 if since.elapsed() < Duration::from_secs(30) => tokio::time::sleep(Duration::from_millis(5)).await,
                status => panic!("status {status} after {:?}", since.elapsed()),
            }
        }
    }
}

/// A pause of 0–999 ms before revoking: trials would otherwise fall into step with the
/// API's polls (each starts right after the previous one was detected, at a poll), and
/// every revocation would land at the same point of the interval.
async fn out_of_step() {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().subsec_nanos();
    tokio::time::sleep(Duration::from_millis(u64::from(nanos % 1_000))).await;
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() {
    let trials: usize = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(50);
    let config = Config::from_env().expect("the stack's configuration");
    let store = Arc::new(DynamoStore::connect(&config.aws).await);
    let grants = [GrantType::ClientCredentials, GrantType::Password, GrantType::RefreshToken];
    let bench = Bench {
        http: reqwest::Client::new(),
        issuer: config.issuer.clone(),
        api: env("EXAMPLE_API_URL"),
        registry: ClientRegistry::new(store.clone(), config.lifetimes, config.client_cache_ttl),
        app: seed_client(&store, &grants, false).await,
        admin: seed_client(&store, &grants, true).await,
        store,
    };
    println!("| revocation | trials | p50 | max |");
    println!("| --- | --- | --- | --- |");
    for kind in KINDS {
        let mut times = Vec::with_capacity(trials);
        for _ in 0..trials {
            times.push(bench.trial(kind).await);
        }
        times.sort();
        let ms = |d: Duration| format!("{:.0} ms", d.as_secs_f64() * 1000.0);
        println!("| {kind} | {trials} | {} | {} |", ms(percentile(&times, 0.5)), ms(times[times.len() - 1]));
    }
}
