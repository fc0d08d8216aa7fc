//! The behaviour every store must show. The in-memory store runs it in unit tests; the
//! DynamoDB store runs it against a DynamoDB-compatible server over HTTP (`tests/`).
//! Each check uses fresh random ids, so the suite can share a table with other tests.

use crate::domain::*;
use crate::ids::{ClientEpoch, ClientId, FamilyId, Sid, Subject, random_id};
use crate::secrets::{ClientSecretHash, PasswordHashString, SecretString};
use crate::store::*;
use crate::time::UnixTime;
use std::collections::BTreeSet;

pub async fn run_all(store: &impl FullStore) {
    client_round_trip_list_and_remove(store).await;
    unknown_items_are_absent(store).await;
    user_create_is_exclusive_and_replace_needs_existing(store).await;
    begin_session_writes_both_items_once(store).await;
    expired_items_are_absent_before_ttl_deletes_them(store).await;
    rotation_advances_exactly_once_and_the_loser_sees_the_winner(store).await;
    grace_answers_only_for_the_current_generation_inside_the_window(store).await;
    rotation_is_refused_for_disabled_users_and_revoked_subjects_or_sessions(store).await;
    revoked_family_never_rotates_again(store).await;
    users_are_found_by_subject_apart_from_sessions(store).await;
    denylist_reports_live_markers_and_ignores_expired_ones(store).await;
    every_marker_write_is_in_the_feed_log(store).await;
    ending_a_session_marks_it_and_removes_it(store).await;
    deliveries_come_due_in_order_and_are_claimed_once(store).await;
    failures_are_read_with_the_user_or_client_counted_atomically_and_lapse(store).await;
    origins_are_registered_while_some_client_names_them(store).await;
    a_login_form_completes_once_and_a_code_is_redeemed_once(store).await;
    a_code_is_not_redeemed_into_an_ended_session_or_for_a_user_revoked_since_login(store).await;
    key_clients_and_key_bound_families_round_trip(store).await;
    an_advance_binds_an_unbound_family_once(store).await;
    one_time_ids_are_accepted_once_until_they_expire(store).await;
}

pub fn sample_client(id: &str) -> ClientRecord {
    ClientRecord {
        dpop_bound_access_tokens: false,
        id: ClientId::new(id),
        epoch: ClientEpoch::random(),
        authentication: ClientAuthentication::Secret(
            ClientSecretHash::create(&SecretString::new("behaviour-test-secret-0123456789")).expect("hash"),
        ),
        grant_types: [GrantType::ClientCredentials, GrantType::Password].into_iter().collect(),
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
        signing: ClientSigning { access_token: Some(SigningAlgorithm::Rs256), id_token: Some(SigningAlgorithm::Es256) },
        browser: BrowserSettings {
            name: Some("Behaviour Shop".into()),
            redirect_uris: vec!["https://shop.example.com/callback".into(), "com.example.shop:/cb".into()],
            post_logout_redirect_uris: vec!["https://shop.example.com/".into()],
            allowed_origins: vec!["https://admin.shop.example.com".into()],
        },
    }
}

async fn client_round_trip_list_and_remove(store: &impl FullStore) {
    let client = sample_client(&format!("client-{}", random_id()));
    store.put_client(&client).await.expect("put");
    assert_eq!(store.client(&client.id).await.expect("get"), Some(client.clone()));

    let mut minimal = sample_client(&client.id.to_string());
    minimal.audience = None;
    minimal.backchannel_logout_uri = None;
    minimal.scopes = Scope::default();
    minimal.grant_types = BTreeSet::new();
    minimal.lifetimes = ClientLifetimes::default();
    minimal.browser = BrowserSettings::default();
    minimal.authentication = ClientAuthentication::None;
    minimal.may_introspect = false;
    store.put_client(&minimal).await.expect("replace");
    assert_eq!(store.client(&client.id).await.expect("get"), Some(minimal), "put replaces, empty sets survive");

    assert!(store.list_clients().await.expect("list").iter().any(|c| c.id == client.id));
    assert!(matches!(store.create_client(&client).await, Err(StoreError::Conflict)), "create never replaces");

    let now = UnixTime::now();
    let marker = Marker::Client { client_id: client.id.clone(), not_before: now.plus(1), expires_at: now.plus(600) };
    assert!(store.remove_client(&client.id, &marker).await.expect("remove"));
    let query = |iat| RevocationQuery { client: Some((client.id.clone(), iat)), ..Default::default() };
    let status = |q: RevocationQuery| async move { store.revocation_status(&q).await.expect("denylist") };
    assert_eq!(status(query(now)).await, RevocationStatus::Revoked(RevocationReason::ClientRemoved), "issued before");
    assert_eq!(status(query(now.plus(1))).await, RevocationStatus::Clear, "issued at not_before");

    // Nothing is written when there is no client to remove.
    let stray_id = ClientId::new(random_id());
    let stray = Marker::Client { client_id: stray_id.clone(), not_before: now.plus(1), expires_at: now.plus(600) };
    assert!(!store.remove_client(&client.id, &stray).await.expect("remove again"));
    let stray_query = RevocationQuery { client: Some((stray_id, now)), ..Default::default() };
    assert_eq!(status(stray_query).await, RevocationStatus::Clear, "no marker without a removal");
    assert_eq!(store.client(&client.id).await.expect("get"), None);
    store.create_client(&client).await.expect("the id may be registered again");
}

