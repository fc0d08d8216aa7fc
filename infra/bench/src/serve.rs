//! The token, introspection and revocation handlers of the shared crate, served over
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
use shared::grants::{SUPPORTED_GRANTS, TokenIssuer};
use shared::http::{form_endpoint, no_store_json, not_found, revoked, token_endpoint};
use shared::introspection::Introspector;
use shared::keys::{KeyRing, SigningAlgorithm};
use shared::oauth::client_auth::ClientDirectory;
use shared::revocation::Revoker;
use shared::secrets::{ClientSecretHash, SecretString};
use shared::store::dynamo::DynamoStore;
use shared::store::memory::MemoryStore;
use shared::store::{
    ClientAdmin, ClientRecord, FamilyWrite, GrantType, LogoutStore, RevocationRead, SessionWrite, UserRead,
};
use shared::verify::TokenChecker;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

struct Handlers {
    issuer: TokenIssuer,
    introspector: Introspector,
    revoker: Revoker,
}

trait Store: ClientAdmin + UserRead + SessionWrite + FamilyWrite + RevocationRead + LogoutStore + 'static {}
impl<T: ClientAdmin + UserRead + SessionWrite + FamilyWrite + RevocationRead + LogoutStore + 'static> Store for T {}

async fn handlers<S: Store>(store: Arc<S>, config: Config, client: ClientRecord) -> Handlers {
    store.put_client(&client).await.expect("seed the client");
    let keys = Arc::new(KeyRing::ephemeral(SigningAlgorithm::Es256).expect("keys"));
    let directory = || ClientDirectory::new(store.clone(), Duration::from_secs(60));
    Handlers {
        issuer: TokenIssuer {
            config: config.clone(),
            keys: keys.clone(),
            clients: directory(),
            users: store.clone(),
            sessions: store.clone(),
            families: store.clone(),
        },
        introspector: Introspector {
            config: config.clone(),
            keys: keys.clone(),
            clients: directory(),
            checker: TokenChecker { keys: keys.clone(), issuer: config.issuer.clone(), revocations: store.clone() },
            families: store.clone(),
            revocations: store.clone(),
        },
        revoker: Revoker { config, keys, clients: directory(), families: store.clone(), markers: store },
    }
}

async fn answer(handlers: &Handlers, req: hyper::Request<Incoming>) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let bytes = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let req = lambda_http::Request::from_parts(parts, Body::Binary(bytes.to_vec()));
    let h = handlers;
    let response = match req.uri().path() {
        "/oauth2/token" => token_endpoint(&h.issuer, &req, SUPPORTED_GRANTS).await,
        "/oauth2/introspect" => {
            form_endpoint(&req, |o| async move { h.introspector.introspect(&o).await }, |a| no_store_json(200, &a))
                .await
        }
        "/oauth2/revoke" => form_endpoint(&req, |o| async move { h.revoker.revoke(&o).await }, |()| revoked()).await,
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
        secret_hash: ClientSecretHash::create(&SecretString::new(secret.as_str())).expect("secret"),
        may_introspect: true,
        audience: Some("https://api.example.com".into()),
        ..shared::testkit::client(client_id, &[GrantType::ClientCredentials], "read")
    };
    let handlers = Arc::new(match store.as_str() {
        "memory" => handlers(Arc::new(MemoryStore::new()), shared::testkit::config(), client).await,
        _ => {
            let config = Config::from_env().expect("the stack's configuration");
            handlers(Arc::new(DynamoStore::connect(&config).await), config, client).await
        }
    });
    let listener = TcpListener::bind(("127.0.0.1", port.parse::<u16>().expect("port"))).await.expect("bind");
    println!("listening on {port} ({store})");
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let handlers = handlers.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let handlers = handlers.clone();
                async move { Ok::<_, Infallible>(answer(&handlers, req).await) }
            });
            let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}
