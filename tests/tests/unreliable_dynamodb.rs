//! The real SDK and store against an unreliable DynamoDB (issue #10, "Fault injection"):
//! a proxy in front of moto answers requests, at random, with throttling, 500s, delays
//! past the attempt timeout, transaction conflicts, batch reads left unprocessed, and
//! writes applied whose answers are lost. The SDK retries with the deployed retry
//! configuration (shorter timeouts), the store classifies what it gets, and the services
//! must still hold, for any schedule:
//! * a confirmed revocation (the call answered success) is never reported active, never
//!   allowed, and its family never rotates again;
//! * every refresh token handed out exists: none is ahead of its family (a successor
//!   answered although its rotation did not commit would be one).
//!
//! `FAULT_CASES` sets the number of cases (default 16).

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config as RunnerConfig, TestCaseError, TestRunner};
use shared::Services;
use shared::config::Config;
use shared::domain::{ClientAuthentication, ClientRecord, GrantType, UserRecord};
use shared::ids::{FamilyId, Subject, random_id};
use shared::keys::KeyRing;
use shared::oauth::OAuthRequest;
use shared::secrets::{ClientSecretHash, PasswordHashString, SecretString};
use shared::store::dynamo::{DynamoStore, schema};
use shared::store::{ClientAdmin, FamilyRead, UserAdmin};
use shared::verify::ResourceRequest;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tests::encode_form;
use tests::fault_proxy::{Fault, FaultProxy};

const SECRET: &str = "unreliable-dynamodb-secret-0123";
const PASSWORD: &str = "correct horse battery";
const AUDIENCE: &str = "https://api.example.com";
/// One SDK attempt's timeout here; a slow answer takes longer.
const ATTEMPT_MS: u64 = 400;

#[derive(Clone, Copy, Debug)]
enum Wire {
    Pass,
    Throttle,
    ServerError,
    Slow,
    Unprocessed,
    TransactionConflict,
    LostAnswer,
}

fn wire() -> impl Strategy<Value = Wire> {
    prop_oneof![
        12 => Just(Wire::Pass),
        3 => Just(Wire::Throttle),
        2 => Just(Wire::ServerError),
        1 => Just(Wire::Slow),
        2 => Just(Wire::Unprocessed),
        2 => Just(Wire::TransactionConflict),
        2 => Just(Wire::LostAnswer),
    ]
}

const DYNAMODB: &str = "com.amazonaws.dynamodb.v20120810#";

/// What the proxy does with one DynamoDB request under `wire`. A fault that cannot
/// happen to this request (unprocessed keys of a write) lets it through.
fn apply(wire: Wire, target: &str, body: &str) -> Fault {
    let error = |status, name: &'static str| Fault::Error { status, error_type: name };
    let request: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    match wire {
        Wire::Pass => Fault::Pass,
        Wire::Throttle => error(400, "com.amazonaws.dynamodb.v20120810#ThrottlingException"),
        Wire::ServerError => error(500, "com.amazonaws.dynamodb.v20120810#InternalServerError"),
        Wire::Slow => Fault::Delay(Duration::from_millis(ATTEMPT_MS + 200)),
        Wire::Unprocessed if target.ends_with(".BatchGetItem") => Fault::Answer {
            status: 200,
            body: serde_json::json!({ "Responses": {}, "UnprocessedKeys": request["RequestItems"] }),
        },
        Wire::TransactionConflict if target.ends_with(".TransactWriteItems") => {
            let items = request["TransactItems"].as_array().map(Vec::len).unwrap_or(1);
            let mut reasons = vec![serde_json::json!({ "Code": "None" }); items];
            reasons[0] = serde_json::json!({ "Code": "TransactionConflict", "Message": "conflict" });
            Fault::Answer {
                status: 400,
                body: serde_json::json!({
                    "__type": format!("{DYNAMODB}TransactionCanceledException"),
                    "message": "Transaction cancelled, please refer cancellation reasons for specific reasons",
                    "CancellationReasons": reasons,
                }),
            }
        }
        Wire::LostAnswer => {
            Fault::ApplyThenFail { status: 500, error_type: "com.amazonaws.dynamodb.v20120810#InternalServerError" }
        }
        Wire::Unprocessed | Wire::TransactionConflict => Fault::Pass,
    }
}

