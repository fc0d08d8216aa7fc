//! CPU cost per operation (docs/ARCHITECTURE.md §5), through the real shared code with the
//! in-memory store, so the figures are this code's work and not DynamoDB's. The same
//! run measures the raw JWS sign and verify of each algorithm, so each operation's
//! overhead over its signature work reads as a ratio (`docs/BENCHMARKS.md`).
//!
//! Run: `cargo bench -p shared --features testing --bench operations`

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use shared::Services;
use shared::authorizer::Authorizer;
use shared::discovery::Discovery;
use shared::domain::{ClientRecord, GrantType, Scope, SigningAlgorithm, UserRecord};
use shared::grants::TokenIssuer;
use shared::introspection::Introspector;
use shared::keys::KeyRing;
use shared::oauth::OAuthRequest;
use shared::revocation::Revoker;
use shared::secrets::{PasswordHashString, SecretString};
use shared::store::{ClientAdmin, SessionWrite, UserAdmin};
use shared::testing::kit::{access_claims, client, config, form_as};
use shared::testing::memory::MemoryStore;
use shared::time::UnixTime;
use shared::tokens::access::{AccessTokenClaims, mint, verify_access_token};
use shared::tokens::refresh::RefreshToken;
use shared::verify::ResourceRequest;
use std::sync::Arc;
use std::time::Duration;

struct World {
    store: Arc<MemoryStore>,
    alice: UserRecord,
    /// The registration of `app` that its families must carry.
    app_epoch: shared::ids::ClientEpoch,
    keys: Arc<KeyRing>,
    issuer: TokenIssuer,
    revoker: Revoker,
    introspector: Introspector,
    authorizer: Authorizer,
    discovery: Discovery,
}

fn with_client(body: &str) -> OAuthRequest {
    form_as("app", body)
}

async fn world(alg: SigningAlgorithm) -> World {
    let store = Arc::new(MemoryStore::new());
    let grants = [GrantType::ClientCredentials, GrantType::Password, GrantType::RefreshToken];
    let app = ClientRecord { may_introspect: true, ..client("app", &grants, "openid read") };
    store.put_client(&app).await.unwrap();
    let password_hash = PasswordHashString::create(&SecretString::new("correct horse")).unwrap();
    let alice =
        UserRecord { username: "alice".into(), sub: shared::ids::Subject::random(), password_hash, disabled: false };
    store.create_user(&alice).await.unwrap();
    let keys = Arc::new(KeyRing::ephemeral(alg).unwrap());
    // A warm instance: the client stays cached for the whole run.
    let config = shared::config::Config {
        // Access tokens in this group's algorithm (the client has no override of its own).
        signing_algorithm: alg,
        client_cache_ttl: Duration::from_secs(3600),
        expected_audience: Some(shared::config::ExpectedAudience::OneOf(vec!["https://api.example.com".into()])),
        ..config()
    };
    let services = Services::new(config, keys.clone(), store.clone());
    World {
        issuer: services.token_issuer(),
        revoker: services.revoker(),
        introspector: services.introspector(),
        authorizer: services.authorizer().unwrap(),
        discovery: services.discovery(),
        store,
        alice,
        app_epoch: app.epoch,
        keys,
    }
}

