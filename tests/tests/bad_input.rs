//! Bad input is refused at the wire with the RFC error, never reported as an outage:
//! identifiers too long for a DynamoDB key (at most 2048 bytes) never reach the store,
//! and the store's own refusal (`ValidationException`) is told apart from throttling.

use shared::domain::GrantType;
use shared::store::StoreError;
use shared::store::dynamo::DynamoStore;
use tests::fault_proxy::{Fault, FaultProxy};
use tests::{Req, Stack, TestClient, encode_form, seed_client, seed_rp_client, seed_user};

fn huge() -> String {
    "x".repeat(3000)
}

#[tokio::test]
async fn identifiers_too_long_for_a_key_get_the_rfc_error_not_an_outage() {
    let stack = Stack::from_env();
    let client = seed_client(&[GrantType::Password, GrantType::ClientCredentials], "read", None).await;
    let admin = seed_rp_client(true, None).await;
    let user = seed_user(false).await;

    let logout_sub = stack.logout(&admin, &[("sub", &huge())]).await;
    assert_eq!(
        (logout_sub.status, logout_sub.json["error"].as_str()),
        (400, Some("invalid_request")),
        "{}",
        logout_sub.json
    );
    let logout_sid = stack.logout(&admin, &[("sid", &huge())]).await;
    assert_eq!((logout_sid.status, logout_sid.json["error"].as_str()), (400, Some("invalid_request")));

    let login = stack
        .post_form(
            "/oauth2/token",
            &client,
            &[("grant_type", "password"), ("username", &huge()), ("password", &user.password)],
        )
        .await;
    assert_eq!((login.status, login.json["error"].as_str()), (400, Some("invalid_grant")), "{}", login.json);

    let stranger = TestClient { id: huge(), secret: "s".repeat(30) };
    for path in ["/oauth2/token", "/oauth2/introspect", "/oauth2/revoke", "/oauth2/logout"] {
        let reply = stack.post_form(path, &stranger, &[("grant_type", "client_credentials"), ("token", "t")]).await;
        assert_eq!(
            (reply.status, reply.json["error"].as_str()),
            (401, Some("invalid_client")),
            "{path}: {}",
            reply.json
        );
        let body = encode_form(&[("client_id", &huge()), ("client_secret", "s"), ("grant_type", "client_credentials")]);
        let posted = stack.post(path, Req::form(&body)).await;
        assert_eq!(posted.status, 401, "{path}: {}", posted.json);
    }
}

/// The store's own refusal is not an outage: a `ValidationException` is `Rejected`
/// (a logged bug, 500), throttling is `Unavailable` (503, fail closed).
#[tokio::test]
async fn the_stores_refusal_is_told_apart_from_an_outage() {
    let moto = std::env::var("DYNAMODB_ENDPOINT").expect("moto");
    let table = std::env::var("TABLE_NAME").expect("table");
    for (error_type, status, rejected) in [
        ("com.amazon.coral.validate#ValidationException", 400, true),
        ("com.amazonaws.dynamodb.v20120810#ThrottlingException", 400, false),
        ("com.amazonaws.dynamodb.v20120810#InternalServerError", 500, false),
    ] {
        let proxy = FaultProxy::start(&moto, move |call| {
            if call.target.ends_with("GetItem") { Fault::Error { status, error_type } } else { Fault::Pass }
        })
        .await;
        let config = tests::config_at(&proxy.endpoint());
        let store =
            DynamoStore::connect(&shared::config::AwsSettings { table_name: table.clone(), ..config.aws }).await;
        let err = shared::store::ClientRead::client(&store, &shared::ids::ClientId::new("any")).await.unwrap_err();
        assert_eq!(matches!(err, StoreError::Rejected(_)), rejected, "{error_type}: {err}");
        assert_eq!(matches!(err, StoreError::Unavailable(_)), !rejected, "{error_type}: {err}");
    }
}

/// RFC 6750 §3.1: a request with another scheme has no bearer credentials (a bare
/// challenge, no error code); a Bearer header that holds no token is `invalid_request`.
#[tokio::test]
async fn userinfo_answers_other_schemes_with_a_bare_challenge_and_a_broken_bearer_with_400() {
    let stack = Stack::from_env();
    for other in ["Basic Zm9vOmJhcg==", "Digest abc"] {
        let reply = stack.userinfo_with(Some(other)).await;
        assert_eq!(reply.status, 401, "{other}");
        assert_eq!(
            reply.header("www-authenticate"),
            Some("Bearer realm=\"userinfo\", DPoP algs=\"ES256 EdDSA RS256\""),
            "{other}"
        );
    }
    for broken in ["Bearer a b", "Bearer", "Bearer a=b"] {
        let reply = stack.userinfo_with(Some(broken)).await;
        assert_eq!((reply.status, reply.json["error"].as_str()), (400, Some("invalid_request")), "{broken}");
        let challenge = reply.header("www-authenticate").unwrap_or_default();
        assert!(challenge.starts_with("Bearer") && challenge.contains("error=\"invalid_request\""), "{challenge}");
    }
}
