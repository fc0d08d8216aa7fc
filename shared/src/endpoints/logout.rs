//! `POST /oauth2/logout`: end a session, or every session of a subject, and tell every
//! relying party (OIDC Back-Channel Logout).

use super::FromServices;
use crate::http::FormEndpoint;
use crate::http::response::no_store_json;
use crate::logout::{LogoutService, LogoutSummary};
use crate::oauth::{OAuthError, OAuthRequest};
use crate::services::{InitError, Services};
use lambda_http::{Body, Response};

pub struct Logout {
    service: LogoutService,
}

impl FromServices for Logout {
    fn from_services(services: &Services) -> Result<Self, InitError> {
        Ok(Self { service: services.logout()? })
    }
}

impl FormEndpoint for Logout {
    type Output = LogoutSummary;

    async fn call(&self, request: OAuthRequest) -> Result<LogoutSummary, OAuthError> {
        self.service.logout(&request).await
    }

    fn respond(&self, summary: LogoutSummary) -> Response<Body> {
        no_store_json(200, &summary)
    }
}
