use lambda_http::{Body, Error, Request, Response};
use shared::grants::{REFRESH_ENDPOINT_GRANTS, TokenIssuer};

#[tracing::instrument(skip_all, fields(path = %req.uri().path()))]
pub async fn handle(issuer: &TokenIssuer, req: Request) -> Result<Response<Body>, Error> {
    Ok(shared::http::token_endpoint(issuer, &req, REFRESH_ENDPOINT_GRANTS).await)
}
