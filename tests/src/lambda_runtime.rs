//! A Lambda Runtime API emulation (the 2018-06-01 interface every custom runtime speaks),
//! so a function's real binary can be started the way Lambda starts it: with a given
//! environment and nothing else, fed events one at a time, its answers and errors read
//! back.
//!
//! Only what the runtime client in `lambda_runtime` uses is served: `invocation/next`,
//! `invocation/<id>/response`, `invocation/<id>/error` and `init/error`.

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

const PREFIX: &str = "/2018-06-01/runtime";

/// What the function answered to one event.
#[derive(Debug)]
pub enum Answer {
    /// `invocation/<id>/response`: the handler's result.
    Ok(Value),
    /// `invocation/<id>/error`: the handler returned an error (`errorType`, `errorMessage`).
    Error(Value),
}

struct Pending {
    id: String,
    event: Value,
    answer: oneshot::Sender<Answer>,
}

/// The runtime side: events go out on `next`, answers come back by request id.
struct Runtime {
    events: tokio::sync::Mutex<mpsc::Receiver<Pending>>,
    waiting: Mutex<HashMap<String, oneshot::Sender<Answer>>>,
    /// The first `next` marks the end of init.
    ready: Mutex<Option<oneshot::Sender<Result<(), String>>>>,
    function_arn: String,
    timeout: Duration,
}

/// A function's binary running under the emulated runtime. Killed when dropped.
pub struct LambdaProcess {
    pub name: String,
    child: tokio::process::Child,
    events: mpsc::Sender<Pending>,
    log: PathBuf,
    next_id: std::sync::atomic::AtomicU64,
    timeout: Duration,
}

/// How Lambda would run the function: its binary, its environment (exactly this, and
/// what Lambda itself adds), its memory and timeout.
pub struct Launch<'a> {
    pub name: &'a str,
    pub binary: &'a Path,
    pub environment: &'a BTreeMap<String, String>,
    pub memory_mb: u64,
    pub timeout: Duration,
    /// Where the process's stdout and stderr go.
    pub log: PathBuf,
}

impl LambdaProcess {
    /// Start the binary and wait until its init is done (its first `next`), or report
    /// why it never got there: an `init/error`, an exit, or no sign of life in 30 s.
    pub async fn start(launch: Launch<'_>, lambda_env: &BTreeMap<String, String>) -> Result<Self, String> {
        let listener = TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
        let address = listener.local_addr().map_err(|e| e.to_string())?;
        let (events_tx, events_rx) = mpsc::channel(16);
        let (ready_tx, ready_rx) = oneshot::channel();
        let runtime = Arc::new(Runtime {
            events: tokio::sync::Mutex::new(events_rx),
            waiting: Mutex::new(HashMap::new()),
            ready: Mutex::new(Some(ready_tx)),
            function_arn: format!("arn:aws:lambda:us-east-1:123456789012:function:{}", launch.name),
            timeout: launch.timeout,
        });
        tokio::spawn(serve(listener, runtime));

        let log = std::fs::File::create(&launch.log).map_err(|e| format!("{}: {e}", launch.log.display()))?;
        let err_log = log.try_clone().map_err(|e| e.to_string())?;
        let mut command = tokio::process::Command::new(launch.binary);
        command
            .env_clear()
            .envs(launch.environment)
            .envs(lambda_env)
            .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", launch.name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", launch.memory_mb.to_string())
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{}", launch.name))
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "2026/11/29/[$LATEST]contract")
            .env("_HANDLER", "bootstrap")
            .env("LAMBDA_TASK_ROOT", "/var/task")
            .env("LAMBDA_RUNTIME_DIR", "/var/runtime")
            .env("TZ", ":UTC")
            .stdin(std::process::Stdio::null())
            .stdout(log)
            .stderr(err_log)
            .kill_on_drop(true);
        let mut child = command.spawn().map_err(|e| format!("{}: {e}", launch.binary.display()))?;

        let outcome = tokio::select! {
            ready = ready_rx => ready.unwrap_or_else(|_| Err("the runtime went away".into())),
            status = child.wait() => Err(format!("exited during init ({})", status.map(|s| s.to_string()).unwrap_or_default())),
            _ = tokio::time::sleep(Duration::from_secs(30)) => Err("no `next` within 30 s of starting".into()),
        };
        let process = Self {
            name: launch.name.to_string(),
            child,
            events: events_tx,
            log: launch.log,
            next_id: std::sync::atomic::AtomicU64::new(1),
            timeout: launch.timeout,
        };
        match outcome {
            Ok(()) => Ok(process),
            Err(reason) => {
                Err(format!("{} did not start: {reason}\n--- its output:\n{}", process.name, process.output()))
            }
        }
    }

    /// Hand the function one event and wait for its answer (within its timeout).
    pub async fn invoke(&self, event: Value) -> Answer {
        let id = format!("req-{}", self.next_id.fetch_add(1, std::sync::atomic::Ordering::SeqCst));
        let (answer_tx, answer_rx) = oneshot::channel();
        let pending = Pending { id, event, answer: answer_tx };
        if self.events.send(pending).await.is_err() {
            panic!("{}: the runtime is gone\n{}", self.name, self.output());
        }
        match tokio::time::timeout(self.timeout, answer_rx).await {
            Ok(Ok(answer)) => answer,
            _ => panic!("{} gave no answer within its timeout of {:?}\n{}", self.name, self.timeout, self.output()),
        }
    }

    /// Invoke and expect a handler result (not an error).
    pub async fn call(&self, event: Value) -> Value {
        match self.invoke(event).await {
            Answer::Ok(value) => value,
            Answer::Error(error) => panic!("{} answered with an error: {error}\n{}", self.name, self.output()),
        }
    }

    /// What the process has written so far (its JSON log lines).
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

