use lambda_http::http::Method;
use lambda_http::http::header::AUTHORIZATION;
use lambda_http::{Body, Error, Request, Response};
use shared::http;
use shared::userinfo::UserInfo;

#[tracing::instrument(skip_all, fields(path = %req.uri().path()))]
pub async fn handle(userinfo: &UserInfo, req: Request) -> Result<Response<Body>, Error> {
    if req.method() != Method::GET && req.method() != Method::POST {
        return Ok(http::method_not_allowed("GET, POST"));
    }
    let authorization = req.headers().get(AUTHORIZATION).map(|v| v.to_str().unwrap_or(""));
    Ok(match userinfo.userinfo(authorization).await {
        Ok(info) => http::no_store_json(200, &info),
        Err(err) => http::bearer_error(&err),
    })
}