fn config(endpoint: &str, table: &str) -> Config {
    let (endpoint, table) = (endpoint.to_string(), table.to_string());
    Config::from_lookup(move |name| match name {
        "DYNAMODB_ENDPOINT" => Some(endpoint.clone()),
        "TABLE_NAME" => Some(table.clone()),
        "ISSUER" => Some("https://auth.example.com".into()),
        "KEY_SOURCE" => Some("file:unused".into()),
        "EXPECTED_AUDIENCE" => Some(AUDIENCE.into()),
        // The template's retry configuration (two attempts), with a shorter attempt.
        "STORE_ATTEMPT_TIMEOUT_MS" => Some(ATTEMPT_MS.to_string()),
        "STORE_OPERATION_TIMEOUT_MS" => Some("3000".into()),
        "STORE_MAX_ATTEMPTS" => Some("2".into()),
        _ => std::env::var(name).ok(),
    })
    .expect("configuration")
}

fn form(client: &str, pairs: &[(&str, &str)]) -> OAuthRequest {
    let mut all = vec![("client_id", client), ("client_secret", SECRET)];
    all.extend_from_slice(pairs);
    OAuthRequest::parse(Some("application/x-www-form-urlencoded"), None, encode_form(&all).as_bytes()).expect("a form")
}

/// The generation a refresh token names (`<family>.<generation>.<mac>`).
fn generation(token: &str) -> u32 {
    token.split('.').nth(1).and_then(|g| g.parse().ok()).expect("a refresh token")
}

struct Fixture {
    proxy: FaultProxy,
    keys: Arc<KeyRing>,
    direct: Config,
    through_proxy: Config,
    schedule: Arc<Mutex<VecDeque<Wire>>>,
    password_hash: PasswordHashString,
}

fn fail(message: String) -> TestCaseError {
    TestCaseError::fail(message)
}

async fn run_case(f: &Fixture, schedule: Vec<Wire>) -> Result<(), TestCaseError> {
    // Set up without faults: two clients and a logged-in user.
    let store = Arc::new(DynamoStore::connect(&f.direct.aws).await);
    let (app, rs) = (format!("app-{}", random_id()), format!("rs-{}", random_id()));
    let client = |id: &str, grants: &[GrantType], may_introspect| ClientRecord {
        dpop_bound_access_tokens: false,
        authentication: ClientAuthentication::Secret(
            ClientSecretHash::create(&SecretString::new(SECRET)).expect("hash"),
        ),
        grant_types: grants.iter().copied().collect(),
        scopes: shared::domain::Scope::parse("openid read").expect("scope"),
        audience: Some(AUDIENCE.into()),
        may_introspect,
        ..shared::testing::kit::client(id, &[], "")
    };
    store.put_client(&client(&app, &[GrantType::Password, GrantType::RefreshToken], false)).await.expect("client");
    store.put_client(&client(&rs, &[GrantType::ClientCredentials], true)).await.expect("client");
    let username = format!("user-{}", random_id());
    let user = UserRecord {
        username: username.clone(),
        sub: Subject::random(),
        password_hash: f.password_hash.clone(),
        disabled: false,
    };
    store.create_user(&user).await.expect("user");
    let direct = Services::new(f.direct.clone(), f.keys.clone(), store.clone());
    let login = form(&app, &[("grant_type", "password"), ("username", &username), ("password", PASSWORD)]);
    let login = direct.token_issuer().token(&login).await.expect("login");
    let (access, first_refresh) = (login.access_token, login.refresh_token.expect("a refresh token"));
    let fid = first_refresh.split('.').next().expect("family").to_string();

    // Everything from here goes through the proxy, under the schedule.
    *f.schedule.lock().expect("schedule") = schedule.into();
    let unreliable = Arc::new(DynamoStore::connect(&f.through_proxy.aws).await);
    let services = Services::new(f.through_proxy.clone(), f.keys.clone(), unreliable);
    let issuer = services.token_issuer();
    let refresh = |token: String| {
        let issuer = &issuer;
        let app = &app;
        async move {
            let req = form(app, &[("grant_type", "refresh_token"), ("refresh_token", &token)]);
            issuer.token(&req).await.ok().and_then(|reply| reply.refresh_token)
        }
    };
    let mut handed_out = vec![first_refresh.clone()];
    let (a, b) = tokio::join!(refresh(first_refresh.clone()), refresh(first_refresh.clone()));
    handed_out.extend(a.into_iter().chain(b));
    let latest = handed_out.iter().max_by_key(|t| generation(t)).cloned().expect("one");
    handed_out.extend(refresh(latest).await);

    let revoked_access = services
        .revoker()
        .revoke(&form(&app, &[("token", &access), ("token_type_hint", "access_token")]))
        .await
        .is_ok();
    let introspected = services.introspector().introspect(&form(&rs, &[("token", &access)])).await;
    let allowed = services
        .authorizer()
        .expect("audience")
        .decide(&ResourceRequest::with_authorization(Some(&format!("Bearer {access}"))))
        .await
        .allow;
    if revoked_access && (matches!(&introspected, Ok(json) if json["active"] == true) || allowed) {
        return Err(fail(format!("a revoked access token was accepted: {introspected:?}, allowed {allowed}")));
    }

    let revoked_family = services
        .revoker()
        .revoke(&form(&app, &[("token", &first_refresh), ("token_type_hint", "refresh_token")]))
        .await
        .is_ok();
    let latest = handed_out.iter().max_by_key(|t| generation(t)).cloned().expect("one");
    let rotated = refresh(latest.clone()).await;
    let introspected = services.introspector().introspect(&form(&rs, &[("token", &latest)])).await;
    if revoked_family && (rotated.is_some() || matches!(&introspected, Ok(json) if json["active"] == true)) {
        return Err(fail(format!("a revoked family lived on: rotated {rotated:?}, {introspected:?}")));
    }
    handed_out.extend(rotated);

    // At rest, without faults: no successor handed out is ahead of its family.
    f.schedule.lock().expect("schedule").clear();
    let family = store.family(&FamilyId::new(&fid)).await.expect("read").expect("the family");
    if let Some(ahead) = handed_out.iter().find(|t| generation(t) > family.generation) {
        return Err(fail(format!("handed out {ahead}, but the family is at generation {}", family.generation)));
    }
    Ok(())
}

