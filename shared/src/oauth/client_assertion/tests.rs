//! Client assertions: each refusal for its own reason, single use, and what they cost
//! through the client directory (docs/ARCHITECTURE.md §5).

use super::*;
use crate::domain::{ClientAuthentication, ClientRecord, GrantType, SigningAlgorithm};
use crate::oauth::OAuthErrorCode;
use crate::oauth::client_auth::ClientDirectory;
use crate::store::{ClientAdmin, FailureStore};
use crate::testing::counting::Counting;
use crate::testing::kit::{self, ClientKey, ISSUER};
use crate::testing::memory::MemoryStore;
use jsonwebtoken::{EncodingKey, Header};
use serde_json::json;
use std::time::Duration;

const TOKEN_ENDPOINT: &str = "https://auth.example.com/oauth2/token";

fn verifier() -> AssertionVerifier {
    AssertionVerifier::new(ISSUER, Arc::new(MemoryStore::new()))
}

fn keys_of(key: &ClientKey) -> ClientJwks {
    ClientJwks::parse(&key.jwks()).expect("a public key set")
}

/// The assertion as the token endpoint reads it.
fn presented(jwt: &str) -> ClientAssertion {
    ClientAssertion::read(Some(JWT_BEARER), Some(jwt), None).expect("names its client")
}

/// `claims` of a valid assertion by `svc`, changed by `edit`.
fn claims_with(now: UnixTime, edit: impl FnOnce(&mut Value)) -> Value {
    let mut claims = ClientKey::claims("svc", TOKEN_ENDPOINT, now);
    edit(&mut claims);
    claims
}

async fn verdict(verifier: &AssertionVerifier, key: &ClientKey, jwt: &str, now: UnixTime) -> Result<(), Refusal> {
    verifier.verify(&presented(jwt), &keys_of(key), now).await.expect("the store answers")
}

#[tokio::test]
async fn a_valid_assertion_by_each_kind_of_key_authenticates_once() {
    let now = UnixTime::now();
    for alg in [SigningAlgorithm::Es256, SigningAlgorithm::EdDsa, SigningAlgorithm::Rs256] {
        let (verifier, key) = (verifier(), ClientKey::generate(alg));
        let jwt = key.sign(&key.header(), &claims_with(now, |_| {}));
        assert_eq!(verdict(&verifier, &key, &jwt, now).await, Ok(()), "{alg:?}");
        assert_eq!(verdict(&verifier, &key, &jwt, now).await, Err(Refusal::Replayed), "{alg:?}");
    }
}

