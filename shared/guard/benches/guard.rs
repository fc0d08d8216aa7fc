//! `Guard::check` on a live ES256 token with 10,000 denylist entries, against the raw
//! signature verification of the same token: the guard's own work (header and claims
//! parsing, validation, the key and denylist lookups) should stay within 1.2× of it.
//!
//! `cargo bench -p guard --bench guard`

#[path = "../tests/support/keys.rs"]
mod keys;

use criterion::{Criterion, criterion_group, criterion_main};
use guard::feed::{EntryKind, FeedEntry, FeedError, FeedPage};
use guard::sync::{FeedSource, SourcedPage};
use guard::verify::KeySet;
use guard::{Guard, GuardConfig};
use jsonwebtoken::Algorithm;
use keys::{AUDIENCE, ISSUER, TestKey, jwk_set, now, user_claims};
use std::hint::black_box;

const DENYLIST_SIZE: usize = 10_000;

/// The whole denylist in one page, as a store-backed source could serve it.
struct OnePage(Vec<FeedEntry>);

impl FeedSource for OnePage {
    async fn page(&self, _after: Option<&str>) -> Result<SourcedPage, FeedError> {
        Ok(SourcedPage {
            page: FeedPage { entries: self.0.clone(), cursor: "end".into(), more: false },
            may_have_more: false,
        })
    }
}

/// Entries of every kind, none covering the benchmarked token, plus lines for its
/// subject and client drawn before its `iat`: every one of the five lookups runs, and
/// two of them find an entry to compare.
fn denylist(iat: u64) -> Vec<FeedEntry> {
    let expires_at = now() + 3600;
    let mut entries: Vec<FeedEntry> = (0..DENYLIST_SIZE - 2)
        .map(|i| {
            let kind = EntryKind::ALL[i % EntryKind::ALL.len()];
            let before = kind.is_line().then_some(iat + 1);
            FeedEntry { kind, value: format!("{kind}-{i:05}"), before, expires_at }
        })
        .collect();
    entries.push(FeedEntry { kind: EntryKind::Sub, value: "alice".into(), before: Some(iat), expires_at });
    entries.push(FeedEntry { kind: EntryKind::Client, value: "web-app".into(), before: Some(iat), expires_at });
    entries
}

fn check_against_raw_verify(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let key = TestKey::es256("bench-key");
    let claims = user_claims("alice", "s1", "f1");
    let token = key.mint(&claims);
    let iat = claims["iat"].as_u64().unwrap();

    let config = GuardConfig::new(ISSUER, vec![AUDIENCE.into()], "unused", "unused");
    let guard = Guard::from_parts(&config, OnePage(denylist(iat)), KeySet::from_jwks(&jwk_set(&[&key])));
    let authorization = format!("Bearer {token}");
    runtime.block_on(async {
        guard.refresh_keys().await.unwrap();
        guard.sync_now().await.unwrap();
        assert_eq!(guard.denylist_len(), DENYLIST_SIZE);
        assert_eq!(guard.check(Some(&authorization)).await.unwrap().sub, "alice");
    });

    let (message, signature) = token.rsplit_once('.').unwrap();
    let decoding = key.decoding_key();
    assert!(jsonwebtoken::crypto::verify(signature, message.as_bytes(), &decoding, Algorithm::ES256).unwrap());

    let mut group = c.benchmark_group("es256");
    group.bench_function("guard_check", |b| {
        b.to_async(&runtime).iter(|| async { guard.check(Some(black_box(&authorization))).await.unwrap() })
    });
    group.bench_function("raw_verify", |b| {
        b.iter(|| {
            jsonwebtoken::crypto::verify(
                black_box(signature),
                black_box(message.as_bytes()),
                &decoding,
                Algorithm::ES256,
            )
            .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, check_against_raw_verify);
criterion_main!(benches);
