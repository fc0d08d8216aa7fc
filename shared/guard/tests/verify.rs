//! Local verification of access tokens (docs/ARCHITECTURE.md §2 "Verification").

#[path = "support/keys.rs"]
mod keys;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use guard::verify::{KeySet, Verifier, VerifyError};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use keys::{AUDIENCE, ISSUER, TestKey, jwk_set, now, service_claims, user_claims, with};
use serde_json::json;

struct Fixture {
    es: TestKey,
    ed: TestKey,
    keys: KeySet,
    verifier: Verifier,
}

fn fixture() -> Fixture {
    let es = TestKey::es256("es-1");
    let ed = TestKey::ed25519("ed-1");
    let keys = KeySet::from_jwks(&jwk_set(&[&es, &ed]));
    Fixture { es, ed, keys, verifier: Verifier::new(ISSUER, vec![AUDIENCE.into()]) }
}

impl Fixture {
    fn verify(&self, token: &str) -> Result<guard::AccessClaims, VerifyError> {
        self.verifier.verify(&self.keys, token, now())
    }
}

#[test]
fn a_live_token_verifies_with_either_algorithm() {
    let f = fixture();
    let claims = f.verify(&f.es.mint(&user_claims("alice", "s1", "f1"))).unwrap();
    assert_eq!((claims.sub.as_str(), claims.sid.as_deref()), ("alice", Some("s1")));
    assert_eq!(claims.aud, [AUDIENCE]);
    assert_eq!(claims.scope.as_deref(), Some("openid read"));
    let claims = f.verify(&f.ed.mint(&service_claims("billing"))).unwrap();
    assert_eq!((claims.client_id.as_str(), claims.sid), ("billing", None));
}

#[test]
fn typ_must_be_an_access_token_type() {
    let f = fixture();
    let claims = user_claims("alice", "s1", "f1");
    let typ = |typ: Option<&str>| f.verify(&f.es.mint_with(&claims, |h| h.typ = typ.map(str::to_owned)));
    assert!(typ(Some("application/AT+JWT")).is_ok());
    assert!(typ(Some("AT+JWT")).is_ok());
    assert_eq!(typ(Some("JWT")).unwrap_err(), VerifyError::WrongType, "an ID token");
    assert_eq!(typ(Some("logout+jwt")).unwrap_err(), VerifyError::WrongType);
    assert_eq!(typ(None).unwrap_err(), VerifyError::WrongType);
}

#[test]
fn the_header_alg_must_be_the_keys_own() {
    // GIVEN an Ed25519 key that claims the ES256 key's kid
    let f = fixture();
    let impostor = TestKey::ed25519(&f.es.kid);
    let token = impostor.mint(&user_claims("alice", "s1", "f1"));
    assert_eq!(f.verify(&token).unwrap_err(), VerifyError::AlgorithmMismatch);
}

#[test]
fn alg_none_is_refused() {
    let f = fixture();
    let header = URL_SAFE_NO_PAD.encode(json!({"alg": "none", "typ": "at+jwt", "kid": f.es.kid}).to_string());
    let payload = URL_SAFE_NO_PAD.encode(user_claims("alice", "s1", "f1").to_string());
    for token in [format!("{header}.{payload}."), format!("{header}.{payload}")] {
        assert!(f.verify(&token).is_err(), "{token}");
    }
}

#[test]
fn hs256_with_the_public_key_as_secret_is_refused() {
    // GIVEN the classic confusion: HMAC keyed with the public key's bytes
    let f = fixture();
    let x = f.es.jwk["x"].as_str().unwrap().to_owned();
    let mut header = Header::new(Algorithm::HS256);
    header.typ = Some("at+jwt".into());
    header.kid = Some(f.es.kid.clone());
    let secret = EncodingKey::from_secret(x.as_bytes()).unwrap();
    let token = jsonwebtoken::encode(&header, &user_claims("alice", "s1", "f1"), &secret).unwrap();
    assert_eq!(f.verify(&token).unwrap_err(), VerifyError::AlgorithmMismatch);

    // AND a symmetric key published in the JWKS is never usable
    let mut set = jwk_set(&[&f.es]);
    set.keys.push(
        serde_json::from_value(
            json!({"kty": "oct", "k": URL_SAFE_NO_PAD.encode(b"secret"), "alg": "HS256", "kid": "hmac"}),
        )
        .unwrap(),
    );
    let keys = KeySet::from_jwks(&set);
    assert_eq!(keys.len(), 1);
    header.kid = Some("hmac".into());
    let token =
        jsonwebtoken::encode(&header, &user_claims("alice", "s1", "f1"), &EncodingKey::from_secret(b"secret").unwrap())
            .unwrap();
    assert_eq!(f.verifier.verify(&keys, &token, now()).unwrap_err(), VerifyError::UnknownKey);
}