/// Every way an authentic-looking assertion can be wrong, each for its own reason, so
/// that no case passes by failing some other check.
#[tokio::test]
async fn each_refusal_has_its_reason() {
    let now = UnixTime::now();
    let key = ClientKey::generate(SigningAlgorithm::Es256);
    let valid = |edit: fn(&mut Value)| key.sign(&key.header(), &claims_with(now, edit));
    let mut other_key = ClientKey::generate(SigningAlgorithm::Es256);
    other_key.kid = key.kid.clone();
    let mut unknown_kid = key.header();
    unknown_kid.kid = Some("not-registered".into());
    let mut at_jwt = key.header();
    at_jwt.typ = Some("at+jwt".into());
    // The classic confusion: HS256 keyed with the public key the server holds.
    let mut hs256 = Header::new(jsonwebtoken::Algorithm::HS256);
    hs256.kid = Some(key.kid.clone());
    let confused = jsonwebtoken::encode(
        &hs256,
        &claims_with(now, |_| {}),
        &EncodingKey::from_secret(key.jwks().as_bytes()).unwrap(),
    )
    .unwrap();
    let unsigned = {
        let valid = valid(|_| {});
        let (_, rest) = valid.split_once('.').unwrap();
        let payload = rest.split_once('.').unwrap().0;
        format!(
            "{}.{payload}.",
            base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, r#"{"alg":"none"}"#)
        )
    };
    let long_jti = "j".repeat(MAX_IDENTIFIER_BYTES + 1);
    let cases: Vec<(&str, String, Refusal)> = vec![
        (
            "signed by another key",
            other_key.sign(&other_key.header(), &claims_with(now, |_| {})),
            Refusal::BadSignature,
        ),
        ("a kid not registered", key.sign(&unknown_kid, &claims_with(now, |_| {})), Refusal::UnknownKey),
        ("alg HS256 from the header", confused, Refusal::AlgorithmMismatch),
        ("alg none", unsigned, Refusal::Malformed),
        ("another kind of JWT", key.sign(&at_jwt, &claims_with(now, |_| {})), Refusal::WrongType),
        (
            "aud another server",
            valid(|c| c["aud"] = json!("https://elsewhere.example.com/oauth2/token")),
            Refusal::WrongAudience,
        ),
        (
            "aud another endpoint",
            valid(|c| c["aud"] = json!("https://auth.example.com/oauth2/revoke")),
            Refusal::WrongAudience,
        ),
        ("aud missing", valid(|c| drop(c.as_object_mut().unwrap().remove("aud"))), Refusal::WrongAudience),
        (
            "aud naming us among others",
            valid(|c| c["aud"] = json!(["https://other.example.com", "https://auth.example.com/oauth2/token"])),
            Refusal::WrongAudience,
        ),
        ("exp missing", valid(|c| drop(c.as_object_mut().unwrap().remove("exp"))), Refusal::MissingExpiry),
        ("exp not a number", valid(|c| c["exp"] = json!("soon")), Refusal::Malformed),
        ("expired", valid(|c| c["exp"] = c["iat"].clone()), Refusal::Expired),
        (
            "exp beyond the limit and the skew",
            valid(|c| c["exp"] = json!(c["iat"].as_u64().unwrap() + MAX_CLIENT_ASSERTION_SECONDS + LEEWAY_SECONDS + 1)),
            Refusal::ExpiresTooLate,
        ),
        (
            "iat in the future",
            valid(|c| c["iat"] = json!(c["iat"].as_u64().unwrap() + LEEWAY_SECONDS + 1)),
            Refusal::NotYetValid,
        ),
        (
            "nbf in the future",
            valid(|c| c["nbf"] = json!(c["iat"].as_u64().unwrap() + LEEWAY_SECONDS + 1)),
            Refusal::NotYetValid,
        ),
        ("jti missing", valid(|c| drop(c.as_object_mut().unwrap().remove("jti"))), Refusal::MissingJti),
        ("jti empty", valid(|c| c["jti"] = json!("")), Refusal::MissingJti),
        (
            "jti too long",
            key.sign(&key.header(), &claims_with(now, |c| c["jti"] = json!(long_jti))),
            Refusal::JtiTooLong,
        ),
    ];
    let verifier = verifier();
    for (case, jwt, refusal) in cases {
        assert_eq!(verdict(&verifier, &key, &jwt, now).await, Err(refusal), "{case}");
    }
}

/// The edges of what is accepted: the limits themselves, both `aud` forms and names, and
/// the `typ` values a client library may set.
#[tokio::test]
async fn what_is_accepted_at_the_edges() {
    let now = UnixTime::now();
    let key = ClientKey::generate(SigningAlgorithm::Es256);
    let iat = now.0;
    let edits: Vec<(&str, Value, Option<&str>)> = vec![
        ("aud the issuer", json!({ "aud": ISSUER }), None),
        ("aud an array of us alone", json!({ "aud": [TOKEN_ENDPOINT] }), None),
        ("exp at the limit", json!({ "exp": iat + MAX_CLIENT_ASSERTION_SECONDS + LEEWAY_SECONDS }), None),
        ("exp a fraction", json!({ "exp": iat as f64 + 30.5 }), None),
        ("iat and nbf within the skew", json!({ "iat": iat + LEEWAY_SECONDS, "nbf": iat + LEEWAY_SECONDS }), None),
        ("jti at the limit", json!({ "jti": "j".repeat(MAX_IDENTIFIER_BYTES) }), None),
        ("typ absent", json!({}), Some("")),
        ("typ explicit", json!({}), Some("client-authentication+jwt")),
    ];
    let verifier = verifier();
    for (case, changes, typ) in edits {
        let claims = claims_with(now, |c| {
            for (name, value) in changes.as_object().unwrap() {
                c[name] = value.clone();
            }
        });
        let mut header = key.header();
        if let Some(typ) = typ {
            header.typ = (!typ.is_empty()).then(|| typ.to_string());
        }
        assert_eq!(verdict(&verifier, &key, &key.sign(&header, &claims), now).await, Ok(()), "{case}");
    }
}

