//! Every Lambda function's entry: an HTTP [`Endpoint`](crate::http::Endpoint) or an
//! [`EventHandler`](crate::lambda::EventHandler), built from the one assembly
//! ([`FromServices`]). A function's `main.rs` names one of these and nothing else.

mod authorizer;
mod discovery;
mod introspect;
mod logout;
mod logout_retry;
mod revocations;
mod revoke;
mod rotation;
mod signin;
mod token;
mod userinfo;

pub use authorizer::Authorizer;
pub use discovery::Discovery;
pub use introspect::Introspect;
pub use logout::Logout;
pub use logout_retry::LogoutRetry;
pub use revocations::Revocations;
pub use revoke::Revoke;
pub use rotation::KeyRotation;
pub use signin::{Authorize, EndSession};
pub use token::{Refresh, Token, TokenEndpoint};
pub use userinfo::UserInfo;

use crate::services::{InitError, Services};

/// How an entry is built at cold start.
pub trait FromServices: Sized {
    fn from_services(services: &Services) -> Result<Self, InitError>;
}