#[test]
fn the_issuer_must_match_exactly() {
    let f = fixture();
    for iss in ["https://evil.example.com", "https://auth.example.com/", "HTTPS://AUTH.EXAMPLE.COM"] {
        let token = f.es.mint(&with(user_claims("alice", "s1", "f1"), json!({ "iss": iss })));
        assert_eq!(f.verify(&token).unwrap_err(), VerifyError::WrongIssuer, "{iss}");
    }
}

#[test]
fn a_foreign_audience_is_refused_and_one_of_many_is_enough() {
    let f = fixture();
    let foreign = f.es.mint(&with(user_claims("alice", "s1", "f1"), json!({"aud": "https://other.example.com"})));
    assert_eq!(f.verify(&foreign).unwrap_err(), VerifyError::WrongAudience);
    let no_aud = f.es.mint(&with(user_claims("alice", "s1", "f1"), json!({"aud": null})));
    assert!(f.verify(&no_aud).is_err());
    let many = f.es.mint(&with(user_claims("alice", "s1", "f1"), json!({"aud": ["https://x", AUDIENCE]})));
    assert!(f.verify(&many).is_ok());
}

#[test]
fn expiry_allows_the_leeway_and_no_more() {
    let f = fixture();
    let exp = |exp: u64| f.es.mint(&with(user_claims("alice", "s1", "f1"), json!({ "exp": exp })));
    let now = now();
    assert!(f.verifier.verify(&f.keys, &exp(now - 29), now).is_ok());
    assert_eq!(f.verifier.verify(&f.keys, &exp(now - 30), now).unwrap_err(), VerifyError::Expired);
    assert_eq!(f.verifier.verify(&f.keys, &exp(now - 3600), now).unwrap_err(), VerifyError::Expired);
    let nbf = f.es.mint(&with(user_claims("alice", "s1", "f1"), json!({ "nbf": now + 60 })));
    assert_eq!(f.verifier.verify(&f.keys, &nbf, now).unwrap_err(), VerifyError::NotYetValid);
}

#[test]
fn the_kid_is_required_and_must_be_known() {
    let f = fixture();
    let claims = user_claims("alice", "s1", "f1");
    assert_eq!(f.verify(&f.es.mint_with(&claims, |h| h.kid = None)).unwrap_err(), VerifyError::MissingKeyId);
    assert_eq!(f.verify(&TestKey::es256("new-key").mint(&claims)).unwrap_err(), VerifyError::UnknownKey);
}

#[test]
fn required_claims_are_required() {
    let f = fixture();
    for claim in ["sub", "iat", "jti", "client_id", "exp"] {
        let token = f.es.mint(&with(user_claims("alice", "s1", "f1"), json!({ claim: null })));
        assert_eq!(f.verify(&token).unwrap_err(), VerifyError::InvalidClaims, "without {claim}");
    }
}

#[test]
fn a_tampered_token_fails_its_signature() {
    let f = fixture();
    let token = f.es.mint(&user_claims("alice", "s1", "f1"));
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    parts[1] = URL_SAFE_NO_PAD.encode(with(user_claims("alice", "s1", "f1"), json!({"sub": "mallory"})).to_string());
    assert_eq!(f.verify(&parts.join(".")).unwrap_err(), VerifyError::BadSignature);
    assert_eq!(f.verify("not a token").unwrap_err(), VerifyError::Malformed);
}

#[test]
fn unusable_keys_are_skipped_not_fatal() {
    let es = TestKey::es256("ok");
    let document = json!({"keys": [
        es.jwk,
        with(TestKey::es256("no-alg").jwk, json!({"alg": null})),
        with(TestKey::es256("enc").jwk, json!({"use": "enc"})),
        with(TestKey::es256("mismatch").jwk, json!({"alg": "RS256"})),
        with(TestKey::es256("no-kid").jwk, json!({"kid": null})),
        {"kty": "ML-DSA", "alg": "ML-DSA-65", "kid": "future", "pub": "AAAA"},
    ]});
    let keys = KeySet::from_json(document.to_string().as_bytes()).unwrap();
    assert_eq!(keys.len(), 1);
    assert!(keys.contains("ok"));
}