fn operations(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    for alg in [SigningAlgorithm::Es256, SigningAlgorithm::EdDsa, SigningAlgorithm::Rs256] {
        let name = format!("{:?}", alg.jwt_algorithm());
        let world = rt.block_on(world(alg));
        let w = &world;
        let keys = w.keys.snapshot();
        let now = UnixTime::now();
        let claims = access_claims("app", now);
        let token = mint(&keys, alg, &claims).unwrap();

        let mut group = c.benchmark_group(name);
        group.bench_function("raw_sign", |b| b.iter(|| mint(&keys, alg, &access_claims("app", now)).unwrap()));
        group.bench_function("raw_verify", |b| {
            b.iter(|| verify_access_token(&keys, &token, shared::testing::kit::ISSUER, None, now).unwrap())
        });
        group.bench_function("issue_client_credentials", |b| {
            b.to_async(&rt)
                .iter(|| async { w.issuer.token(&with_client("grant_type=client_credentials")).await.unwrap() })
        });
        group.bench_function("refresh", |b| {
            b.to_async(&rt).iter_batched(
                || with_client(&format!("grant_type=refresh_token&refresh_token={}", fresh_family(w))),
                |req| async move { w.issuer.token(&req).await.unwrap() },
                BatchSize::SmallInput,
            )
        });
        group.bench_function("revoke_access_token", |b| {
            b.to_async(&rt).iter_batched(
                || {
                    let token = mint(&keys, alg, &access_claims("app", now)).unwrap();
                    with_client(&format!("token={token}"))
                },
                |req| async move { w.revoker.revoke(&req).await.unwrap() },
                BatchSize::SmallInput,
            )
        });
        let introspect = with_client(&format!("token={token}"));
        group.bench_function("introspect", |b| {
            b.to_async(&rt).iter(|| async { w.introspector.introspect(&introspect).await.unwrap() })
        });
        let bearer = format!("Bearer {token}");
        group.bench_function("authorizer_check", |b| {
            b.to_async(&rt).iter(|| async {
                assert!(w.authorizer.decide(&ResourceRequest::with_authorization(Some(&bearer))).await.allow)
            })
        });
        // DPoP (RFC 9449): the proof check alone, and a bound token at the authorizer
        // with a fresh proof (made outside the measurement) each time.
        let dpop_key = shared::testing::dpop::DpopKey::generate(alg);
        const API_URL: &str = "https://api.example.com/orders";
        let proof = dpop_key.proof("GET", API_URL, Some(&token));
        group.bench_function("dpop_proof_verify", |b| {
            b.iter(|| {
                let target =
                    shared::dpop::ProofTarget { method: "GET", url: API_URL, access_token: Some(&token), now: now.0 };
                shared::dpop::verify_proof(&proof, &target).unwrap()
            })
        });
        let cnf = Some(shared::tokens::access::Confirmation { jkt: dpop_key.jkt.clone() });
        let bound = mint(&keys, alg, &AccessTokenClaims { cnf, ..access_claims("app", now) }).unwrap();
        group.bench_function("authorizer_check_dpop", |b| {
            b.to_async(&rt).iter_batched(
                || ResourceRequest {
                    authorization: Some(format!("DPoP {bound}")),
                    dpop: vec![dpop_key.proof("GET", API_URL, Some(&bound))],
                    method: "GET".into(),
                    url: API_URL.into(),
                },
                |request| async move { assert!(w.authorizer.decide(&request).await.allow) },
                BatchSize::SmallInput,
            )
        });
        group.bench_function("jwks", |b| {
            b.to_async(&rt).iter(|| async { w.discovery.documents().await.unwrap().jwks.len() })
        });
        group.finish();
    }

    // argon2id dominates a password login by design; reported on its own.
    let world = rt.block_on(world(SigningAlgorithm::Es256));
    let w = &world;
    let mut group = c.benchmark_group("password");
    group.sample_size(10);
    group.bench_function("issue_password_grant", |b| {
        b.to_async(&rt).iter(|| async {
            w.issuer
                .token(&with_client("grant_type=password&username=alice&password=correct+horse&scope=read"))
                .await
                .unwrap()
        })
    });
    // A throttled username (issue #10): refused before any argon2 runs. The failures are
    // recorded just now, so the window (32 s for ten) outlasts the measurement.
    let failures = shared::domain::Attempted::Username("alice".into());
    rt.block_on(async {
        for _ in 0..10 {
            shared::store::FailureStore::record_failure(&*w.store, &failures, UnixTime::now()).await.unwrap();
        }
    });
    group.bench_function("throttled_password_attempt", |b| {
        b.to_async(&rt).iter(|| async {
            let err = w
                .issuer
                .token(&with_client("grant_type=password&username=alice&password=correct+horse&scope=read"))
                .await
                .unwrap_err();
            assert_eq!(err.status(), 429);
        })
    });
    group.finish();
}

/// A login of alice at `app`, made directly in the store (no argon2 in the setup), and
/// its first refresh token. Batch setup runs outside the async runtime.
fn fresh_family(w: &World) -> String {
    let (mut session, mut family) = shared::testing::kit::session(UnixTime::now(), 3600);
    session.sub = w.alice.sub.clone();
    family.sub = w.alice.sub.clone();
    family.username = w.alice.username.clone();
    family.client_id = shared::ids::ClientId::new("app");
    family.client_epoch = w.app_epoch.clone();
    family.scope = Scope::parse("read").unwrap();
    futures::executor::block_on(w.store.begin_session(&session, &family)).unwrap();
    RefreshToken { family: family.fid, generation: 0 }.encode(w.keys.snapshot().refresh_mac_key())
}

criterion_group!(benches, operations);
criterion_main!(benches);