#[test]
fn the_real_sdk_under_throttling_errors_delays_and_lost_answers_never_breaks_a_revocation() {
    let cases: u32 = std::env::var("FAULT_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(16);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let fixture = runtime.block_on(async {
        let moto = tests::required_env("RACE_DYNAMODB_ENDPOINT");
        let table = format!("unreliable-{}", random_id());
        let direct = config(&moto, &table);
        let setup = DynamoStore::connect(&direct.aws).await;
        schema::create_table(setup.sdk_client(), setup.table()).await.expect("table");
        let schedule: Arc<Mutex<VecDeque<Wire>>> = Arc::default();
        let rule_schedule = schedule.clone();
        let proxy = FaultProxy::start(&moto, move |call| {
            if !call.target.starts_with("DynamoDB_") {
                return Fault::Pass;
            }
            let wire = rule_schedule.lock().ok().and_then(|mut s| s.pop_front()).unwrap_or(Wire::Pass);
            apply(wire, call.target, call.body)
        })
        .await;
        let through_proxy = config(&proxy.endpoint(), &table);
        Fixture {
            proxy,
            keys: Arc::new(KeyRing::ephemeral(shared::domain::SigningAlgorithm::Es256).expect("keys")),
            direct,
            through_proxy,
            schedule,
            password_hash: PasswordHashString::create(&SecretString::new(PASSWORD)).expect("hash"),
        }
    });
    let started = std::time::Instant::now();
    let mut runner = TestRunner::new(RunnerConfig { cases, failure_persistence: None, ..RunnerConfig::default() });
    let result = runner.run(&vec(wire(), 0..40), |schedule| runtime.block_on(run_case(&fixture, schedule)));
    println!(
        "wire fault schedules: {cases} cases, {} requests faulted, in {:.1} s",
        fixture.proxy.faults(),
        started.elapsed().as_secs_f64()
    );
    if let Err(err) = result {
        panic!("{err}");
    }
}
