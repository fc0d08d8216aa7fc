//! A DPoP client's key: makes proofs (RFC 9449 §4.2) for tests and benchmarks.

use crate::domain::SigningAlgorithm;
use crate::ids::random_id;
use crate::testing::kit::ClientKey;
use crate::time::UnixTime;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

/// A client's key pair (as for `private_key_jwt`), used to prove possession.
pub struct DpopKey {
    key: ClientKey,
    /// The public JWK a proof's header carries.
    pub jwk: Value,
    /// Its RFC 7638 thumbprint: what a bound token's `cnf.jkt` names (the key's `kid`).
    pub jkt: String,
}

impl DpopKey {
    pub fn generate(alg: SigningAlgorithm) -> Self {
        let key = ClientKey::generate(alg);
        let jwk = serde_json::to_value(key.public()).expect("json");
        Self { jkt: key.kid.clone(), jwk, key }
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
        let header = json!({ "typ": "dpop+jwt", "alg": self.key.alg.as_str(), "jwk": self.jwk });
        let encode = |value: &Value| URL_SAFE_NO_PAD.encode(value.to_string());
        let message = format!("{}.{}", encode(&header), encode(claims));
        let signature =
            jsonwebtoken::crypto::sign(message.as_bytes(), self.key.encoding(), self.key.alg.jwt_algorithm())
                .expect("sign");
        format!("{message}.{signature}")
    }
}