async fn serve(listener: TcpListener, runtime: Arc<Runtime>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { return };
        let runtime = runtime.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| route(runtime.clone(), req));
            // A function killed while parked on `next` drops its connection: expected.
            let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

type Reply = Response<Full<Bytes>>;

async fn route(runtime: Arc<Runtime>, req: Request<Incoming>) -> Result<Reply, std::convert::Infallible> {
    let path = req.uri().path().strip_prefix(PREFIX).unwrap_or("").to_string();
    let method = req.method().clone();
    let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let reply = match (method, path.as_str()) {
        (Method::GET, "/invocation/next") => next(&runtime).await,
        (Method::POST, "/init/error") => {
            if let Some(ready) = runtime.ready.lock().ok().and_then(|mut r| r.take()) {
                let _ = ready.send(Err(format!("init error: {}", String::from_utf8_lossy(&body))));
            }
            status(StatusCode::ACCEPTED)
        }
        (Method::POST, path) => match path.strip_prefix("/invocation/").and_then(|rest| rest.rsplit_once('/')) {
            Some((id, kind @ ("response" | "error"))) => {
                let payload: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let answer = if kind == "response" { Answer::Ok(payload) } else { Answer::Error(payload) };
                let waiting = runtime.waiting.lock().ok().and_then(|mut w| w.remove(id));
                match waiting {
                    Some(sender) => {
                        let _ = sender.send(answer);
                        status(StatusCode::ACCEPTED)
                    }
                    None => status(StatusCode::NOT_FOUND),
                }
            }
            _ => status(StatusCode::NOT_FOUND),
        },
        _ => status(StatusCode::NOT_FOUND),
    };
    Ok(reply)
}

/// Long-polls like Lambda: the function waits here until there is an event.
async fn next(runtime: &Runtime) -> Reply {
    if let Some(ready) = runtime.ready.lock().ok().and_then(|mut r| r.take()) {
        let _ = ready.send(Ok(()));
    }
    let Some(pending) = runtime.events.lock().await.recv().await else {
        return status(StatusCode::GONE);
    };
    if let Ok(mut waiting) = runtime.waiting.lock() {
        waiting.insert(pending.id.clone(), pending.answer);
    }
    let deadline = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default() + runtime.timeout;
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .header("lambda-runtime-aws-request-id", &pending.id)
        .header("lambda-runtime-deadline-ms", deadline.as_millis().to_string())
        .header("lambda-runtime-invoked-function-arn", &runtime.function_arn)
        .header("lambda-runtime-trace-id", "Root=1-00000000-000000000000000000000000;Sampled=0")
        .body(Full::new(Bytes::from(pending.event.to_string())))
        .unwrap_or_else(|_| status(StatusCode::INTERNAL_SERVER_ERROR))
}

fn status(code: StatusCode) -> Reply {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = code;
    response
}
