//! End to end: `make example-api` (infra/example-api.sh) against the test stack. The
//! script registers the resource server `example-api` and starts the guard's example
//! API, which accepts the stack's live tokens for its audience and refuses the rest,
//! revoked ones within the feed's poll interval.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use shared::domain::GrantType;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tests::{Stack, TestClient, required_env, seed_client};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const API: &str = "https://api.example.com";
/// The first run compiles the example (`cargo run`); later ones start in a second or two.
const STARTS_WITHIN: Duration = Duration::from_secs(300);

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace").to_path_buf()
}

/// The port of a `http://host:port` URL of the stack's environment.
fn port_of(variable: &str) -> u16 {
    let url = url::Url::parse(&required_env(variable)).unwrap_or_else(|e| panic!("{variable}: {e}"));
    url.port_or_known_default().unwrap_or_else(|| panic!("{variable} names no port"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `bash infra/example-api.sh` against the test stack: its ports (`WATCH_PORT`,
/// `MOTO_PORT`), the stack's table and AWS settings from this process's environment,
/// and a state directory of the test's (never `.local/`).
fn script(state: &Path, watch_port: u16, api_port: u16) -> Command {
    let mut command = Command::new("bash");
    command
        .arg("infra/example-api.sh")
        .current_dir(workspace_root())
        .env("EXAMPLE_API_STATE_DIR", state)
        .env("WATCH_PORT", watch_port.to_string())
        .env("MOTO_PORT", port_of("DYNAMODB_ENDPOINT").to_string())
        .env("EXAMPLE_API_PORT", api_port.to_string())
        .stdin(Stdio::null());
    command
}

/// The script's process group, stopped when the test ends, passes or panics (cargo
/// runs the example as a child of its own: killing only the script would leave it).
struct Running {
    pgid: u32,
    _child: Child,
}

impl Drop for Running {
    fn drop(&mut self) {
        let group = format!("-{}", self.pgid);
        let signal =
            |name: &str| std::process::Command::new("kill").args([name, "--", &group]).stderr(Stdio::null()).status();
        let _ = signal("-TERM");
        for _ in 0..50 {
            if !signal("-0").is_ok_and(|status| status.success()) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = signal("-KILL");
    }
}

/// Starts the script and waits for the example's "listening" line.
async fn start(state: &Path, api_port: u16) -> Running {
    let mut child = script(state, port_of("ISSUER"), api_port)
        .process_group(0)
        .stdout(Stdio::piped())
        // The script's progress and the example's logs go where the test's output goes.
        .stderr(Stdio::inherit())
        .spawn()
        .expect("bash runs");
    let pgid = child.id().expect("a running script");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let running = Running { pgid, _child: child };
    let mut printed = Vec::new();
    let listening = tokio::time::timeout(STARTS_WITHIN, async {
        while let Some(line) = lines.next_line().await.expect("the script's output") {
            let done = line.contains("listening on");
            printed.push(line);
            if done {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(listening, Ok(true), "example-api did not start; it printed:\n{}", printed.join("\n"));
    let banner = printed.join("\n");
    assert!(banner.contains(&format!("127.0.0.1:{api_port}/hello")), "how to call it:\n{banner}");
    // Keep reading, so that the example never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    running
}

struct Answer {
    status: u16,
    challenge: Option<String>,
    json: Value,
}

async fn hello(http: &reqwest::Client, url: &str, token: Option<&str>) -> Answer {
    let mut request = http.get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("example-api answers");
    let status = response.status().as_u16();
    let challenge = response.headers().get("www-authenticate").and_then(|v| v.to_str().ok()).map(str::to_string);
    let json = serde_json::from_slice(&response.bytes().await.expect("a body")).unwrap_or(Value::Null);
    Answer { status, challenge, json }
}

async fn client_credentials(stack: &Stack, client: &TestClient) -> String {
    let reply = stack.post_form("/oauth2/token", client, &[("grant_type", "client_credentials")]).await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    reply.str("access_token").to_string()
}

/// `token` with another subject in its payload, the signature left as it was.
fn forged(token: &str) -> String {
    let mut parts: Vec<&str> = token.split('.').collect();
    let mut claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    claims["sub"] = json!("someone-else");
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
    parts[1] = &payload;
    parts.join(".")
}

#[tokio::test]
async fn make_example_api_accepts_live_tokens_and_refuses_revoked_ones() {
    // GIVEN the script running against the stack (its secret kept across runs, as in
    // .local/: a new one each run would meet warm functions' cached client record)
    let stack = Stack::from_env();
    let state = Path::new(env!("CARGO_TARGET_TMPDIR")).join("example-api");
    let port = free_port();
    let _running = start(&state, port).await;
    let url = format!("http://127.0.0.1:{port}/hello");
    let http = reqwest::Client::new();
    let secret = std::fs::metadata(state.join("example-api-secret")).expect("the secret is kept");
    assert_eq!(std::os::unix::fs::PermissionsExt::mode(&secret.permissions()) & 0o777, 0o600);

    // WHEN a demo-like client calls it with its client_credentials token for the API
    let demo = seed_client(&[GrantType::ClientCredentials], "read", Some(API)).await;
    let token = client_credentials(&stack, &demo).await;
    let answer = hello(&http, &url, Some(&token)).await;
    // THEN it answers with the token's subject
    assert_eq!((answer.status, &answer.json), (200, &json!({ "sub": demo.id })));

    // AND refuses no token, a forged one and one for another API
    let missing = hello(&http, &url, None).await;
    assert_eq!((missing.status, missing.challenge.as_deref()), (401, Some(r#"Bearer, DPoP algs="ES256 EdDSA RS256""#)));
    let invalid = r#"Bearer error="invalid_token""#;
    let forgery = hello(&http, &url, Some(&forged(&token))).await;
    assert_eq!((forgery.status, forgery.challenge.as_deref()), (401, Some(invalid)), "a forged token");
    let payments = seed_client(&[GrantType::ClientCredentials], "read", Some("https://payments.example.com")).await;
    let foreign = hello(&http, &url, Some(&client_credentials(&stack, &payments).await)).await;
    assert_eq!((foreign.status, foreign.challenge.as_deref()), (401, Some(invalid)), "another audience");

    // WHEN the client revokes its token
    assert_eq!(stack.revoke(&demo, &token, None).await.status, 200);
    // THEN the API refuses it within 3 s (a poll of the feed is 1 s)
    let revoked = Instant::now();
    let answer = loop {
        let answer = hello(&http, &url, Some(&token)).await;
        if answer.status != 200 || revoked.elapsed() > Duration::from_secs(3) {
            break answer;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!((answer.status, answer.challenge.as_deref()), (401, Some(invalid)), "after {:?}", revoked.elapsed());
}

#[tokio::test]
async fn make_example_api_says_so_when_the_stack_is_not_running() {
    // GIVEN no token service on the port the script is told
    let state = Path::new(env!("CARGO_TARGET_TMPDIR")).join("example-api-no-stack");
    let output = script(&state, free_port(), free_port()).output().await.expect("bash runs");

    // THEN it stops at once with one sentence saying what to do
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    let said: Vec<&str> = stderr.lines().filter(|line| !line.starts_with("\u{1b}[1m==>")).collect();
    assert_eq!(said.len(), 1, "{stderr}");
    assert!(said[0].contains("is not running") && said[0].contains("make dev"), "{stderr}");
    assert!(!state.join("example-api-secret").exists(), "nothing is registered or kept");
}
