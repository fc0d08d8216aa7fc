//! The JWS algorithms this server signs with (RFC 7518 §3, RFC 8037).

use jsonwebtoken::Algorithm;
use serde::{Deserialize, Serialize};
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum SigningAlgorithm {
    #[serde(rename = "ES256")]
    Es256,
    #[serde(rename = "EdDSA")]
    EdDsa,
    #[serde(rename = "RS256")]
    Rs256,
}

impl SigningAlgorithm {
    /// What a client may register for its tokens: the algorithms every key set holds.
    /// RFC 9068 §2.1 and OIDC Registration §2 make RS256 the one every party supports.
    pub const PER_CLIENT: [SigningAlgorithm; 2] = [Self::Es256, Self::Rs256];

    /// The algorithms a key set holds: RS256 and ES256 always, and the deployment's
    /// default for access tokens (`SIGNING_ALG`).
    pub fn key_set_algorithms(default: SigningAlgorithm) -> Vec<SigningAlgorithm> {
        let mut all = vec![default, Self::Es256, Self::Rs256];
        all.sort();
        all.dedup();
        all
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Es256 => "ES256",
            Self::EdDsa => "EdDSA",
            Self::Rs256 => "RS256",
        }
    }

    pub fn jwt_algorithm(self) -> Algorithm {
        match self {
            Self::Es256 => Algorithm::ES256,
            Self::EdDsa => Algorithm::EdDSA,
            Self::Rs256 => Algorithm::RS256,
        }
    }

    /// A signing key of this algorithm from its PKCS#8 PEM.
    pub fn encoding_key(self, pem: &[u8]) -> jsonwebtoken::errors::Result<jsonwebtoken::EncodingKey> {
        use jsonwebtoken::EncodingKey;
        match self {
            Self::Es256 => EncodingKey::from_ec_pem(pem),
            Self::EdDsa => EncodingKey::from_ed_pem(pem),
            Self::Rs256 => EncodingKey::from_rsa_pem(pem),
        }
    }
}

impl FromStr for SigningAlgorithm {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ES256" => Ok(Self::Es256),
            "EdDSA" => Ok(Self::EdDsa),
            "RS256" => Ok(Self::Rs256),
            other => Err(format!("unsupported signing algorithm {other:?} (ES256, EdDSA or RS256)")),
        }
    }
}
