use lambda_http::{Body, Error, Request, Response};
use shared::http;
use shared::revocation::Revoker;

#[tracing::instrument(skip_all, fields(path = %req.uri().path()))]
pub async fn handle(revoker: &Revoker, req: Request) -> Result<Response<Body>, Error> {
    Ok(http::form_endpoint(&req, |oauth| async move { revoker.revoke(&oauth).await }, |()| http::revoked()).await)
}
