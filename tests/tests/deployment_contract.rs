//! The deployment contract: every function in `template.yaml`, started the way Lambda
//! starts it, with exactly the environment the template renders, answers its real events.
//!
//! This is the closest thing to `sam deploy` that runs here:
//! * each function's `Environment` is rendered from the template (Globals plus its own
//!   variables, parameters at their defaults, `!Ref`/`!Sub` bound to a table and a
//!   Secrets Manager secret in moto), and nothing from the test's own environment leaks
//!   in: the process starts from an empty environment plus what Lambda itself provides.
//!   The one local addition is `AWS_ENDPOINT_URL`, the SDK's standard endpoint override,
//!   pointing every AWS client of the process at its own pass-through proxy in front of
//!   moto (`tests::fault_proxy`), which records every call the function makes;
//! * each binary runs under a Lambda Runtime API emulation (`tests::lambda_runtime`);
//! * the stack is brought up in deployment order: the secret starts as the template's
//!   placeholder, the immediate first rotation (`rotate-keys`, all four steps) makes the
//!   key set, then every other function starts and is driven through its routes.
//!
//! A function added to the template without a scenario here, or a route nobody calls,
//! fails the test; so does a variable whose value the renderer cannot bind.
//!
//! moto enforces no IAM, so in the end every recorded call of every function is checked
//! against that function's own `Policies` statements in the template (`tests::iam`): a
//! call no statement allows, which AWS would refuse, fails the test.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation};
use serde_json::{Value, json};
use shared::domain::{ClientLifetimes, DeliveryRecord, DeliveryStatus, GrantType, SigningAlgorithm};
use shared::ids::{ClientId, Sid, Subject, random_id};
use shared::keys::KeySetDocument;
use shared::oauth::client_assertion::JWT_BEARER;
use shared::store::dynamo::{DynamoStore, schema};
use shared::store::{ClientAdmin, ClientRead, DeliveryStore};
use shared::testing::dpop::DpopKey;
use shared::testing::kit::ClientKey;
use shared::time::UnixTime;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use tests::apigw::{HttpAnswer, authorizer_event, http_event};
use tests::fault_proxy::FaultProxy;
use tests::iam::{self, Denied, Tables};
use tests::lambda_runtime::{LambdaProcess, Launch};
use tests::recorder::LogoutRecorder;
use tests::template::{Bindings, Event, Function, Template};
use tests::{TestClient, encode_form, seed_client_into, seed_key_client_into, seed_user_into};

const ISSUER: &str = "https://auth.contract.example";
const AUDIENCE: &str = "https://api.contract.example";

/// Every binary the contract knows how to drive. A function missing here fails the test.
const SCENARIOS: &[&str] = &[
    "rotate-keys",
    "discovery",
    "issue",
    "refresh",
    "introspect",
    "revocations",
    "userinfo",
    "authorizer",
    "revoke",
    "logout",
    "logout-retry",
    "authorize",
    "end-session",
];

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn bin_dir() -> PathBuf {
    std::env::var_os("FUNCTION_BIN_DIR").map(PathBuf::from).unwrap_or_else(|| workspace().join("target/debug"))
}

/// A started function and the proxy all its AWS calls go through.
struct Running {
    process: LambdaProcess,
    aws: FaultProxy,
}

/// One deployment: its table and secret in moto, the template rendered against them, and
/// the running functions.
struct Deployment {
    store: DynamoStore,
    secret_arn: String,
    functions: Vec<Function>,
    /// Functions as the template renders them with other parameter values, by a name of
    /// their own: the authorizer with `RevocationCheck=feed`.
    variants: HashMap<String, Function>,
    /// The key schema of the template's table, to find the partition key of each call.
    tables: Tables,
    running: HashMap<String, Running>,
    /// moto, behind each function's proxy.
    moto: String,
    /// What Lambda itself puts in every function's environment.
    lambda_env: BTreeMap<String, String>,
    logs: PathBuf,
    /// Routes of the template that the scenarios have called: all must be, in the end.
    called: BTreeSet<(String, String)>,
}

