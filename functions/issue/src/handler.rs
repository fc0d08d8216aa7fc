use lambda_http::{Body, Error, Request, Response};
use shared::grants::{SUPPORTED_GRANTS, TokenIssuer};

#[tracing::instrument(skip_all, fields(path = %req.uri().path()))]
pub async fn handle(issuer: &TokenIssuer, req: Request) -> Result<Response<Body>, Error> {
    Ok(shared::http::token_endpoint(issuer, &req, SUPPORTED_GRANTS).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    use shared::keys::{KeyRing, SigningAlgorithm};
    use shared::oauth::client_auth::ClientDirectory;

    use shared::store::memory::MemoryStore;
    use shared::store::{ClientAdmin, GrantType};
    use std::sync::Arc;
    use std::time::Duration;

    /// GIVEN a client `app` and the API Gateway (payload 2.0) event of a token request,
    /// base64 body and all, as API Gateway delivers it.
    async fn issuer() -> TokenIssuer {
        let store = Arc::new(MemoryStore::new());
        store.put_client(&shared::testkit::client("app", &[GrantType::ClientCredentials], "read write")).await.unwrap();
        TokenIssuer {
            config: shared::testkit::config(),
            keys: Arc::new(KeyRing::ephemeral(SigningAlgorithm::Es256).unwrap()),
            clients: ClientDirectory::new(store.clone(), Duration::from_secs(60)),
            users: store.clone(),
            sessions: store.clone(),
            families: store,
        }
    }

    #[tokio::test]
    async fn api_gateway_event_gets_a_token_response() {
        let issuer = issuer().await;
        let request = lambda_http::request::from_str(include_str!("../fixtures/apigw-token-request.json")).unwrap();
        // WHEN the handler runs
        let response = handle(&issuer, request).await.unwrap();
        // THEN a no-store token response with the requested scope
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["cache-control"], "no-store");
        let body: serde_json::Value = serde_json::from_slice(response.body().as_ref()).unwrap();
        assert_eq!((body["token_type"].as_str(), body["scope"].as_str()), (Some("Bearer"), Some("read")));
    }

    #[tokio::test]
    async fn a_get_is_405_with_allow() {
        let issuer = issuer().await;
        let event = include_str!("../fixtures/apigw-token-request.json").replace("\"POST\"", "\"GET\"");
        let response = handle(&issuer, lambda_http::request::from_str(&event).unwrap()).await.unwrap();
        assert_eq!((response.status().as_u16(), response.headers()["allow"].to_str().unwrap()), (405, "POST"));
    }
}