async fn unknown_items_are_absent(store: &impl FullStore) {
    assert_eq!(store.client(&ClientId::new(random_id())).await.expect("client"), None);
    assert_eq!(store.user(&random_id()).await.expect("user"), None);
    assert_eq!(store.session(&Sid::random()).await.expect("session"), None);
    assert_eq!(store.family(&FamilyId::random()).await.expect("family"), None);
}

async fn failures_are_read_with_the_user_or_client_counted_atomically_and_lapse(store: &impl FullStore) {
    let now = UnixTime::now();
    let family = login(store, now).await;
    let username = Attempted::Username(family.username.clone());
    let (user, none) = store.user_for_login(&family.username).await.expect("read");
    assert_eq!((user.map(|u| u.sub), none), (Some(family.sub.clone()), FailureCount::default()));

    // Concurrent failures are each counted once.
    let counted = futures::future::join_all((0..4).map(|_| store.record_failure(&username, now))).await;
    let mut seen: Vec<u32> = counted.into_iter().map(|c| c.expect("counted").failures).collect();
    seen.sort();
    assert_eq!(seen, [1, 2, 3, 4]);
    let (_, four) = store.user_for_login(&family.username).await.expect("read");
    assert_eq!(four, FailureCount { failures: 4, last_failed_at: now });

    // A name nobody holds is counted the same; a client id is counted apart from a
    // username spelled alike.
    let nobody = random_id();
    store.record_failure(&Attempted::Username(nobody.clone()), now).await.expect("counted");
    assert_eq!(
        store.user_for_login(&nobody).await.expect("read"),
        (None, FailureCount { failures: 1, last_failed_at: now })
    );
    let client = sample_client(&nobody);
    store.put_client(&client).await.expect("client");
    let (found, apart) = store.client_for_auth(&client.id).await.expect("read");
    assert_eq!((found, apart), (Some(client.clone()), FailureCount::default()));
    let as_client = Attempted::Client(client.id.clone());
    assert_eq!(store.record_failure(&as_client, now).await.expect("counted").failures, 1);
    assert_eq!(store.client_for_auth(&client.id).await.expect("read").1.failures, 1);

    // A success clears the run; a count whose last failure is long past has lapsed, even
    // before TTL deletes it, and the next failure starts again.
    store.clear_failures(&username).await.expect("cleared");
    assert_eq!(store.user_for_login(&family.username).await.expect("read").1, FailureCount::default());
    let long_ago = now.0 - crate::policy::FAILURE_MEMORY_SECONDS - 5;
    store.record_failure(&as_client, UnixTime(long_ago)).await.expect("counted");
    assert_eq!(store.client_for_auth(&client.id).await.expect("read").1, FailureCount::default(), "lapsed");
    assert_eq!(
        store.record_failure(&as_client, now).await.expect("counted"),
        FailureCount { failures: 1, last_failed_at: now }
    );
}

/// A live login: its user, session and family, stored.
async fn login(store: &impl FullStore, now: UnixTime) -> FamilyRecord {
    let (session, family) = crate::testing::kit::session(now, 3600);
    let user = UserRecord {
        username: family.username.clone(),
        sub: family.sub.clone(),
        password_hash: PasswordHashString::from_stored("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaA".into()),
        disabled: false,
    };
    store.create_user(&user).await.expect("user");
    store.begin_session(&session, &family).await.expect("begin");
    family
}

fn advance(family: &FamilyRecord, from: u32, now: UnixTime) -> Rotation {
    Rotation {
        family: family.fid.clone(),
        kind: RotationKind::Advance { from },
        now,
        guard: LoginGuard::of(family),
        bind_dpop_jkt: None,
    }
}

async fn rotation_advances_exactly_once_and_the_loser_sees_the_winner(store: &impl FullStore) {
    let now = UnixTime::now();
    let family = login(store, now).await;
    assert_eq!(store.rotate(&advance(&family, 0, now)).await.expect("rotate"), RotationOutcome::Committed);
    let RotationOutcome::FamilyChanged(Some(current)) = store.rotate(&advance(&family, 0, now)).await.expect("rotate")
    else {
        panic!("a second advance from the same generation must lose and see the family");
    };
    assert_eq!((current.generation, current.rotated_at, current.status), (1, now, FamilyStatus::Active));
    assert_eq!(store.family(&family.fid).await.expect("read").expect("live").generation, 1);
    let RotationOutcome::FamilyChanged(None) =
        store.rotate(&advance(&crate::testing::kit::session(now, 60).1, 0, now)).await.expect("rotate")
    else {
        panic!("an unknown family is absent");
    };
}

