use lambda_http::{Body, Error, Request, Response};
use shared::http;
use shared::logout::LogoutService;

#[tracing::instrument(skip_all, fields(path = %req.uri().path()))]
pub async fn handle(service: &LogoutService, req: Request) -> Result<Response<Body>, Error> {
    let logout = |oauth| async move { service.logout(&oauth).await };
    Ok(http::form_endpoint(&req, logout, |summary| http::no_store_json(200, &summary)).await)
}
