//! `refresh`: `POST /oauth2/refresh`, refresh-token rotation only. The same shared code
//! answers `grant_type=refresh_token` at `/oauth2/token`; this function exists so the hot
//! refresh path scales, throttles and alarms on its own.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::serve_http::<shared::endpoints::Refresh>().await
}
