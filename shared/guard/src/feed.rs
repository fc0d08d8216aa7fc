//! The revocation feed's wire types (`GET {issuer}/oauth2/revocations`,
//! docs/ARCHITECTURE.md §3.11): what the token service serves and every replica reads.

use serde::{Deserialize, Serialize};

/// What a denylist entry names. The order of the variants is the order in which
/// [`crate::denylist::Denylist::check`] reports reasons, as the server does
/// (`RevocationStatus::from_reasons`).
///
/// A kind this version does not know fails deserialization, hence the whole page (fail
/// closed): skipping it would let through the tokens it revokes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// One access token, by its `jti`.
    Jti,
    /// Every access token of a refresh family (`fid`).
    Fid,
    /// Every access token of a session (`sid`).
    Sid,
    /// A subject's user tokens issued before a line (revoke-all, password change, disable).
    Sub,
    /// A client's tokens issued before a line (client removed or replaced).
    Client,
}

impl EntryKind {
    /// Every kind, in reporting order.
    pub const ALL: [EntryKind; 5] = [Self::Jti, Self::Fid, Self::Sid, Self::Sub, Self::Client];

    /// The wire name (`"jti"`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Jti => "jti",
            Self::Fid => "fid",
            Self::Sid => "sid",
            Self::Sub => "sub",
            Self::Client => "client",
        }
    }

    /// The refusal reason: the stable log vocabulary shared with the Lambda functions
    /// (`authorizer.denied`, `guard.denied`).
    pub fn reason(self) -> &'static str {
        match self {
            Self::Jti => "token_revoked",
            Self::Fid => "family_revoked",
            Self::Sid => "session_revoked",
            Self::Sub => "subject_revoked",
            Self::Client => "client_removed",
        }
    }

    /// `sub` and `client` entries draw a line (`before`) instead of naming tokens.
    pub fn is_line(self) -> bool {
        matches!(self, Self::Sub | Self::Client)
    }
}

impl std::fmt::Display for EntryKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One denylist marker as the feed carries it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedEntry {
    pub kind: EntryKind,
    pub value: String,
    /// `sub` and `client` only: tokens with `iat < before` are refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<u64>,
    /// Unix seconds; the entry covers nothing from then on (every token it could refuse
    /// has expired), so replicas drop it.
    pub expires_at: u64,
}

/// One answer of the feed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedPage {
    pub entries: Vec<FeedEntry>,
    /// Opaque: passed back as `after` to read on from here.
    pub cursor: String,
    /// More is waiting: ask again at once, even if this page holds no entries (a read
    /// that passed only expired or already delivered records). A server that does not
    /// send it leaves a reader to page until a page holds no entries.
    #[serde(default)]
    pub more: bool,
}

impl FeedPage {
    /// Parse a page as served over HTTP. An unknown `kind` is an error (fail closed).
    pub fn from_json(body: &[u8]) -> Result<Self, FeedError> {
        let page: FeedPage = serde_json::from_slice(body).map_err(|e| FeedError::Malformed(e.to_string()))?;
        page.validate()?;
        Ok(page)
    }

    /// What serde cannot say: a line entry (`sub`, `client`) must carry its `before`.
    /// Checked before anything of the page is applied, so a bad page changes nothing.
    pub fn validate(&self) -> Result<(), FeedError> {
        match self.entries.iter().find(|e| e.kind.is_line() && e.before.is_none()) {
            Some(entry) => Err(FeedError::Malformed(format!("a {} entry without before", entry.kind))),
            None => Ok(()),
        }
    }
}

/// Why a page could not be read. Nothing here carries credentials: the feed client's
/// secret lives only in its `Authorization` header, which no error prints.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FeedError {
    /// 401: the client id or secret was refused.
    #[error("the feed refused our client credentials (401)")]
    Unauthorized,
    /// 403: the client authenticated but is not a resource server (`--introspect`).
    #[error("our client may not read the revocation feed (403)")]
    Forbidden,
    /// 400 to a cursor it issued: the replica reads the feed again from the start.
    #[error("the feed refused our cursor (400); reading it again from the start")]
    CursorRefused,
    #[error("the feed answered HTTP {0}")]
    Status(u16),
    #[error("the feed could not be reached: {0}")]
    Transport(String),
    /// Not a page this version understands (an unknown `kind` among others).
    #[error("malformed feed page: {0}")]
    Malformed(String),
    /// A non-HTTP source (the authorizer's store) failed.
    #[error("the feed source failed: {0}")]
    Source(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_parses_with_and_without_before() {
        let body = br#"{"entries":[{"kind":"jti","value":"j1","expires_at":10},
            {"kind":"sub","value":"u1","before":5,"expires_at":20}],"cursor":"c1"}"#;
        let page = FeedPage::from_json(body).unwrap();
        assert_eq!(
            page.entries[0],
            FeedEntry { kind: EntryKind::Jti, value: "j1".into(), before: None, expires_at: 10 }
        );
        assert_eq!(page.entries[1].before, Some(5));
        assert_eq!(page.cursor, "c1");
    }

    #[test]
    fn an_unknown_kind_fails_the_page() {
        let body = br#"{"entries":[{"kind":"device","value":"d1","expires_at":10}],"cursor":"c1"}"#;
        assert!(matches!(FeedPage::from_json(body), Err(FeedError::Malformed(_))));
    }

    #[test]
    fn a_line_without_before_fails_the_page() {
        let body = br#"{"entries":[{"kind":"client","value":"c","expires_at":10}],"cursor":"c1"}"#;
        assert!(matches!(FeedPage::from_json(body), Err(FeedError::Malformed(_))));
    }

    #[test]
    fn before_is_left_out_when_absent() {
        let entry = FeedEntry { kind: EntryKind::Sid, value: "s".into(), before: None, expires_at: 1 };
        assert_eq!(serde_json::to_string(&entry).unwrap(), r#"{"kind":"sid","value":"s","expires_at":1}"#);
    }

    #[test]
    fn reasons_are_the_shared_vocabulary() {
        let reasons: Vec<_> = EntryKind::ALL.iter().map(|k| k.reason()).collect();
        assert_eq!(
            reasons,
            ["token_revoked", "family_revoked", "session_revoked", "subject_revoked", "client_removed"]
        );
    }
}
