//! A client's public keys, registered for `private_key_jwt` (RFC 7523 §2.2, OIDC Core
//! §9): what its assertions are verified with. Only public keys of the kinds this server
//! verifies are accepted, so that nothing secret is ever stored for such a client.

use crate::domain::SigningAlgorithm;
pub use guard::jwk::algorithm_of;
use guard::jwk::has_private_members;
use jsonwebtoken::jwk::Jwk;
use std::collections::BTreeSet;

/// More keys than a rollover needs are refused: each one may be tried per assertion.
pub const MAX_CLIENT_KEYS: usize = 8;

/// The algorithms a client's keys verify (`algorithm_of`): what discovery advertises in
/// `token_endpoint_auth_signing_alg_values_supported`.
pub const CLIENT_KEY_ALGORITHMS: [SigningAlgorithm; 3] =
    [SigningAlgorithm::Es256, SigningAlgorithm::EdDsa, SigningAlgorithm::Rs256];

/// A validated JWK set of public signing keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientJwks {
    keys: Vec<Jwk>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InvalidClientJwks {
    #[error("not a JWK set: {0}")]
    NotJwks(String),
    #[error("the JWK set has no keys")]
    Empty,
    #[error("the JWK set has more than {MAX_CLIENT_KEYS} keys")]
    TooMany,
    #[error("key {0}: holds private key material; register public keys only")]
    Private(usize),
    #[error("key {0}: only EC P-256 (ES256), OKP Ed25519 (EdDSA) and RSA (RS256) signing keys are accepted")]
    Unsupported(usize),
    #[error("key {0}: an RSA key needs at least 2048 bits (smaller ones verify nothing)")]
    WeakRsa(usize),
    #[error("with more than one key, every key needs a distinct kid")]
    KeyIds,
}

/// RSA keys under this never verify (the RSA verifier takes 2048 to 8192 bits): refused
/// at registration rather than failing every assertion later.
const MIN_RSA_BITS: usize = 2048;

/// The size of an RSA key's modulus, in bits (leading zero octets aside).
fn rsa_modulus_bits(jwk: &Jwk) -> Option<usize> {
    use base64::Engine;
    let jsonwebtoken::jwk::AlgorithmParameters::RSA(rsa) = &jwk.algorithm else { return None };
    let n = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(rsa.n.trim_end_matches('=')).ok()?;
    let first = n.iter().position(|b| *b != 0)?;
    Some((n.len() - first) * 8 - n[first].leading_zeros() as usize)
}

impl ClientJwks {
    /// Parse and check a JWK set document (`{"keys": [...]}`).
    pub fn parse(document: &str) -> Result<Self, InvalidClientJwks> {
        #[derive(serde::Deserialize)]
        struct Document {
            keys: Vec<serde_json::Map<String, serde_json::Value>>,
        }
        let raw: Document = serde_json::from_str(document).map_err(|e| InvalidClientJwks::NotJwks(e.to_string()))?;
        if raw.keys.is_empty() {
            return Err(InvalidClientJwks::Empty);
        }
        if raw.keys.len() > MAX_CLIENT_KEYS {
            return Err(InvalidClientJwks::TooMany);
        }
        let mut keys = Vec::with_capacity(raw.keys.len());
        for (index, members) in raw.keys.into_iter().enumerate() {
            if has_private_members(&members) {
                return Err(InvalidClientJwks::Private(index));
            }
            let jwk: Jwk = serde_json::from_value(serde_json::Value::Object(members))
                .map_err(|_| InvalidClientJwks::Unsupported(index))?;
            if algorithm_of(&jwk).is_none() || jsonwebtoken::DecodingKey::from_jwk(&jwk).is_err() {
                return Err(InvalidClientJwks::Unsupported(index));
            }
            if rsa_modulus_bits(&jwk).is_some_and(|bits| bits < MIN_RSA_BITS) {
                return Err(InvalidClientJwks::WeakRsa(index));
            }
            keys.push(jwk);
        }
        let kids: BTreeSet<&str> = keys.iter().filter_map(|k| k.common.key_id.as_deref()).collect();
        if keys.len() > 1 && kids.len() != keys.len() {
            return Err(InvalidClientJwks::KeyIds);
        }
        Ok(Self { keys })
    }