async fn grace_answers_only_for_the_current_generation_inside_the_window(store: &impl FullStore) {
    let now = UnixTime::now();
    let family = login(store, now).await;
    store.rotate(&advance(&family, 0, now)).await.expect("rotate");
    let grace = |current, since| Rotation {
        family: family.fid.clone(),
        kind: RotationKind::Grace { current, rotated_since: since },
        now,
        guard: LoginGuard::of(&family),
        bind_dpop_jkt: None,
    };
    assert_eq!(store.rotate(&grace(1, UnixTime(now.0 - 10))).await.expect("grace"), RotationOutcome::Committed);
    assert!(matches!(
        store.rotate(&grace(1, now.plus(1))).await.expect("late"),
        RotationOutcome::FamilyChanged(Some(_))
    ));
    assert!(matches!(
        store.rotate(&grace(2, UnixTime(0))).await.expect("wrong gen"),
        RotationOutcome::FamilyChanged(_)
    ));
    assert_eq!(store.family(&family.fid).await.expect("read").expect("live").generation, 1, "grace never advances");
}

async fn rotation_is_refused_for_disabled_users_and_revoked_subjects_or_sessions(store: &impl FullStore) {
    let now = UnixTime::now();

    let family = login(store, now).await;
    let user = store.user(&family.username).await.expect("user").expect("exists");
    store.replace_user(&UserRecord { disabled: true, ..user }).await.expect("disable");
    assert_eq!(store.rotate(&advance(&family, 0, now)).await.expect("rotate"), RotationOutcome::UserRefused);
    assert_eq!(store.family(&family.fid).await.expect("read").expect("live").generation, 0, "nothing written");

    let family = login(store, now).await;
    let expired = Marker::Subject { sub: family.sub.clone(), not_before: now.plus(1), expires_at: UnixTime(now.0 - 1) };
    store.put_marker(&expired).await.expect("marker");
    assert_eq!(
        store.rotate(&advance(&family, 0, now)).await.expect("rotate"),
        RotationOutcome::Committed,
        "expired marker"
    );
    let older = Marker::Subject { sub: family.sub.clone(), not_before: family.created_at, expires_at: now.plus(600) };
    store.put_marker(&older).await.expect("marker");
    assert_eq!(
        store.rotate(&advance(&family, 1, now)).await.expect("rotate"),
        RotationOutcome::Committed,
        "began at not_before"
    );
    let newer = Marker::Subject { sub: family.sub.clone(), not_before: now.plus(1), expires_at: now.plus(600) };
    store.put_marker(&newer).await.expect("marker");
    assert_eq!(store.rotate(&advance(&family, 2, now)).await.expect("rotate"), RotationOutcome::SubjectRevoked);
    store.put_marker(&older).await.expect("an older revoke-all never moves the line back");
    assert_eq!(store.rotate(&advance(&family, 2, now)).await.expect("rotate"), RotationOutcome::SubjectRevoked);

    let family = login(store, now).await;
    let stale = Marker::Session {
        sid: family.sid.clone(),
        revoked_at: now,
        reason: RevocationCause::Logout,
        expires_at: UnixTime(now.0 - 1),
    };
    store.put_marker(&stale).await.expect("marker");
    assert_eq!(
        store.rotate(&advance(&family, 0, now)).await.expect("rotate"),
        RotationOutcome::Committed,
        "expired marker"
    );
    let logout = Marker::Session {
        sid: family.sid.clone(),
        revoked_at: now,
        reason: RevocationCause::Logout,
        expires_at: now.plus(600),
    };
    store.put_marker(&logout).await.expect("marker");
    assert_eq!(store.rotate(&advance(&family, 1, now)).await.expect("rotate"), RotationOutcome::SessionRevoked);
}

async fn revoked_family_never_rotates_again(store: &impl FullStore) {
    let now = UnixTime::now();
    let family = login(store, now).await;
    let revoked = store.revoke_family(&family.fid, now, RevocationCause::RevokedByClient, now.plus(600)).await;
    assert_eq!(revoked.expect("revoke"), FamilyRevocation::Revoked);
    let RotationOutcome::FamilyChanged(Some(current)) = store.rotate(&advance(&family, 0, now)).await.expect("rotate")
    else {
        panic!("a revoked family is reported as changed");
    };
    assert_eq!(current.status, FamilyStatus::Revoked);
    assert_eq!(store.family(&family.fid).await.expect("read").expect("kept").status, FamilyStatus::Revoked);
    // A family that does not exist is reported absent, and nothing is written.
    let unknown = FamilyId::random();
    let absent = store.revoke_family(&unknown, now, RevocationCause::RevokedByClient, now.plus(600)).await;
    assert_eq!(absent.expect("revoke unknown"), FamilyRevocation::FamilyAbsent);
    let query = RevocationQuery { fid: Some(unknown), ..Default::default() };
    assert_eq!(store.revocation_status(&query).await.expect("denylist"), RevocationStatus::Clear, "no marker");

    // A family whose revocation got only as far as its marker never rotates either.
    let marked = login(store, now).await;
    let marker = Marker::Family {
        fid: marked.fid.clone(),
        revoked_at: now,
        reason: RevocationCause::RefreshTokenReuse,
        expires_at: now.plus(600),
    };
    store.put_marker(&marker).await.expect("marker");
    assert_eq!(store.rotate(&advance(&marked, 0, now)).await.expect("rotate"), RotationOutcome::FamilyRevoked);
}

