//! End to end: `private_key_jwt` client authentication (RFC 7523 §2.2, OIDC Core §9)
//! through `cargo lambda watch`, store in moto. A client registered by its public keys
//! (`tokenctl client add … --auth private_key_jwt --jwks-file`) authenticates with a
//! signed assertion at every endpoint that authenticates clients, each assertion once;
//! authlib, a client library, does the same on its own.

use jsonwebtoken::Header;
use serde_json::{Value, json};
use shared::domain::SigningAlgorithm;
use shared::ids::random_id;
use shared::oauth::client_assertion::JWT_BEARER;
use shared::testing::kit::ClientKey;
use shared::time::UnixTime;
use std::process::{Command, Stdio};
use tests::{Reply, Req, Stack, claims_of, encode_form, logged_events, seed_user};

/// A client registered with `--auth private_key_jwt` and the key it signs with.
struct KeyClient {
    id: String,
    key: ClientKey,
}

impl KeyClient {
    /// Registered through `tokenctl`, as an operator would, with these extra flags.
    fn register(alg: SigningAlgorithm, flags: &[&str]) -> Self {
        let key = ClientKey::generate(alg);
        let id = format!("pkjwt-{}", random_id());
        let jwks = std::env::temp_dir().join(format!("{id}.jwks.json"));
        std::fs::write(&jwks, key.jwks()).expect("the JWK set file");
        let mut args = vec!["client", "add", &id, "--auth", "private_key_jwt", "--jwks-file"];
        let path = jwks.display().to_string();
        args.push(&path);
        args.extend_from_slice(flags);
        let out = tokenctl(&args);
        assert!(out.contains("registered") && !out.contains("client_secret"), "a key, and no secret: {out}");
        Self { id, key }
    }

    /// A fresh assertion for the token endpoint.
    fn assertion(&self, stack: &Stack) -> String {
        self.key.assertion(&self.id, &token_endpoint(stack))
    }
}

fn token_endpoint(stack: &Stack) -> String {
    format!("{}/oauth2/token", stack.issuer)
}

