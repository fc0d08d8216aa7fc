//! Test keys and tokens, shared by the tests and the benchmark (`#[path]`-included).
#![allow(dead_code)]

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use serde_json::{Value, json};

pub const ISSUER: &str = "https://auth.example.com";
pub const AUDIENCE: &str = "https://api.example.com";

/// A signing key and its public JWK, made fresh for each test.
pub struct TestKey {
    pub kid: String,
    pub algorithm: Algorithm,
    pub encoding: EncodingKey,
    pub jwk: Value,
}

impl TestKey {
    /// ES256: PKCS#8 from aws-lc-rs; the JWK's x and y are the halves of the
    /// uncompressed public point (0x04 || X || Y).
    pub fn es256(kid: &str) -> Self {
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new()).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
        let point = pair.public_key().as_ref();
        assert_eq!((point.len(), point[0]), (65, 0x04));
        let jwk = json!({
            "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid,
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
        });
        Self { kid: kid.into(), algorithm: Algorithm::ES256, encoding: EncodingKey::from_ec_der(pkcs8.as_ref()), jwk }
    }

    pub fn ed25519(kid: &str) -> Self {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        let jwk = json!({
            "kty": "OKP", "crv": "Ed25519", "use": "sig", "alg": "EdDSA", "kid": kid,
            "x": URL_SAFE_NO_PAD.encode(pair.public_key().as_ref()),
        });
        Self { kid: kid.into(), algorithm: Algorithm::EdDSA, encoding: EncodingKey::from_ed_der(pkcs8.as_ref()), jwk }
    }

    pub fn decoding_key(&self) -> DecodingKey {
        DecodingKey::from_jwk(&serde_json::from_value(self.jwk.clone()).unwrap()).unwrap()
    }

    /// An access token (`typ: at+jwt`, this key's `kid` and algorithm).
    pub fn mint(&self, claims: &Value) -> String {
        self.mint_with(claims, |_| {})
    }

    /// A token whose header the test adjusts first.
    pub fn mint_with(&self, claims: &Value, adjust: impl FnOnce(&mut Header)) -> String {
        let mut header = Header::new(self.algorithm);
        header.typ = Some("at+jwt".into());
        header.kid = Some(self.kid.clone());
        adjust(&mut header);
        jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
    }
}

pub fn jwks(keys: &[&TestKey]) -> Value {
    json!({ "keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>() })
}

pub fn jwk_set(keys: &[&TestKey]) -> JwkSet {
    serde_json::from_value(jwks(keys)).unwrap()
}

pub fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

/// A user token's claims (password grant or code exchange), issued a minute ago.
pub fn user_claims(sub: &str, sid: &str, fid: &str) -> Value {
    let now = now();
    json!({
        "iss": ISSUER, "sub": sub, "aud": AUDIENCE, "exp": now + 540, "iat": now - 60,
        "jti": format!("jti-{sub}-{sid}-{fid}"), "client_id": "web-app", "scope": "openid read",
        "sid": sid, "fid": fid, "auth_time": now - 60,
    })
}

/// A client_credentials token: `sub` is the client id, no `sid`/`fid`.
pub fn service_claims(client_id: &str) -> Value {
    let now = now();
    json!({
        "iss": ISSUER, "sub": client_id, "aud": [AUDIENCE, "https://other.example.com"], "exp": now + 540,
        "iat": now - 60, "jti": format!("jti-{client_id}"), "client_id": client_id,
    })
}

/// `claims` with `changes` merged over them.
pub fn with(mut claims: Value, changes: Value) -> Value {
    if let (Some(target), Value::Object(changes)) = (claims.as_object_mut(), changes) {
        for (name, value) in changes {
            if value.is_null() {
                target.remove(&name);
            } else {
                target.insert(name, value);
            }
        }
    }
    claims
}
