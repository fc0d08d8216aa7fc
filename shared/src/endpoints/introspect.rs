//! `POST /oauth2/introspect` (RFC 7662).

use super::FromServices;
use crate::http::FormEndpoint;
use crate::http::response::no_store_json;
use crate::introspection::Introspector;
use crate::oauth::{OAuthError, OAuthRequest};
use crate::services::{InitError, Services};
use lambda_http::{Body, Response};
use serde_json::Value;

pub struct Introspect {
    introspector: Introspector,
}

impl FromServices for Introspect {
    fn from_services(services: &Services) -> Result<Self, InitError> {
        Ok(Self { introspector: services.introspector() })
    }
}

impl FormEndpoint for Introspect {
    type Output = Value;

    async fn call(&self, request: OAuthRequest) -> Result<Value, OAuthError> {
        self.introspector.introspect(&request).await
    }

    fn respond(&self, answer: Value) -> Response<Body> {
        no_store_json(200, &answer)
    }
}
