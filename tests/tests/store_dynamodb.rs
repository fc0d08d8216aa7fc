//! The DynamoDB store passes the same behaviour suite as the in-memory one, against a
//! DynamoDB-compatible server (moto) over HTTP.

use shared::testing::behaviour;

#[tokio::test]
async fn dynamodb_store_passes_the_behaviour_suite() {
    let store = tests::fresh_table_store().await;
    behaviour::run_all(&store).await;
}

#[tokio::test]
async fn creating_the_table_twice_keeps_it() {
    let store = tests::fresh_table_store().await;
    let again = shared::store::dynamo::schema::create_table(store.sdk_client(), store.table()).await.unwrap();
    assert!(!again, "the second create reports an existing table");
}

/// Two exchanges of one code at once: DynamoDB may cancel the loser for the conflict
/// rather than for the code's condition. If the winner has redeemed the code, the loser
/// is a replay all the same and learns the family to revoke (RFC 6749 §4.1.2); if not,
/// it is an outage, never a success.
#[tokio::test]
async fn an_exchange_cancelled_for_a_conflict_after_the_code_was_redeemed_is_a_replay() {
    use shared::config::Config;
    use shared::domain::{AuthorizationCode, Redemption, Scope};
    use shared::store::dynamo::DynamoStore;
    use shared::store::{SessionWrite, SignInStore, StoreError};
    use shared::time::UnixTime;
    use tests::fault_proxy::{Fault, FaultProxy};

    let direct = tests::fresh_table_store().await;
    let now = UnixTime::now();
    let (session, first_family) = shared::testing::kit::session(now, 3600);
    direct.begin_session(&session, &first_family).await.unwrap();
    let code = |client: &str| AuthorizationCode {
        digest: shared::secrets::digest_of(&shared::ids::random_id()),
        client_id: shared::ids::ClientId::new(client),
        redirect_uri: "https://shop.example.com/cb".into(),
        scope: Scope::parse("openid").unwrap(),
        nonce: None,
        code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into(),
        sid: session.sid.clone(),
        sub: session.sub.clone(),
        username: first_family.username.clone(),
        auth_time: session.auth_time,
        session_ends_at: session.expires_at,
        client_in_session: true,
        valid_until: now.plus(60),
        redeemed_by: None,
        expires_at: now.plus(3600),
    };
    let family_for = |code: &AuthorizationCode| {
        let (_, mut family) = shared::testing::kit::session(now, 3600);
        (family.sid, family.sub, family.client_id) = (code.sid.clone(), code.sub.clone(), code.client_id.clone());
        family
    };
    let (redeemed, untouched) = (code(first_family.client_id.as_str()), code(first_family.client_id.as_str()));
    for c in [&redeemed, &untouched] {
        assert!(direct.save_code(c).await.unwrap());
    }
    let winner = family_for(&redeemed);
    assert_eq!(direct.redeem_code(&redeemed, &winner, now).await.unwrap(), Redemption::Redeemed);

    // Every transaction through the proxy is cancelled for a conflict on the code.
    let conflict = serde_json::json!({
        "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
        "message": "Transaction cancelled, please refer cancellation reasons for specific reasons",
        "CancellationReasons": [{"Code": "TransactionConflict"}, {"Code": "None"}, {"Code": "None"}, {"Code": "None"}],
    });
    let moto = tests::required_env("DYNAMODB_ENDPOINT");
    let proxy = FaultProxy::start(&moto, move |call| {
        if call.target.ends_with("TransactWriteItems") {
            Fault::Answer { status: 400, body: conflict.clone() }
        } else {
            Fault::Pass
        }
    })
    .await;
    let (endpoint, table) = (proxy.endpoint(), direct.table().to_string());
    let config = Config::from_lookup(move |name| match name {
        "DYNAMODB_ENDPOINT" => Some(endpoint.clone()),
        "TABLE_NAME" => Some(table.clone()),
        "ISSUER" => Some("https://auth.example.com".into()),
        "KEY_SOURCE" => Some("file:unused".into()),
        "EXPECTED_AUDIENCE" => Some("https://api.example.com".into()),
        _ => std::env::var(name).ok(),
    })
    .unwrap();
    let through = DynamoStore::connect(&config.aws).await;
    let loser = family_for(&redeemed);
    assert_eq!(
        through.redeem_code(&redeemed, &loser, now).await.unwrap(),
        Redemption::Spent(Some(winner.fid.clone())),
        "the loser of the race is a replay"
    );
    let unredeemed = through.redeem_code(&untouched, &family_for(&untouched), now).await;
    assert!(matches!(unredeemed, Err(StoreError::Unavailable(_))), "{unredeemed:?}");
}