#[test]
fn an_assertion_that_names_no_single_client_is_refused_unread() {
    let key = ClientKey::generate(SigningAlgorithm::Es256);
    let now = UnixTime::now();
    for edit in [
        |c: &mut Value| c["sub"] = json!("other"),
        |c: &mut Value| drop(c.as_object_mut().unwrap().remove("iss")),
        |c: &mut Value| c["iss"] = json!(7),
    ] {
        let jwt = key.sign(&key.header(), &claims_with(now, edit));
        let err = ClientAssertion::read(Some(JWT_BEARER), Some(&jwt), None).unwrap_err();
        assert_eq!(err.code, OAuthErrorCode::InvalidClient);
    }
}

#[tokio::test]
async fn the_jti_is_single_use_per_client_and_a_refused_assertion_uses_none() {
    let now = UnixTime::now();
    let verifier = verifier();
    let (key, other) = (ClientKey::generate(SigningAlgorithm::Es256), ClientKey::generate(SigningAlgorithm::Es256));
    let claims = claims_with(now, |_| {});
    // A forgery with the client's next jti is refused, and burns nothing.
    let mut forged = other.header();
    forged.kid = Some(key.kid.clone());
    assert_eq!(verdict(&verifier, &key, &other.sign(&forged, &claims), now).await, Err(Refusal::BadSignature));
    assert_eq!(verdict(&verifier, &key, &key.sign(&key.header(), &claims), now).await, Ok(()));
    // A fresh assertion with a used jti is a replay however it differs.
    let again = claims_with(now, |c| c["jti"] = claims["jti"].clone());
    assert_eq!(verdict(&verifier, &key, &key.sign(&key.header(), &again), now).await, Err(Refusal::Replayed));
    // Another client may use the same jti: they are scoped to their client.
    let theirs = claims_with(now, |c| {
        c["iss"] = json!("other");
        c["sub"] = json!("other");
        c["jti"] = claims["jti"].clone();
    });
    assert_eq!(verdict(&verifier, &other, &other.sign(&other.header(), &theirs), now).await, Ok(()));
}

/// The directory over a counting memory store, with `svc` (private_key_jwt, `key`) and
/// `app` (a secret), both cached after a first authentication.
struct Fixture {
    store: Arc<Counting<MemoryStore>>,
    clients: ClientDirectory,
    key: ClientKey,
}

async fn fixture() -> Fixture {
    let memory = Arc::new(MemoryStore::new());
    let key = ClientKey::generate(SigningAlgorithm::Es256);
    let mut svc = kit::client("svc", &[GrantType::ClientCredentials], "read");
    svc.authentication = ClientAuthentication::PrivateKeyJwt(keys_of(&key));
    memory.create_client(&svc).await.unwrap();
    memory.create_client(&kit::client("app", &[GrantType::ClientCredentials], "read")).await.unwrap();
    let store = Arc::new(Counting::new(memory));
    let clients = ClientDirectory::new(store.clone(), store.clone(), ISSUER, Duration::from_secs(60));
    Fixture { store, clients, key }
}

impl Fixture {
    fn by_assertion(&self, jwt: &str) -> crate::oauth::OAuthRequest {
        kit::form(
            &serde_urlencoded::to_string([("client_assertion_type", JWT_BEARER), ("client_assertion", jwt)]).unwrap(),
        )
    }

    async fn authenticate(&self, req: &crate::oauth::OAuthRequest) -> Result<ClientRecord, OAuthError> {
        self.clients.authenticate(req).await
    }

    async fn failures(&self, id: &str) -> u32 {
        self.store.client_for_auth(&ClientId::new(id)).await.unwrap().1.failures
    }
}

/// docs/ARCHITECTURE.md §5: with the client cached, a secret costs no round trip and an
/// assertion exactly one, its `jti`'s conditional put.
#[tokio::test]
async fn an_assertion_costs_one_round_trip_more_than_a_secret() {
    let f = fixture().await;
    let secret = kit::form_as("app", "");
    f.authenticate(&secret).await.unwrap();
    f.authenticate(&f.by_assertion(&f.key.assertion("svc", TOKEN_ENDPOINT))).await.unwrap();
    f.store.reset();

    f.authenticate(&secret).await.unwrap();
    let by_secret = f.store.round_trips();
    let client = f.authenticate(&f.by_assertion(&f.key.assertion("svc", TOKEN_ENDPOINT))).await.unwrap();
    let by_assertion = f.store.round_trips() - by_secret;
    assert_eq!(client.id.as_str(), "svc");
    assert_eq!((by_secret, by_assertion), (0, 1), "secret, assertion");
}

