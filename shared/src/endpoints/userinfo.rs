//! `GET` or `POST /userinfo` (OIDC Core §5.3), with RFC 6750 errors.

use super::FromServices;
use crate::http::Endpoint;
use crate::http::cors::Cors;
use crate::http::response::no_store_json;
use crate::oauth::BearerError;
use crate::services::{InitError, Services};
use lambda_http::http::Method;
use lambda_http::http::header::AUTHORIZATION;
use lambda_http::{Body, Request, Response};
use serde_json::Value;

pub struct UserInfo {
    userinfo: crate::userinfo::UserInfo,
    cors: Cors,
}

impl FromServices for UserInfo {
    fn from_services(services: &Services) -> Result<Self, InitError> {
        Ok(Self { userinfo: services.userinfo(), cors: services.cors() })
    }
}

impl Endpoint for UserInfo {
    /// The `Authorization` header, if any.
    type Input = Option<String>;
    type Output = Value;
    type Error = BearerError;
    const METHODS: &'static [Method] = &[Method::GET, Method::POST];

    fn parse(&self, req: &Request) -> Result<Option<String>, BearerError> {
        Ok(req.headers().get(AUTHORIZATION).map(|v| v.to_str().unwrap_or("").to_string()))
    }

    async fn call(&self, authorization: Option<String>) -> Result<Value, BearerError> {
        self.userinfo.userinfo(authorization.as_deref()).await
    }

    fn respond(&self, info: Value) -> Response<Body> {
        no_store_json(200, &info)
    }

    fn cors(&self) -> Option<&Cors> {
        Some(&self.cors)
    }
}
