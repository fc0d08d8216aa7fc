//! Everything the token-lifecycle functions share: configuration, keys, JWTs, the OAuth
//! wire layer, storage and errors. Functions stay thin: parse, call into this crate, map
//! the result to HTTP (ARCHITECTURE.md §1).

pub mod authorizer;
pub mod config;
pub mod discovery;
pub mod grants;
pub mod http;
pub mod ids;
pub mod init;
pub mod introspection;
pub mod keys;
pub mod logout;
pub mod oauth;
pub mod revocation;
pub mod secrets;
pub mod store;
pub mod telemetry;
#[doc(hidden)]
pub mod testkit;
pub mod time;
pub mod tokens;
pub mod userinfo;
pub mod verify;
