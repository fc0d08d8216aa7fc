//! A relying party on loopback for back-channel logout tests and benchmarks: answers
//! every request with a chosen status after a chosen delay, and counts what it saw.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[derive(Default)]
pub struct RpStats {
    pub received: AtomicUsize,
    in_flight: AtomicUsize,
    pub max_in_flight: AtomicUsize,
    /// The body of every request, in arrival order.
    bodies: std::sync::Mutex<Vec<String>>,
}

pub struct TestRp {
    pub port: u16,
    pub stats: Arc<RpStats>,
}

impl TestRp {
    /// An RP answering `status_line` (e.g. `200 OK`) after `delay`.
    pub async fn start(delay: Duration, status_line: &'static str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let stats = Arc::new(RpStats::default());
        let shared = stats.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else { continue };
                let stats = shared.clone();
                tokio::spawn(async move {
                    let Some(body) = read_request(&mut socket).await else { return };
                    if let Ok(mut bodies) = stats.bodies.lock() {
                        bodies.push(body);
                    }
                    let now = stats.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                    stats.max_in_flight.fetch_max(now, Ordering::SeqCst);
                    stats.received.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(delay).await;
                    let head = format!("HTTP/1.1 {status_line}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
                    let _ = socket.write_all(head.as_bytes()).await;
                    stats.in_flight.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        Self { port, stats }
    }

    pub fn uri(&self) -> String {
        format!("http://127.0.0.1:{}/logout", self.port)
    }

    pub fn received(&self) -> usize {
        self.stats.received.load(Ordering::SeqCst)
    }

    /// The `sid` of every logout token received (whatever the RP answered).
    pub fn sids(&self) -> Vec<String> {
        let bodies = self.stats.bodies.lock().map(|b| b.clone()).unwrap_or_default();
        bodies.iter().filter_map(|body| logout_token_sid(body)).collect()
    }

    pub fn max_in_flight(&self) -> usize {
        self.stats.max_in_flight.load(Ordering::SeqCst)
    }
}

/// The `sid` claim of the `logout_token` in a form body, read without verifying (the
/// tests that need verification do it with an independent library).
fn logout_token_sid(body: &str) -> Option<String> {
    use base64::Engine;
    let token = url::form_urlencoded::parse(body.as_bytes()).find(|(k, _)| k == "logout_token")?.1;
    let payload = token.split('.').nth(1)?;
    let claims: serde_json::Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    claims["sid"].as_str().map(str::to_string)
}

/// Read the head, then as much body as Content-Length says; `None` if the peer left.
async fn read_request(socket: &mut tokio::net::TcpStream) -> Option<String> {
    let mut buf = vec![0u8; 16 * 1024];
    let mut seen = Vec::new();
    loop {
        let Ok(n) = socket.read(&mut buf).await else { return None };
        if n == 0 {
            return None;
        }
        seen.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&seen);
        if let Some(head_end) = text.find("\r\n\r\n") {
            let length = text[..head_end]
                .lines()
                .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_string()))
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0);
            if seen.len() >= head_end + 4 + length {
                return Some(String::from_utf8_lossy(&seen[head_end + 4..]).into_owned());
            }
        }
    }
}
