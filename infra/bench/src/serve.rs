//! The token, introspection and revocation endpoints of the shared crate, served over
//! plain HTTP/1.1 on loopback, so the load benchmark can measure them without the Lambda
//! emulator in the way, and with or without DynamoDB.
//!
//! Usage: bench-serve memory|dynamodb PORT CLIENT_ID CLIENT_SECRET
//! (`dynamodb` reads the stack's configuration from the environment, as the functions do.)

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use lambda_http::Body;
use shared::config::Config;
use shared::domain::{ClientAuthentication, ClientRecord, GrantType};
use shared::endpoints::{FromServices, Introspect, Revoke, Token};
use shared::http::response::not_found;
use shared::http::serve;
use shared::secrets::{ClientSecretHash, SecretString};
use shared::store::FullStore;
use shared::store::dynamo::DynamoStore;
use shared::testing::kit;
use shared::testing::memory::MemoryStore;
use std::convert::Infallible;
use std::sync::Arc;
use tokio::net::TcpListener;

/// The three endpoints, exactly as their functions build them.
struct Endpoints {
    token: Token,
    introspect: Introspect,
    revoke: Revoke,
}

async fn endpoints(store: Arc<dyn FullStore>, config: Config, client: ClientRecord) -> Endpoints {
    store.put_client(&client).await.expect("seed the client");
    let services = kit::services_with(config, store);
    Endpoints {
        token: Token::from_services(&services).expect("token"),
        introspect: Introspect::from_services(&services).expect("introspect"),
        revoke: Revoke::from_services(&services).expect("revoke"),
    }
}

async fn answer(endpoints: &Endpoints, req: hyper::Request<Incoming>) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let bytes = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let req = lambda_http::Request::from_parts(parts, Body::Binary(bytes.to_vec()));
    let response = match req.uri().path() {
        "/oauth2/token" => serve(&endpoints.token, req).await,
        "/oauth2/introspect" => serve(&endpoints.introspect, req).await,
        "/oauth2/revoke" => serve(&endpoints.revoke, req).await,
        _ => not_found(),
    };
    let (parts, body) = response.into_parts();
    hyper::Response::from_parts(parts, Full::new(Bytes::from(body.to_vec())))
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, store, port, client_id, secret] = args.as_slice() else {
        eprintln!("usage: bench-serve memory|dynamodb PORT CLIENT_ID CLIENT_SECRET");
        std::process::exit(2);
    };
    let client = ClientRecord {
        dpop_bound_access_tokens: false,
        authentication: ClientAuthentication::Secret(
            ClientSecretHash::create(&SecretString::new(secret.as_str())).expect("secret"),
        ),
        may_introspect: true,
        audience: Some("https://api.example.com".into()),
        ..kit::client(client_id, &[GrantType::ClientCredentials], "read")
    };
    let endpoints = Arc::new(match store.as_str() {
        "memory" => endpoints(Arc::new(MemoryStore::new()), kit::config(), client).await,
        _ => {
            let config = Config::from_env().expect("the stack's configuration");
            endpoints(Arc::new(DynamoStore::connect(&config.aws).await), config, client).await
        }
    });
    let listener = TcpListener::bind(("127.0.0.1", port.parse::<u16>().expect("port"))).await.expect("bind");
    println!("listening on {port} ({store})");
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let endpoints = endpoints.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let endpoints = endpoints.clone();
                async move { Ok::<_, Infallible>(answer(&endpoints, req).await) }
            });
            let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}
