//! The newcomer path: every shell block of the README's local sections, run as written
//! against the stack under test, from a directory laid out like a checkout after
//! `make dev` (`.local/` with the demo credentials, `target/`, `.venv/`, the sources).
//!
//! The only substitutions are the ones a reader's machine makes for them: the stack's
//! address for `http://127.0.0.1:9000`, and its DynamoDB port for the local default one
//! (through `DYNAMODB_ENDPOINT`, which `tokenctl` honours). Nothing else of the test's
//! environment reaches the commands. `curl` fails on an HTTP error, so a command that
//! "ran" but was refused fails the test, and a `# expected` comment at the end of a line
//! must appear in the block's output.

use shared::domain::{
    BrowserSettings, ClientAuthentication, ClientLifetimes, ClientRecord, GrantType, Scope, UserRecord,
};
use shared::ids::{ClientEpoch, ClientId, Subject, random_id};
use shared::secrets::{ClientSecretHash, PasswordHashString, SecretString};
use shared::store::{ClientAdmin, UserAdmin};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The README sections a reader follows against `make dev` with a terminal alone.
const LOCAL_SECTIONS: &[&str] = &["A first token"];
/// The README section where the reader also uses a browser, between its two blocks.
const BROWSER_SECTION: &str = "Sign in from a browser";
/// The line of that section's second block where the reader pastes the code.
const PASTE_THE_CODE: &str = "CODE=paste-the-code-here";
const README_BASE_URL: &str = "http://127.0.0.1:9000";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The ```sh blocks of the given `## ` sections.
fn shell_blocks(readme: &str, sections: &[&str]) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut section = "";
    let mut block: Option<String> = None;
    for line in readme.lines() {
        if let Some(title) = line.strip_prefix("## ") {
            section = title.trim();
        } else if line.trim() == "```sh" && sections.contains(&section) {
            block = Some(String::new());
        } else if line.trim() == "```" && block.is_some() {
            blocks.extend(block.take());
        } else if let Some(text) = block.as_mut() {
            text.push_str(line);
            text.push('\n');
        }
    }
    blocks
}

