//! Scope values (RFC 6749 §3.3): a set of space-delimited, case-sensitive tokens.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeSet;
use std::fmt;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scope(BTreeSet<String>);

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("scope contains a character RFC 6749 §3.3 does not allow")]
pub struct InvalidScope;

impl Scope {
    /// Parse a space-delimited scope string; empty input is the empty scope.
    pub fn parse(raw: &str) -> Result<Self, InvalidScope> {
        let mut set = BTreeSet::new();
        for token in raw.split(' ').filter(|t| !t.is_empty()) {
            // scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
            let allowed = token.bytes().all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b));
            if !allowed {
                return Err(InvalidScope);
            }
            set.insert(token.to_string());
        }
        Ok(Self(set))
    }

    pub fn from_tokens<I: IntoIterator<Item = S>, S: Into<String>>(tokens: I) -> Result<Self, InvalidScope> {
        let joined: Vec<String> = tokens.into_iter().map(Into::into).collect();
        Self::parse(&joined.join(" "))
    }

    pub fn contains(&self, token: &str) -> bool {
        self.0.contains(token)
    }

    pub fn is_subset_of(&self, other: &Scope) -> bool {
        self.0.is_subset(&other.0)
    }

    /// The tokens in both: a grant narrowed to what its client still holds.
    pub fn intersection(&self, other: &Scope) -> Scope {
        Scope(self.0.intersection(&other.0).cloned().collect())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn tokens(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let joined: Vec<&str> = self.tokens().collect();
        f.write_str(&joined.join(" "))
    }
}

impl Serialize for Scope {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Scope {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Scope::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_dedups_and_orders() {
        let scope = Scope::parse("write  read read").unwrap();
        assert_eq!(scope.to_string(), "read write");
        assert!(Scope::parse("read").unwrap().is_subset_of(&scope));
        assert!(!Scope::parse("admin").unwrap().is_subset_of(&scope));
    }

    #[test]
    fn forbidden_characters_are_rejected() {
        for bad in ["a\"b", "a\\b", "caf\u{e9}", "tab\there"] {
            assert_eq!(Scope::parse(bad), Err(InvalidScope), "{bad:?}");
        }
    }
}
