//! The admin CLI against moto: every command, as an operator would type it.

use shared::domain::{ClientAuthentication, GrantType, SigningAlgorithm};
use shared::ids::{ClientId, random_id};
use shared::keys::KeySetDocument;
use shared::secrets::SecretString;
use shared::store::{ClientRead, UserRead};
use std::io::Write;
use std::process::{Command, Output, Stdio};

struct Ctl {
    table: String,
    keys: std::path::PathBuf,
}

impl Ctl {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("tokenctl-test-{}", random_id()));
        Self { table: format!("ctl-{}", random_id()), keys: dir.join("keys.json") }
    }

    fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let binary = std::env::var("TOKENCTL").expect("TOKENCTL (the built admin CLI) is set by make test");
        let mut child = Command::new(binary)
            .args(args)
            .env("TABLE_NAME", &self.table)
            .env("KEY_SOURCE", format!("file:{}", self.keys.display()))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("tokenctl runs");
        let mut pipe = child.stdin.take().unwrap();
        if let Some(input) = stdin {
            pipe.write_all(input.as_bytes()).unwrap();
        }
        drop(pipe);
        child.wait_with_output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args, None);
        assert!(out.status.success(), "tokenctl {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args, None);
        assert!(!out.status.success(), "tokenctl {args:?} should have failed");
        String::from_utf8(out.stderr).unwrap()
    }

    async fn store(&self) -> shared::store::dynamo::DynamoStore {
        let store = tests::stack_store().await;
        shared::store::dynamo::DynamoStore::from_client(store.sdk_client().clone(), &self.table)
    }
}

#[tokio::test]
async fn table_and_client_commands() {
    let ctl = Ctl::new();
    assert!(ctl.ok(&["table", "create"]).contains("created"));
    assert!(ctl.ok(&["table", "create"]).contains("already exists"), "running it again is safe");

    let out = ctl.ok(&[
        "client",
        "add",
        "svc",
        "--grant",
        "client_credentials",
        "--grant",
        "password",
        "--scope",
        "read write",
        "--scope",
        "openid",
        "--audience",
        "https://api.example.com",
        "--introspect",
        "--backchannel-logout-uri",
        "https://rp.example.com/bcl",
        "--access-token-ttl",
        "120",
    ]);
    let secret =
        out.lines().find_map(|l| l.strip_prefix("client_secret: ")).expect("a generated secret is printed once");
    let store = ctl.store().await;
    let client = store.client(&ClientId::new("svc")).await.unwrap().expect("client stored");
    let ClientAuthentication::Secret(hash) = &client.authentication else { panic!("a confidential client") };
    assert!(hash.verify(&SecretString::new(secret)));
    assert!(client.allows(GrantType::Password) && !client.allows(GrantType::RefreshToken));
    assert_eq!(client.scopes.to_string(), "openid read write");
    assert!(client.may_introspect && !client.admin);
    assert_eq!(client.lifetimes.access_token, Some(120));

    let listed = ctl.ok(&["client", "list"]);
    assert!(
        listed.contains("\"client_id\":\"svc\"") && !listed.contains("sha256") && !listed.contains(secret),
        "{listed}"
    );

    // An id that is taken is never silently replaced; --replace keeps the registration.
    assert!(!client.dpop_bound_access_tokens, "bearer tokens unless --require-dpop");
    // --require-dpop: every token of the client is DPoP-bound (RFC 9449 §5.2).
    assert!(ctl.ok(&["client", "add", "bound", "--scope", "read", "--require-dpop"]).contains("client_secret: "));
    let bound = store.client(&ClientId::new("bound")).await.unwrap().expect("client stored");
    assert!(bound.dpop_bound_access_tokens);
    assert!(ctl.ok(&["client", "list"]).contains("\"dpop_bound_access_tokens\":true"));
    assert!(ctl.fails(&["client", "add", "svc", "--scope", "read"]).contains("--replace"));
    let epoch = store.client(&ClientId::new("svc")).await.unwrap().unwrap().epoch;
    assert!(ctl.ok(&["client", "add", "svc", "--replace", "--scope", "read"]).contains("replaced"));
    let replaced = store.client(&ClientId::new("svc")).await.unwrap().unwrap();
    assert_eq!((replaced.epoch, replaced.scopes.to_string()), (epoch, "read".to_string()));
    assert!(ctl.fails(&["client", "add", "x", "--refresh-grace", "31536000"]).contains("grace"));

    assert!(ctl.fails(&["client", "add", "weak", "--secret", "short"]).contains("at least 24"));
    assert!(ctl.fails(&["client", "add", "x", "--grant", "implicit"]).contains("unknown grant type"));
    assert!(ctl.fails(&["client", "add", "x", "--backchannel-logout-uri", "http://rp.example.com/"]).contains("https"));

    assert!(ctl.ok(&["client", "remove", "svc"]).contains("removed"));
    assert!(store.client(&ClientId::new("svc")).await.unwrap().is_none());
    assert!(ctl.fails(&["client", "remove", "svc"]).contains("no client"));
}

