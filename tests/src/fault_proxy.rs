//! An unreliable AWS: an HTTP proxy on loopback in front of moto that answers chosen
//! requests with an AWS error, or delays them, and forwards the rest. The real SDK (its
//! retries, timeouts and error parsing) talks to it as it would to AWS.
//!
//! It also keeps every request it sees (`calls`), faulted or not: moto enforces no IAM,
//! so the deployment contract test checks what a function asked AWS for afterwards,
//! against the function's own policy (`crate::iam`).

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
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
    /// Answer this JSON without forwarding (an error when it has an `__type`): a
    /// cancelled transaction with its reasons, a batch read left unprocessed.
    Answer {
        status: u16,
        body: serde_json::Value,
    },
    /// Forward, so that AWS applies the request, then answer with this error instead of
    /// AWS's answer: a write that happened, whose answer was lost.
    ApplyThenFail {
        status: u16,
        error_type: &'static str,
    },
}

pub type Rule = dyn Fn(&Call<'_>) -> Fault + Send + Sync;

/// One request as the proxy received it, kept for checks made after the fact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedCall {
    /// `X-Amz-Target`, empty when the request had none.
    pub target: String,
    /// The body as text (AWS JSON protocols); empty when it was not UTF-8.
    pub body: String,
}

/// Everything the proxy's connections share.
struct Shared {
    rule: Box<Rule>,
    seen: AtomicUsize,
    faulted: AtomicUsize,
    recorded: Mutex<Vec<RecordedCall>>,
    upstream: String,
    http: reqwest::Client,
}

pub struct FaultProxy {
    pub port: u16,
    shared: Arc<Shared>,
}

impl FaultProxy {
    pub async fn start(upstream: &str, rule: impl Fn(&Call<'_>) -> Fault + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let shared = Arc::new(Shared {
            rule: Box::new(rule),
            seen: AtomicUsize::new(0),
            faulted: AtomicUsize::new(0),
            recorded: Mutex::new(Vec::new()),
            upstream: upstream.trim_end_matches('/').to_string(),
            http: reqwest::Client::new(),
        });
        let state = shared.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                let state = state.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        let state = state.clone();
                        async move { Ok::<_, std::convert::Infallible>(handle(req, &state).await) }
                    });
                    let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                });
            }
        });
        Self { port, shared }
    }

    /// A proxy that forwards everything: there only to record what a client asks AWS for.
    pub async fn pass_through(upstream: &str) -> Self {
        Self::start(upstream, |_| Fault::Pass).await
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// How many requests got a fault (an error or a delay).
    pub fn faults(&self) -> usize {
        self.shared.faulted.load(Ordering::SeqCst)
    }

    /// Every request seen so far, in the order they arrived, faulted ones included (a
    /// call AWS refused or delayed was still asked for).
    pub fn calls(&self) -> Vec<RecordedCall> {
        self.shared.recorded.lock().expect("the proxy's record is not poisoned").clone()
    }
}

async fn handle(req: Request<Incoming>, shared: &Shared) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let target = parts.headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let text = std::str::from_utf8(&body).unwrap_or("");
    shared
        .recorded
        .lock()
        .expect("the proxy's record is not poisoned")
        .push(RecordedCall { target: target.clone(), body: text.to_string() });
    let call = Call { target: &target, body: text, seq: shared.seen.fetch_add(1, Ordering::SeqCst) };
    let mut lost_answer = None;
    match (shared.rule)(&call) {
        Fault::Pass => {}
        Fault::Delay(delay) => {
            shared.faulted.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(delay).await;
        }
        Fault::Error { status, error_type } => {
            shared.faulted.fetch_add(1, Ordering::SeqCst);
            let body = serde_json::json!({ "__type": error_type, "message": "injected by the fault proxy" });
            return json_answer(status, &body);
        }
        Fault::Answer { status, body } => {
            shared.faulted.fetch_add(1, Ordering::SeqCst);
            return json_answer(status, &body);
        }
        Fault::ApplyThenFail { status, error_type } => {
            shared.faulted.fetch_add(1, Ordering::SeqCst);
            lost_answer = Some(json_answer(
                status,
                &serde_json::json!({ "__type": error_type, "message": "injected after the request was applied" }),
            ));
        }
    }
    let url = format!("{}{}", shared.upstream, parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"));
    let mut forward = shared.http.request(parts.method.clone(), url).body(body.to_vec());
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
    if let Some(lost) = lost_answer {
        // Read to the end first: AWS has applied the request when its answer is lost.
        let _ = answer.bytes().await;
        return lost;
    }
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

/// An AWS JSON answer; the error type header too when the body names one.
fn json_answer(status: u16, body: &serde_json::Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert("content-type", "application/x-amz-json-1.0".parse().expect("header"));
    if let Some(error_type) = body["__type"].as_str().and_then(|t| t.parse().ok()) {
        response.headers_mut().insert("x-amzn-errortype", error_type);
    }
    response
}
