//! The OAuth 2.0 wire layer: request parsing, client authentication (secrets and client
//! assertions), and the RFC 6749 §5.1 / §5.2 responses.

pub mod client_assertion;
pub mod client_auth;
pub mod error;
pub mod request;

pub use error::{BearerError, OAuthError, OAuthErrorCode};
pub use request::OAuthRequest;
