//! Relying parties on loopback for the back-channel logout tests.

use crate::env::required_env;
use crate::http::Stack;

/// A loopback port nobody listens on (yet).
pub fn unused_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// Relying parties on loopback (`tests/rp/receivers.py`), validating every logout token
/// with PyJWT. Stopped when dropped.
pub struct Receivers {
    child: std::process::Child,
    pub ports: Vec<u16>,
}

impl Receivers {
    /// `modes`: `ok`, `slow:MS`, `flaky:N`, each optionally `@PORT`.
    pub fn start(stack: &Stack, modes: &[&str]) -> Self {
        use std::io::BufRead;
        let python = required_env("PYTHON");
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/rp/receivers.py");
        let mut child = std::process::Command::new(python)
            .arg(script)
            .arg(stack.url("/.well-known/jwks.json"))
            .arg(&stack.issuer)
            .args(modes)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("receivers start");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        std::io::BufReader::new(stdout).read_line(&mut line).expect("receivers report their ports");
        let ports: serde_json::Value = serde_json::from_str(&line).expect("ports JSON");
        let ports =
            ports["ports"].as_array().expect("ports").iter().map(|p| p.as_u64().expect("port") as u16).collect();
        Self { child, ports }
    }

    pub fn uri(port: u16, client_id: &str) -> String {
        format!("http://127.0.0.1:{port}/logout/{client_id}")
    }

    /// Every logout request receiver `i` has seen, with PyJWT's verdict.
    pub async fn received(&self, i: usize) -> Vec<serde_json::Value> {
        let url = format!("http://127.0.0.1:{}/received", self.ports[i]);
        let body = reqwest::get(url).await.expect("receiver answers").json::<serde_json::Value>().await.expect("json");
        body.as_array().cloned().unwrap_or_default()
    }
}

impl Drop for Receivers {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
