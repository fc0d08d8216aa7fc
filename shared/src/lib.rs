//! Everything the token-lifecycle functions share, in layers (docs/ARCHITECTURE.md §7):
//! * `ids`, `time`, `secrets`: identifiers, instants, secrets at rest;
//! * `domain`: clients, users, logins, markers, scopes (below storage and the wire);
//! * `policy`, `config`: lifetimes and limits, and the environment;
//! * `keys`, `tokens`: the key set and the JWTs minted and verified with it;
//! * `store`: storage behind capability traits, and its DynamoDB implementation;
//! * `oauth`: the wire layer (request parsing, client authentication, the errors);
//! * `passwords`: the throttled password check of every user sign-in;
//! * `signin`, `pages`: browser sign-in (authorization code, login page, SSO, RP-initiated
//!   logout) and its server-rendered pages;
//! * the services: `grants`, `revocation`, `introspection`, `userinfo`, `authorizer`,
//!   `logout`, `discovery`, with `verify` behind the resource-facing ones;
//! * `services` (the one assembly), `http` (the endpoint seam), `endpoints` and `lambda`
//!   (each function's entry).

pub mod admin;
pub mod authorizer;
pub mod config;
pub mod discovery;
pub mod domain;
pub mod dpop;
pub mod endpoints;
pub mod feed;
pub mod grants;
pub mod http;
pub mod ids;
pub mod introspection;
pub mod keys;
pub mod lambda;
pub mod logout;
pub mod oauth;
pub mod pages;
pub mod passwords;
pub mod policy;
pub mod revocation;
pub mod secrets;
pub mod services;
pub mod signin;
pub mod store;
pub mod telemetry;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod time;
pub mod tokens;
pub mod userinfo;
pub mod verify;

pub use services::Services;
