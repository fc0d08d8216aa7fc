use lambda_http::http::Method;
use lambda_http::{Body, Error, Request, Response};
use shared::http;
use shared::logout::LogoutService;

#[tracing::instrument(skip_all, fields(path = %req.uri().path()))]
pub async fn handle(service: &LogoutService, req: Request) -> Result<Response<Body>, Error> {
    if req.method() != Method::POST {
        return Ok(http::method_not_allowed("POST"));
    }
    let result = match http::oauth_request(&req) {
        Ok(oauth) => service.logout(&oauth).await,
        Err(err) => Err(err),
    };
    Ok(match result {
        Ok(summary) => http::no_store_json(200, &summary),
        Err(err) => http::oauth_error(&err),
    })
}
