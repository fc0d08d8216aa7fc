//! RFC 9701 JWT introspection responses: the RFC 7662 answer, signed for the resource
//! server that asked, so that it can hand the answer on or keep it as evidence.

use super::{TokenError, sign};
use crate::domain::SigningAlgorithm;
use crate::ids::ClientId;
use crate::keys::KeySet;
use crate::time::UnixTime;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// RFC 9701 §4: what a caller puts in `Accept`, and the answer's `Content-Type`.
pub const INTROSPECTION_JWT_MEDIA_TYPE: &str = "application/token-introspection+jwt";
/// RFC 9701 §5: the media type without its `application/` prefix.
pub const INTROSPECTION_JWT_TYP: &str = "token-introspection+jwt";
/// RFC 9701 §6: RS256 when the client registered no `introspection_signed_response_alg`
/// (no client registers one here), and every key set holds an RS256 key.
pub const INTROSPECTION_JWT_ALG: SigningAlgorithm = SigningAlgorithm::Rs256;

/// RFC 9701 §5. No `exp`, `sub` or `jti` at the top level: the token's own claims are
/// inside `token_introspection`, and a top-level copy could be mistaken for them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IntrospectionResponseClaims {
    pub iss: String,
    /// The resource server that asked: the answer is for it alone.
    pub aud: ClientId,
    pub iat: UnixTime,
    /// Exactly the RFC 7662 answer: `{"active": false}` for anything inactive.
    pub token_introspection: Value,
}

pub fn mint(
    keys: &KeySet,
    issuer: &str,
    caller: &ClientId,
    answer: Value,
    now: UnixTime,
) -> Result<String, TokenError> {
    let claims = IntrospectionResponseClaims {
        iss: issuer.to_string(),
        aud: caller.clone(),
        iat: now,
        token_introspection: answer,
    };
    sign(keys, INTROSPECTION_JWT_ALG, INTROSPECTION_JWT_TYP, &claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KeySetDocument;
    use jsonwebtoken::jwk::JwkSet;
    use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
    use serde_json::json;

    const ISS: &str = "https://auth.example.com";

    /// What a resource server does: the key from the published JWKS by `kid`, RS256
    /// pinned, `iss` and `aud` checked, no `exp` demanded (RFC 9701 has none).
    fn verify(jwks: &JwkSet, jwt: &str, audience: &str) -> (jsonwebtoken::Header, IntrospectionResponseClaims) {
        let header = decode_header(jwt).unwrap();
        let key = DecodingKey::from_jwk(jwks.find(header.kid.as_deref().unwrap()).unwrap()).unwrap();
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[ISS]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["iss", "aud", "iat"]);
        validation.validate_exp = false;
        (header, decode(jwt, &key, &validation).unwrap().claims)
    }

    #[test]
    fn the_answer_is_signed_with_the_active_rs256_key_for_the_caller() {
        // GIVEN a deployment's key set (ES256 by default, RS256 always)
        let keys = KeySet::from_document(&KeySetDocument::generate_for(SigningAlgorithm::Es256).unwrap()).unwrap();
        let answer = json!({ "active": true, "sub": "user-1", "scope": "read", "exp": 1_900_000_000 });
        let now = UnixTime::now();
        // WHEN the answer for resource server `rs` is signed
        let jwt = mint(&keys, ISS, &ClientId::new("rs"), answer.clone(), now).unwrap();
        // THEN `rs` verifies it with the published key and finds the answer unchanged
        let (header, claims) = verify(keys.jwks(), &jwt, "rs");
        assert_eq!(header.typ.as_deref(), Some("token-introspection+jwt"));
        assert_eq!(header.alg, Algorithm::RS256);
        assert_eq!(header.kid.as_deref(), Some(keys.signing_key(SigningAlgorithm::Rs256).unwrap().kid.as_str()));
        assert_eq!(
            claims,
            IntrospectionResponseClaims {
                iss: ISS.into(),
                aud: ClientId::new("rs"),
                iat: now,
                token_introspection: answer
            }
        );
    }

    #[test]
    fn a_set_without_rs256_signs_nothing() {
        let keys = KeySet::from_document(&KeySetDocument::generate(SigningAlgorithm::Es256).unwrap()).unwrap();
        let refused = mint(&keys, ISS, &ClientId::new("rs"), json!({ "active": false }), UnixTime::now());
        assert_eq!(refused, Err(TokenError::NoKey("RS256")));
    }
}
