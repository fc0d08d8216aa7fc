//! Identifiers a caller may present once: a DPoP proof's `jti` (RFC 9449 §11.1) and a
//! client assertion's `jti` (RFC 7523 §3 item 7). A replay within the identifier's
//! lifetime is refused; after it, the proof or assertion is refused as too old anyway.

use crate::ids::ClientId;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum OneTimeId {
    /// A proof's `jti`, scoped to the key that signed it (its thumbprint).
    DpopProof { jkt: String, jti: String },
    /// An assertion's `jti`, scoped to the client that signed it.
    ClientAssertion { client_id: ClientId, jti: String },
}

impl OneTimeId {
    /// A fixed-length key for any `jti` a caller chose: SHA-256 of the kind, the scope
    /// and the `jti`, each length-prefixed so that no two inputs share a digest.
    pub fn digest(&self) -> String {
        let (kind, scope, jti) = match self {
            Self::DpopProof { jkt, jti } => ("dpop", jkt.as_str(), jti.as_str()),
            Self::ClientAssertion { client_id, jti } => ("assertion", client_id.as_str(), jti.as_str()),
        };
        let mut input = Vec::with_capacity(kind.len() + scope.len() + jti.len() + 24);
        for part in [kind, scope, jti] {
            input.extend_from_slice(&(part.len() as u64).to_be_bytes());
            input.extend_from_slice(part.as_bytes());
        }
        URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &input))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_differ_by_kind_scope_and_jti_and_never_by_concatenation() {
        let dpop = |jkt: &str, jti: &str| OneTimeId::DpopProof { jkt: jkt.into(), jti: jti.into() }.digest();
        let assertion = OneTimeId::ClientAssertion { client_id: ClientId::new("k"), jti: "j".into() }.digest();
        assert_eq!(dpop("k", "j"), dpop("k", "j"));
        assert_ne!(dpop("k", "j"), assertion);
        assert_ne!(dpop("ab", "c"), dpop("a", "bc"));
        assert_eq!(dpop("k", "j").len(), 43);
    }
}
