use lambda_http::aws_lambda_events::apigw::{
    ApiGatewayV2CustomAuthorizerSimpleResponse, ApiGatewayV2CustomAuthorizerV2Request,
};
use lambda_http::{Error, LambdaEvent};
use shared::authorizer::Authorizer;
use std::collections::HashMap;

pub type Response = ApiGatewayV2CustomAuthorizerSimpleResponse<HashMap<String, String>>;

#[tracing::instrument(skip_all)]
pub async fn handle(
    authorizer: &Authorizer,
    event: LambdaEvent<ApiGatewayV2CustomAuthorizerV2Request>,
) -> Result<Response, Error> {
    let request = event.payload;
    // The identity source (`$request.header.Authorization`) carries the header value;
    // the headers themselves are the fallback.
    let authorization = request
        .identity_source
        .as_ref()
        .and_then(|sources| sources.first().cloned())
        .or_else(|| request.headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_string));
    let decision = authorizer.decide(authorization.as_deref()).await;
    let mut response = Response::default();
    response.is_authorized = decision.allow;
    response.context = decision.context;
    Ok(response)
}
