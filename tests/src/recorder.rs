//! A relying party on loopback that records every back-channel logout POST it receives
//! (for tests that check tokens themselves rather than through PyJWT).

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;

pub struct LogoutRecorder {
    pub port: u16,
    received: Arc<Mutex<Vec<String>>>,
}

impl LogoutRecorder {
    /// Answers 200 to every POST and keeps its `logout_token`.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let store = received.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                let store = store.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let store = store.clone();
                        async move {
                            let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                            let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
                            if let Some((_, token)) = form.into_iter().find(|(k, _)| k == "logout_token") {
                                store.lock().expect("lock").push(token);
                            }
                            let mut response = Response::new(Full::new(Bytes::new()));
                            *response.status_mut() = StatusCode::OK;
                            Ok::<_, std::convert::Infallible>(response)
                        }
                    });
                    let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                });
            }
        });
        Self { port, received }
    }

    pub fn uri(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/{path}", self.port)
    }

    /// Every logout token received so far.
    pub fn tokens(&self) -> Vec<String> {
        self.received.lock().expect("lock").clone()
    }
}