async fn user_create_is_exclusive_and_replace_needs_existing(store: &impl FullStore) {
    let user = UserRecord {
        username: format!("user-{}", random_id()),
        sub: Subject::random(),
        // A pre-computed PHC string keeps the suite fast; hashing is tested in `secrets`.
        password_hash: PasswordHashString::from_stored("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaA".into()),
        disabled: false,
    };
    assert!(matches!(store.replace_user(&user).await, Err(StoreError::Conflict)));
    store.create_user(&user).await.expect("create");
    assert!(matches!(store.create_user(&user).await, Err(StoreError::Conflict)));
    let disabled = UserRecord { disabled: true, ..user.clone() };
    store.replace_user(&disabled).await.expect("replace");
    assert_eq!(store.user(&user.username).await.expect("get"), Some(disabled));
}

async fn begin_session_writes_both_items_once(store: &impl FullStore) {
    let now = UnixTime::now();
    let (session, family) = crate::testing::kit::session(now, 3600);
    store.begin_session(&session, &family).await.expect("begin");
    assert_eq!(store.session(&session.sid).await.expect("session"), Some(session.clone()));
    assert_eq!(store.family(&family.fid).await.expect("family"), Some(family.clone()));
    assert_eq!(store.sessions_of(&session.sub).await.expect("by subject"), vec![session.clone()]);
    assert_eq!(store.sessions_of(&Subject::random()).await.expect("by subject"), vec![]);
    // Ids are random; a collision must never overwrite a live session or family.
    assert!(matches!(store.begin_session(&session, &family).await, Err(StoreError::Conflict)));
    let (_, other_family) = crate::testing::kit::session(now, 3600);
    assert!(matches!(store.begin_session(&session, &other_family).await, Err(StoreError::Conflict)));
    assert_eq!(store.family(&other_family.fid).await.expect("family"), None, "the write was all or nothing");
}

async fn key_clients_and_key_bound_families_round_trip(store: &impl FullStore) {
    let mut client = sample_client(&random_id());
    let jwks = r#"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;
    client.authentication = ClientAuthentication::PrivateKeyJwt(ClientJwks::parse(jwks).expect("jwks"));
    client.dpop_bound_access_tokens = true;
    store.put_client(&client).await.expect("put");
    assert_eq!(store.client(&client.id).await.expect("get"), Some(client.clone()));

    let (session, mut family) = crate::testing::kit::session(UnixTime::now(), 3600);
    family.dpop_jkt = Some("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I".into());
    store.begin_session(&session, &family).await.expect("begin");
    assert_eq!(store.family(&family.fid).await.expect("family"), Some(family));
}

async fn an_advance_binds_an_unbound_family_once(store: &impl FullStore) {
    let now = UnixTime::now();
    let family = login(store, now).await;
    let bind = |from, jkt: &str| Rotation { bind_dpop_jkt: Some(jkt.to_string()), ..advance(&family, from, now) };
    assert_eq!(store.rotate(&bind(0, "key-a")).await.expect("rotate"), RotationOutcome::Committed);
    let bound = store.family(&family.fid).await.expect("family").expect("live");
    assert_eq!((bound.generation, bound.dpop_jkt.as_deref()), (1, Some("key-a")));
    // A bound family is never bound again: the advance is refused, and nothing changes.
    assert!(matches!(store.rotate(&bind(1, "key-b")).await.expect("rotate"), RotationOutcome::FamilyChanged(Some(_))));
    assert_eq!(store.family(&family.fid).await.expect("family").expect("live"), bound);
    // Advancing without a binding keeps the key.
    assert_eq!(store.rotate(&advance(&family, 1, now)).await.expect("rotate"), RotationOutcome::Committed);
    assert_eq!(store.family(&family.fid).await.expect("family").expect("live").dpop_jkt.as_deref(), Some("key-a"));
}

async fn one_time_ids_are_accepted_once_until_they_expire(store: &impl FullStore) {
    let now = UnixTime::now();
    let proof = OneTimeId::DpopProof { jkt: random_id(), jti: random_id() };
    let uses = futures::future::join_all((0..4).map(|_| store.use_once(&proof, now.plus(60)))).await;
    let firsts = uses.into_iter().map(|used| used.expect("use")).filter(|first| *first).count();
    assert_eq!(firsts, 1, "concurrent uses: exactly one is the first");
    // The same jti under another key, or as another client's assertion, is another id.
    let OneTimeId::DpopProof { jti, .. } = &proof else { unreachable!() };
    assert!(
        store.use_once(&OneTimeId::DpopProof { jkt: random_id(), jti: jti.clone() }, now.plus(60)).await.expect("use")
    );
    let assertion = OneTimeId::ClientAssertion { client_id: ClientId::new(random_id()), jti: jti.clone() };
    assert!(store.use_once(&assertion, now.plus(60)).await.expect("use"));
    // An entry past its expiry (TTL not yet run) is no longer a use.
    let lapsed = OneTimeId::DpopProof { jkt: random_id(), jti: random_id() };
    assert!(store.use_once(&lapsed, UnixTime(now.0 - 1)).await.expect("use"));
    assert!(store.use_once(&lapsed, now.plus(60)).await.expect("use"), "an expired use is forgotten");
    assert!(!store.use_once(&lapsed, now.plus(60)).await.expect("use"));
}

