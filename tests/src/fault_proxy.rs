//! An unreliable AWS: an HTTP proxy on loopback in front of moto that answers chosen
//! requests with an AWS error, or delays them, and forwards the rest. The real SDK (its
//! retries, timeouts and error parsing) talks to it as it would to AWS.

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::net::TcpListener;

/// One request as the rule sees it.
pub struct Call<'a> {
    /// `X-Amz-Target`, e.g. `secretsmanager.GetSecretValue`, `DynamoDB_20120810.GetItem`.
    pub target: &'a str,
    pub body: &'a str,
    /// How many requests the proxy had seen before this one.
    pub seq: usize,
}

/// What the proxy does with a request.
pub enum Fault {
    Pass,
    /// Answer with this status and AWS JSON error type, without forwarding.
    Error {
        status: u16,
        error_type: &'static str,
    },
    /// Forward after this delay.
    Delay(Duration),
}

pub type Rule = dyn Fn(&Call<'_>) -> Fault + Send + Sync;

pub struct FaultProxy {
    pub port: u16,
    faulted: Arc<AtomicUsize>,
}

impl FaultProxy {
    pub async fn start(upstream: &str, rule: impl Fn(&Call<'_>) -> Fault + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let rule: Arc<Rule> = Arc::new(rule);
        let seen = Arc::new(AtomicUsize::new(0));
        let faulted = Arc::new(AtomicUsize::new(0));
        let upstream = upstream.trim_end_matches('/').to_string();
        let http = reqwest::Client::new();
        let state = (rule, seen, faulted.clone(), upstream, http);
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                let state = state.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        let (rule, seen, faulted, upstream, http) = state.clone();
                        async move {
                            Ok::<_, std::convert::Infallible>(
                                handle(req, rule.as_ref(), &seen, &faulted, &upstream, &http).await,
                            )
                        }
                    });
                    let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                });
            }
        });
        Self { port, faulted }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// How many requests got a fault (an error or a delay).
    pub fn faults(&self) -> usize {
        self.faulted.load(Ordering::SeqCst)
    }
}

async fn handle(
    req: Request<Incoming>,
    rule: &Rule,
    seen: &AtomicUsize,
    faulted: &AtomicUsize,
    upstream: &str,
    http: &reqwest::Client,
) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let target = parts.headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let call = Call {
        target: &target,
        body: std::str::from_utf8(&body).unwrap_or(""),
        seq: seen.fetch_add(1, Ordering::SeqCst),
    };
    match rule(&call) {
        Fault::Pass => {}
        Fault::Delay(delay) => {
            faulted.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(delay).await;
        }
        Fault::Error { status, error_type } => {
            faulted.fetch_add(1, Ordering::SeqCst);
            let body = serde_json::json!({ "__type": error_type, "message": "injected by the fault proxy" });
            let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
            *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            response.headers_mut().insert("content-type", "application/x-amz-json-1.0".parse().expect("header"));
            response.headers_mut().insert("x-amzn-errortype", error_type.parse().expect("header"));
            return response;
        }
    }
    let url = format!("{upstream}{}", parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"));
    let mut forward = http.request(parts.method.clone(), url).body(body.to_vec());
    for (name, value) in &parts.headers {
        if name != "host" && name != "content-length" {
            forward = forward.header(name, value);
        }
    }
    let Ok(answer) = forward.send().await else {
        let mut response = Response::new(Full::new(Bytes::new()));
        *response.status_mut() = StatusCode::BAD_GATEWAY;
        return response;
    };
    let status = answer.status();
    let headers = answer.headers().clone();
    let bytes = answer.bytes().await.unwrap_or_default();
    let mut response = Response::new(Full::new(bytes));
    *response.status_mut() = status;
    for (name, value) in &headers {
        if name != "content-length" && name != "transfer-encoding" && name != "connection" {
            response.headers_mut().insert(name, value.clone());
        }
    }
    response
}