/// `tokenctl` against the stack under test (its environment is the stack's).
fn tokenctl(args: &[&str]) -> String {
    let binary = std::env::var("TOKENCTL").expect("TOKENCTL (the built admin CLI) is set by make test");
    let out = Command::new(binary).args(args).output().expect("tokenctl runs");
    assert!(out.status.success(), "tokenctl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// POST `form` to `path`, the client authenticated by `assertion` alone.
async fn post(stack: &Stack, path: &str, assertion: &str, form: &[(&str, &str)]) -> Reply {
    let mut pairs = vec![("client_assertion_type", JWT_BEARER), ("client_assertion", assertion)];
    pairs.extend_from_slice(form);
    stack.post(path, Req::form(&encode_form(&pairs))).await
}

fn assert_invalid_client(reply: &Reply, what: &str) {
    assert_eq!((reply.status, reply.json["error"].as_str()), (401, Some("invalid_client")), "{what}: {}", reply.json);
    assert_eq!(reply.header("www-authenticate"), Some("Basic realm=\"oauth\""), "{what}");
}

#[tokio::test]
async fn a_client_registered_by_its_keys_authenticates_at_every_endpoint_without_a_secret() {
    let stack = Stack::from_env();
    // GIVEN a resource server's client, registered by its ES256 public key
    let flags = ["--grant", "client_credentials", "--grant", "password", "--grant", "refresh_token"];
    let flags = [&flags[..], &["--scope", "openid read", "--introspect"]].concat();
    let client = KeyClient::register(SigningAlgorithm::Es256, &flags);
    let listed = tokenctl(&["client", "list"]);
    let line = listed.lines().find(|l| l.contains(&client.id)).expect("listed");
    assert!(line.contains(r#""token_endpoint_auth_method":"private_key_jwt""#), "{line}");

    // WHEN it asks for tokens with assertions, THEN it gets them
    let cc = post(&stack, "/oauth2/token", &client.assertion(&stack), &[("grant_type", "client_credentials")]).await;
    assert_eq!(cc.status, 200, "{}", cc.json);
    let access = cc.str("access_token").to_string();
    assert_eq!(claims_of(&access)["client_id"], client.id.as_str());
    let user = seed_user(false).await;
    let login_form = [
        ("grant_type", "password"),
        ("username", &user.username),
        ("password", &user.password),
        ("scope", "openid read"),
    ];
    let login = post(&stack, "/oauth2/token", &client.assertion(&stack), &login_form).await;
    assert_eq!(login.status, 200, "{}", login.json);

    // introspection, revocation and the feed (a POST, since a GET has no form) take it too
    let active = post(&stack, "/oauth2/introspect", &client.assertion(&stack), &[("token", &access)]).await;
    assert_eq!((active.status, &active.json["active"]), (200, &json!(true)), "{}", active.json);
    let revoked = post(&stack, "/oauth2/revoke", &client.assertion(&stack), &[("token", &access)]).await;
    assert_eq!(revoked.status, 200, "{}", revoked.json);
    let inactive = post(&stack, "/oauth2/introspect", &client.assertion(&stack), &[("token", &access)]).await;
    assert_eq!(inactive.json, json!({ "active": false }));
    let jti = claims_of(&access)["jti"].clone();
    let feed = post(&stack, "/oauth2/revocations", &client.assertion(&stack), &[]).await;
    assert_eq!(feed.status, 200, "{}", feed.json);
    let entries = feed.json["entries"].as_array().cloned().unwrap_or_default();
    assert!(entries.iter().any(|e| e["kind"] == "jti" && e["value"] == jti), "the revoked token: {}", feed.json);
    let cursor = feed.str("cursor").to_string();
    let next = post(&stack, "/oauth2/revocations", &client.assertion(&stack), &[("after", &cursor)]).await;
    assert_eq!(next.status, 200, "a cursor in the form: {}", next.json);

    // and logout ends the login's session
    let refresh = login.str("refresh_token");
    let ended = post(&stack, "/oauth2/logout", &client.assertion(&stack), &[("refresh_token", refresh)]).await;
    assert_eq!(ended.status, 200, "{}", ended.json);
    assert_eq!(ended.json["sessions_ended"].as_array().map(Vec::len), Some(1), "{}", ended.json);
}

#[tokio::test]
async fn a_replayed_foreign_misaddressed_or_expired_assertion_is_invalid_client() {
    let stack = Stack::from_env();
    let client = KeyClient::register(SigningAlgorithm::Es256, &["--grant", "client_credentials"]);
    let cc = [("grant_type", "client_credentials")];
    let first = client.assertion(&stack);
    assert_eq!(post(&stack, "/oauth2/token", &first, &cc).await.status, 200);

    // Each of these is refused the same way.
    let mut impostor = ClientKey::generate(SigningAlgorithm::Es256);
    impostor.kid = client.key.kid.clone();
    let now = UnixTime::now();
    let claims = |edit: fn(&mut Value)| {
        let mut claims = ClientKey::claims(&client.id, &token_endpoint(&stack), now);
        edit(&mut claims);
        claims
    };
    let refused = [
        ("replayed", first.clone()),
        ("signed by another key", impostor.sign(&impostor.header(), &claims(|_| {}))),
        (
            "for another audience",
            client.key.sign(
                &client.key.header(),
                &claims(|c| c["aud"] = json!("https://elsewhere.example.com/oauth2/token")),
            ),
        ),
        (
            "expired",
            client.key.sign(&client.key.header(), &claims(|c| c["exp"] = json!(c["iat"].as_u64().unwrap() - 1))),
        ),
    ];
    for (what, assertion) in &refused {
        assert_invalid_client(&post(&stack, "/oauth2/token", assertion, &cc).await, what);
    }
    // A client_assertion_type other than the JWT bearer one names no method we offer.
    let saml = encode_form(&[
        ("grant_type", "client_credentials"),
        ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:saml2-bearer"),
        ("client_assertion", &client.assertion(&stack)),
    ]);
    assert_invalid_client(&stack.post("/oauth2/token", Req::form(&saml)).await, "a SAML assertion type");

    // THEN each refusal was logged with the client and its reason, and no part of any
    // assertion reached the log.
    let reasons: Vec<String> = logged_events("client.auth_failed")
        .into_iter()
        .filter(|e| e["client_id"] == client.id.as_str())
        .filter_map(|e| e["reason"].as_str().map(str::to_string))
        .collect();
    for reason in ["assertion_replayed", "assertion_signature", "assertion_aud", "assertion_expired"] {
        assert!(reasons.iter().any(|r| r == reason), "{reason} in {reasons:?}");
    }
    let log = std::fs::read_to_string(tests::required_env("E2E_FUNCTION_LOG")).expect("the functions' log");
    for (what, assertion) in &refused {
        let signature = assertion.rsplit('.').next().expect("a JWS");
        assert!(!log.contains(signature), "the {what} assertion was logged");
    }
    // And the client still gets in with a fresh one.
    assert_eq!(post(&stack, "/oauth2/token", &client.assertion(&stack), &cc).await.status, 200);
}

#[tokio::test]
async fn a_header_naming_another_algorithm_than_the_key_is_refused() {
    let stack = Stack::from_env();
    let client = KeyClient::register(SigningAlgorithm::Es256, &["--grant", "client_credentials"]);
    // HS256 keyed with the public key, the classic confusion; the server holds only that.
    let mut header = Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some(client.key.kid.clone());
    let claims = ClientKey::claims(&client.id, &token_endpoint(&stack), UnixTime::now());
    let secret = jsonwebtoken::EncodingKey::from_secret(client.key.jwks().as_bytes()).expect("a key");
    let confused = jsonwebtoken::encode(&header, &claims, &secret).expect("signed");
    assert_invalid_client(
        &post(&stack, "/oauth2/token", &confused, &[("grant_type", "client_credentials")]).await,
        "HS256",
    );
}

#[tokio::test]
async fn authlib_gets_a_token_by_private_key_jwt() {
    use std::io::Write;
    let stack = Stack::from_env();
    // RS256, authlib's default for private_key_jwt.
    let client = KeyClient::register(SigningAlgorithm::Rs256, &["--grant", "client_credentials", "--scope", "read"]);
    let python = std::env::var("PYTHON").expect("PYTHON (the venv interpreter with authlib) is set by make test");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/peers/private_key_jwt.py");
    let mut child = Command::new(&python)
        .args([script, &token_endpoint(&stack), &client.id])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python runs");
    child.stdin.take().expect("stdin").write_all(client.key.private_key_pem.as_bytes()).expect("written");
    let out = child.wait_with_output().expect("python finishes");
    assert!(out.status.success(), "authlib was refused: {}", String::from_utf8_lossy(&out.stderr));
    let token: Value = serde_json::from_slice(&out.stdout).expect("a token response");
    assert_eq!((token["token_type"].as_str(), token["scope"].as_str()), (Some("Bearer"), Some("read")), "{token}");
    let claims = claims_of(token["access_token"].as_str().expect("an access token"));
    assert_eq!(
        (claims["client_id"].as_str(), claims["sub"].as_str()),
        (Some(client.id.as_str()), Some(client.id.as_str()))
    );
}
