//! RFC 6749 §5.2 error responses. The variants are exactly the RFC's codes; the HTTP
//! mapping lives here and nowhere else. A description is written for the client: it
//! never carries internal text (that goes to the log).

use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OAuthErrorCode {
    /// Missing, repeated or malformed parameter, or more than one client authentication method.
    InvalidRequest,
    /// Client authentication failed: unknown client, wrong secret, no or bad credentials.
    InvalidClient,
    /// The grant (credentials, refresh token) is invalid, expired, revoked or foreign.
    InvalidGrant,
    /// The authenticated client may not use this grant type.
    UnauthorizedClient,
    /// The server does not know this grant type.
    UnsupportedGrantType,
    /// The requested scope exceeds what the client (or grant) allows.
    InvalidScope,
    /// RFC 7009 §2.2.1: the server does not revoke this type of token.
    UnsupportedTokenType,
    /// Not in RFC 6749 §5.2, but the error code every OAuth client handles for a failure
    /// on the server's side (RFC 6749 §4.1.2.1); sent with status 500 or 503.
    ServerError,
    /// The store or another dependency is unreachable: fail closed, try later.
    TemporarilyUnavailable,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuthError {
    pub code: OAuthErrorCode,
    pub description: &'static str,
    /// Set for a body over the size limit, which is answered 413.
    pub payload_too_large: bool,
}

impl OAuthError {
    pub const fn new(code: OAuthErrorCode, description: &'static str) -> Self {
        Self { code, description, payload_too_large: false }
    }

    pub const fn invalid_request(description: &'static str) -> Self {
        Self::new(OAuthErrorCode::InvalidRequest, description)
    }

    pub const fn invalid_client() -> Self {
        Self::new(OAuthErrorCode::InvalidClient, "client authentication failed")
    }

    pub const fn invalid_grant(description: &'static str) -> Self {
        Self::new(OAuthErrorCode::InvalidGrant, description)
    }

    pub const fn server_error() -> Self {
        Self::new(OAuthErrorCode::ServerError, "internal error")
    }

    pub const fn unavailable() -> Self {
        Self::new(OAuthErrorCode::TemporarilyUnavailable, "the service is temporarily unavailable")
    }

    pub fn status(&self) -> u16 {
        match self.code {
            OAuthErrorCode::InvalidRequest if self.payload_too_large => 413,
            // RFC 6749 §5.2: 401 for failed client authentication. We always send the
            // challenge, since HTTP (RFC 9110 §15.5.2) requires one on every 401.
            OAuthErrorCode::InvalidClient => 401,
            OAuthErrorCode::ServerError => 500,
            OAuthErrorCode::TemporarilyUnavailable => 503,
            _ => 400,
        }
    }

    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({ "error": self.code, "error_description": self.description })
    }
}