async fn expired_items_are_absent_before_ttl_deletes_them(store: &impl FullStore) {
    let long_ago = UnixTime(UnixTime::now().0 - 7200);
    let (session, family) = crate::testing::kit::session(long_ago, 3600);
    store.begin_session(&session, &family).await.expect("begin");
    assert_eq!(store.session(&session.sid).await.expect("session"), None);
    assert_eq!(store.family(&family.fid).await.expect("family"), None);
    assert_eq!(store.sessions_of(&session.sub).await.expect("by subject"), vec![]);
}

async fn users_are_found_by_subject_apart_from_sessions(store: &impl FullStore) {
    let family = login(store, UnixTime::now()).await;
    let user = store.user_profile_by_subject(&family.sub).await.expect("by subject").expect("found");
    assert_eq!(user.username, family.username);
    assert!(!user.disabled);
    assert_eq!(store.user_profile_by_subject(&Subject::random()).await.expect("by subject"), None);
    let sessions = store.sessions_of(&family.sub).await.expect("sessions");
    assert_eq!(
        sessions.iter().map(|s| s.sid.clone()).collect::<Vec<_>>(),
        vec![family.sid],
        "the user item is no session"
    );
}

async fn denylist_reports_live_markers_and_ignores_expired_ones(store: &impl FullStore) {
    use crate::ids::Jti;
    let now = UnixTime::now();
    let past = UnixTime(now.0 - 1);
    let family = login(store, now).await;
    let query = |jti: &Jti, iat: UnixTime| RevocationQuery {
        jti: Some(jti.clone()),
        fid: Some(family.fid.clone()),
        sid: Some(family.sid.clone()),
        subject: Some((family.sub.clone(), iat)),
        client: None,
        username: None,
    };
    let status = |q: RevocationQuery| async move { store.revocation_status(&q).await.expect("denylist") };
    let jti = Jti::random();
    assert_eq!(status(query(&jti, now)).await, RevocationStatus::Clear);
    assert_eq!(status(RevocationQuery::default()).await, RevocationStatus::Clear);

    store.put_marker(&Marker::Token { jti: jti.clone(), expires_at: past }).await.expect("marker");
    assert_eq!(status(query(&jti, now)).await, RevocationStatus::Clear, "expired token marker");
    store.put_marker(&Marker::Token { jti: jti.clone(), expires_at: now.plus(60) }).await.expect("marker");
    assert_eq!(status(query(&jti, now)).await, RevocationStatus::Revoked(RevocationReason::TokenRevoked));

    let other = Jti::random();
    store
        .put_marker(&Marker::Subject { sub: family.sub.clone(), not_before: now, expires_at: now.plus(60) })
        .await
        .expect("m");
    assert_eq!(status(query(&other, now)).await, RevocationStatus::Clear, "issued at not_before");
    assert_eq!(
        status(query(&other, past)).await,
        RevocationStatus::Revoked(RevocationReason::SubjectRevoked),
        "issued before"
    );

    let session = Marker::Session {
        sid: family.sid.clone(),
        revoked_at: now,
        reason: RevocationCause::Logout,
        expires_at: now.plus(60),
    };
    store.put_marker(&session).await.expect("marker");
    assert_eq!(status(query(&other, now)).await, RevocationStatus::Revoked(RevocationReason::SessionRevoked));
    store.revoke_family(&family.fid, now, RevocationCause::RevokedByClient, now.plus(60)).await.expect("revoke");
    assert_eq!(status(query(&other, now)).await, RevocationStatus::Revoked(RevocationReason::FamilyRevoked));

    let user_query = |username: &str| RevocationQuery { username: Some(username.to_string()), ..Default::default() };
    assert_eq!(status(user_query(&family.username)).await, RevocationStatus::Clear);
    assert_eq!(status(user_query("no-such-user")).await, RevocationStatus::Revoked(RevocationReason::UserDisabled));
    let user = store.user(&family.username).await.expect("user").expect("exists");
    store.replace_user(&UserRecord { disabled: true, ..user }).await.expect("disable");
    assert_eq!(status(user_query(&family.username)).await, RevocationStatus::Revoked(RevocationReason::UserDisabled));
}