#[tokio::test]
async fn user_commands() {
    let ctl = Ctl::new();
    ctl.ok(&["table", "create"]);
    // A password change signs logout tokens for the user's relying parties.
    ctl.ok(&["keys", "generate"]);
    let out = ctl.run(&["user", "add", "alice"], Some("from stdin\n"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let store = ctl.store().await;
    let alice = store.user("alice").await.unwrap().expect("stored");
    assert!(alice.password_hash.verify(&SecretString::new("from stdin")));
    assert!(ctl.fails(&["user", "add", "alice", "--password", "x"]).contains("exists"));

    let changed = ctl.ok(&["user", "set-password", "alice", "--password", "second"]);
    assert!(changed.contains("every session of alice ended (0 session(s))"), "{changed}");
    let alice2 = store.user("alice").await.unwrap().unwrap();
    assert!(alice2.password_hash.verify(&SecretString::new("second")) && alice2.sub == alice.sub);

    ctl.ok(&["user", "disable", "alice"]);
    assert!(store.user("alice").await.unwrap().unwrap().disabled);
    ctl.ok(&["user", "enable", "alice"]);
    assert!(!store.user("alice").await.unwrap().unwrap().disabled);
    assert!(ctl.fails(&["user", "set-password", "nobody", "--password", "x"]).contains("no user"));
    assert!(ctl.ok(&["user", "revoke-all", "alice"]).contains("every session of alice ended"));
    assert!(ctl.fails(&["user", "revoke-all", "nobody"]).contains("no user"));
}

#[tokio::test]
async fn a_browser_client_is_registered_public_with_its_redirect_uris_and_bad_ones_are_refused() {
    let ctl = Ctl::new();
    ctl.ok(&["table", "create"]);
    let spa = [
        "client",
        "add",
        "spa",
        "--public",
        "--grant",
        "authorization_code",
        "--grant",
        "refresh_token",
        "--scope",
        "openid",
        "--name",
        "The Shop",
        "--redirect-uri",
        "https://shop.example.com/cb",
        "--redirect-uri",
        "com.example.shop:/cb",
        "--post-logout-redirect-uri",
        "https://shop.example.com/",
        "--allowed-origin",
        "https://admin.shop.example.com",
    ];
    let out = ctl.ok(&spa);
    assert!(!out.contains("client_secret"), "a public client has no secret: {out}");
    let client = ctl.store().await.client(&ClientId::new("spa")).await.unwrap().expect("stored");
    assert!(client.is_public() && client.allows(GrantType::AuthorizationCode));
    assert_eq!(client.browser.name.as_deref(), Some("The Shop"));
    assert_eq!(client.browser.redirect_uris, ["https://shop.example.com/cb", "com.example.shop:/cb"]);
    assert_eq!(client.browser.post_logout_redirect_uris, ["https://shop.example.com/"]);
    let listed = ctl.ok(&["client", "list"]);
    assert!(listed.contains("\"public\":true") && listed.contains("com.example.shop:/cb"), "{listed}");

    let refusals = [
        (vec!["--redirect-uri", "https://*.example.com/cb"], "wildcard"),
        (vec!["--redirect-uri", "https://shop.example.com/cb#frag"], "fragment"),
        (vec!["--redirect-uri", "http://shop.example.com/cb"], "https"),
        (vec!["--redirect-uri", "myapp:/cb"], "private-use scheme"),
        (vec!["--allowed-origin", "https://shop.example.com/path"], "exactly an origin"),
    ];
    for (extra, why) in refusals {
        let mut args = vec!["client", "add", "bad", "--grant", "authorization_code"];
        args.extend(extra.iter().copied());
        if !args.contains(&"--redirect-uri") {
            args.extend(["--redirect-uri", "https://ok.example.com/cb"]);
        }
        let err = ctl.fails(&args);
        assert!(err.contains(why), "{extra:?}: {err}");
    }
    let err = ctl.fails(&["client", "add", "bad", "--public", "--grant", "client_credentials"]);
    assert!(err.contains("public client may use only"), "{err}");
    let err = ctl.fails(&["client", "add", "bad", "--grant", "authorization_code"]);
    assert!(err.contains("at least one redirect URI"), "{err}");
}

#[tokio::test]
async fn a_private_key_jwt_client_is_registered_by_its_public_keys_and_private_ones_are_refused() {
    let ctl = Ctl::new();
    ctl.ok(&["table", "create"]);
    let key = shared::testing::kit::ClientKey::generate(SigningAlgorithm::Es256);
    let dir = ctl.keys.parent().expect("the test's directory");
    std::fs::create_dir_all(dir).unwrap();
    let jwks = dir.join("svc.jwks.json");
    std::fs::write(&jwks, key.jwks()).unwrap();
    let path = jwks.display().to_string();

    // GIVEN a JWK set of one public key, WHEN registered with it
    let out = ctl.ok(&["client", "add", "svc", "--auth", "private_key_jwt", "--jwks-file", &path, "--introspect"]);

    // THEN the client holds that key, and no secret was made or shown
    assert!(!out.contains("client_secret") && out.contains(&key.kid), "{out}");
    let client = ctl.store().await.client(&ClientId::new("svc")).await.unwrap().expect("stored");
    let ClientAuthentication::PrivateKeyJwt(keys) = &client.authentication else {
        panic!("registered as {:?}", client.authentication)
    };
    assert_eq!(keys.keys().len(), 1);
    assert_eq!(keys.key_for(Some(&key.kid)).and_then(|k| k.common.key_id.as_deref()), Some(key.kid.as_str()));
    assert!(client.may_introspect);
    let listed = ctl.ok(&["client", "list"]);
    let line = listed.lines().find(|l| l.contains("\"svc\"")).expect("listed");
    assert!(line.contains(r#""token_endpoint_auth_method":"private_key_jwt""#), "{line}");
    assert!(ctl.ok(&["client", "add", "app"]).contains("client_secret:"), "a secret is still the default");
    let listed = ctl.ok(&["client", "list"]);
    let line = listed.lines().find(|l| l.contains("\"app\"")).expect("listed");
    assert!(line.contains(r#""token_endpoint_auth_method":"client_secret_basic""#), "{line}");

    // A file with a private key is refused, saying which key and why; so are the flags
    // that do not go together.
    let private = jwks.with_file_name("private.jwks.json");
    let mut document: serde_json::Value = serde_json::from_str(&key.jwks()).unwrap();
    document["keys"][0]["d"] = serde_json::json!("jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI");
    std::fs::write(&private, document.to_string()).unwrap();
    let private = private.display().to_string();
    let refusals = [
        (vec!["--auth", "private_key_jwt", "--jwks-file", private.as_str()], "key 0: holds private key material"),
        (vec!["--auth", "private_key_jwt"], "needs --jwks-file"),
        (
            vec!["--auth", "private_key_jwt", "--jwks-file", &path, "--secret", "a-secret-of-at-least-24-chars"],
            "no secret",
        ),
        (vec!["--jwks-file", &path], "--jwks-file is for --auth private_key_jwt"),
        (vec!["--auth", "private_key_jwt", "--jwks-file", "/nonexistent/keys.json"], "/nonexistent/keys.json"),
        (vec!["--auth", "none"], "invalid value"),
        (vec!["--auth", "private_key_jwt", "--public", "--jwks-file", &path], "cannot be used with"),
    ];
    for (extra, why) in refusals {
        let mut args = vec!["client", "add", "bad"];
        args.extend(extra.iter().copied());
        let err = ctl.fails(&args);
        assert!(err.contains(why), "{extra:?}: {err}");
    }
    assert!(ctl.store().await.client(&ClientId::new("bad")).await.unwrap().is_none(), "nothing was written");
}

#[test]
fn keys_generate_writes_a_private_file_and_never_overwrites_by_accident() {
    use std::os::unix::fs::PermissionsExt;
    let ctl = Ctl::new();
    assert!(ctl.ok(&["keys", "generate", "--alg", "EdDSA"]).contains("EdDSA"));
    let mode = std::fs::metadata(&ctl.keys).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "private keys readable by others");
    let first = std::fs::read(&ctl.keys).unwrap();
    assert!(ctl.fails(&["keys", "generate"]).contains("--force"));
    assert!(ctl.ok(&["keys", "generate", "--if-missing"]).contains("already exists"));
    assert_eq!(std::fs::read(&ctl.keys).unwrap(), first);
    assert_eq!(key_file_algs(&ctl), ["ES256", "EdDSA", "RS256"], "the default's key, and ES256 and RS256 for clients");
    ctl.ok(&["keys", "generate", "--force", "--alg", "RS256"]);
    assert_eq!(key_file_algs(&ctl), ["ES256", "RS256"]);
    assert!(ctl.fails(&["keys", "generate", "--force", "--alg", "HS256"]).contains("unsupported"));
}

#[test]
fn keys_generate_if_missing_adds_an_algorithm_an_older_key_file_lacks() {
    let ctl = Ctl::new();
    // A key file from before RS256 was required: one ES256 key.
    let old = KeySetDocument::generate(SigningAlgorithm::Es256).unwrap();
    std::fs::create_dir_all(ctl.keys.parent().unwrap()).unwrap();
    std::fs::write(&ctl.keys, serde_json::to_vec(&old).unwrap()).unwrap();
    assert!(ctl.ok(&["keys", "generate", "--if-missing"]).contains("added an active key of RS256"));
    assert_eq!(key_file_algs(&ctl), ["ES256", "RS256"]);
    let upgraded: KeySetDocument = serde_json::from_slice(&std::fs::read(&ctl.keys).unwrap()).unwrap();
    assert!(upgraded.keys.iter().any(|k| k.kid == old.keys[0].kid), "the ES256 key is kept: its tokens verify");
    assert_eq!(upgraded.refresh_mac_key, old.refresh_mac_key, "refresh tokens survive");
}

/// The algorithms of the key file's keys, sorted.
fn key_file_algs(ctl: &Ctl) -> Vec<String> {
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&ctl.keys).unwrap()).unwrap();
    let mut algs: Vec<String> =
        doc["keys"].as_array().unwrap().iter().map(|k| k["alg"].as_str().unwrap().into()).collect();
    algs.sort();
    algs
}

/// tokenctl with only what an operator has: no environment at all against the local
/// stack (the test points the local stack's default DynamoDB port at its own moto, the
/// one thing a reader of the README would not need to do).
fn bare(args: &[&str], env: &[(&str, &str)]) -> Output {
    let binary = std::env::var("TOKENCTL").expect("TOKENCTL is set by make test");
    Command::new(binary)
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .expect("tokenctl runs")
}

#[test]
fn against_the_local_stack_tokenctl_needs_no_environment() {
    let moto = std::env::var("DYNAMODB_ENDPOINT").expect("moto");
    let local = [("DYNAMODB_ENDPOINT", moto.as_str())];
    let created = bare(&["table", "create"], &local);
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let id = format!("bare-{}", random_id());
    let added = bare(&["client", "add", &id, "--scope", "read"], &local);
    assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));
    let listed = bare(&["client", "list"], &local);
    assert!(String::from_utf8_lossy(&listed.stdout).contains(&id));
}

#[test]
fn each_command_needs_only_the_settings_it_uses() {
    let ctl = Ctl::new();
    ctl.ok(&["table", "create"]);
    let moto = std::env::var("DYNAMODB_ENDPOINT").expect("moto");
    // Against AWS (TABLE_NAME set), with credentials but no ISSUER and no KEY_SOURCE.
    let aws = [
        ("TABLE_NAME", ctl.table.as_str()),
        ("DYNAMODB_ENDPOINT", moto.as_str()),
        ("AWS_ACCESS_KEY_ID", "local"),
        ("AWS_SECRET_ACCESS_KEY", "local"),
        ("AWS_REGION", "us-east-1"),
    ];
    for args in [
        vec!["client", "add", "svc", "--scope", "read"],
        vec!["client", "list"],
        vec!["user", "add", "bob", "--password=-starts-with-a-dash"],
        vec!["user", "enable", "bob"],
    ] {
        let out = bare(&args, &aws);
        assert!(out.status.success(), "tokenctl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    // Signing logout tokens needs the key source, and says so (disable revokes too).
    for command in ["revoke-all", "disable"] {
        let out = bare(&["user", command, "bob"], &aws);
        assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("is not set"), "{command}");
    }
}

#[test]
fn against_aws_without_credentials_tokenctl_says_so_in_one_sentence() {
    let out = bare(&["client", "list"], &[("TABLE_NAME", "tokens"), ("AWS_REGION", "us-east-1")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("no AWS credentials"), "{stderr}");
}

/// After upgrading a table from before the revocation feed: `table backfill-feed` gives
/// each live marker without a feed entry its entry (feed readers then see it), leaves
/// expired ones alone, and finds nothing more to do when run again.
#[tokio::test]
async fn backfill_feed_gives_old_revocations_their_feed_entries_once() {
    use aws_sdk_dynamodb::types::AttributeValue;
    use shared::feed::FEED_SHARDS;
    use shared::store::FeedLog;
    let ctl = Ctl::new();
    ctl.ok(&["table", "create"]);
    let store = ctl.store().await;
    let item = |jti: &str, expires_at: u64| {
        std::collections::HashMap::from([
            ("pk".to_string(), AttributeValue::S(format!("REVOKED#JTI#{jti}"))),
            ("sk".to_string(), AttributeValue::S("REVOKED".into())),
            ("expires_at".to_string(), AttributeValue::N(expires_at.to_string())),
        ])
    };
    let now = shared::time::UnixTime::now().0;
    // As a version without the feed wrote them: no index keys.
    for (jti, expires_at) in [("old-live", now + 600), ("old-expired", now - 5)] {
        let put = store.sdk_client().put_item().table_name(store.table()).set_item(Some(item(jti, expires_at)));
        put.send().await.unwrap();
    }
    let logged = || async {
        let mut values = Vec::new();
        for shard in 0..FEED_SHARDS {
            let read = store.feed_shard(shard, shared::time::UnixMillis(0), 10_000).await.unwrap();
            values.extend(read.records.into_iter().map(|r| r.entry.value));
        }
        values
    };
    assert!(logged().await.is_empty(), "not in the feed before");

    assert!(ctl.ok(&["table", "backfill-feed"]).starts_with("1 revocations"));
    assert_eq!(logged().await, ["old-live"]);
    assert!(ctl.ok(&["table", "backfill-feed"]).starts_with("0 revocations"), "nothing more to do");
}
