//! The behaviour every store must show. The in-memory store runs it in unit tests; the
//! DynamoDB store runs it against a DynamoDB-compatible server over HTTP (`tests/`).
//! Each check uses fresh random ids, so the suite can share a table with other tests.

use super::*;
use crate::ids::{Subject, random_id};
use crate::oauth::scope::Scope;
use crate::secrets::{ClientSecretHash, PasswordHashString, SecretString};
use crate::time::UnixTime;
use std::collections::BTreeSet;

/// Everything a full store implements.
pub trait FullStore: ClientAdmin + UserAdmin + SessionWrite + SessionRead {}
impl<T: ClientAdmin + UserAdmin + SessionWrite + SessionRead> FullStore for T {}

pub async fn run_all(store: &impl FullStore) {
    client_round_trip_list_and_remove(store).await;
    unknown_items_are_absent(store).await;
    user_create_is_exclusive_and_replace_needs_existing(store).await;
    begin_session_writes_both_items_once(store).await;
    expired_items_are_absent_before_ttl_deletes_them(store).await;
}

pub fn sample_client(id: &str) -> ClientRecord {
    ClientRecord {
        id: ClientId::new(id),
        secret_hash: ClientSecretHash::create(&SecretString::new(
            "behaviour-test-secret-0123456789",
        ))
        .expect("hash"),
        grant_types: [GrantType::ClientCredentials, GrantType::Password]
            .into_iter()
            .collect(),
        scopes: Scope::parse("openid read write").expect("scope"),
        audience: Some("https://api.example.com".into()),
        may_introspect: true,
        admin: false,
        backchannel_logout_uri: Some("https://rp.example.com/logout".into()),
        lifetimes: ClientLifetimes {
            access_token: Some(120),
            refresh_absolute: None,
            refresh_idle: Some(3600),
            refresh_grace: Some(0),
        },
    }
}

pub fn sample_session(now: UnixTime, lifetime: u64) -> (SessionRecord, FamilyRecord) {
    let sid = Sid::random();
    let sub = Subject::random();
    let client = ClientId::new(format!("c-{}", random_id()));
    let session = SessionRecord {
        sid: sid.clone(),
        sub: sub.clone(),
        client_ids: BTreeSet::from([client.clone()]),
        auth_time: now,
        expires_at: now.plus(lifetime),
    };
    let family = FamilyRecord {
        fid: FamilyId::random(),
        sid,
        sub,
        client_id: client,
        scope: Scope::parse("openid read").expect("scope"),
        generation: 0,
        created_at: now,
        rotated_at: now,
        status: FamilyStatus::Active,
        expires_at: now.plus(lifetime),
    };
    (session, family)
}

async fn client_round_trip_list_and_remove(store: &impl FullStore) {
    let client = sample_client(&format!("client-{}", random_id()));
    store.put_client(&client).await.expect("put");
    assert_eq!(
        store.client(&client.id).await.expect("get"),
        Some(client.clone())
    );

    let mut minimal = sample_client(&client.id.to_string());
    minimal.audience = None;
    minimal.backchannel_logout_uri = None;
    minimal.scopes = Scope::default();
    minimal.grant_types = BTreeSet::new();
    minimal.lifetimes = ClientLifetimes::default();
    store.put_client(&minimal).await.expect("replace");
    assert_eq!(
        store.client(&client.id).await.expect("get"),
        Some(minimal),
        "put replaces, empty sets survive"
    );

    assert!(
        store
            .list_clients()
            .await
            .expect("list")
            .iter()
            .any(|c| c.id == client.id)
    );
    assert!(store.remove_client(&client.id).await.expect("remove"));
    assert!(!store.remove_client(&client.id).await.expect("remove again"));
    assert_eq!(store.client(&client.id).await.expect("get"), None);
}

async fn unknown_items_are_absent(store: &impl FullStore) {
    assert_eq!(
        store
            .client(&ClientId::new(random_id()))
            .await
            .expect("client"),
        None
    );
    assert_eq!(store.user(&random_id()).await.expect("user"), None);
    assert_eq!(store.session(&Sid::random()).await.expect("session"), None);
    assert_eq!(
        store.family(&FamilyId::random()).await.expect("family"),
        None
    );
}

async fn user_create_is_exclusive_and_replace_needs_existing(store: &impl FullStore) {
    let user = UserRecord {
        username: format!("user-{}", random_id()),
        sub: Subject::random(),
        // A pre-computed PHC string keeps the suite fast; hashing is tested in `secrets`.
        password_hash: PasswordHashString::from_stored(
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaA".into(),
        ),
        disabled: false,
    };
    assert!(matches!(
        store.replace_user(&user).await,
        Err(StoreError::Conflict)
    ));
    store.create_user(&user).await.expect("create");
    assert!(matches!(
        store.create_user(&user).await,
        Err(StoreError::Conflict)
    ));
    let disabled = UserRecord {
        disabled: true,
        ..user.clone()
    };
    store.replace_user(&disabled).await.expect("replace");
    assert_eq!(
        store.user(&user.username).await.expect("get"),
        Some(disabled)
    );
}

async fn begin_session_writes_both_items_once(store: &impl FullStore) {
    let now = UnixTime::now();
    let (session, family) = sample_session(now, 3600);
    store.begin_session(&session, &family).await.expect("begin");
    assert_eq!(
        store.session(&session.sid).await.expect("session"),
        Some(session.clone())
    );
    assert_eq!(
        store.family(&family.fid).await.expect("family"),
        Some(family.clone())
    );
    assert_eq!(
        store.sessions_of(&session.sub).await.expect("by subject"),
        vec![session.clone()]
    );
    assert_eq!(
        store
            .sessions_of(&Subject::random())
            .await
            .expect("by subject"),
        vec![]
    );
    // Ids are random; a collision must never overwrite a live session or family.
    assert!(matches!(
        store.begin_session(&session, &family).await,
        Err(StoreError::Conflict)
    ));
    let (_, other_family) = sample_session(now, 3600);
    assert!(matches!(
        store.begin_session(&session, &other_family).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(
        store.family(&other_family.fid).await.expect("family"),
        None,
        "the write was all or nothing"
    );
}

async fn expired_items_are_absent_before_ttl_deletes_them(store: &impl FullStore) {
    let long_ago = UnixTime(UnixTime::now().0 - 7200);
    let (session, family) = sample_session(long_ago, 3600);
    store.begin_session(&session, &family).await.expect("begin");
    assert_eq!(store.session(&session.sid).await.expect("session"), None);
    assert_eq!(store.family(&family.fid).await.expect("family"), None);
    assert_eq!(
        store.sessions_of(&session.sub).await.expect("by subject"),
        vec![]
    );
}
