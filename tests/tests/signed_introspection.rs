//! End to end: JWT introspection responses (RFC 9701) through `cargo lambda watch`, store
//! in moto. A resource server that asks for `application/token-introspection+jwt` gets
//! the RFC 7662 answer signed for itself, verifiable with the published JWKS alone; one
//! that does not gets the JSON answer as before.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation, decode, decode_header};
use serde_json::{Value, json};
use shared::domain::GrantType;
use std::process::{Command, Stdio};
use tests::{
    Stack, TestClient, encode_form, password_login, seed_client, seed_resource_server_into, seed_user, stack_store,
};

const API: &str = "https://api.example.com";
const JWT: &str = "application/token-introspection+jwt";

/// What the introspection endpoint answered, body as text (a JWT is not JSON).
struct Answer {
    status: u16,
    content_type: String,
    cache_control: String,
    body: String,
}

/// `POST /oauth2/introspect` as `caller` (Basic), with this `Accept` if any.
async fn introspect(stack: &Stack, caller: &TestClient, token: &str, accept: Option<&str>) -> Answer {
    let mut request = stack
        .http
        .post(stack.url("/oauth2/introspect"))
        .header("authorization", caller.basic())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(encode_form(&[("token", token)]));
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    let response = request.send().await.expect("the stack answers");
    let header =
        |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let (content_type, cache_control) = (header("content-type"), header("cache-control"));
    Answer {
        status: response.status().as_u16(),
        content_type,
        cache_control,
        body: response.text().await.expect("a body"),
    }
}

impl Answer {
    fn json(&self) -> Value {
        assert_eq!((self.status, self.content_type.as_str()), (200, "application/json"), "{}", self.body);
        serde_json::from_str(&self.body).expect("JSON")
    }

    fn jwt(&self) -> &str {
        assert_eq!(self.status, 200, "{}", self.body);
        assert_eq!(self.content_type, JWT, "{}", self.body);
        assert_eq!(self.cache_control, "no-store");
        &self.body
    }
}

/// A resource server's check of the signed answer: the `kid`'s key from the published
/// JWKS, RS256 pinned (RFC 9701 §6), `iss` the issuer, `aud` itself, `iat` present.
async fn verify(stack: &Stack, jwt: &str, audience: &str) -> (Header, Value) {
    let jwks: JwkSet = serde_json::from_value(stack.get("/.well-known/jwks.json").await.json).expect("JWKS");
    let header = decode_header(jwt).expect("a JWS header");
    let jwk = jwks.find(header.kid.as_deref().expect("kid")).expect("the kid is published");
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[&stack.issuer]);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["iss", "aud", "iat"]);
    validation.validate_exp = false;
    let data = decode::<Value>(jwt, &DecodingKey::from_jwk(jwk).expect("key"), &validation).expect("verifies");
    (header, data.claims)
}

