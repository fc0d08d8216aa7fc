//! Key rotation through Secrets Manager (moto's, over HTTP): the rotation contract's
//! four steps as `rotate-keys` runs them, and what verifiers see afterwards.

use shared::config::{AwsSettings, Config};
use shared::domain::SigningAlgorithm;
use shared::ids::random_id;
use shared::keys::rotation::{FINISH_WINDOW_SECONDS, RotationTiming};
use shared::keys::secrets_manager::{Rotator, SecretKeySource, client};
use shared::keys::{KeyRing, KeySet, KeySetDocument, KeySource, KeyState};
use shared::policy::{LEEWAY_SECONDS, MAX_TOKEN_LIFETIME};
use shared::time::UnixTime;
use shared::tokens::access::{AccessTokenClaims, mint, verify_access_token};
use std::time::Duration;

const ISS: &str = shared::testing::kit::ISSUER;

fn config() -> Config {
    tests::secrets_config()
}

async fn rotate(rotator: &Rotator, secret: &str, now: UnixTime) {
    // Secrets Manager's tokens are 32 to 64 characters (it sends UUIDs).
    let token = format!("{}{}", random_id(), random_id());
    for step in ["createSecret", "setSecret", "testSecret", "finishSecret"] {
        rotator.step(step, secret, &token, now).await.unwrap_or_else(|e| panic!("{step}: {e}"));
    }
    // Every step may run twice (the contract retries): nothing changes.
    for step in ["createSecret", "finishSecret"] {
        rotator.step(step, secret, &token, now).await.unwrap_or_else(|e| panic!("{step} again: {e}"));
    }
}

fn token(keys: &KeySet, now: UnixTime) -> (String, AccessTokenClaims) {
    let claims = shared::testing::kit::access_claims("svc", now);
    (mint(keys, ES256, &claims).unwrap(), claims)
}

const ES256: SigningAlgorithm = SigningAlgorithm::Es256;

/// The ES256 key signing in `keys` (every algorithm of the set rotates alike).
fn signer(keys: &KeySet) -> String {
    keys.signing_key(ES256).expect("an ES256 key").kid.clone()
}

fn kid(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
}

fn jwks_kids(keys: &KeySet) -> Vec<String> {
    keys.jwks().keys.iter().filter_map(|k| k.common.key_id.clone()).collect()
}

