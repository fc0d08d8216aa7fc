//! End to end: DPoP (RFC 9449) through `cargo lambda watch`, store in moto. A token
//! request with a proof gets a token bound to the proof's key; only that key's holder can
//! use it, at userinfo and behind the authorizer; introspection says to which key. Real
//! clients: oauth4webapi (tests/peers/node) and proofs made with PyJWT
//! (tests/peers/dpop_proofs.py).

use serde_json::{Value, json};
use shared::domain::{GrantType, SigningAlgorithm};
use shared::testing::dpop::DpopKey;
use std::process::Command;
use tests::{
    Reply, Stack, TestClient, encode_form, required_env, seed_client, seed_dpop_client, seed_resource_server_into,
    seed_user, stack_store,
};

/// `POST path` with Basic client authentication and these `DPoP` header lines.
async fn post_with_proofs(
    stack: &Stack,
    path: &str,
    client: &TestClient,
    form: &[(&str, &str)],
    proofs: &[String],
) -> Reply {
    let mut request = stack
        .http
        .post(stack.url(path))
        .header("authorization", client.basic())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(encode_form(form));
    for proof in proofs {
        request = request.header("dpop", proof);
    }
    reply(request).await
}

async fn reply(request: reqwest::RequestBuilder) -> Reply {
    let response = request.send().await.expect("the stack answers");
    let (status, headers) = (response.status().as_u16(), response.headers().clone());
    let json = response.json().await.unwrap_or(Value::Null);
    Reply { status, headers, json }
}

/// `method /userinfo` with `Authorization: <scheme> <token>` and these proofs.
async fn userinfo(stack: &Stack, method: &str, authorization: &str, proofs: &[String]) -> Reply {
    let mut request = match method {
        "POST" => stack.http.post(stack.url("/userinfo")),
        _ => stack.http.get(stack.url("/userinfo")),
    }
    .header("authorization", authorization);
    for proof in proofs {
        request = request.header("dpop", proof);
    }
    reply(request).await
}