/// Every way a marker is written (a put, a family's revocation, a session's end, a
/// client's removal) logs it for the feed in its shard; a subject line that would move
/// back is not written, so not logged either.
async fn every_marker_write_is_in_the_feed_log(store: &impl FullStore) {
    use crate::feed::{self, EntryKind, FEED_SHARDS, FeedEntry};
    use crate::ids::Jti;
    let started = crate::time::UnixMillis::now().shifted(-1_000);
    let now = UnixTime::now();
    let until = now.plus(600);
    let family = login(store, now).await;
    let session = store.session(&family.sid).await.expect("read").expect("session");
    let jti = Jti::random();
    store.put_marker(&Marker::Token { jti: jti.clone(), expires_at: until }).await.expect("marker");
    store.revoke_family(&family.fid, now, RevocationCause::RevokedByClient, until).await.expect("revoke");
    let ended = Marker::Session {
        sid: session.sid.clone(),
        revoked_at: now,
        reason: RevocationCause::Logout,
        expires_at: until,
    };
    assert!(store.end_session(&session.sid, &ended, &[]).await.expect("end"));
    store
        .put_marker(&Marker::Subject { sub: family.sub.clone(), not_before: now.plus(5), expires_at: until })
        .await
        .unwrap();
    store.put_marker(&Marker::Subject { sub: family.sub.clone(), not_before: now, expires_at: until }).await.unwrap();
    let client = sample_client(&format!("feed-{}", random_id()));
    store.create_client(&client).await.expect("client");
    let removal = Marker::Client { client_id: client.id.clone(), not_before: now.plus(61), expires_at: until };
    assert!(store.remove_client(&client.id, &removal).await.expect("remove"));

    let mut logged = Vec::new();
    for shard in 0..FEED_SHARDS {
        let read = store.feed_shard(shard, started, 100_000).await.expect("feed read");
        assert!(!read.more);
        for record in read.records {
            assert_eq!(feed::shard_of(&record.key), shard, "{record:?} is in its own shard");
            assert!(record.stamp >= started);
            logged.push(record.entry);
        }
    }
    let expect = |kind, value: &str, before: Option<UnixTime>| FeedEntry {
        kind,
        value: value.to_string(),
        before: before.map(|b| b.0),
        expires_at: until.0,
    };
    for entry in [
        expect(EntryKind::Jti, jti.as_str(), None),
        expect(EntryKind::Fid, family.fid.as_str(), None),
        expect(EntryKind::Sid, session.sid.as_str(), None),
        expect(EntryKind::Sub, family.sub.as_str(), Some(now.plus(5))),
        expect(EntryKind::Client, client.id.as_str(), Some(now.plus(61))),
    ] {
        assert!(logged.contains(&entry), "{entry:?} is in the feed log");
    }
    let lines = logged.iter().filter(|e| e.kind == EntryKind::Sub && e.value == family.sub.as_str()).count();
    assert_eq!(lines, 1, "the line that would have moved back was not written");
}

async fn ending_a_session_marks_it_and_removes_it(store: &impl FullStore) {
    let now = UnixTime::now();
    let family = login(store, now).await;
    let marker = Marker::Session {
        sid: family.sid.clone(),
        revoked_at: now,
        reason: RevocationCause::Logout,
        expires_at: now.plus(600),
    };
    let outbox = DeliveryRecord { sid: family.sid.clone(), ..sample_delivery(now) };
    assert!(store.end_session(&family.sid, &marker, std::slice::from_ref(&outbox)).await.expect("end"));
    assert_eq!(store.session(&family.sid).await.expect("session"), None);
    assert_eq!(
        store.delivery(&outbox.id).await.expect("delivery"),
        Some(outbox.clone()),
        "the outbox is written with it"
    );
    // Ending it again: another call got there first, and nothing is written.
    let again = DeliveryRecord { id: random_id(), ..outbox.clone() };
    assert!(!store.end_session(&family.sid, &marker, std::slice::from_ref(&again)).await.expect("end again"));
    assert_eq!(store.delivery(&again.id).await.expect("delivery"), None);
    assert_eq!(store.sessions_of(&family.sub).await.expect("sessions"), vec![]);
    let query = RevocationQuery { sid: Some(family.sid.clone()), ..Default::default() };
    assert_eq!(
        store.revocation_status(&query).await.expect("denylist"),
        RevocationStatus::Revoked(RevocationReason::SessionRevoked)
    );
    assert_eq!(store.rotate(&advance(&family, 0, now)).await.expect("rotate"), RotationOutcome::SessionRevoked);
}

/// A pending delivery due in an hour (after anything another suite sharing the table
/// waits for).
fn sample_delivery(now: UnixTime) -> DeliveryRecord {
    DeliveryRecord {
        id: random_id(),
        client_id: ClientId::new("rp"),
        sid: Sid::random(),
        sub: Subject::random(),
        uri: "https://rp.example.com/logout".into(),
        created_at: now,
        attempts: 0,
        next_attempt_at: now.plus(3600),
        last_error: None,
        status: DeliveryStatus::Pending,
        expires_at: now.plus(7200),
    }
}

