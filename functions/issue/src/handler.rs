use lambda_http::http::Method;
use lambda_http::{Body, Error, Request, Response};
use shared::grants::TokenIssuer;
use shared::http;

#[tracing::instrument(skip_all, fields(path = %req.uri().path()))]
pub async fn handle(issuer: &TokenIssuer, req: Request) -> Result<Response<Body>, Error> {
    if req.method() != Method::POST {
        return Ok(http::method_not_allowed("POST"));
    }
    let result = match http::oauth_request(&req) {
        Ok(oauth) => issuer.token(&oauth).await,
        Err(err) => Err(err),
    };
    Ok(match result {
        Ok(tokens) => http::no_store_json(200, &tokens),
        Err(err) => http::oauth_error(&err),
    })
}
