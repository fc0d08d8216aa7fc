//! `end-session`: RP-initiated logout, `GET|POST /oauth2/end_session` (OpenID Connect
//! RP-Initiated Logout 1.0), with the back-channel fan-out of every logout.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::serve_http::<shared::endpoints::EndSession>().await
}
