//! `GET` or `POST /userinfo` (OIDC Core §5.3), with RFC 6750 errors.

use super::FromServices;
use crate::discovery::USERINFO_PATH;
use crate::http::Endpoint;
use crate::http::cors::Cors;
use crate::http::response::no_store_json;
use crate::oauth::BearerError;
use crate::services::{InitError, Services};
use crate::verify::ResourceRequest;
use lambda_http::http::Method;
use lambda_http::http::header::AUTHORIZATION;
use lambda_http::{Body, Request, Response};
use serde_json::Value;

pub struct UserInfo {
    userinfo: crate::userinfo::UserInfo,
    cors: Cors,
    /// The endpoint's public URL, as discovery names it: what a DPoP proof's `htu` is.
    url: String,
}

impl FromServices for UserInfo {
    fn from_services(services: &Services) -> Result<Self, InitError> {
        let url = format!("{}{USERINFO_PATH}", services.config().issuer);
        Ok(Self { userinfo: services.userinfo(), cors: services.cors(), url })
    }
}

impl Endpoint for UserInfo {
    /// The `Authorization` and `DPoP` headers, and the method.
    type Input = ResourceRequest;
    type Output = Value;
    type Error = BearerError;
    const METHODS: &'static [Method] = &[Method::GET, Method::POST];

    fn parse(&self, req: &Request) -> Result<ResourceRequest, BearerError> {
        Ok(ResourceRequest {
            authorization: req.headers().get(AUTHORIZATION).map(|v| v.to_str().unwrap_or("").to_string()),
            dpop: crate::http::response::dpop_headers(req),
            method: req.method().as_str().to_string(),
            url: self.url.clone(),
        })
    }

    async fn call(&self, request: ResourceRequest) -> Result<Value, BearerError> {
        self.userinfo.userinfo(&request).await
    }

    fn respond(&self, info: Value) -> Response<Body> {
        no_store_json(200, &info)
    }

    fn cors(&self) -> Option<&Cors> {
        Some(&self.cors)
    }
}
