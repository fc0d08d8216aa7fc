//! End to end: discovery metadata and JWKS through `cargo lambda watch`.

use tests::Stack;

#[tokio::test]
async fn both_metadata_documents_advertise_exactly_what_exists() {
    let stack = Stack::from_env();
    let oauth = stack.get("/.well-known/oauth-authorization-server").await;
    let oidc = stack.get("/.well-known/openid-configuration").await;
    assert_eq!((oauth.status, oidc.status), (200, 200));
    assert_eq!(oauth.json, oidc.json, "one metadata document for both");
    let m = &oauth.json;
    assert_eq!(m["issuer"], stack.issuer.as_str());
    assert_eq!(m["token_endpoint"], format!("{}/oauth2/token", stack.issuer));
    assert_eq!(m["jwks_uri"], format!("{}/.well-known/jwks.json", stack.issuer));
    assert_eq!(
        m["grant_types_supported"],
        serde_json::json!(["authorization_code", "client_credentials", "password", "refresh_token"])
    );
    assert_eq!(
        m["token_endpoint_auth_methods_supported"],
        serde_json::json!(["client_secret_basic", "client_secret_post", "private_key_jwt", "none"])
    );
    // private_key_jwt (RFC 7523): what a client's registered keys may sign assertions with,
    // the same at every endpoint that authenticates clients.
    let assertion_algs = serde_json::json!(["ES256", "EdDSA", "RS256"]);
    for endpoint in ["token", "revocation", "introspection"] {
        assert_eq!(m[format!("{endpoint}_endpoint_auth_signing_alg_values_supported")], assertion_algs, "{endpoint}");
    }
    assert_eq!(m["revocation_endpoint"], format!("{}/oauth2/revoke", stack.issuer));
    assert_eq!(m["introspection_endpoint"], format!("{}/oauth2/introspect", stack.issuer));
    assert_eq!(m["userinfo_endpoint"], format!("{}/userinfo", stack.issuer));
    assert_eq!(
        m["introspection_endpoint_auth_methods_supported"],
        serde_json::json!(["client_secret_basic", "client_secret_post", "private_key_jwt"])
    );
    // RFC 9701: signed introspection answers, RS256 only (what the server signs them with).
    assert_eq!(m["introspection_signing_alg_values_supported"], serde_json::json!(["RS256"]));
    assert_eq!(
        m["revocation_endpoint_auth_methods_supported"],
        serde_json::json!(["client_secret_basic", "client_secret_post", "private_key_jwt", "none"])
    );
    assert_eq!(
        (m["backchannel_logout_supported"].as_bool(), m["backchannel_logout_session_supported"].as_bool()),
        (Some(true), Some(true))
    );
    assert_eq!(m["scopes_supported"], serde_json::json!(["openid", "profile"]));
    assert_eq!(m["id_token_signing_alg_values_supported"], serde_json::json!(["RS256", "ES256"]));
    // Browser sign-in: authorization code with PKCE S256, iss in the response (RFC 9207),
    // RP-initiated logout.
    assert_eq!(m["authorization_endpoint"], format!("{}/oauth2/authorize", stack.issuer));
    assert_eq!(m["end_session_endpoint"], format!("{}/oauth2/end_session", stack.issuer));
    assert_eq!(m["response_types_supported"], serde_json::json!(["code"]));
    assert_eq!(m["response_modes_supported"], serde_json::json!(["query"]));
    assert_eq!(m["code_challenge_methods_supported"], serde_json::json!(["S256"]));
    assert_eq!(m["authorization_response_iss_parameter_supported"], true);
}

#[tokio::test]
async fn jwks_publishes_public_keys_only() {
    let stack = Stack::from_env();
    let jwks = stack.get("/.well-known/jwks.json").await;
    assert_eq!(jwks.status, 200);
    assert!(jwks.header("cache-control").is_some_and(|c| c.contains("max-age")));
    let keys = jwks.json["keys"].as_array().expect("keys");
    assert!(!keys.is_empty());
    for key in keys {
        assert!(key["kid"].is_string() && key["alg"].is_string(), "{key}");
        assert_eq!(key["use"], "sig");
        for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
            assert!(key.get(private).is_none(), "private member {private} published: {key}");
        }
    }
}

#[tokio::test]
async fn an_unknown_well_known_path_is_404() {
    let stack = Stack::from_env();
    // Routed to `discovery` only if the local router sends it there; either way not a 200.
    let reply = stack.get("/.well-known/nothing-here").await;
    assert_eq!(reply.status, 404);
}

/// The metadata passes independent validators: authlib's RFC 8414 and OIDC Discovery
/// ones, and idpyoidc's (which refused it while it had no authorization endpoint).
#[tokio::test]
async fn independent_validators_accept_the_metadata() {
    let stack = Stack::from_env();
    let python = std::env::var("PYTHON").expect("PYTHON (the venv interpreter) is set by make test");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/peers/discovery.py");
    let out = std::process::Command::new(python).args([script, stack.base_url.as_str()]).output().expect("python runs");
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}