async fn deliveries_come_due_in_order_and_are_claimed_once(store: &impl FullStore) {
    let now = UnixTime::now();
    // Far in the past, so that other suites' deliveries sharing the table sort after.
    let base = UnixTime(now.0 - 1_000_000 - u64::from(random_id().as_bytes()[0]));
    let delivery = |id: String, next: UnixTime| DeliveryRecord {
        id,
        client_id: ClientId::new("rp"),
        sid: Sid::random(),
        sub: Subject::random(),
        uri: "https://rp.example.com/logout".into(),
        created_at: base,
        attempts: 1,
        next_attempt_at: next,
        last_error: Some("connection failed".into()),
        status: DeliveryStatus::Pending,
        expires_at: now.plus(3600),
    };
    let first = delivery(random_id(), base);
    let second = delivery(random_id(), base.plus(1));
    let later = delivery(random_id(), now.plus(3600));
    for d in [&later, &second, &first] {
        store.save_delivery(d).await.expect("save");
    }
    assert_eq!(store.delivery(&first.id).await.expect("get"), Some(first.clone()));
    let due = store.due_deliveries(base.plus(1), 1000).await.expect("due");
    let ids: Vec<&str> = due.iter().map(|d| d.id.as_str()).collect();
    let (at_first, at_second) = (ids.iter().position(|i| *i == first.id), ids.iter().position(|i| *i == second.id));
    assert!(at_first.is_some() && at_first < at_second, "due ones, oldest first: {ids:?}");
    assert!(!ids.contains(&later.id.as_str()), "not yet due");

    assert!(store.claim_delivery(&first, now.plus(60)).await.expect("claim"));
    assert!(!store.claim_delivery(&first, now.plus(60)).await.expect("claim again"), "one claim wins");
    let claimed = store.delivery(&first.id).await.expect("get").expect("kept");
    assert_eq!((claimed.attempts, claimed.next_attempt_at), (2, now.plus(60)));
    assert!(!store.due_deliveries(base.plus(1), 1000).await.expect("due").iter().any(|d| d.id == first.id), "leased");

    let settled = DeliveryRecord { status: DeliveryStatus::Delivered, ..claimed };
    store.save_delivery(&settled).await.expect("settle");
    assert!(!store.due_deliveries(now.plus(7200), 1000).await.expect("due").iter().any(|d| d.id == first.id));
    assert!(!store.claim_delivery(&settled, now.plus(60)).await.expect("claim"), "settled ones are never claimed");
}

/// A code for `session`'s login, to `client`, issued at `now`.
fn code_for(session: &SessionRecord, client: &ClientId, now: UnixTime) -> AuthorizationCode {
    AuthorizationCode {
        digest: crate::secrets::digest_of(&random_id()),
        client_id: client.clone(),
        redirect_uri: "https://shop.example.com/callback".into(),
        scope: Scope::parse("openid read").expect("scope"),
        nonce: Some("n-1".into()),
        code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into(),
        sid: session.sid.clone(),
        sub: session.sub.clone(),
        username: "alice".into(),
        auth_time: session.auth_time,
        session_ends_at: session.expires_at,
        client_in_session: session.client_ids.contains(client),
        valid_until: now.plus(60),
        redeemed_by: None,
        expires_at: now.plus(3600),
    }
}

/// The family an exchange of `code` begins.
fn family_of(code: &AuthorizationCode, now: UnixTime) -> FamilyRecord {
    let (_, mut family) = crate::testing::kit::session(now, 3600);
    family.sid = code.sid.clone();
    family.sub = code.sub.clone();
    family.client_id = code.client_id.clone();
    family
}

/// A browser session as the login form begins it: no client yet.
fn browser_session(now: UnixTime) -> SessionRecord {
    let (mut session, _) = crate::testing::kit::session(now, 3600);
    session.client_ids.clear();
    session.browser = Some(BrowserLogin { username: "alice".into(), secret_digest: crate::secrets::digest_of("s") });
    session
}

async fn a_login_form_completes_once_and_a_code_is_redeemed_once(store: &impl FullStore) {
    let now = UnixTime::now();
    let session = browser_session(now);
    let (shop, blog) = (ClientId::new(format!("shop-{}", random_id())), ClientId::new(format!("blog-{}", random_id())));
    let pending = AuthorizationRequest {
        id: random_id(),
        client_id: shop.clone(),
        redirect_uri: "https://shop.example.com/callback".into(),
        scope: Scope::parse("openid read").expect("scope"),
        state: Some("st".into()),
        nonce: None,
        code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into(),
        login_hint: None,
        csrf_digest: crate::secrets::digest_of("csrf"),
        expires_at: now.plus(600),
    };
    store.save_authorization(&pending).await.expect("saved");
    assert_eq!(store.authorization(&pending.id).await.expect("read"), Some(pending.clone()));
    let first = code_for(&session, &shop, now);
    assert!(store.complete_login(&session, &first, &pending.id).await.expect("completed"));
    // Posted twice: the second post's session and code are new, the request used up.
    let (twice, twice_code) = (browser_session(now), code_for(&session, &shop, now));
    assert!(!store.complete_login(&twice, &twice_code, &pending.id).await.expect("posted twice"), "once only");
    assert_eq!(store.session(&twice.sid).await.expect("read"), None, "all or nothing");
    assert_eq!(store.authorization(&pending.id).await.expect("read"), None, "the request is used up");
    assert_eq!(store.code(&first.digest).await.expect("read"), Some(first.clone()));

    let family = family_of(&first, now);
    assert_eq!(store.redeem_code(&first, &family, now).await.expect("redeemed"), Redemption::Redeemed);
    let again = family_of(&first, now);
    assert_eq!(
        store.redeem_code(&first, &again, now).await.expect("answered"),
        Redemption::Spent(Some(family.fid.clone())),
        "a replay learns the family to revoke"
    );
    assert_eq!(store.family(&again.fid).await.expect("read"), None, "and begins nothing");
    let joined = store.session(&session.sid).await.expect("read").expect("live");
    assert_eq!(joined.client_ids, BTreeSet::from([shop.clone()]), "the client joined the session");

    // Single sign-on: a second code for the same client, then one for another client.
    for client in [&shop, &blog] {
        let code = code_for(&joined, client, now);
        assert!(store.save_code(&code).await.expect("saved"));
        assert_eq!(
            store.redeem_code(&code, &family_of(&code, now), now).await.expect("redeemed"),
            Redemption::Redeemed
        );
    }
    let joined = store.session(&session.sid).await.expect("read").expect("live");
    assert_eq!(joined.client_ids, BTreeSet::from([shop, blog]));

    let mut late = code_for(&joined, &ClientId::new("late"), now);
    late.valid_until = now;
    assert!(store.save_code(&late).await.expect("saved"));
    assert_eq!(store.redeem_code(&late, &family_of(&late, now), now).await.expect("answered"), Redemption::Spent(None));
}

