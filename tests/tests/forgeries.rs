//! Forged and misused tokens must all come back inactive (introspection) or denied
//! (authorizer, userinfo), end to end through `cargo lambda watch`.
//!
//! Some forgeries need the server's own signing key (an ID token or a logout token
//! presented as an access token, an expired token): the tests read the key file the
//! stack uses, as an attacker who had stolen a *different kind* of token would not need to.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};
use shared::domain::GrantType;
use shared::domain::SigningAlgorithm;
use shared::keys::KeySetDocument;
use shared::time::UnixTime;
use tests::{Stack, password_login, seed_client, seed_user};

const API: &str = "https://api.example.com";

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

fn parts(token: &str) -> (Value, Value) {
    let mut it = token.split('.');
    let header = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(it.next().unwrap()).unwrap()).unwrap();
    let payload = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(it.next().unwrap()).unwrap()).unwrap();
    (header, payload)
}

/// The stack's own key set, from the file it loads (`KEY_SOURCE=file:…`).
fn stack_keys() -> KeySetDocument {
    let source = std::env::var("KEY_SOURCE").expect("KEY_SOURCE");
    let path = source.strip_prefix("file:").expect("a file key source");
    serde_json::from_slice(&std::fs::read(path).expect("key file")).expect("key set")
}

fn sign_with(doc: &KeySetDocument, typ: &str, claims: &Value) -> String {
    let key = &doc.keys[0];
    let mut header = Header::new(Algorithm::ES256);
    header.typ = Some(typ.into());
    header.kid = Some(key.kid.clone());
    encode(&header, claims, &EncodingKey::from_ec_pem(key.private_key_pem.as_bytes()).unwrap()).unwrap()
}

/// SubjectPublicKeyInfo PEM of a P-256 JWK: what a careless verifier might use as an
/// HMAC secret when a token says `alg: HS256`.
fn public_pem(jwk: &Value) -> String {
    let x = URL_SAFE_NO_PAD.decode(jwk["x"].as_str().unwrap()).unwrap();
    let y = URL_SAFE_NO_PAD.decode(jwk["y"].as_str().unwrap()).unwrap();
    let mut der = hex_bytes("3059301306072a8648ce3d020106082a8648ce3d030107034200");
    der.push(4);
    der.extend(x);
    der.extend(y);
    format!("-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n", STANDARD.encode(der))
}

fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect()
}

#[tokio::test]
async fn forgeries_are_inactive_and_denied_everywhere() {
    let stack = Stack::from_env();
    let client = seed_client(&[GrantType::Password, GrantType::ClientCredentials], "openid read", Some(API)).await;
    let user = seed_user(false).await;
    let login = password_login(&stack, &client, &user, "openid read").await;
    let genuine = login.str("access_token").to_string();
    let (header, payload) = parts(&genuine);
    let jwks = stack.get("/.well-known/jwks.json").await.json;
    let jwk = jwks["keys"].as_array().unwrap().iter().find(|k| k["kid"] == header["kid"]).unwrap().clone();
    let keys = stack_keys();
    let now = UnixTime::now().0;

    let alg_none =
        format!("{}.{}.", b64(&json!({"alg": "none", "typ": "at+jwt", "kid": header["kid"]})), b64(&payload));
    let hs256 = {
        let mut h = Header::new(Algorithm::HS256);
        h.typ = Some("at+jwt".into());
        h.kid = header["kid"].as_str().map(str::to_string);
        encode(&h, &payload, &EncodingKey::from_secret(public_pem(&jwk).as_bytes()).unwrap()).unwrap()
    };
    let unknown_kid = {
        let stranger = KeySetDocument::generate(SigningAlgorithm::Es256).unwrap();
        sign_with(&stranger, "at+jwt", &payload)
    };
    let tampered = {
        let mut p = payload.clone();
        p["scope"] = json!("openid read admin");
        let sig = genuine.rsplit('.').next().unwrap();
        format!("{}.{}.{sig}", genuine.split('.').next().unwrap(), b64(&p))
    };
    let id_token = login.str("id_token").to_string();
    let logout_token = sign_with(
        &keys,
        "logout+jwt",
        &json!({"iss": stack.issuer, "aud": client.id, "sub": user.sub.as_str(), "iat": now, "exp": now + 120,
                "jti": "x", "events": {"http://schemas.openid.net/event/backchannel-logout": {}}}),
    );
    let other_audience = {
        let mut p = payload.clone();
        p["aud"] = json!("https://other.example.com");
        sign_with(&keys, "at+jwt", &p)
    };
    let expired = {
        let mut p = payload.clone();
        p["iat"] = json!(now - 7200);
        p["exp"] = json!(now - 3600);
        sign_with(&keys, "at+jwt", &p)
    };
    let huge = format!("{}.{}.{}", URL_SAFE_NO_PAD.encode("{"), "A".repeat(100 * 1024), "B");

    let forgeries: [(&str, &str); 9] = [
        ("alg none", &alg_none),
        ("HS256 with the public key as secret", &hs256),
        ("unknown kid", &unknown_kid),
        ("tampered payload", &tampered),
        ("an ID token", &id_token),
        ("a logout token", &logout_token),
        ("another audience", &other_audience),
        ("expired", &expired),
        ("100 KiB long", &huge),
    ];
    // The genuine token passes every check, so the refusals below are about the forgery.
    assert_eq!(stack.introspect(&client, &genuine).await.json["active"], true);
    assert_eq!(stack.authorize(Some(&format!("Bearer {genuine}"))).await.json["isAuthorized"], true);

    for (what, token) in forgeries {
        let decision = stack.authorize(Some(&format!("Bearer {token}"))).await;
        assert_eq!(decision.json["isAuthorized"], false, "authorizer accepted {what}");
        let introspection = stack.introspect(&client, token).await;
        if what == "another audience" {
            // Introspection answers for this issuer's tokens whatever their audience;
            // the audience is the resource server's to check (RFC 7662 §2.2 `aud`).
            assert_eq!(introspection.json["aud"], "https://other.example.com");
        } else if what == "100 KiB long" {
            // Larger than any OAuth request body we accept: refused before parsing.
            assert_eq!(introspection.status, 413, "{what}");
        } else {
            assert_eq!(introspection.json, json!({"active": false}), "introspection of {what}");
        }
        // Userinfo serves any access token of this issuer with `openid`, whatever its audience.
        if what != "another audience" {
            let status = stack.userinfo(Some(token)).await.status;
            assert!(status == 401 || (what == "100 KiB long" && status >= 400), "userinfo answered {status} to {what}");
        }
    }
}