#[tokio::test]
async fn rotation_publishes_before_signing_and_retires_after_the_last_token() {
    let config = config();
    let sm = client(&config.aws).await;
    let secret = format!("keys-{}", random_id());
    // As the template creates it: a placeholder the first rotation replaces.
    sm.create_secret().name(&secret).secret_string("{}").send().await.expect("create secret");
    let timing = RotationTiming::for_reload_interval(300);
    let rotator = Rotator { client: sm.clone(), algorithm: SigningAlgorithm::Es256, timing };
    let source = SecretKeySource::connect(&config.aws, &secret).await;
    let now = UnixTime::now();

    // The first rotation (RotateImmediatelyOnUpdate at deploy) makes the first set.
    rotate(&rotator, &secret, now).await;
    let first_doc = source.load().await.expect("current set");
    let first = KeySet::from_document(&first_doc).expect("loads");
    let next_kid = first_doc
        .keys
        .iter()
        .find(|k| k.alg == ES256 && k.state == KeyState::Next)
        .expect("a published successor")
        .kid
        .clone();
    let rs256 =
        |doc: &KeySetDocument, state| doc.keys.iter().any(|k| k.alg == SigningAlgorithm::Rs256 && k.state == state);
    assert!(rs256(&first_doc, KeyState::Active) && rs256(&first_doc, KeyState::Next), "RS256 beside ES256");
    assert!(jwks_kids(&first).contains(&next_kid), "the next key is in the JWKS before it signs");
    let (old_token, old_claims) = token(&first, now);
    let old_kid = kid(&old_token);
    let ring =
        KeyRing::load(Box::new(SecretKeySource::connect(&config.aws, &secret).await), Duration::ZERO).await.unwrap();

    // A rotation soon after another leaves the published key to age: verifiers and JWKS
    // caches may not know it yet.
    rotate(&rotator, &secret, now.plus(10)).await;
    let early = KeySet::from_document(&source.load().await.expect("current set")).expect("loads");
    assert_eq!(signer(&early), kid(&token(&first, now).0), "the active key keeps signing");

    let later = now.plus(timing.min_publication);
    rotate(&rotator, &secret, later).await;
    let second_doc = source.load().await.expect("current set");
    let second = KeySet::from_document(&second_doc).expect("loads");

    // Tokens signed before the rotation still verify.
    assert_eq!(verify_access_token(&second, &old_token, ISS, None, now).unwrap(), old_claims);
    // New tokens carry the key published by the previous rotation.
    let (new_token, _) = token(&second, now);
    assert_eq!(kid(&new_token), next_kid);
    assert_ne!(kid(&new_token), old_kid);
    // The JWKS shows both (and the next successor), of each algorithm.
    let kids = jwks_kids(&second);
    assert!(kids.contains(&old_kid) && kids.contains(&next_kid) && kids.len() == 6, "{kids:?}");
    // A warm instance reloading its ring sees the rotation.
    assert_eq!(signer(&*ring.current().await), next_kid, "seen within KEY_RELOAD_SECONDS");
    assert_eq!(second_doc.refresh_mac_key, first_doc.refresh_mac_key);

    // The retired key stays while any token it signed can live, and goes after.
    let retire_at = second_doc.keys.iter().find(|k| k.kid == old_kid).unwrap().retire_at.expect("retire_at");
    assert!(old_claims.exp.plus(LEEWAY_SECONDS) < retire_at);
    // Even a token signed at the last moment (the rotation finishing as late as it may,
    // a warm instance signing until its next reload) expires before the key retires.
    assert!(later.plus(FINISH_WINDOW_SECONDS + 300 + MAX_TOKEN_LIFETIME + LEEWAY_SECONDS) <= retire_at);
    let just_before = KeySet::from_document_at(&second_doc, UnixTime(retire_at.0 - 1)).unwrap();
    assert!(just_before.verifying_key(&old_kid).is_some());
    let after = KeySet::from_document_at(&second_doc, retire_at).unwrap();
    assert!(after.verifying_key(&old_kid).is_none() && !jwks_kids(&after).contains(&old_kid));

    // A rotation after that date drops it from the secret itself.
    rotate(&rotator, &secret, retire_at).await;
    let third_doc: KeySetDocument = source.load().await.unwrap();
    assert!(!third_doc.keys.iter().any(|k| k.kid == old_kid));
    assert!(third_doc.keys.iter().any(|k| k.kid == next_kid && k.state == KeyState::Retired));
}

#[tokio::test]
async fn a_step_with_a_token_that_is_not_pending_is_refused() {
    let config = config();
    let sm = client(&config.aws).await;
    let secret = format!("keys-{}", random_id());
    sm.create_secret().name(&secret).secret_string("{}").send().await.expect("create secret");
    let rotator =
        Rotator { client: sm, algorithm: SigningAlgorithm::EdDsa, timing: RotationTiming::for_reload_interval(60) };
    for step in ["setSecret", "testSecret", "finishSecret"] {
        assert!(rotator.step(step, &secret, "never-created", UnixTime::now()).await.is_err(), "{step}");
    }
    assert!(rotator.step("rotateEverything", &secret, "t", UnixTime::now()).await.is_err());
}

/// A new secret, as the template makes it, after its first rotation.
struct Rotated {
    config: Config,
    sm: aws_sdk_secretsmanager::Client,
    secret: String,
    timing: RotationTiming,
    rotator: Rotator,
    now: UnixTime,
}

async fn rotated_secret() -> Rotated {
    let config = config();
    let sm = client(&config.aws).await;
    let secret = format!("keys-{}", random_id());
    sm.create_secret().name(&secret).secret_string("{}").send().await.expect("create secret");
    let timing = RotationTiming::for_reload_interval(300);
    let rotator = Rotator { client: sm.clone(), algorithm: SigningAlgorithm::Es256, timing };
    let now = UnixTime::now();
    rotate(&rotator, &secret, now).await;
    Rotated { config, sm, secret, timing, rotator, now }
}