/// `make dev`'s demo client and user, with credentials in `<dir>/.local`.
async fn demo_checkout(dir: &Path) {
    let store = tests::stack_store().await;
    let secret = format!("readme-{}-{}", random_id(), random_id());
    let password = format!("pw-{}", random_id());
    let demo = ClientRecord {
        dpop_bound_access_tokens: false,
        id: ClientId::new("demo"),
        epoch: ClientEpoch::random(),
        authentication: ClientAuthentication::Secret(ClientSecretHash::create(&SecretString::new(&secret)).unwrap()),
        grant_types: [GrantType::ClientCredentials, GrantType::Password, GrantType::RefreshToken].into_iter().collect(),
        scopes: Scope::parse("openid profile read write").unwrap(),
        audience: Some("https://api.example.com".into()),
        may_introspect: false,
        admin: false,
        backchannel_logout_uri: None,
        lifetimes: ClientLifetimes::default(),
        signing: Default::default(),
        browser: Default::default(),
    };
    store.put_client(&demo).await.unwrap();
    let spa = ClientRecord {
        dpop_bound_access_tokens: false,
        id: ClientId::new("demo-spa"),
        epoch: ClientEpoch::random(),
        authentication: ClientAuthentication::None,
        grant_types: [GrantType::AuthorizationCode, GrantType::RefreshToken].into_iter().collect(),
        scopes: Scope::parse("openid profile read").unwrap(),
        browser: BrowserSettings {
            name: Some("Demo app".into()),
            redirect_uris: vec!["http://127.0.0.1:8080/callback".into()],
            post_logout_redirect_uris: vec!["http://127.0.0.1:8080/".into()],
            allowed_origins: Vec::new(),
        },
        ..demo.clone()
    };
    store.put_client(&spa).await.unwrap();
    let user = UserRecord {
        username: "demo".into(),
        sub: Subject::random(),
        password_hash: PasswordHashString::create(&SecretString::new(&password)).unwrap(),
        disabled: false,
    };
    if store.create_user(&user).await.is_err() {
        store.replace_user(&user).await.unwrap();
    }
    std::fs::create_dir_all(dir.join(".local")).unwrap();
    std::fs::write(dir.join(".local/demo-client-secret"), format!("{secret}\n")).unwrap();
    std::fs::write(dir.join(".local/demo-password"), format!("{password}\n")).unwrap();
    for entry in ["target", ".venv", "tests", "shared", "infra", "functions", "Cargo.toml"] {
        std::os::unix::fs::symlink(root().join(entry), dir.join(entry)).unwrap();
    }
    // curl that fails on an HTTP error status, ahead of the real one on PATH.
    let bin = dir.join(".readme-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let wrapper = bin.join("curl");
    let script = "#!/bin/sh\nexec \"$(PATH=/usr/local/bin:/usr/bin:/bin command -v curl)\" --fail-with-body \"$@\"\n";
    std::fs::write(&wrapper, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// The `# expected` comments at the end of a block's lines.
fn expectations(block: &str) -> Vec<&str> {
    block
        .lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .filter_map(|line| line.split_once("  # ").map(|(_, expected)| expected.trim()))
        .collect()
}

/// Runs `script` with bash as a reader's terminal would, from `dir`; its stdout.
fn run_as_reader(dir: &Path, script: &str, shown: &str) -> String {
    let base_url = std::env::var("E2E_BASE_URL").expect("E2E_BASE_URL is set by make test");
    let moto = std::env::var("DYNAMODB_ENDPOINT").expect("DYNAMODB_ENDPOINT is set by make test");
    let path = format!("{}:/usr/local/bin:/usr/bin:/bin", dir.join(".readme-bin").display());
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script.replace(README_BASE_URL, &base_url)])
        .current_dir(dir)
        .env_clear()
        .env("PATH", &path)
        .env("HOME", dir)
        .env("DYNAMODB_ENDPOINT", &moto)
        .env("CHROMIUM", &chromium)
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "this README block failed:\n{shown}\n--- stdout:\n{stdout}\n--- stderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for expected in expectations(shown) {
        let compact: String = stdout.split_whitespace().collect();
        assert!(compact.contains(expected), "expected {expected} in the output of:\n{shown}\n--- got:\n{stdout}");
    }
    stdout
}

/// A scratch checkout laid out like one after `make dev`.
async fn scratch_checkout() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("readme-{}", random_id()));
    std::fs::create_dir_all(&dir).unwrap();
    demo_checkout(&dir).await;
    dir
}

/// One test, one scratch checkout: the demo user's password is the checkout's.
#[tokio::test]
async fn every_command_of_the_readme_works_as_written() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let blocks = shell_blocks(&readme, LOCAL_SECTIONS);
    assert!(blocks.len() >= 3, "the README's local sections have their shell blocks: {blocks:?}");
    let dir = scratch_checkout().await;
    for block in &blocks {
        run_as_reader(&dir, block, block);
    }
    browser_sign_in_as_written(&readme, &dir);
}

/// The browser walk-through: the first block makes the URL, the reader signs in with
/// Chromium (tests/browser/readme_signin.py, reading the code where the browser lands),
/// and pastes the code into the second block, in the same terminal.
fn browser_sign_in_as_written(readme: &str, dir: &Path) {
    let blocks = shell_blocks(readme, &[BROWSER_SECTION]);
    let [make_url, exchange] = blocks.as_slice() else {
        panic!("the README's browser section has two shell blocks: {blocks:?}");
    };
    assert!(exchange.contains(PASTE_THE_CODE), "the reader pastes the code: {exchange}");
    let signed_in =
        exchange.replace(PASTE_THE_CODE, r#"CODE=$(.venv/bin/python tests/browser/readme_signin.py "$URL")"#);
    let terminal = format!("{make_url}\n{signed_in}");
    let answer = run_as_reader(dir, &terminal, exchange);
    let tokens: serde_json::Value = serde_json::from_str(answer.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("the exchange answers JSON ({e}): {answer}"));
    for field in ["access_token", "refresh_token", "id_token"] {
        assert!(tokens[field].is_string(), "the exchange answers an {field}: {tokens}");
    }
}
