//! The errors a client sees: RFC 6749 §5.2 for the OAuth endpoints, RFC 6750 §3 for
//! protected resources. The variants are the RFCs' codes and each knows its status;
//! `http::response` renders them. A description is written for the client and never
//! carries internal text: internal failures are logged here, once, by the conversions
//! from the layers below.

use crate::store::StoreError;
use crate::tokens::TokenError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OAuthErrorCode {
    /// Missing, repeated or malformed parameter, or more than one client authentication method.
    InvalidRequest,
    /// `invalid_request` for a body over the size limit, answered 413.
    RequestTooLarge,
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
    /// An authenticated client asked for what it may not have (403): the revocation feed
    /// is for resource servers only. RFC 6749 §4.1.2.1's code for a refused request.
    AccessDenied,
    /// RFC 7009 §2.2.1: the server does not revoke this type of token.
    UnsupportedTokenType,
    /// Not in RFC 6749 §5.2, but the error code every OAuth client handles for a failure
    /// on the server's side (RFC 6749 §4.1.2.1); sent with status 500.
    ServerError,
    /// The store or another dependency is unreachable: fail closed, try later (503).
    TemporarilyUnavailable,
    /// A DPoP proof is missing where the client or grant needs one, or is invalid
    /// (RFC 9449 §5, §12.2).
    InvalidDpopProof,
    /// Too many failed authentications of this username or client id: every attempt is
    /// refused unchecked until `Retry-After` (429, RFC 6585 §4). On the wire it is
    /// `temporarily_unavailable`, the code OAuth clients know for "try again later".
    Throttled,
}

impl OAuthErrorCode {
    /// The `error` value on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest | Self::RequestTooLarge => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::AccessDenied => "access_denied",
            Self::InvalidDpopProof => "invalid_dpop_proof",
            Self::UnsupportedTokenType => "unsupported_token_type",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable | Self::Throttled => "temporarily_unavailable",
        }
    }

    pub fn status(self) -> u16 {
        match self {
            Self::RequestTooLarge => 413,
            // RFC 6749 §5.2: 401 for failed client authentication. We always send the
            // challenge, since HTTP (RFC 9110 §15.5.2) requires one on every 401.
            Self::InvalidClient => 401,
            Self::AccessDenied => 403,
            Self::ServerError => 500,
            Self::TemporarilyUnavailable => 503,
            Self::Throttled => 429,
            _ => 400,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuthError {
    pub code: OAuthErrorCode,
    pub description: &'static str,
    /// Seconds until a throttled attempt is checked again (the `Retry-After` header).
    pub retry_after: Option<u64>,
}

impl OAuthError {
    pub const fn new(code: OAuthErrorCode, description: &'static str) -> Self {
        Self { code, description, retry_after: None }
    }

    pub const fn throttled(retry_after: u64) -> Self {
        Self {
            code: OAuthErrorCode::Throttled,
            description: "too many failed attempts; try again later",
            retry_after: Some(retry_after),
        }
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

    pub const fn invalid_dpop_proof(description: &'static str) -> Self {
        Self::new(OAuthErrorCode::InvalidDpopProof, description)
    }

    pub const fn invalid_scope(description: &'static str) -> Self {
        Self::new(OAuthErrorCode::InvalidScope, description)
    }

    pub const fn server_error() -> Self {
        Self::new(OAuthErrorCode::ServerError, "internal error")
    }

    pub const fn unavailable() -> Self {
        Self::new(OAuthErrorCode::TemporarilyUnavailable, "the service is temporarily unavailable")
    }

    pub fn status(&self) -> u16 {
        self.code.status()
    }

    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({ "error": self.code.as_str(), "error_description": self.description })
    }
}

/// A store failure: an outage is 503 (fail closed, try again), anything else 500.
impl From<StoreError> for OAuthError {
    fn from(err: StoreError) -> Self {
        err.report();
        match err {
            StoreError::Unavailable(_) => Self::unavailable(),
            StoreError::Conflict | StoreError::Corrupt(_) | StoreError::Rejected(_) => Self::server_error(),
        }
    }
}

/// Only minting reaches this conversion (a verification failure is an answer, not an
/// error): a key that cannot sign is the server's fault.
impl From<TokenError> for OAuthError {
    fn from(err: TokenError) -> Self {
        tracing::error!(event = "token.signing_failed", error = %err);
        Self::server_error()
    }
}

/// An RFC 6750 error at a protected resource.
#[derive(Debug, PartialEq, Eq)]
pub enum BearerError {
    /// No credentials (no header, or another scheme): 401 with a bare challenge
    /// (RFC 6750 §3.1).
    Missing,
    /// The Bearer scheme with something that is not a token: 400 `invalid_request`.
    InvalidRequest(&'static str),
    /// 401 `invalid_token`.
    InvalidToken(&'static str),
    /// 403 `insufficient_scope`.
    InsufficientScope,
    /// 401 with a DPoP challenge (RFC 9449 §7.1): `invalid_dpop_proof` for a missing or
    /// bad proof, `invalid_token` for a bound token sent as a bearer token (or the
    /// other way round).
    Dpop { error: &'static str, description: &'static str },
    /// The server could not decide (the denylist unreadable): the OAuth error it maps to.
    Failed(OAuthError),
}

impl From<StoreError> for BearerError {
    fn from(err: StoreError) -> Self {
        Self::Failed(err.into())
    }
}