fn assert_dpop_challenge(reply: &Reply, error: &str, case: &str) {
    assert_eq!(reply.status, 401, "{case}: {}", reply.json);
    let challenge = reply.header("www-authenticate").unwrap_or_default();
    assert!(challenge.starts_with(&format!("DPoP error=\"{error}\"")), "{case}: {challenge}");
    assert!(challenge.contains(r#"algs="ES256 EdDSA RS256""#), "{case}: {challenge}");
}

#[tokio::test]
async fn a_bound_token_works_only_with_a_fresh_proof_by_its_key() {
    let stack = Stack::from_env();
    let client = seed_client(&[GrantType::Password], "openid profile", None).await;
    let user = seed_user(false).await;
    let key = DpopKey::generate(SigningAlgorithm::Es256);
    let token_url = format!("{}/oauth2/token", stack.issuer);
    let form =
        [("grant_type", "password"), ("username", &user.username), ("password", &user.password), ("scope", "openid")];

    // GIVEN a login with a DPoP proof
    let login = post_with_proofs(&stack, "/oauth2/token", &client, &form, &[key.proof("POST", &token_url, None)]).await;
    assert_eq!((login.status, login.str("token_type")), (200, "DPoP"), "{}", login.json);
    let token = login.str("access_token").to_string();
    assert_eq!(tests::claims_of(&token)["cnf"], json!({ "jkt": key.jkt }));

    // THEN introspection says to which key it is bound
    let resource_server = seed_resource_server_into(&stack_store().await).await;
    let answer = stack.introspect(&resource_server, &token).await;
    assert_eq!((answer.json["active"].as_bool(), answer.str("token_type")), (Some(true), "DPoP"));
    assert_eq!(answer.json["cnf"]["jkt"], key.jkt);

    // AND userinfo answers the DPoP scheme with a fresh proof for GET /userinfo and the token
    let userinfo_url = format!("{}/userinfo", stack.issuer);
    let proof = key.proof("GET", &userinfo_url, Some(&token));
    let ok = userinfo(&stack, "GET", &format!("DPoP {token}"), std::slice::from_ref(&proof)).await;
    assert_eq!((ok.status, ok.str("sub")), (200, user.sub.as_str()), "{}", ok.json);

    // AND refuses every presentation that does not prove the key for this request
    let thief = DpopKey::generate(SigningAlgorithm::Es256);
    let no_ath = key
        .sign(&json!({ "jti": "no-ath", "htm": "GET", "htu": userinfo_url, "iat": shared::time::UnixTime::now().0 }));
    let dpop = format!("DPoP {token}");
    for (case, method, proofs) in [
        ("replayed proof", "GET", vec![proof.clone()]),
        ("another key", "GET", vec![thief.proof("GET", &userinfo_url, Some(&token))]),
        ("wrong htm", "POST", vec![key.proof("GET", &userinfo_url, Some(&token))]),
        ("wrong htu", "GET", vec![key.proof("GET", &format!("{}/oauth2/token", stack.issuer), Some(&token))]),
        ("missing ath", "GET", vec![no_ath]),
        ("no proof", "GET", vec![]),
    ] {
        assert_dpop_challenge(&userinfo(&stack, method, &dpop, &proofs).await, "invalid_dpop_proof", case);
    }
    // AND a token that is no good itself, sent by the DPoP scheme, gets the DPoP challenge
    // (A signature two characters longer is no signature of this key.)
    let forged = format!("{token}AA");
    let forged_proof = key.proof("GET", &userinfo_url, Some(&forged));
    let refused = userinfo(&stack, "GET", &format!("DPoP {forged}"), &[forged_proof]).await;
    assert_dpop_challenge(&refused, "invalid_token", "a forged token by the DPoP scheme");
    // AND a bound token sent as a bearer token is refused, with the DPoP challenge
    let as_bearer = userinfo(&stack, "GET", &format!("Bearer {token}"), &[]).await;
    assert_dpop_challenge(&as_bearer, "invalid_token", "bound token as Bearer");
}

#[tokio::test]
async fn a_client_that_requires_dpop_gets_no_bearer_token_and_bad_proofs_get_invalid_dpop_proof() {
    let stack = Stack::from_env();
    let client = seed_dpop_client(&[GrantType::ClientCredentials], "read").await;
    let form = [("grant_type", "client_credentials")];
    let bare = post_with_proofs(&stack, "/oauth2/token", &client, &form, &[]).await;
    assert_eq!((bare.status, bare.str("error")), (400, "invalid_dpop_proof"), "{}", bare.json);

    let key = DpopKey::generate(SigningAlgorithm::EdDsa);
    let token_url = format!("{}/oauth2/token", stack.issuer);
    let proof = key.proof("POST", &token_url, None);
    let bound = post_with_proofs(&stack, "/oauth2/token", &client, &form, std::slice::from_ref(&proof)).await;
    assert_eq!((bound.status, bound.str("token_type")), (200, "DPoP"), "{}", bound.json);
    // The proof's jti is used up: the same proof again is refused, and so is a stale one.
    let again = post_with_proofs(&stack, "/oauth2/token", &client, &form, &[proof]).await;
    assert_eq!((again.status, again.str("error")), (400, "invalid_dpop_proof"));
    let stale = key
        .sign(&json!({ "jti": "old", "htm": "POST", "htu": token_url, "iat": shared::time::UnixTime::now().0 - 600 }));
    let old = post_with_proofs(&stack, "/oauth2/token", &client, &form, &[stale]).await;
    assert_eq!((old.status, old.str("error")), (400, "invalid_dpop_proof"));
    // Each refusal is a security event in the function's log, with its reason.
    let rejected = tests::logged_events("dpop.proof_rejected");
    let missing = rejected.iter().any(|e| e["reason"] == "missing_proof" && e["client_id"] == client.id.as_str());
    assert!(missing, "the refusal of {} without a proof is logged: {rejected:?}", client.id);
    for reason in ["replayed", "iat_outside_window"] {
        assert!(rejected.iter().any(|e| e["reason"] == reason && e["endpoint"] == "token"), "{reason}");
    }
}

/// The API Gateway (payload 2.0) authorizer event of `GET https://{domainName}/orders`
/// with these headers, invoked through the Lambda invoke API.
async fn authorize(stack: &Stack, authorization: &str, proofs: &[String]) -> Value {
    let mut event: Value =
        serde_json::from_str(include_str!("../../shared/fixtures/authorizer-event.json")).expect("fixture");
    event["identitySource"] = json!([authorization]);
    event["headers"]["authorization"] = json!(authorization);
    if !proofs.is_empty() {
        event["headers"]["dpop"] = json!(proofs.join(","));
    }
    let url = stack.url("/2015-03-31/functions/authorizer/invocations");
    let reply = reply(stack.http.post(url).json(&event)).await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    reply.json
}

#[tokio::test]
async fn the_authorizer_allows_a_dpop_request_only_with_its_proof() {
    let stack = Stack::from_env();
    let client = seed_client(&[GrantType::ClientCredentials], "read", Some("https://api.example.com")).await;
    let key = DpopKey::generate(SigningAlgorithm::Rs256);
    let token_url = format!("{}/oauth2/token", stack.issuer);
    let form = [("grant_type", "client_credentials")];
    let issued =
        post_with_proofs(&stack, "/oauth2/token", &client, &form, &[key.proof("POST", &token_url, None)]).await;
    let token = issued.str("access_token").to_string();
    // What the fixture's requestContext says: GET on its domainName and rawPath.
    let api_url = "https://abc123.execute-api.eu-west-1.amazonaws.com/orders";
    let proof = key.proof("GET", api_url, Some(&token));
    let allowed = authorize(&stack, &format!("DPoP {token}"), std::slice::from_ref(&proof)).await;
    assert_eq!(allowed["isAuthorized"], true, "{allowed}");
    assert_eq!(allowed["context"]["jkt"], key.jkt);
    for (case, authorization, proofs) in [
        ("replayed", format!("DPoP {token}"), vec![proof]),
        ("as Bearer", format!("Bearer {token}"), vec![]),
        (
            "wrong htu",
            format!("DPoP {token}"),
            vec![key.proof("GET", "https://abc123.execute-api.eu-west-1.amazonaws.com/admin", Some(&token))],
        ),
        (
            "two proofs",
            format!("DPoP {token}"),
            vec![key.proof("GET", api_url, Some(&token)), key.proof("GET", api_url, Some(&token))],
        ),
    ] {
        assert_eq!(authorize(&stack, &authorization, &proofs).await["isAuthorized"], false, "{case}");
    }
}

/// oauth4webapi's own DPoP support (tests/peers/node/dpop_peer.mjs), for each algorithm:
/// a password login, a refresh and userinfo, each with a proof; the token it ends with is
/// bound to its key.
#[tokio::test]
async fn oauth4webapi_logs_in_refreshes_and_calls_userinfo_with_dpop() {
    let stack = Stack::from_env();
    let client = seed_client(&[GrantType::Password, GrantType::RefreshToken], "openid profile", None).await;
    let user = seed_user(false).await;
    let resource_server = seed_resource_server_into(&stack_store().await).await;
    for alg in ["ES256", "EdDSA", "RS256"] {
        let output = Command::new("node")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/peers/node/dpop_peer.mjs"))
            .env("ISSUER", &stack.issuer)
            .env("CLIENT_ID", &client.id)
            .env("CLIENT_SECRET", &client.secret)
            .env("USERNAME", &user.username)
            .env("PASSWORD", &user.password)
            .env("DPOP_ALG", alg)
            .output()
            .expect("node runs (make test installs the peer: infra/lib.sh ensure_node_peers)");
        assert!(output.status.success(), "{alg}: {}", String::from_utf8_lossy(&output.stderr));
        let result: Value = serde_json::from_slice(&output.stdout).expect("one JSON line");
        assert_eq!(
            (result["token_type"].as_str(), result["refreshed_token_type"].as_str()),
            (Some("dpop"), Some("dpop"))
        );
        assert_eq!(result["userinfo"]["sub"], user.sub.as_str(), "{alg}");
        let answer = stack.introspect(&resource_server, result["access_token"].as_str().expect("token")).await;
        assert_eq!(answer.json["cnf"]["jkt"], result["jkt"], "{alg}: bound to the peer's key");
    }
}

/// A proof made by PyJWT (tests/peers/dpop_proofs.py) with its own key: the token is
/// bound to the thumbprint Python computed.
#[tokio::test]
async fn a_pyjwt_proof_binds_the_token_to_the_thumbprint_python_computes() {
    let stack = Stack::from_env();
    let client = seed_client(&[GrantType::ClientCredentials], "read", None).await;
    let python = required_env("PYTHON");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/peers/dpop_proofs.py");
    let token_url = format!("{}/oauth2/token", stack.issuer);
    for alg in ["ES256", "EdDSA", "RS256"] {
        let keygen = Command::new(&python).args([script, "keygen", alg]).output().expect("python runs");
        assert!(keygen.status.success(), "{}", String::from_utf8_lossy(&keygen.stderr));
        let key: Value = serde_json::from_slice(&keygen.stdout).expect("JSON");
        let pem = std::env::temp_dir().join(format!("dpop-{alg}-{}.pem", std::process::id()));
        std::fs::write(&pem, key["private_pem"].as_str().expect("pem")).expect("write");
        let proof = Command::new(&python)
            .args([
                script,
                "proof",
                "--key-pem",
                pem.to_str().expect("path"),
                "--alg",
                alg,
                "--htm",
                "POST",
                "--htu",
                &token_url,
            ])
            .output()
            .expect("python runs");
        let _ = std::fs::remove_file(&pem);
        assert!(proof.status.success(), "{}", String::from_utf8_lossy(&proof.stderr));
        let proof = String::from_utf8(proof.stdout).expect("utf-8").trim().to_string();
        let issued =
            post_with_proofs(&stack, "/oauth2/token", &client, &[("grant_type", "client_credentials")], &[proof]).await;
        assert_eq!((issued.status, issued.str("token_type")), (200, "DPoP"), "{alg}: {}", issued.json);
        assert_eq!(tests::claims_of(issued.str("access_token"))["cnf"]["jkt"], key["jkt"], "{alg}");
    }
}

/// Discovery advertises the proof algorithms.
#[tokio::test]
async fn discovery_lists_the_dpop_algorithms() {
    let stack = Stack::from_env();
    let metadata = stack.get("/.well-known/openid-configuration").await.json;
    assert_eq!(metadata["dpop_signing_alg_values_supported"], json!(["ES256", "EdDSA", "RS256"]));
}
