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
                    if !read_request(&mut socket).await {
                        return;
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

    pub fn max_in_flight(&self) -> usize {
        self.stats.max_in_flight.load(Ordering::SeqCst)
    }
}

/// Read the head, then as much body as Content-Length says; false if the peer left.
async fn read_request(socket: &mut tokio::net::TcpStream) -> bool {
    let mut buf = vec![0u8; 16 * 1024];
    let mut seen = Vec::new();
    loop {
        let Ok(n) = socket.read(&mut buf).await else { return false };
        if n == 0 {
            return false;
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
                return true;
            }
        }
    }
}