async fn a_code_is_not_redeemed_into_an_ended_session_or_for_a_user_revoked_since_login(store: &impl FullStore) {
    let now = UnixTime::now();
    let client = ClientId::new(format!("shop-{}", random_id()));
    // The session is gone (a logout ended it).
    let gone = browser_session(now);
    let code = code_for(&gone, &client, now);
    assert!(store.save_code(&code).await.expect("saved"));
    let family = family_of(&code, now);
    assert_eq!(store.redeem_code(&code, &family, now).await.expect("answered"), Redemption::SessionGone);
    assert_eq!(store.family(&family.fid).await.expect("read"), None);

    // The session is there (a revoke-all missed it), but the user's line moved past the login.
    let (session, first_family) = crate::testing::kit::session(now, 3600);
    store.begin_session(&session, &first_family).await.expect("begin");
    let code = code_for(&session, &client, now);
    assert!(store.save_code(&code).await.expect("saved"));
    let marker = Marker::Subject { sub: session.sub.clone(), not_before: now.plus(1), expires_at: now.plus(3600) };
    store.put_marker(&marker).await.expect("marked");
    let family = family_of(&code, now);
    assert_eq!(store.redeem_code(&code, &family, now).await.expect("answered"), Redemption::SessionGone);
    assert_eq!(store.family(&family.fid).await.expect("read"), None, "no family begins");
    // Nor does single sign-on issue another code for that login.
    let refused = code_for(&session, &client, now);
    assert!(!store.save_code(&refused).await.expect("answered"), "the line moved past the login");
    assert_eq!(store.code(&refused.digest).await.expect("read"), None, "nothing written");
    // A line drawn before the login leaves it be.
    let (earlier, earlier_family) = crate::testing::kit::session(now, 3600);
    store.begin_session(&earlier, &earlier_family).await.expect("begin");
    let before = Marker::Subject { sub: earlier.sub.clone(), not_before: now, expires_at: now.plus(3600) };
    store.put_marker(&before).await.expect("marked");
    let code = code_for(&earlier, &client, now);
    assert!(store.save_code(&code).await.expect("saved"), "a line before the login");
    assert_eq!(store.redeem_code(&code, &family_of(&code, now), now).await.expect("redeemed"), Redemption::Redeemed);
}

async fn origins_are_registered_while_some_client_names_them(store: &impl FullStore) {
    let origin = |name: &str| format!("https://{name}-{}.example", random_id().to_lowercase().replace('_', "x"));
    let (app, admin, other) = (origin("app"), origin("admin"), origin("other"));
    let mut first = sample_client(&format!("client-{}", random_id()));
    first.browser.redirect_uris = vec![format!("{app}/cb")];
    first.browser.allowed_origins = vec![admin.clone()];
    let mut second = sample_client(&format!("client-{}", random_id()));
    second.browser.redirect_uris = vec![format!("{app}/other-cb")];
    second.browser.allowed_origins = Vec::new();
    store.create_client(&first).await.expect("created");
    store.put_client(&second).await.expect("put");
    let registered = |o: String| async move { store.origin_registered(&o).await.expect("read") };
    assert!(registered(app.clone()).await && registered(admin.clone()).await);
    assert!(!registered(other.clone()).await);

    // A replace that drops an origin unregisters it, unless another client names it.
    let mut replaced = first.clone();
    replaced.browser.allowed_origins = vec![other.clone()];
    store.put_client(&replaced).await.expect("replaced");
    assert!(!registered(admin.clone()).await, "dropped");
    assert!(registered(other.clone()).await && registered(app.clone()).await);
    let now = UnixTime::now();
    let marker = |id: &ClientId| Marker::Client { client_id: id.clone(), not_before: now, expires_at: now.plus(60) };
    assert!(store.remove_client(&replaced.id, &marker(&replaced.id)).await.expect("removed"));
    assert!(!registered(other.clone()).await, "its origins go with it");
    assert!(registered(app.clone()).await, "still the second client's");
    assert!(store.remove_client(&second.id, &marker(&second.id)).await.expect("removed"));
    assert!(!registered(app).await);
}
