use lambda_http::{Body, Error, Request, Response};
use shared::http;
use shared::introspection::Introspector;

#[tracing::instrument(skip_all, fields(path = %req.uri().path()))]
pub async fn handle(introspector: &Introspector, req: Request) -> Result<Response<Body>, Error> {
    let introspect = |oauth| async move { introspector.introspect(&oauth).await };
    Ok(http::form_endpoint(&req, introspect, |answer| http::no_store_json(200, &answer)).await)
}
