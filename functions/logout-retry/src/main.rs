//! `logout-retry`: run by an EventBridge schedule. Retries back-channel logouts that
//! have not reached their relying party yet, until they do or grow too old.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::serve_events::<shared::endpoints::LogoutRetry>().await
}