impl Deployment {
    async fn new() -> Self {
        let endpoint = std::env::var("DYNAMODB_ENDPOINT").expect("DYNAMODB_ENDPOINT (moto) is set by make test");
        let table = format!("contract-{}", random_id());
        let local = tests::stack_store().await;
        let store = DynamoStore::from_client(local.sdk_client().clone(), &table);
        schema::create_table(store.sdk_client(), store.table()).await.expect("table");

        // As the template declares it: a placeholder, not key material.
        let sm = shared::keys::secrets_manager::client(&tests::secrets_config().aws).await;
        let created = sm
            .create_secret()
            .name(format!("KeySecret-{}", random_id()))
            .secret_string("{}")
            .send()
            .await
            .expect("secret");
        let secret_arn = created.arn().expect("an ARN").to_string();

        let mut bindings = Bindings::default();
        // What a deployer gives at `sam deploy --guided` for parameters without a default.
        bindings.parameters.insert("Issuer".into(), ISSUER.into());
        bindings.parameters.insert("ExpectedAudience".into(), AUDIENCE.into());
        bindings.resources.insert("TokensTable".into(), table.clone());
        bindings.resources.insert("KeySecret".into(), secret_arn.clone());
        bindings.attributes.insert("TokensTable.Arn".into(), iam::table_arn(&table));
        let template = Template::load(&workspace().join("template.yaml")).expect("template");
        let functions = template.functions(&bindings).unwrap_or_else(|e| panic!("rendering the template: {e}"));
        bindings.parameters.insert("RevocationCheck".into(), "feed".into());
        let feed_authorizer = template
            .functions(&bindings)
            .unwrap_or_else(|e| panic!("rendering the template with RevocationCheck=feed: {e}"))
            .into_iter()
            .find(|f| f.binary == "authorizer")
            .expect("the authorizer");
        assert_eq!(feed_authorizer.environment.get("REVOCATION_CHECK").map(String::as_str), Some("feed"));
        let variants = HashMap::from([("authorizer-feed".to_string(), feed_authorizer)]);
        let schema = template.key_schema("TokensTable").unwrap_or_else(|e| panic!("the table's key schema: {e}"));
        let tables = Tables::from([(table.clone(), schema)]);

        // What Lambda itself puts in every function's environment (`start` adds the SDK's
        // endpoint override, the only local addition).
        let lambda_env = BTreeMap::from(
            [
                ("AWS_REGION", "us-east-1"),
                ("AWS_DEFAULT_REGION", "us-east-1"),
                ("AWS_ACCESS_KEY_ID", "ASIACONTRACTTEST"),
                ("AWS_SECRET_ACCESS_KEY", "contract-test"),
                ("AWS_SESSION_TOKEN", "contract-test-session"),
                ("PATH", "/usr/local/bin:/usr/bin:/bin"),
                ("LANG", "en_US.UTF-8"),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        let logs = std::env::temp_dir().join(format!("contract-{}", random_id()));
        std::fs::create_dir_all(&logs).expect("log dir");
        Self {
            store,
            secret_arn,
            functions,
            variants,
            tables,
            running: HashMap::new(),
            moto: endpoint,
            lambda_env,
            logs,
            called: BTreeSet::new(),
        }
    }

    fn function(&self, binary: &str) -> &Function {
        self.variants
            .get(binary)
            .or_else(|| self.functions.iter().find(|f| f.binary == binary))
            .unwrap_or_else(|| panic!("no function {binary}"))
    }

    /// Start `binary` with a proxy of its own in front of moto, so that its calls are
    /// told apart from every other function's.
    async fn start(&mut self, binary: &str) {
        let function = self.function(binary).clone();
        let aws = FaultProxy::pass_through(&self.moto).await;
        let mut lambda_env = self.lambda_env.clone();
        lambda_env.insert("AWS_ENDPOINT_URL".into(), aws.endpoint());
        let launch = Launch {
            name: &function.logical_id,
            binary: &bin_dir().join(&function.binary),
            environment: &function.environment,
            memory_mb: function.memory_mb,
            timeout: function.timeout,
            log: self.logs.join(format!("{binary}.log")),
        };
        let process = LambdaProcess::start(launch, &lambda_env).await.unwrap_or_else(|e| panic!("{e}"));
        self.running.insert(binary.to_string(), Running { process, aws });
    }

    fn process(&self, binary: &str) -> &LambdaProcess {
        &self.running.get(binary).unwrap_or_else(|| panic!("{binary} is not running")).process
    }

    /// Every call of every function that its own policy statements do not allow, by
    /// function. A function that made no call at all fails: its calls would have gone
    /// around its proxy, unchecked (every function reads the key secret).
    fn denied_calls(&self) -> Vec<Denied> {
        let mut binaries: Vec<&String> = self.running.keys().collect();
        binaries.sort();
        let mut denied = Vec::new();
        for binary in binaries {
            let function = self.function(binary);
            let calls = self.running[binary].aws.calls();
            assert!(!calls.is_empty(), "{binary}: no AWS call went through its proxy");
            denied.extend(iam::denied(&function.logical_id, &function.statements, &calls, &self.tables));
        }
        denied
    }

    /// The function's route for `method`, as the template declares it.
    fn route(&self, binary: &str, method: &str) -> String {
        let function = self.function(binary);
        let paths: Vec<&String> = function
            .events
            .iter()
            .filter_map(|e| match e {
                Event::Http { method: m, path, .. } if m.eq_ignore_ascii_case(method) => Some(path),
                _ => None,
            })
            .collect();
        match paths.as_slice() {
            [path] => (*path).clone(),
            other => panic!("{binary}: expected one {method} route in the template, found {other:?}"),
        }
    }

    /// Send an HTTP API request to the function serving `method path` in the template.
    async fn http(
        &mut self,
        binary: &str,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> HttpAnswer {
        // The route is the path without its query.
        let route = path.split_once('?').map_or(path, |(route, _)| route);
        let authorizer = self
            .function(binary)
            .events
            .iter()
            .find_map(|e| match e {
                Event::Http { method: m, path: p, authorizer } if m == method && p == route => Some(authorizer.clone()),
                _ => None,
            })
            .unwrap_or_else(|| panic!("{binary} does not serve {method} {route} in the template"));
        self.called.insert((method.to_string(), route.to_string()));
        if authorizer.is_some()
            && let Some(refusal) = self.api_gateway_authorizer(headers).await
        {
            return refusal;
        }
        let answer = self.process(binary).call(http_event(method, path, headers, body)).await;
        let answer = HttpAnswer::from_lambda(&answer);
        assert!(answer.status < 500, "{binary} {method} {path}: {answer:?}\n{}", self.process(binary).output());
        answer
    }

    /// What API Gateway answers itself on a route with the Lambda authorizer (simple
    /// responses): 401 without the identity source, 403 when the authorizer refuses;
    /// `None` lets the request through to the function.
    async fn api_gateway_authorizer(&self, headers: &[(&str, &str)]) -> Option<HttpAnswer> {
        let refusal = |status, message: &str| HttpAnswer {
            status,
            headers: json!({"content-type": "application/json"}),
            body: json!({ "message": message }).to_string(),
            cookies: Vec::new(),
        };
        let Some((_, authorization)) = headers.iter().find(|(name, _)| name.eq_ignore_ascii_case("authorization"))
        else {
            return Some(refusal(401, "Unauthorized"));
        };
        let decision = self.process("authorizer").call(authorizer_event(Some(authorization))).await;
        (decision["isAuthorized"] != true).then(|| refusal(403, "Forbidden"))
    }

    async fn form(&mut self, binary: &str, client: &TestClient, form: &[(&str, &str)]) -> HttpAnswer {
        let path = self.route(binary, "POST");
        let basic = client.basic();
        let headers = [("content-type", "application/x-www-form-urlencoded"), ("authorization", basic.as_str())];
        self.http(binary, "POST", &path, &headers, &encode_form(form)).await
    }

    /// POST `form` to `binary`'s route, the client authenticated by `assertion` alone.
    async fn by_assertion(&mut self, binary: &str, assertion: &str, form: &[(&str, &str)]) -> HttpAnswer {
        let path = self.route(binary, "POST");
        let mut pairs = vec![("client_assertion_type", JWT_BEARER), ("client_assertion", assertion)];
        pairs.extend_from_slice(form);
        let headers = [("content-type", "application/x-www-form-urlencoded")];
        self.http(binary, "POST", &path, &headers, &encode_form(&pairs)).await
    }

    async fn authorize(&self, token: &str) -> Value {
        self.process("authorizer").call(authorizer_event(Some(&format!("Bearer {token}")))).await
    }

    /// A form POST with a `DPoP` proof by `key` for the function's route.
    async fn form_with_proof(
        &mut self,
        binary: &str,
        client: &TestClient,
        form: &[(&str, &str)],
        key: &DpopKey,
    ) -> HttpAnswer {
        let path = self.route(binary, "POST");
        let (basic, proof) = (client.basic(), key.proof("POST", &format!("{ISSUER}{path}"), None));
        let headers = [
            ("content-type", "application/x-www-form-urlencoded"),
            ("authorization", basic.as_str()),
            ("dpop", proof.as_str()),
        ];
        self.http(binary, "POST", &path, &headers, &encode_form(form)).await
    }

    async fn secret(&self) -> KeySetDocument {
        let source =
            shared::keys::secrets_manager::SecretKeySource::connect(&tests::secrets_config().aws, &self.secret_arn)
                .await;
        shared::keys::KeySource::load(&source).await.expect("the secret holds a key set")
    }

    /// Secrets Manager's side of a rotation: the four steps, in order, with one token.
    async fn rotate(&self) {
        let token = format!("{}-{}", random_id(), random_id());
        for step in ["createSecret", "setSecret", "testSecret", "finishSecret"] {
            let event = json!({ "Step": step, "SecretId": self.secret_arn, "ClientRequestToken": token });
            self.process("rotate-keys").call(event).await;
        }
    }
}

/// A DPoP-bound login, its refresh, userinfo and the authorizer, each with a proof.
async fn dpop_bound_tokens(d: &mut Deployment, client: &TestClient, user: &tests::TestUser) {
    let key = DpopKey::generate(SigningAlgorithm::Es256);
    let login_form = [
        ("grant_type", "password"),
        ("username", user.username.as_str()),
        ("password", user.password.as_str()),
        ("scope", "openid read"),
    ];
    let login = d.form_with_proof("issue", client, &login_form, &key).await;
    assert_eq!((login.status, login.json()["token_type"].as_str()), (200, Some("DPoP")), "{}", login.body);
    let refresh_token = login.json()["refresh_token"].as_str().unwrap().to_string();
    let refresh_form = [("grant_type", "refresh_token"), ("refresh_token", refresh_token.as_str())];
    let refreshed = d.form_with_proof("refresh", client, &refresh_form, &key).await;
    assert_eq!((refreshed.status, refreshed.json()["token_type"].as_str()), (200, Some("DPoP")), "{}", refreshed.body);
    let access = refreshed.json()["access_token"].as_str().unwrap().to_string();

    let path = d.route("userinfo", "GET");
    let (authorization, proof) =
        (format!("DPoP {access}"), key.proof("GET", &format!("{ISSUER}{path}"), Some(&access)));
    let info = d.http("userinfo", "GET", &path, &[("authorization", &authorization), ("dpop", &proof)], "").await;
    assert_eq!(info.status, 200, "{}", info.body);
    let replayed = d.http("userinfo", "GET", &path, &[("authorization", &authorization), ("dpop", &proof)], "").await;
    assert_eq!(replayed.status, 401, "a proof is used once");

    let mut event = authorizer_event(Some(&authorization));
    let url = format!(
        "https://{}{}",
        event["requestContext"]["domainName"].as_str().unwrap(),
        event["rawPath"].as_str().unwrap()
    );
    event["headers"]["dpop"] = json!(key.proof("GET", &url, Some(&access)));
    let decision = d.process("authorizer").call(event).await;
    assert_eq!(decision["isAuthorized"], true, "{decision}");
}

fn verify(token: &str, jwks: &JwkSet, audience: &str) -> Value {
    let header = jsonwebtoken::decode_header(token).expect("a JWT");
    let jwk = jwks.find(header.kid.as_deref().expect("kid")).expect("the kid is in the JWKS");
    let key = DecodingKey::from_jwk(jwk).expect("key");
    let mut validation = Validation::new(header.alg);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[audience]);
    jsonwebtoken::decode::<Value>(token, &key, &validation).expect("the token verifies").claims
}

#[tokio::test]
async fn every_function_starts_and_answers_with_the_environment_the_template_renders() {
    let mut d = Deployment::new().await;

    // Every function of the template has a scenario below.
    for function in &d.functions {
        assert!(
            SCENARIOS.contains(&function.binary.as_str()),
            "{} ({}) is in template.yaml but the deployment contract test does not drive it",
            function.logical_id,
            function.binary
        );
    }

    // rotate-keys: the immediate first rotation turns the placeholder into a key set.
    d.start("rotate-keys").await;
    d.rotate().await;
    let first = d.secret().await;
    assert!(first.keys.iter().any(|k| k.state == shared::keys::KeyState::Active), "{first:?}");
    assert!(first.keys.iter().any(|k| k.state == shared::keys::KeyState::Next), "a successor is published");

    for binary in SCENARIOS.iter().filter(|b| **b != "rotate-keys") {
        d.start(binary).await;
    }

    // discovery: metadata at both well-known paths, and the JWKS of the secret's keys.
    for path in ["/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"] {
        let metadata = d.http("discovery", "GET", path, &[], "").await;
        assert_eq!(metadata.status, 200);
        assert_eq!(metadata.json()["issuer"], ISSUER);
        assert_eq!(metadata.json()["token_endpoint"], format!("{ISSUER}/oauth2/token"));
    }
    let jwks_answer = d.http("discovery", "GET", "/.well-known/jwks.json", &[], "").await;
    assert_eq!(jwks_answer.status, 200);
    let jwks: JwkSet = serde_json::from_str(&jwks_answer.body).expect("a JWK set");
    for key in &first.keys {
        assert!(jwks.find(&key.kid).is_some(), "{} of the secret is published", key.kid);
    }

    // issue: client_credentials and password grants.
    let grants = [GrantType::ClientCredentials, GrantType::Password, GrantType::RefreshToken];
    let recorder = LogoutRecorder::start().await;
    let client =
        seed_client_into(&d.store, &grants, "openid profile read", Some(AUDIENCE), ClientLifetimes::default()).await;
    let mut registered = d.store.client(&ClientId::new(&client.id)).await.unwrap().unwrap();
    registered.backchannel_logout_uri = Some(recorder.uri("logout"));
    d.store.put_client(&registered).await.unwrap();
    let user = seed_user_into(&d.store, false).await;

    // Brute-force throttling counts failures at every function that authenticates
    // clients, and a success ends the run: each under the function's own IAM policy.
    let impostor = TestClient { id: client.id.clone(), secret: "a wrong guess".into() };
    assert_eq!(d.form("issue", &impostor, &[("grant_type", "client_credentials")]).await.status, 401);
    for binary in ["refresh", "revoke", "introspect", "logout"] {
        let ghost = TestClient { id: format!("ghost-{}", random_id()), secret: "guess".into() };
        let form: &[(&str, &str)] = if binary == "refresh" {
            &[("grant_type", "refresh_token"), ("refresh_token", "x")]
        } else {
            &[("token", "x")]
        };
        assert_eq!(d.form(binary, &ghost, form).await.status, 401, "{binary}");
    }
    let wrong_password = [("grant_type", "password"), ("username", user.username.as_str()), ("password", "guess")];
    assert_eq!(d.form("issue", &client, &wrong_password).await.status, 400);

    // private_key_jwt: a resource server registered by its public key authenticates by
    // assertion at every function that authenticates clients, and each assertion's single
    // use (a conditional PutItem of a USED# item) is within each function's own policy.
    let key = ClientKey::generate(SigningAlgorithm::Es256);
    let keyed_grants = [GrantType::ClientCredentials, GrantType::RefreshToken];
    let keyed = seed_key_client_into(&d.store, &keyed_grants, "read", &key, true).await;
    let once = key.assertion(&keyed, &format!("{ISSUER}/oauth2/token"));
    let by_key = d.by_assertion("issue", &once, &[("grant_type", "client_credentials")]).await;
    assert_eq!(by_key.status, 200, "{}", by_key.body);
    let keyed_token = by_key.json()["access_token"].as_str().expect("an access token").to_string();
    assert_eq!(verify(&keyed_token, &jwks, ISSUER)["client_id"], keyed.as_str());
    let replayed = d.by_assertion("issue", &once, &[("grant_type", "client_credentials")]).await;
    assert_eq!((replayed.status, replayed.json()["error"].as_str()), (401, Some("invalid_client")));
    let fresh = |key: &ClientKey| key.assertion(&keyed, ISSUER);
    let refresh_form = [("grant_type", "refresh_token"), ("refresh_token", "not-a-refresh-token")];
    let refreshed = d.by_assertion("refresh", &fresh(&key), &refresh_form).await;
    assert_eq!(refreshed.json()["error"], "invalid_grant", "past client authentication: {}", refreshed.body);
    let introspected = d.by_assertion("introspect", &fresh(&key), &[("token", &keyed_token)]).await;
    assert_eq!(introspected.json()["active"], true, "{}", introspected.body);
    assert_eq!(d.by_assertion("revoke", &fresh(&key), &[("token", &keyed_token)]).await.status, 200);
    let feed = d.by_assertion("revocations", &fresh(&key), &[]).await;
    assert_eq!(feed.status, 200, "{}", feed.body);
    let ended = d.by_assertion("logout", &fresh(&key), &[("sid", &Sid::random().to_string())]).await;
    assert_eq!(ended.json()["error"], "invalid_request", "past client authentication: {}", ended.body);

    let cc = d.form("issue", &client, &[("grant_type", "client_credentials"), ("scope", "read")]).await;
    assert_eq!(cc.status, 200, "{}", cc.body);
    assert_eq!(cc.header("cache-control"), Some("no-store"));
    let claims = verify(cc.json()["access_token"].as_str().unwrap(), &jwks, AUDIENCE);
    assert_eq!((claims["client_id"].as_str(), claims["scope"].as_str()), (Some(client.id.as_str()), Some("read")));

    let login_form = [
        ("grant_type", "password"),
        ("username", user.username.as_str()),
        ("password", user.password.as_str()),
        ("scope", "openid profile read"),
    ];
    let login = d.form("issue", &client, &login_form).await.json();
    let access = login["access_token"].as_str().expect("access token").to_string();
    let id_token = login["id_token"].as_str().expect("an ID token for scope openid");
    assert_eq!(verify(id_token, &jwks, &client.id)["sub"], user.sub.as_str());

    // refresh: rotation at its own route.
    let refresh_form = [("grant_type", "refresh_token"), ("refresh_token", login["refresh_token"].as_str().unwrap())];
    let refreshed = d.form("refresh", &client, &refresh_form).await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    let rotated = refreshed.json();
    assert_ne!(rotated["refresh_token"], login["refresh_token"], "a new refresh token");

    // introspect, userinfo and the authorizer all accept the live token.
    let introspection = d.form("introspect", &client, &[("token", &access)]).await;
    assert_eq!(introspection.json()["active"], true, "{}", introspection.body);
    let bearer = format!("Bearer {access}");
    for method in ["GET", "POST"] {
        let path = d.route("userinfo", method);
        let info = d.http("userinfo", method, &path, &[("authorization", &bearer)], "").await;
        assert_eq!((info.status, info.json()["sub"].as_str()), (200, Some(user.sub.as_str())), "{}", info.body);
    }
    let decision = d.authorize(&access).await;
    assert_eq!(decision["isAuthorized"], true, "{decision}");
    assert_eq!(decision["context"]["sub"], user.sub.as_str());

    // DPoP: issue, refresh, userinfo and the authorizer each use a proof once (a
    // conditional write their policies must allow).
    dpop_bound_tokens(&mut d, &client, &user).await;

    // revoke: the next check of every kind refuses the token.
    let revoked = d.form("revoke", &client, &[("token", &access)]).await;
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    assert_eq!(d.form("introspect", &client, &[("token", &access)]).await.json(), json!({"active": false}));
    assert_eq!(d.authorize(&access).await["isAuthorized"], false);
    // revocations: the feed shows the revoked token to resource servers, and to nobody
    // else; the authorizer in feed mode (RevocationCheck=feed) refuses it from its copy.
    let jti = verify(&access, &jwks, AUDIENCE)["jti"].as_str().unwrap().to_string();
    let resource_server = tests::seed_resource_server_into(&d.store).await;
    let feed_path = d.route("revocations", "GET");
    let feed = d.http("revocations", "GET", &feed_path, &[("authorization", &resource_server.basic())], "").await;
    assert_eq!(feed.status, 200, "{}", feed.body);
    let entries = feed.json()["entries"].as_array().cloned().unwrap_or_default();
    assert!(entries.iter().any(|e| e["kind"] == "jti" && e["value"] == jti.as_str()), "{}", feed.body);
    let after = format!("{feed_path}?after={}", feed.json()["cursor"].as_str().unwrap());
    let next = d.http("revocations", "GET", &after, &[("authorization", &resource_server.basic())], "").await;
    assert_eq!((next.status, next.json()["entries"].as_array().map(Vec::len)), (200, Some(0)), "{}", next.body);
    let plain = d.http("revocations", "GET", &feed_path, &[("authorization", &client.basic())], "").await;
    assert_eq!(plain.status, 403, "{}", plain.body);
    let ghost = TestClient { id: format!("ghost-{}", random_id()), secret: "guess".into() };
    assert_eq!(d.http("revocations", "GET", &feed_path, &[("authorization", &ghost.basic())], "").await.status, 401);
    d.start("authorizer-feed").await;
    let in_feed_mode = |token: &str| authorizer_event(Some(&format!("Bearer {token}")));
    let refused = d.process("authorizer-feed").call(in_feed_mode(&access)).await;
    assert_eq!(refused["isAuthorized"], false, "{refused}");
    let live = d.process("authorizer-feed").call(in_feed_mode(cc.json()["access_token"].as_str().unwrap())).await;
    assert_eq!(live["isAuthorized"], true, "{live}");

    // Userinfo answers a revoked token itself, with the RFC 6750 challenge clients parse
    // (API Gateway's own 403 would carry none).
    let path = d.route("userinfo", "GET");
    let info = d.http("userinfo", "GET", &path, &[("authorization", &bearer)], "").await;
    let challenge = info.headers["www-authenticate"].as_str().unwrap_or_default();
    assert_eq!(info.status, 401, "{}", info.body);
    assert!(challenge.starts_with("Bearer") && challenge.contains("error=\"invalid_token\""), "{challenge:?}");

    // logout: the session ends and its RP gets a verifiable logout token.
    let ended = d.form("logout", &client, &[("refresh_token", rotated["refresh_token"].as_str().unwrap())]).await;
    assert_eq!(ended.status, 200, "{}", ended.body);
    let summary = ended.json();
    assert_eq!(summary["sessions_ended"].as_array().map(Vec::len), Some(1), "{summary}");
    assert_eq!(summary["deliveries"][0]["status"], "delivered", "{summary}");
    let logout_token = recorder.tokens().pop().expect("the RP received a logout token");
    assert_eq!(verify(&logout_token, &jwks, &client.id)["sub"], user.sub.as_str());

    // authorize, issue (authorization_code) and end-session: browser sign-in as deployed,
    // with single sign-on and RP-initiated logout reaching the RP by back-channel.
    browser_sign_in(&mut d, &recorder, &user, &jwks).await;

    // logout-retry: a scheduled run delivers what is due.
    let pending = DeliveryRecord {
        id: random_id(),
        client_id: ClientId::new(&client.id),
        sid: Sid::random(),
        sub: Subject::new(user.sub.as_str()),
        uri: recorder.uri("logout"),
        created_at: UnixTime::now(),
        attempts: 1,
        next_attempt_at: UnixTime::now(),
        last_error: Some("connection failed".into()),
        status: DeliveryStatus::Pending,
        expires_at: UnixTime::now().plus(3600),
    };
    d.store.save_delivery(&pending).await.unwrap();
    let before = recorder.tokens().len();
    let scheduled = json!({"version": "0", "detail-type": "Scheduled Event", "source": "aws.scheduler", "detail": {}});
    let report = d.process("logout-retry").call(scheduled).await;
    assert_eq!(report["delivered"], 1, "{report}");
    assert_eq!(recorder.tokens().len(), before + 1);
    let settled = d.store.delivery(&pending.id).await.unwrap().expect("kept for audit");
    assert_eq!(settled.status, DeliveryStatus::Delivered);

    // rotate-keys again, minutes after the first: the published successor is too young to
    // sign (verifiers and JWKS caches may not know it yet), so the set stays as it is.
    let kid_in = |doc: &KeySetDocument, state| doc.keys.iter().find(|k| k.state == state).map(|k| k.kid.clone());
    d.rotate().await;
    let second = d.secret().await;
    for state in [shared::keys::KeyState::Active, shared::keys::KeyState::Next] {
        assert_eq!(kid_in(&second, state), kid_in(&first, state), "{state:?}");
    }
    assert_eq!(second.refresh_mac_key, first.refresh_mac_key, "refresh tokens survive rotation");

    // Every route the template declares was called, and every function is still up.
    for function in &d.functions {
        for event in &function.events {
            if let Event::Http { method, path, .. } = event {
                assert!(d.called.contains(&(method.clone(), path.clone())), "{method} {path} was never called");
            }
        }
    }
    for (binary, running) in d.running.iter_mut() {
        assert!(running.process.is_running(), "{binary} exited");
    }

    // Every AWS call each function made is one its policy in the template allows.
    let denied = d.denied_calls();
    let lines: Vec<String> = denied.iter().map(Denied::to_string).collect();
    assert!(
        denied.is_empty(),
        "{} AWS calls that no statement of the function's Policies in template.yaml allows \
         (AWS would refuse them; moto does not check):\n{}",
        denied.len(),
        lines.join("\n")
    );
}

/// The value of a `name="…" value="…"` field of a page.
fn field(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).unwrap_or_else(|| panic!("no field {name} in the page")) + marker.len();
    html[start..].split('"').next().unwrap_or_default().to_string()
}

/// `name=value` of the `Set-Cookie` named `name`.
fn cookie(answer: &HttpAnswer, name: &str) -> String {
    answer
        .cookies
        .iter()
        .find(|c| c.starts_with(&format!("{name}=")))
        .and_then(|c| c.split(';').next())
        .unwrap_or_else(|| panic!("no cookie {name}: {:?}", answer.cookies))
        .to_string()
}

fn query_of(location: &str) -> std::collections::HashMap<String, String> {
    let url = url::Url::parse(location).expect("a URL");
    url.query_pairs().into_owned().collect()
}

async fn browser_sign_in(d: &mut Deployment, recorder: &LogoutRecorder, user: &tests::TestUser, jwks: &JwkSet) {
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let back = "https://app.contract.example/cb";
    let app = tests::seed_browser_client_into(&d.store, true, &[back], Some(&|_| recorder.uri("logout"))).await;
    let authorize = format!(
        "/oauth2/authorize?response_type=code&client_id={}&redirect_uri={}&scope=openid&state=s-1&nonce=n-1\
         &code_challenge={CHALLENGE}&code_challenge_method=S256",
        app.id,
        url::form_urlencoded::byte_serialize(back.as_bytes()).collect::<String>()
    );
    let form = d.http("authorize", "GET", &authorize, &[], "").await;
    assert_eq!(form.status, 200, "{}", form.body);
    assert!(form.header("content-security-policy").is_some_and(|csp| csp.contains("frame-ancestors 'none'")));
    let request = field(&form.body, "request");
    let signin_cookie = cookie(&form, &format!("__Host-signin-{request}"));
    let body = encode_form(&[
        ("request", request.as_str()),
        ("csrf", field(&form.body, "csrf").as_str()),
        ("username", user.username.as_str()),
        ("password", user.password.as_str()),
    ]);
    let form_headers = [("content-type", "application/x-www-form-urlencoded"), ("cookie", signin_cookie.as_str())];
    let signed_in = d.http("authorize", "POST", "/oauth2/authorize", &form_headers, &body).await;
    assert_eq!(signed_in.status, 303, "{}", signed_in.body);
    let session_cookie = cookie(&signed_in, "__Host-session");
    let params = query_of(signed_in.header("location").expect("a Location"));
    assert_eq!((params["state"].as_str(), params["iss"].as_str()), ("s-1", ISSUER));

    let exchange = encode_form(&[
        ("grant_type", "authorization_code"),
        ("client_id", app.id.as_str()),
        ("code", params["code"].as_str()),
        ("redirect_uri", back),
        ("code_verifier", VERIFIER),
    ]);
    let path = d.route("issue", "POST");
    let tokens =
        d.http("issue", "POST", &path, &[("content-type", "application/x-www-form-urlencoded")], &exchange).await;
    assert_eq!(tokens.status, 200, "{}", tokens.body);
    let id_token = tokens.json()["id_token"].as_str().expect("an ID token").to_string();
    let claims = verify(&id_token, jwks, &app.id);
    assert_eq!(claims["nonce"], "n-1");

    // Single sign-on: the session cookie, and a code at once.
    let again = d.http("authorize", "GET", &authorize, &[("cookie", session_cookie.as_str())], "").await;
    assert_eq!(again.status, 303, "{}", again.body);

    // DPoP (RFC 9449 §5): this public client exchanges the SSO code with a proof, so its
    // refresh family is bound to the key: a refresh without a proof, or with another key's,
    // is refused and changes nothing; the key's holder refreshes.
    let code = query_of(again.header("location").expect("a Location"))["code"].clone();
    let key = DpopKey::generate(SigningAlgorithm::Es256);
    let exchange = encode_form(&[
        ("grant_type", "authorization_code"),
        ("client_id", app.id.as_str()),
        ("code", code.as_str()),
        ("redirect_uri", back),
        ("code_verifier", VERIFIER),
    ]);
    let proof = key.proof("POST", &format!("{ISSUER}{path}"), None);
    let form_type = ("content-type", "application/x-www-form-urlencoded");
    let bound = d.http("issue", "POST", &path, &[form_type, ("dpop", proof.as_str())], &exchange).await;
    assert_eq!((bound.status, bound.json()["token_type"].as_str()), (200, Some("DPoP")), "{}", bound.body);
    let refresh_token = bound.json()["refresh_token"].as_str().expect("a refresh token").to_string();
    let refresh = encode_form(&[
        ("grant_type", "refresh_token"),
        ("client_id", app.id.as_str()),
        ("refresh_token", refresh_token.as_str()),
    ]);
    let refresh_path = d.route("refresh", "POST");
    let refresh_url = format!("{ISSUER}{refresh_path}");
    let bare = d.http("refresh", "POST", &refresh_path, &[form_type], &refresh).await;
    assert_eq!((bare.status, bare.json()["error"].as_str()), (400, Some("invalid_dpop_proof")), "{}", bare.body);
    let thief = DpopKey::generate(SigningAlgorithm::Es256).proof("POST", &refresh_url, None);
    let stolen = d.http("refresh", "POST", &refresh_path, &[form_type, ("dpop", thief.as_str())], &refresh).await;
    assert_eq!((stolen.status, stolen.json()["error"].as_str()), (400, Some("invalid_grant")), "{}", stolen.body);
    let own = key.proof("POST", &refresh_url, None);
    let rotated = d.http("refresh", "POST", &refresh_path, &[form_type, ("dpop", own.as_str())], &refresh).await;
    assert_eq!((rotated.status, rotated.json()["token_type"].as_str()), (200, Some("DPoP")), "{}", rotated.body);

    // RP-initiated logout: a hint naming this browser's session ends it at once, and the
    // RP is told by back-channel...
    let before = recorder.tokens().len();
    let hinted = format!(
        "/oauth2/end_session?id_token_hint={id_token}&post_logout_redirect_uri={}&state=bye",
        url::form_urlencoded::byte_serialize(format!("{back}?signed-out").as_bytes()).collect::<String>()
    );
    let left = d.http("end-session", "GET", &hinted, &[("cookie", session_cookie.as_str())], "").await;
    assert_eq!(left.status, 303, "{}", left.body);
    assert_eq!(query_of(left.header("location").expect("a Location"))["state"], "bye");
    assert!(recorder.tokens().len() > before, "the RP was told by back-channel");
    // ... and without a hint, a confirmation (GET), confirmed (POST): the session is over
    // already, so the browser is only signed out.
    let ask = d.http("end-session", "GET", &format!("/oauth2/end_session?client_id={}", app.id), &[], "").await;
    assert_eq!(ask.status, 200, "{}", ask.body);
    let signout_cookie = cookie(&ask, "__Host-signout");
    let confirm = encode_form(&[("confirm", "yes"), ("csrf", field(&ask.body, "csrf").as_str())]);
    let cookies = format!("{signout_cookie}; {session_cookie}");
    let headers = [("content-type", "application/x-www-form-urlencoded"), ("cookie", cookies.as_str())];
    let ended = d.http("end-session", "POST", "/oauth2/end_session", &headers, &confirm).await;
    assert_eq!(ended.status, 200, "{}", ended.body);

    // CORS preflights: the app's origin (of its redirect URI) passes, at every route a
    // browser app calls.
    let origin = "https://app.contract.example";
    let preflights = [
        ("issue", "/oauth2/token"),
        ("refresh", "/oauth2/refresh"),
        ("revoke", "/oauth2/revoke"),
        ("userinfo", "/userinfo"),
        ("discovery", "/.well-known/openid-configuration"),
        ("discovery", "/.well-known/oauth-authorization-server"),
        ("discovery", "/.well-known/jwks.json"),
    ];
    for (binary, path) in preflights {
        let answer = d.http(binary, "OPTIONS", path, &[("origin", origin)], "").await;
        assert_eq!(answer.status, 204, "{binary} {path}");
        let allowed = answer.header("access-control-allow-origin");
        assert!(allowed == Some(origin) || allowed == Some("*"), "{binary} {path}: {:?}", answer.headers);
    }
}