    pub fn keys(&self) -> &[Jwk] {
        &self.keys
    }

    /// The key an assertion names by `kid`; with no `kid`, the only key (if there is one).
    pub fn key_for(&self, kid: Option<&str>) -> Option<&Jwk> {
        match kid {
            Some(kid) => self.keys.iter().find(|k| k.common.key_id.as_deref() == Some(kid)),
            None => match self.keys.as_slice() {
                [only] => Some(only),
                _ => None,
            },
        }
    }

    /// The document as stored: `{"keys": [...]}` with the public members only.
    pub fn to_json(&self) -> String {
        serde_json::json!({ "keys": self.keys }).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::Algorithm;

    const EC: &str = r#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#;
    const ED: &str = r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;

    #[test]
    fn public_keys_of_the_three_kinds_are_accepted_and_picked_by_kid() {
        let one = ClientJwks::parse(&format!(r#"{{"keys":[{EC}]}}"#)).unwrap();
        assert_eq!(algorithm_of(one.key_for(None).unwrap()), Some(Algorithm::ES256));
        let ec = EC.replacen('{', r#"{"kid":"a","#, 1);
        let ed = ED.replacen('{', r#"{"kid":"b","alg":"EdDSA","#, 1);
        let two = ClientJwks::parse(&format!(r#"{{"keys":[{ec},{ed}]}}"#)).unwrap();
        assert_eq!(algorithm_of(two.key_for(Some("b")).unwrap()), Some(Algorithm::EdDSA));
        assert!(two.key_for(None).is_none(), "two keys and no kid: no guess");
        assert!(two.key_for(Some("c")).is_none());
        assert_eq!(ClientJwks::parse(&two.to_json()).unwrap(), two);
    }

    #[test]
    fn private_symmetric_mismatched_and_ambiguous_sets_are_refused() {
        let private = EC.replacen('{', r#"{"d":"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI","#, 1);
        assert_eq!(ClientJwks::parse(&format!(r#"{{"keys":[{private}]}}"#)), Err(InvalidClientJwks::Private(0)));
        let oct = r#"{"kty":"oct","k":"c2VjcmV0"}"#;
        assert_eq!(ClientJwks::parse(&format!(r#"{{"keys":[{oct}]}}"#)), Err(InvalidClientJwks::Private(0)));
        let lying = EC.replacen('{', r#"{"alg":"RS256","#, 1);
        assert_eq!(ClientJwks::parse(&format!(r#"{{"keys":[{lying}]}}"#)), Err(InvalidClientJwks::Unsupported(0)));
        let enc = EC.replacen('{', r#"{"use":"enc","#, 1);
        assert_eq!(ClientJwks::parse(&format!(r#"{{"keys":[{enc}]}}"#)), Err(InvalidClientJwks::Unsupported(0)));
        assert_eq!(ClientJwks::parse(&format!(r#"{{"keys":[{EC},{ED}]}}"#)), Err(InvalidClientJwks::KeyIds));
        assert_eq!(ClientJwks::parse(r#"{"keys":[]}"#), Err(InvalidClientJwks::Empty));
        assert!(matches!(ClientJwks::parse("[]"), Err(InvalidClientJwks::NotJwks(_))));
    }

    #[test]
    fn every_algorithm_a_key_can_have_is_advertised() {
        for alg in CLIENT_KEY_ALGORITHMS {
            let jwks = ClientJwks::parse(&crate::testing::kit::ClientKey::generate(alg).jwks()).unwrap();
            assert_eq!(algorithm_of(jwks.key_for(None).unwrap()), Some(alg.jwt_algorithm()));
        }
    }

    #[test]
    fn an_rsa_key_under_2048_bits_is_refused_at_registration() {
        use base64::Engine;
        let modulus = |bytes: usize| {
            let mut n = vec![0xC5u8; bytes];
            n[bytes - 1] = 0x01;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(n)
        };
        let key = |bytes: usize| format!(r#"{{"keys":[{{"kty":"RSA","e":"AQAB","n":"{}"}}]}}"#, modulus(bytes));
        assert_eq!(ClientJwks::parse(&key(128)), Err(InvalidClientJwks::WeakRsa(0)), "1024 bits");
        assert!(ClientJwks::parse(&key(256)).is_ok(), "2048 bits");
    }
}
