//! The API Gateway HTTP API Lambda authorizer (payload format 2.0, simple responses).

use super::FromServices;
use crate::lambda::EventHandler;
use crate::services::{InitError, Services};
use lambda_http::aws_lambda_events::apigw::{
    ApiGatewayV2CustomAuthorizerSimpleResponse, ApiGatewayV2CustomAuthorizerV2Request,
};
use std::collections::HashMap;
use std::time::Instant;

pub type AuthorizerResponse = ApiGatewayV2CustomAuthorizerSimpleResponse<HashMap<String, String>>;

pub struct Authorizer {
    authorizer: crate::authorizer::Authorizer,
}

impl FromServices for Authorizer {
    fn from_services(services: &Services) -> Result<Self, InitError> {
        Ok(Self { authorizer: services.authorizer()? })
    }
}

impl EventHandler for Authorizer {
    type Event = ApiGatewayV2CustomAuthorizerV2Request;
    type Output = AuthorizerResponse;

    async fn handle(
        &self,
        request: ApiGatewayV2CustomAuthorizerV2Request,
        _deadline: Instant,
    ) -> Result<AuthorizerResponse, InitError> {
        // The identity source (`$request.header.Authorization`) carries the header value;
        // the headers themselves are the fallback.
        let authorization = request
            .identity_source
            .as_ref()
            .and_then(|sources| sources.first().cloned())
            .or_else(|| request.headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_string));
        let decision = self.authorizer.decide(authorization.as_deref()).await;
        let mut response = AuthorizerResponse::default();
        response.is_authorized = decision.allow;
        response.context = decision.context;
        Ok(response)
    }
}
