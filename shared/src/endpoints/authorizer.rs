//! The API Gateway HTTP API Lambda authorizer (payload format 2.0, simple responses).

use super::FromServices;
use crate::lambda::EventHandler;
use crate::services::{InitError, Services};
use crate::verify::ResourceRequest;
use lambda_http::aws_lambda_events::apigw::{
    ApiGatewayV2CustomAuthorizerSimpleResponse, ApiGatewayV2CustomAuthorizerV2Request,
};
use std::collections::HashMap;
use std::time::Instant;

/// What the event says of the request: the identity source
/// (`$request.header.Authorization`) carries the header value, the headers themselves are
/// the fallback; a DPoP proof names the method and `https://{domainName}{rawPath}`, the
/// URL the client called (API Gateway serves HTTPS only).
fn resource_request(request: &ApiGatewayV2CustomAuthorizerV2Request) -> ResourceRequest {
    let header_lines = |name: &str| -> Vec<String> {
        request.headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).map(str::to_string).collect()
    };
    let authorization = request
        .identity_source
        .as_ref()
        .and_then(|sources| sources.first().cloned())
        .or_else(|| header_lines("authorization").into_iter().next());
    // API Gateway joins repeated headers with commas; a proof holds none, so a comma
    // means more than one (refused as such).
    let dpop = header_lines("dpop").iter().flat_map(|line| line.split(',')).map(|p| p.trim().to_string()).collect();
    let context = &request.request_context;
    let domain = context.domain_name.as_deref().unwrap_or_default();
    let path = request.raw_path.as_deref().unwrap_or_default();
    ResourceRequest {
        authorization,
        dpop,
        method: context.http.method.as_str().to_string(),
        url: format!("https://{domain}{path}"),
    }
}

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
        let decision = self.authorizer.decide(&resource_request(&request)).await;
        let mut response = AuthorizerResponse::default();
        response.is_authorized = decision.allow;
        response.context = decision.context;
        Ok(response)
    }
}
