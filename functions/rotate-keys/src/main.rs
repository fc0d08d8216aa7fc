#![recursion_limit = "256"]
//! `rotate-keys`: the Secrets Manager rotation function for the signing keys
//! (createSecret, setSecret, testSecret, finishSecret). A new key is published in the
//! JWKS a whole rotation period before it signs; a retired key stays until every token
//! it signed has expired.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::serve_events_with(shared::endpoints::KeyRotation::from_config).await
}
