//! A DPoP client's key: makes proofs (RFC 9449 §4.2) for tests and benchmarks.

use crate::domain::SigningAlgorithm;
use crate::ids::random_id;
use crate::keys::generate_key;
use crate::time::UnixTime;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::EncodingKey;
use jsonwebtoken::jwk::Jwk;
use serde_json::{Value, json};

pub struct DpopKey {
    alg: SigningAlgorithm,
    encoding: EncodingKey,
    /// The public JWK a proof's header carries.
    pub jwk: Value,
    /// Its RFC 7638 thumbprint: what a bound token's `cnf.jkt` names.
    pub jkt: String,
}

impl DpopKey {
    pub fn generate(alg: SigningAlgorithm) -> Self {
        let stored = generate_key(alg).expect("key");
        let pem = stored.private_key_pem.as_bytes();
        let encoding = match alg {
            SigningAlgorithm::Es256 => EncodingKey::from_ec_pem(pem),
            SigningAlgorithm::EdDsa => EncodingKey::from_ed_pem(pem),
            SigningAlgorithm::Rs256 => EncodingKey::from_rsa_pem(pem),
        }
        .expect("encoding key");
        let jwk = Jwk::from_encoding_key(&encoding, alg.jwt_algorithm()).expect("jwk");
        let jkt = guard::jwk::thumbprint(&jwk).expect("thumbprint");
        Self { alg, encoding, jwk: serde_json::to_value(jwk).expect("json"), jkt }
    }

    /// A fresh proof for `htm` `htu`, with `ath` of `access_token` if given.
    pub fn proof(&self, htm: &str, htu: &str, access_token: Option<&str>) -> String {
        let mut claims = json!({ "jti": random_id(), "htm": htm, "htu": htu, "iat": UnixTime::now().0 });
        if let Some(token) = access_token {
            claims["ath"] = json!(guard::dpop::access_token_hash(token));
        }
        self.sign(&claims)
    }

    /// A proof with exactly these claims.
    pub fn sign(&self, claims: &Value) -> String {
        let header = json!({ "typ": "dpop+jwt", "alg": self.alg.as_str(), "jwk": self.jwk });
        let encode = |value: &Value| URL_SAFE_NO_PAD.encode(value.to_string());
        let message = format!("{}.{}", encode(&header), encode(claims));
        let signature =
            jsonwebtoken::crypto::sign(message.as_bytes(), &self.encoding, self.alg.jwt_algorithm()).expect("sign");
        format!("{message}.{signature}")
    }
}