#[tokio::test]
async fn each_client_authenticates_only_by_the_method_it_registered_and_a_refusal_counts() {
    let f = fixture().await;
    // `svc` with a secret, `app` with an assertion from a key it never registered.
    let cases = [
        kit::form_as("svc", ""),
        f.by_assertion(&ClientKey::generate(SigningAlgorithm::Es256).assertion("app", TOKEN_ENDPOINT)),
        f.by_assertion(&f.key.assertion("nobody", TOKEN_ENDPOINT)),
        f.by_assertion(&f.key.assertion("svc", "https://elsewhere.example.com")),
    ];
    for (case, req) in cases.iter().enumerate() {
        let err = f.authenticate(req).await.unwrap_err();
        assert_eq!((err.code, err.status()), (OAuthErrorCode::InvalidClient, 401), "case {case}");
    }
    assert_eq!((f.failures("svc").await, f.failures("app").await, f.failures("nobody").await), (2, 1, 1));
}

#[tokio::test]
async fn a_replay_is_invalid_client_and_failures_throttle_assertions_as_they_do_secrets() {
    let f = fixture().await;
    let jwt = f.key.assertion("svc", TOKEN_ENDPOINT);
    f.authenticate(&f.by_assertion(&jwt)).await.unwrap();
    assert_eq!(f.authenticate(&f.by_assertion(&jwt)).await.unwrap_err().code, OAuthErrorCode::InvalidClient);
    for _ in 1..crate::policy::FREE_FAILURES {
        let expired = f.key.sign(&f.key.header(), &claims_with(UnixTime(UnixTime::now().0 - 120), |_| {}));
        assert_eq!(f.authenticate(&f.by_assertion(&expired)).await.unwrap_err().code, OAuthErrorCode::InvalidClient);
    }
    assert_eq!(f.failures("svc").await, crate::policy::FREE_FAILURES, "the replay counted too");
    // From here on even a valid assertion waits, unread.
    let valid = f.key.assertion("svc", TOKEN_ENDPOINT);
    assert_eq!(f.authenticate(&f.by_assertion(&valid)).await.unwrap_err().status(), 429);
}

#[tokio::test]
async fn a_success_after_failures_ends_the_run() {
    let f = fixture().await;
    let expired = f.key.sign(&f.key.header(), &claims_with(UnixTime(UnixTime::now().0 - 120), |_| {}));
    f.authenticate(&f.by_assertion(&expired)).await.unwrap_err();
    assert_eq!(f.failures("svc").await, 1);
    f.authenticate(&f.by_assertion(&f.key.assertion("svc", TOKEN_ENDPOINT))).await.unwrap();
    assert_eq!(f.failures("svc").await, 0);
}

/// A refusal is logged with the client and the reason, and with no part of the assertion.
#[tokio::test]
async fn a_refusal_logs_its_reason_and_never_the_assertion() {
    #[derive(Clone, Default)]
    struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt().json().with_writer(move || writer.clone()).finish();
    let _logging = tracing::subscriber::set_default(subscriber);

    let f = fixture().await;
    let wrong = f.key.sign(&f.key.header(), &claims_with(UnixTime::now(), |c| c["aud"] = json!("x")));
    f.authenticate(&f.by_assertion(&wrong)).await.unwrap_err();
    let foreign =
        serde_urlencoded::to_string([("client_assertion_type", "urn:x"), ("client_assertion", &wrong)]).unwrap();
    f.authenticate(&kit::form(&format!("{foreign}&client_id=svc"))).await.unwrap_err();

    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let events: Vec<Value> =
        text.lines().map(|line| serde_json::from_str::<Value>(line).unwrap()["fields"].clone()).collect();
    let reasons: Vec<(&str, &str)> = events
        .iter()
        .filter(|e| e["event"] == "client.auth_failed")
        .map(|e| (e["client_id"].as_str().unwrap_or_default(), e["reason"].as_str().unwrap_or_default()))
        .collect();
    assert_eq!(reasons, [("svc", "assertion_aud"), ("svc", "unsupported_assertion_type")], "{text}");
    for part in wrong.split('.') {
        assert!(!text.contains(part), "a part of the assertion was logged: {text}");
    }
}
