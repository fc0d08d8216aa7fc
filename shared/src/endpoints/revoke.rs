//! `POST /oauth2/revoke` (RFC 7009).

use super::FromServices;
use crate::http::FormEndpoint;
use crate::http::cors::Cors;
use crate::http::response::empty_no_store;
use crate::oauth::{OAuthError, OAuthRequest};
use crate::revocation::Revoker;
use crate::services::{InitError, Services};
use lambda_http::{Body, Response};

pub struct Revoke {
    revoker: Revoker,
    cors: Cors,
}

impl FromServices for Revoke {
    fn from_services(services: &Services) -> Result<Self, InitError> {
        Ok(Self { revoker: services.revoker(), cors: services.cors() })
    }
}

impl FormEndpoint for Revoke {
    type Output = ();

    async fn call(&self, request: OAuthRequest) -> Result<(), OAuthError> {
        self.revoker.revoke(&request).await
    }

    /// RFC 7009 §2.2: 200 and an empty body, whatever the token was.
    fn respond(&self, (): ()) -> Response<Body> {
        empty_no_store()
    }

    fn cors(&self) -> Option<&Cors> {
        Some(&self.cors)
    }
}
