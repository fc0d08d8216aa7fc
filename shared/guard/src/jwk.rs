//! Public JWKs presented by others: a DPoP proof's key (RFC 9449 §4.2) and a client's
//! registered keys (RFC 7523). Their algorithm comes from the key, never from a header
//! (RFC 8725 §3.1), and they must hold no private part.

use jsonwebtoken::Algorithm;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse, ThumbprintHash};

/// Members only a private or symmetric JWK has (RFC 7518 §6.2.2, §6.3.2, §6.4).
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// Whether a JWK's members (as sent) include any private or symmetric key material.
pub fn has_private_members(members: &serde_json::Map<String, serde_json::Value>) -> bool {
    PRIVATE_MEMBERS.iter().any(|member| members.contains_key(*member))
}

/// The one algorithm a key verifies, from its type: ES256 for EC P-256, EdDSA for OKP
/// Ed25519, RS256 for RSA. A key whose own `alg` says otherwise, or meant for
/// encryption, verifies nothing.
pub fn algorithm_of(jwk: &Jwk) -> Option<Algorithm> {
    if jwk.common.public_key_use.as_ref().is_some_and(|u| *u != PublicKeyUse::Signature) {
        return None;
    }
    let by_type = match &jwk.algorithm {
        AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => Algorithm::ES256,
        AlgorithmParameters::OctetKeyPair(okp) if okp.curve == EllipticCurve::Ed25519 => Algorithm::EdDSA,
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        _ => return None,
    };
    let stated = match jwk.common.key_algorithm {
        None => return Some(by_type),
        Some(KeyAlgorithm::ES256) => Algorithm::ES256,
        Some(KeyAlgorithm::EdDSA) => Algorithm::EdDSA,
        Some(KeyAlgorithm::RS256) => Algorithm::RS256,
        Some(_) => return None,
    };
    (stated == by_type).then_some(by_type)
}

/// The RFC 7638 SHA-256 thumbprint, base64url: what `cnf.jkt` names (RFC 9449 §6.1).
pub fn thumbprint(jwk: &Jwk) -> Option<String> {
    jwk.thumbprint(ThumbprintHash::SHA256).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7638 §3.1's example key and its thumbprint.
    #[test]
    fn the_rfc_7638_example_thumbprint() {
        let jwk: Jwk = serde_json::from_str(
            r#"{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"}"#,
        )
        .unwrap();
        assert_eq!(thumbprint(&jwk).as_deref(), Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"));
        assert_eq!(algorithm_of(&jwk), Some(Algorithm::RS256));
    }

    #[test]
    fn the_algorithm_is_the_keys_and_a_contradicting_alg_or_use_disqualifies() {
        let ec = r#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#;
        let key = |json: &str| serde_json::from_str::<Jwk>(json).unwrap();
        assert_eq!(algorithm_of(&key(ec)), Some(Algorithm::ES256));
        assert_eq!(algorithm_of(&key(&ec.replacen('{', r#"{"alg":"RS256","#, 1))), None);
        assert_eq!(algorithm_of(&key(&ec.replacen('{', r#"{"use":"enc","#, 1))), None);
        let members: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&ec.replacen('{', r#"{"d":"secret","#, 1)).unwrap();
        assert!(has_private_members(&members));
    }
}