/// The same check by PyJWT (tests/peers/introspection_jwt.py): the verified claims.
fn pyjwt_verify(stack: &Stack, jwt: &str, audience: &str) -> Value {
    use std::io::Write;
    let python = std::env::var("PYTHON").expect("PYTHON (the venv interpreter with PyJWT) is set by make test");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/peers/introspection_jwt.py");
    let mut child = Command::new(&python)
        .args([script, stack.url("/.well-known/jwks.json").as_str(), stack.issuer.as_str(), audience])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python runs");
    child.stdin.take().expect("stdin").write_all(jwt.as_bytes()).expect("written");
    let out = child.wait_with_output().expect("python finishes");
    assert!(out.status.success(), "PyJWT refused it: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("JSON claims")
}

#[tokio::test]
async fn a_resource_server_gets_a_signed_answer_for_itself_and_revocation_shows_in_it() {
    let stack = Stack::from_env();
    let grants = [GrantType::Password, GrantType::RefreshToken];
    let client = seed_client(&grants, "openid read", Some(API)).await;
    let rs = seed_resource_server_into(&stack_store().await).await;
    let user = seed_user(false).await;
    let access = password_login(&stack, &client, &user, "openid read").await.str("access_token").to_string();
    let plain = introspect(&stack, &rs, &access, None).await.json();
    assert_eq!(plain["active"], true, "{plain}");

    // WHEN the resource server asks for the signed answer
    let before = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let signed = introspect(&stack, &rs, &access, Some(JWT)).await;

    // THEN an RS256 `token-introspection+jwt`, for it, holding the JSON answer exactly
    let (header, claims) = verify(&stack, signed.jwt(), &rs.id).await;
    assert_eq!(header.typ.as_deref(), Some("token-introspection+jwt"));
    assert_eq!(header.alg, Algorithm::RS256);
    assert_eq!((claims["iss"].as_str(), claims["aud"].as_str()), (Some(stack.issuer.as_str()), Some(rs.id.as_str())));
    assert!(claims["iat"].as_u64().is_some_and(|iat| iat + 5 >= before), "{claims}");
    let inside = &claims["token_introspection"];
    assert_eq!(inside, &plain, "the signed answer is the JSON one");
    assert_eq!(
        (inside["active"].as_bool(), inside["sub"].as_str(), inside["client_id"].as_str(), inside["scope"].as_str()),
        (Some(true), Some(user.sub.as_str()), Some(client.id.as_str()), Some("openid read"))
    );
    assert_eq!((inside["aud"].as_str(), inside["token_type"].as_str()), (Some(API), Some("Bearer")));
    // An independent JOSE implementation agrees.
    assert_eq!(pyjwt_verify(&stack, signed.jwt(), &rs.id), claims);

    // WHEN the client revokes the token
    let revoked = stack.revoke(&client, &access, Some("access_token")).await;
    assert_eq!(revoked.status, 200);

    // THEN the very next signed answer says exactly {"active": false}, still for the caller
    let signed = introspect(&stack, &rs, &access, Some(JWT)).await;
    let (_, claims) = verify(&stack, signed.jwt(), &rs.id).await;
    assert_eq!(claims["token_introspection"], json!({ "active": false }));
    assert_eq!(introspect(&stack, &rs, &access, None).await.json(), json!({ "active": false }));
}

#[tokio::test]
async fn the_audience_is_whoever_asked_and_without_the_media_type_the_answer_stays_json() {
    let stack = Stack::from_env();
    let client = seed_client(&[GrantType::ClientCredentials], "read", Some(API)).await;
    let reply = stack.post_form("/oauth2/token", &client, &[("grant_type", "client_credentials")]).await;
    let access = reply.str("access_token").to_string();

    // The token's own client asking: the answer is for it.
    let signed = introspect(&stack, &client, &access, Some(&format!("{JWT}; q=0.9, application/json; q=0.5"))).await;
    let (_, claims) = verify(&stack, signed.jwt(), &client.id).await;
    assert_eq!(claims["token_introspection"]["client_id"], client.id.as_str());

    // JSON, as before, when the JWT is not asked for or refused with q=0.
    for accept in [None, Some("application/json"), Some("*/*"), Some(&format!("{JWT};q=0, application/json"))] {
        let answer = introspect(&stack, &client, &access, accept).await;
        assert_eq!(answer.json()["active"], true, "{accept:?}");
        assert_eq!(answer.cache_control, "no-store");
    }

    // Errors stay JSON: a wrong secret is 401 invalid_client whatever the caller accepts.
    let wrong = TestClient { id: client.id.clone(), secret: "wrong-secret".into() };
    let refused = introspect(&stack, &wrong, &access, Some(JWT)).await;
    assert_eq!((refused.status, refused.content_type.as_str()), (401, "application/json"), "{}", refused.body);
    assert_eq!(serde_json::from_str::<Value>(&refused.body).expect("JSON")["error"], "invalid_client");
}