/// GIVEN a secret holding a key set, WHEN Secrets Manager fails every read of the current
/// version during `createSecret`, THEN the step fails, nothing is staged, and the next
/// rotation keeps every key and the refresh MAC key (nothing starts over).
#[tokio::test]
async fn a_failed_read_during_create_fails_the_step_and_keeps_every_key() {
    let Rotated { config, sm, secret, timing, rotator, now } = rotated_secret().await;
    let before: KeySetDocument = SecretKeySource::connect(&config.aws, &secret).await.load().await.unwrap();

    let moto = std::env::var("DYNAMODB_ENDPOINT").expect("moto");
    let proxy = tests::fault_proxy::FaultProxy::start(&moto, |call| {
        let reads_current = call.target == "secretsmanager.GetSecretValue" && call.body.contains("AWSCURRENT");
        if reads_current {
            tests::fault_proxy::Fault::Error { status: 500, error_type: "InternalServiceError" }
        } else {
            tests::fault_proxy::Fault::Pass
        }
    })
    .await;
    let faulty = Config {
        aws: AwsSettings { secrets_manager_endpoint: Some(proxy.endpoint()), ..config.aws.clone() },
        ..config.clone()
    };
    let failing = Rotator { client: client(&faulty.aws).await, algorithm: SigningAlgorithm::Es256, timing };
    let token = format!("{}{}", random_id(), random_id());
    let later = now.plus(timing.min_publication);
    assert!(failing.step("createSecret", &secret, &token, later).await.is_err(), "the step fails loudly");
    assert!(proxy.faults() >= 1, "the read was attempted and failed");
    let described = sm.describe_secret().secret_id(&secret).send().await.unwrap();
    assert!(
        !described.version_ids_to_stages().is_some_and(|v| v.contains_key(&token)),
        "no pending version was written"
    );

    rotate(&rotator, &secret, later).await;
    let after: KeySetDocument = SecretKeySource::connect(&config.aws, &secret).await.load().await.unwrap();
    for key in &before.keys {
        assert!(after.keys.iter().any(|k| k.kid == key.kid), "{} was kept", key.kid);
    }
    assert_eq!(after.refresh_mac_key, before.refresh_mac_key, "refresh tokens stay valid");
}

/// A rotation whose `finishSecret` comes later than the finish window is dropped: the
/// current set stays, the pending label goes, and the next rotation starts afresh with
/// retire times that hold from its own completion.
#[tokio::test]
async fn a_rotation_resumed_too_late_is_refused_at_finish_and_the_next_one_starts_afresh() {
    let Rotated { config, sm, secret, timing, rotator, now } = rotated_secret().await;
    let source = SecretKeySource::connect(&config.aws, &secret).await;
    let active_before = signer(&KeySet::from_document(&source.load().await.unwrap()).unwrap());

    let started = now.plus(timing.min_publication);
    let token = format!("{}{}", random_id(), random_id());
    for step in ["createSecret", "setSecret", "testSecret"] {
        rotator.step(step, &secret, &token, started).await.unwrap();
    }
    let resumed = started.plus(FINISH_WINDOW_SECONDS + 1);
    assert!(rotator.step("finishSecret", &secret, &token, resumed).await.is_err());
    let current = KeySet::from_document(&source.load().await.unwrap()).unwrap();
    assert_eq!(signer(&current), active_before, "the current set is untouched");
    let described = sm.describe_secret().secret_id(&secret).send().await.unwrap();
    let stages = described.version_ids_to_stages().and_then(|v| v.get(&token)).cloned().unwrap_or_default();
    assert!(!stages.iter().any(|s| s == "AWSPENDING"), "the stale pending label is gone: {stages:?}");

    rotate(&rotator, &secret, resumed).await;
    let rotated = source.load().await.unwrap();
    let retired = rotated.keys.iter().find(|k| k.kid == active_before).expect("retired, not dropped");
    assert!(resumed.plus(MAX_TOKEN_LIFETIME) < retired.retire_at.expect("retire_at"));
}
