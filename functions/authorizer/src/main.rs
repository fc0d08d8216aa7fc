//! `authorizer`: an API Gateway HTTP API Lambda authorizer (payload format 2.0, simple
//! responses). Put it in front of any route so that revoked tokens stop working there
//! on the next request.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::serve_events::<shared::endpoints::Authorizer>().await
}
