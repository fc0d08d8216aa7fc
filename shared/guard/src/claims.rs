//! The claims of our access tokens (RFC 9068 §2.2; docs/ARCHITECTURE.md §2).

use crate::denylist::TokenFacts;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A verified access token's claims. Handlers behind the layer read them from the
/// request's extensions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: String,
    /// A string or an array on the wire (RFC 7519 §4.1.3).
    #[serde(deserialize_with = "one_or_many", serialize_with = "as_one_or_many")]
    pub aud: Vec<String>,
    pub exp: u64,
    pub iat: u64,
    pub jti: String,
    pub client_id: String,
    /// Space-separated (RFC 9068 §2.2.3.1); absent when empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// User tokens only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// User tokens only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fid: Option<String>,
    /// User tokens only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<u64>,
    /// The key a DPoP-bound token is bound to (RFC 9449 §6.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
    /// Any other claim, kept for the API (and `nbf`, which the verifier checks).
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// RFC 7800 confirmation: `jkt`, the RFC 7638 thumbprint of the DPoP key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    pub jkt: String,
}

impl AccessClaims {
    /// The thumbprint of the key this token is bound to, if it is.
    pub fn bound_to(&self) -> Option<&str> {
        self.cnf.as_ref().map(|cnf| cnf.jkt.as_str())
    }

    /// What the denylist needs.
    pub fn facts(&self) -> TokenFacts<'_> {
        TokenFacts {
            jti: &self.jti,
            fid: self.fid.as_deref(),
            sid: self.sid.as_deref(),
            sub: &self.sub,
            client_id: &self.client_id,
            iat: self.iat,
        }
    }

    /// Whether the token was granted `scope` (one of its space-separated values).
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scope.as_deref().is_some_and(|granted| granted.split(' ').any(|s| s == scope))
    }
}

fn one_or_many<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(deserializer)? {
        OneOrMany::One(one) => vec![one],
        OneOrMany::Many(many) => many,
    })
}

fn as_one_or_many<S: Serializer>(aud: &[String], serializer: S) -> Result<S::Ok, S::Error> {
    match aud {
        [one] => serializer.serialize_str(one),
        many => many.serialize(serializer),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aud_is_read_as_a_string_or_an_array_and_extras_are_kept() {
        let one: AccessClaims = serde_json::from_str(
            r#"{"iss":"i","sub":"s","aud":"a","exp":2,"iat":1,"jti":"j","client_id":"c","tenant":"t"}"#,
        )
        .unwrap();
        assert_eq!(one.aud, ["a"]);
        assert_eq!(one.extra.get("tenant"), Some(&serde_json::json!("t")));
        assert_eq!(serde_json::to_value(&one).unwrap()["aud"], "a");

        let many: AccessClaims = serde_json::from_str(
            r#"{"iss":"i","sub":"s","aud":["a","b"],"exp":2,"iat":1,"jti":"j","client_id":"c","scope":"x y","sid":"s1"}"#,
        )
        .unwrap();
        assert_eq!(many.aud, ["a", "b"]);
        assert!(many.has_scope("y") && !many.has_scope("x y"));
        assert_eq!(many.facts().sid, Some("s1"));
    }

    #[test]
    fn required_claims_are_required() {
        let no_jti = r#"{"iss":"i","sub":"s","aud":"a","exp":2,"iat":1,"client_id":"c"}"#;
        assert!(serde_json::from_str::<AccessClaims>(no_jti).is_err());
    }
}
