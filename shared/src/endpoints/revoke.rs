//! `POST /oauth2/revoke` (RFC 7009).

use super::FromServices;
use crate::http::Endpoint;
use crate::http::response::{empty_no_store, oauth_request};
use crate::oauth::{OAuthError, OAuthRequest};
use crate::revocation::Revoker;
use crate::services::{InitError, Services};
use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};

pub struct Revoke {
    revoker: Revoker,
}

impl FromServices for Revoke {
    fn from_services(services: &Services) -> Result<Self, InitError> {
        Ok(Self { revoker: services.revoker() })
    }
}

impl Endpoint for Revoke {
    type Input = OAuthRequest;
    type Output = ();
    type Error = OAuthError;
    const METHODS: &'static [Method] = &[Method::POST];

    fn parse(&self, req: &Request) -> Result<OAuthRequest, OAuthError> {
        oauth_request(req)
    }

    async fn call(&self, request: OAuthRequest) -> Result<(), OAuthError> {
        self.revoker.revoke(&request).await
    }

    /// RFC 7009 §2.2: 200 and an empty body, whatever the token was.
    fn respond(&self, (): ()) -> Response<Body> {
        empty_no_store()
    }
}
