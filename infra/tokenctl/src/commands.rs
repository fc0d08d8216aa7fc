use clap::{Args, Parser, Subcommand};
use shared::admin::{ClientRegistry, Registration};
use shared::config::{AwsSettings, ConfigError, KeySourceConfig, Vars};
use shared::domain::{
    BrowserSettings, ClientAuthentication, ClientJwks, ClientLifetimes, ClientRecord, ClientSigning, GrantType,
    RevocationCause, Scope, SigningAlgorithm, UserRecord,
};
use shared::ids::{ClientEpoch, ClientId, Subject, random_bytes};
use shared::keys::{KeySet, KeySetDocument, generate_key};
use shared::secrets::{ClientSecretHash, PasswordHashString, SecretString};
use shared::store::dynamo::{ClockCheck, DynamoStore, credentials_available, schema};
use shared::store::{ClientAdmin, StoreError, UserAdmin};
use std::collections::BTreeSet;
use std::io::BufRead;
use std::path::Path;
use std::sync::Arc;

#[derive(Parser)]
#[command(name = "tokenctl", about = "Administer the token service: table, clients, users, keys")]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The DynamoDB table
    #[command(subcommand)]
    Table(TableCommand),
    /// OAuth clients
    #[command(subcommand)]
    Client(ClientCommand),
    /// Users (resource owners)
    #[command(subcommand)]
    User(UserCommand),
    /// Signing keys
    #[command(subcommand)]
    Keys(KeysCommand),
}

#[derive(Subcommand)]
enum TableCommand {
    /// Create the table with its TTL and index; an existing table is left as it is
    Create,
    /// Give every live revocation written before the revocation feed existed its feed
    /// entry: once, after upgrading from a version without the feed
    BackfillFeed,
}

#[derive(Subcommand)]
enum ClientCommand {
    /// Register a client (--replace to replace one with the same id)
    Add(Box<ClientAdd>),
    /// List clients (secrets are never shown)
    List,
    /// Remove a client, and kill every token issued to it
    Remove { id: String },
}

#[derive(Args)]
struct ClientAdd {
    id: String,
    /// Replace the client with this id, if there is one: same registration, so its
    /// refresh tokens stay valid (narrowed to the new scopes at their next refresh)
    #[arg(long)]
    replace: bool,
    /// How the client authenticates (its token_endpoint_auth_method): client_secret_basic
    /// (a secret, sent by Basic or in the form: client_secret_post is the same
    /// registration) or private_key_jwt (a JWT signed by one of its keys, --jwks-file; no
    /// secret). A public client has no method: --public
    #[arg(long, value_enum, default_value_t = AuthMethodArg::ClientSecretBasic, conflicts_with = "public")]
    auth: AuthMethodArg,
    /// The client's public keys for --auth private_key_jwt: a JWK set ({"keys": [...]}) of
    /// EC P-256, Ed25519 or RSA signing keys, public members only
    #[arg(long, value_name = "PATH")]
    jwks_file: Option<std::path::PathBuf>,
    /// The client secret (at least 24 characters); generated and printed once if omitted
    #[arg(long)]
    secret: Option<String>,
    /// A grant type the client may use (repeatable): authorization_code, client_credentials,
    /// password, refresh_token
    #[arg(long = "grant", default_values_t = ["client_credentials".to_string()])]
    grants: Vec<String>,
    /// A public client (a SPA or a native app): no secret, token_endpoint_auth_method none;
    /// only the authorization_code and refresh_token grants
    #[arg(long, conflicts_with = "secret")]
    public: bool,
    /// Every access token of this client is DPoP-bound (RFC 9449 §5.2
    /// dpop_bound_access_tokens): a token request without a DPoP proof is refused
    #[arg(long)]
    require_dpop: bool,
    /// The name the login page shows
    #[arg(long)]
    name: Option<String>,
    /// Where authorization responses may go (repeatable; exact match): https, http to
    /// loopback, or a private-use scheme such as com.example.app:/callback
    #[arg(long = "redirect-uri")]
    redirect_uris: Vec<String>,
    /// Where RP-initiated logout may send the browser back (repeatable; exact match)
    #[arg(long = "post-logout-redirect-uri")]
    post_logout_redirect_uris: Vec<String>,
    /// An origin whose browser code may call the token, revocation and userinfo
    /// endpoints, beside those of the redirect URIs (repeatable)
    #[arg(long = "allowed-origin")]
    allowed_origins: Vec<String>,
    /// A scope the client may request (repeatable)
    #[arg(long = "scope")]
    scopes: Vec<String>,
    /// The `aud` of the client's access tokens (default: the issuer)
    #[arg(long)]
    audience: Option<String>,
    /// A resource server: may introspect any token and read the revocation feed
    #[arg(long)]
    introspect: bool,
    /// May end every session of a user
    #[arg(long)]
    admin: bool,
    /// Where OIDC back-channel logout tokens are delivered
    #[arg(long)]
    backchannel_logout_uri: Option<String>,
    /// Access-token lifetime in seconds (default: ACCESS_TOKEN_TTL_SECONDS)
    #[arg(long)]
    access_token_ttl: Option<u64>,
    /// Absolute refresh-token family lifetime in seconds
    #[arg(long)]
    refresh_ttl: Option<u64>,
    /// Refresh-token idle timeout in seconds
    #[arg(long)]
    refresh_idle_ttl: Option<u64>,
    /// Refresh-token grace window in seconds (0 disables)
    #[arg(long)]
    refresh_grace: Option<u64>,
    /// Signs the client's access tokens: ES256 or RS256 (default: SIGNING_ALG)
    #[arg(long)]
    access_token_alg: Option<String>,
    /// Signs the client's ID and logout tokens: ES256 or RS256 (default: RS256, as OIDC says)
    #[arg(long)]
    id_token_alg: Option<String>,
}

/// `--auth`: the token_endpoint_auth_method values a confidential client may register.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum AuthMethodArg {
    #[value(name = "client_secret_basic")]
    ClientSecretBasic,
    #[value(name = "client_secret_post")]
    ClientSecretPost,
    #[value(name = "private_key_jwt")]
    PrivateKeyJwt,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add a user; the password comes from --password or the first line of stdin
    Add {
        username: String,
        #[arg(long)]
        password: Option<String>,
    },
    /// Change a user's password (--password or the first line of stdin); ends every
    /// session of the user and notifies their relying parties
    SetPassword {
        username: String,
        #[arg(long)]
        password: Option<String>,
    },
    /// Log a user out everywhere: every session, refresh token and access token issued
    /// until now dies, and every relying party is notified
    RevokeAll { username: String },
    /// Refuse every new login of a user, and revoke everything issued to them until now
    /// (as revoke-all: every session ends, every relying party is told)
    Disable { username: String },
    /// Allow a disabled user again
    Enable { username: String },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Generate a key set (signing key + refresh-token MAC key) at KEY_SOURCE
    Generate {
        #[arg(long, default_value = "ES256")]
        alg: SigningAlgorithm,
        /// Replace an existing key set (tokens signed by it stop verifying)
        #[arg(long, conflicts_with = "if_missing")]
        force: bool,
        /// Do nothing if a key set already exists
        #[arg(long)]
        if_missing: bool,
    },
}

type CmdResult = Result<(), String>;

/// Each command reads only the settings it uses: against the local stack (no
/// `TABLE_NAME`) none at all, in AWS the table and, where tokens are signed, the issuer
/// and key source.
pub async fn run(cli: Cli) -> CmdResult {
    let vars = Vars::from_env_or_local();
    match cli.command {
        Command::Keys(KeysCommand::Generate { alg, force, if_missing }) => {
            keys_generate(&vars.key_source().map_err(config_err)?, alg, force, if_missing)
        }
        Command::Table(TableCommand::Create) => {
            let store = store(&vars).await?;
            let created = schema::create_table(store.sdk_client(), store.table()).await.map_err(store_err)?;
            println!("table {} {}", store.table(), if created { "created" } else { "already exists" });
            Ok(())
        }
        Command::Table(TableCommand::BackfillFeed) => {
            let store = store(&vars).await?;
            let stamped = store.backfill_feed().await.map_err(store_err)?;
            println!("{stamped} revocations without a feed entry were given one");
            Ok(())
        }
        Command::Client(cmd) => client(&vars, cmd).await,
        Command::User(cmd) => user(&vars, cmd).await,
    }
}

fn config_err(err: ConfigError) -> String {
    err.to_string()
}

/// The table, after making sure AWS credentials exist (against AWS; the local stack has
/// its own).
async fn store<F: Fn(&str) -> Option<String>>(vars: &Vars<F>) -> Result<DynamoStore, String> {
    let aws: AwsSettings = vars.aws().map_err(config_err)?;
    if !aws.local && !credentials_available(&aws).await {
        return Err("no AWS credentials were found: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and \
            AWS_SECRET_ACCESS_KEY (without TABLE_NAME, tokenctl uses the local stack)"
            .into());
    }
    // Markers this command writes are stamped for the revocation feed by this host's
    // clock, which may be off: by DynamoDB's instead (docs/ARCHITECTURE.md §3.11).
    let (store, clock) = DynamoStore::connect(&aws).await.with_clock_checked(&aws).await;
    match clock {
        ClockCheck::InStep => {}
        ClockCheck::Corrected(offset_ms) => eprintln!(
            "note: this machine's clock is {:.1} s {} DynamoDB's; revocations are stamped by DynamoDB's",
            offset_ms.unsigned_abs() as f64 / 1000.0,
            if offset_ms > 0 { "behind" } else { "ahead of" }
        ),
        ClockCheck::Unknown => eprintln!(
            "note: DynamoDB's clock could not be read; revocations are stamped by this machine's clock, \
             which must be within 2 s of the token service's for feed readers to see them"
        ),
    }
    Ok(store)
}

fn store_err(err: StoreError) -> String {
    let missing_table = matches!(&err, StoreError::Unavailable(text) if text.contains("ResourceNotFound"));
    if missing_table { format!("{err} (is the table there? `tokenctl table create`)") } else { err.to_string() }
}

async fn client<F: Fn(&str) -> Option<String>>(vars: &Vars<F>, cmd: ClientCommand) -> CmdResult {
    let store = Arc::new(store(vars).await?);
    let registry = ClientRegistry::new(
        store.clone(),
        vars.lifetimes().map_err(config_err)?,
        vars.client_cache_ttl().map_err(config_err)?,
    );
    match cmd {
        ClientCommand::Add(add) => {
            let has_secret = !add.public && add.auth != AuthMethodArg::PrivateKeyJwt;
            let generated = add.secret.is_none() && has_secret;
            let secret = SecretString::new(add.secret.clone().unwrap_or_else(generate_secret));
            let record = client_record(&add, &secret)?;
            let done = registry.register(record.clone(), add.replace).await.map_err(|e| e.to_string())?;
            let verb = if done == Registration::Replaced { "replaced" } else { "registered" };
            println!("client {} {verb}: grants [{}], scope \"{}\"", record.id, grants_list(&record), record.scopes);
            if generated {
                println!("client_secret: {}", secret.expose());
            }
            if let ClientAuthentication::PrivateKeyJwt(keys) = &record.authentication {
                let kids: Vec<&str> = keys.keys().iter().filter_map(|k| k.common.key_id.as_deref()).collect();
                let named = if kids.is_empty() { String::new() } else { format!(" (kid {})", kids.join(", ")) };
                println!("private_key_jwt: {} public key(s){named}; no secret", keys.keys().len());
            }
            Ok(())
        }
        ClientCommand::List => {
            for c in store.list_clients().await.map_err(store_err)? {
                let line = serde_json::json!({
                    "client_id": c.id,
                    "grant_types": c.grant_types.iter().map(|g| g.as_str()).collect::<Vec<_>>(),
                    "scope": c.scopes.to_string(),
                    "audience": c.audience,
                    "introspect": c.may_introspect,
                    "admin": c.admin,
                    "backchannel_logout_uri": c.backchannel_logout_uri,
                    "public": c.is_public(),
                    "dpop_bound_access_tokens": c.dpop_bound_access_tokens,
                    "token_endpoint_auth_method": c.authentication.method(),
                    "name": c.browser.name,
                    "redirect_uris": c.browser.redirect_uris,
                    "post_logout_redirect_uris": c.browser.post_logout_redirect_uris,
                    "allowed_origins": c.browser.allowed_origins,
                    "access_token_alg": c.signing.access_token.map(SigningAlgorithm::as_str),
                    "id_token_alg": c.id_token_alg().as_str(),
                });
                println!("{line}");
            }
            Ok(())
        }
        ClientCommand::Remove { id } => {
            if registry.remove(&ClientId::new(&id)).await.map_err(|e| e.to_string())? {
                println!("client {id} removed; every token issued to it is revoked");
                Ok(())
            } else {
                Err(format!("no client {id}"))
            }
        }
    }
}

/// How a registered client authenticates, as OIDC Registration §2 names it.
/// What the client proves itself with: its keys (`private_key_jwt`, read from the JWK set
/// file), nothing (`--public`), or the hash of `secret`.
fn authentication(add: &ClientAdd, secret: &SecretString) -> Result<ClientAuthentication, String> {
    let private_key_jwt = add.auth == AuthMethodArg::PrivateKeyJwt;
    if !private_key_jwt && add.jwks_file.is_some() {
        return Err("--jwks-file is for --auth private_key_jwt".into());
    }
    if add.public {
        return Ok(ClientAuthentication::None);
    }
    if !private_key_jwt {
        return Ok(ClientAuthentication::Secret(ClientSecretHash::create(secret).map_err(|e| e.to_string())?));
    }
    if add.secret.is_some() {
        return Err("a private_key_jwt client has no secret: drop --secret".into());
    }
    let path = add.jwks_file.as_ref().ok_or("--auth private_key_jwt needs --jwks-file PATH (its public keys)")?;
    let document = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let keys = ClientJwks::parse(&document).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(ClientAuthentication::PrivateKeyJwt(keys))
}

fn client_record(add: &ClientAdd, secret: &SecretString) -> Result<ClientRecord, String> {
    let grant_types = add.grants.iter().map(|g| g.parse::<GrantType>()).collect::<Result<BTreeSet<_>, _>>()?;
    let scopes = Scope::from_tokens(add.scopes.iter().flat_map(|s| s.split(' ')).map(str::to_string))
        .map_err(|e| e.to_string())?;
    let record = ClientRecord {
        dpop_bound_access_tokens: add.require_dpop,
        id: ClientId::new(&add.id),
        // The registry assigns the registration.
        epoch: ClientEpoch::new(""),
        authentication: authentication(add, secret)?,
        grant_types,
        scopes,
        audience: add.audience.clone(),
        may_introspect: add.introspect,
        admin: add.admin,
        backchannel_logout_uri: add.backchannel_logout_uri.clone(),
        lifetimes: ClientLifetimes {
            access_token: add.access_token_ttl,
            refresh_absolute: add.refresh_ttl,
            refresh_idle: add.refresh_idle_ttl,
            refresh_grace: add.refresh_grace,
        },
        signing: ClientSigning {
            access_token: add.access_token_alg.as_deref().map(str::parse).transpose()?,
            id_token: add.id_token_alg.as_deref().map(str::parse).transpose()?,
        },
        browser: BrowserSettings {
            name: add.name.clone(),
            redirect_uris: add.redirect_uris.clone(),
            post_logout_redirect_uris: add.post_logout_redirect_uris.clone(),
            allowed_origins: add.allowed_origins.clone(),
        },
    };
    record.validate().map_err(|e| e.to_string())?;
    Ok(record)
}

fn grants_list(c: &ClientRecord) -> String {
    c.grant_types.iter().map(|g| g.as_str()).collect::<Vec<_>>().join(", ")
}

/// 32 random bytes, base64url: far above the minimum secret length.
fn generate_secret() -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<32>())
}

fn password_from(arg: Option<String>) -> Result<SecretString, String> {
    let raw = match arg {
        Some(p) => p,
        None => {
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line).map_err(|e| format!("reading the password: {e}"))?;
            line.trim_end_matches(['\r', '\n']).to_string()
        }
    };
    let secret = SecretString::new(raw);
    if secret.expose().is_empty() {
        return Err("the password is empty".into());
    }
    Ok(secret)
}

async fn user<F: Fn(&str) -> Option<String>>(vars: &Vars<F>, cmd: UserCommand) -> CmdResult {
    let store = store(vars).await?;
    let hash = |p: &SecretString| PasswordHashString::create(p).map_err(|e| e.to_string());
    match cmd {
        UserCommand::Add { username, password } => {
            shared::policy::validate_username(&username).map_err(|e| e.to_string())?;
            let password = password_from(password)?;
            let user = UserRecord {
                username: username.clone(),
                sub: Subject::random(),
                password_hash: hash(&password)?,
                disabled: false,
            };
            match store.create_user(&user).await {
                Ok(()) => {
                    println!("user {username} added (sub {})", user.sub);
                    Ok(())
                }
                Err(StoreError::Conflict) => Err(format!("user {username} exists; use `user set-password`")),
                Err(err) => Err(store_err(err)),
            }
        }
        UserCommand::SetPassword { username, password } => {
            let password = password_from(password)?;
            let mut user = existing_user(&store, &username).await?;
            user.password_hash = hash(&password)?;
            store.replace_user(&user).await.map_err(store_err)?;
            println!("password of {username} changed");
            revoke_all(vars, &user, RevocationCause::PasswordChange).await
        }
        UserCommand::RevokeAll { username } => {
            let user = existing_user(&store, &username).await?;
            revoke_all(vars, &user, RevocationCause::AdminRevokeAll).await
        }
        UserCommand::Disable { username } => {
            let user = set_disabled(&store, &username, true).await?;
            // Disabled means revoked, like revoke-all: from now on introspection, the
            // authorizer and userinfo all refuse the user's tokens, and their RPs are told.
            revoke_all(vars, &user, RevocationCause::UserDisabled).await
        }
        UserCommand::Enable { username } => set_disabled(&store, &username, false).await.map(|_| ()),
    }
}

/// The same path as an admin logout: subject marker, every session ended, every RP told
/// (which signs logout tokens: the full configuration, key source included).
async fn revoke_all<F: Fn(&str) -> Option<String>>(
    vars: &Vars<F>,
    user: &UserRecord,
    cause: RevocationCause,
) -> CmdResult {
    let config = vars.config().map_err(config_err)?;
    let services = shared::Services::from_config(config).await.map_err(|e| e.to_string())?;
    let service = services.logout().map_err(|e| e.to_string())?;
    let summary = service.revoke_all(&user.sub, cause).await.map_err(store_err)?;
    println!(
        "every session of {} ended ({} session(s)); logout deliveries: {}",
        user.username,
        summary.sessions_ended.len(),
        serde_json::to_string(&summary.deliveries).map_err(|e| e.to_string())?
    );
    Ok(())
}

async fn existing_user(store: &DynamoStore, username: &str) -> Result<UserRecord, String> {
    use shared::store::UserRead;
    store.user(username).await.map_err(store_err)?.ok_or_else(|| format!("no user {username}"))
}

async fn set_disabled(store: &DynamoStore, username: &str, disabled: bool) -> Result<UserRecord, String> {
    let user = UserRecord { disabled, ..existing_user(store, username).await? };
    store.replace_user(&user).await.map_err(store_err)?;
    println!("user {username} {}", if disabled { "disabled" } else { "enabled" });
    Ok(user)
}

fn keys_generate(source: &KeySourceConfig, alg: SigningAlgorithm, force: bool, if_missing: bool) -> CmdResult {
    let KeySourceConfig::File(path) = source else {
        return Err("keys generate writes a key file; in AWS the rotate-keys function keeps the secret".into());
    };
    if path.exists() {
        if if_missing {
            return add_missing_algorithms(path, alg);
        }
        if !force {
            return Err(format!("{} exists; --force replaces it (its tokens stop verifying)", path.display()));
        }
    }
    let document = KeySetDocument::generate_for(alg).map_err(|e| e.to_string())?;
    // Prove the document loads before anything relies on it.
    KeySet::from_document(&document).map_err(|e| e.to_string())?;
    write_private_file(path, &serde_json::to_vec_pretty(&document).map_err(|e| e.to_string())?)?;
    let kids: Vec<String> = document.keys.iter().map(|k| format!("{} {}", k.alg.as_str(), k.kid)).collect();
    println!("key set written to {} ({})", path.display(), kids.join(", "));
    Ok(())
}

/// A key file made before an algorithm was required (RS256 beside ES256) gets an active
/// key of it; its other keys are kept, so issued tokens still verify.
fn add_missing_algorithms(path: &Path, default: SigningAlgorithm) -> CmdResult {
    let text = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut document: KeySetDocument =
        serde_json::from_slice(&text).map_err(|e| format!("{}: not a key set: {e}", path.display()))?;
    let held = document.algorithms();
    let missing: Vec<SigningAlgorithm> =
        SigningAlgorithm::key_set_algorithms(default).into_iter().filter(|alg| !held.contains(alg)).collect();
    if missing.is_empty() {
        println!("key set {} already exists", path.display());
        return Ok(());
    }
    for alg in &missing {
        document.keys.push(generate_key(*alg).map_err(|e| e.to_string())?);
    }
    KeySet::from_document(&document).map_err(|e| e.to_string())?;
    write_private_file(path, &serde_json::to_vec_pretty(&document).map_err(|e| e.to_string())?)?;
    let added: Vec<&str> = missing.iter().map(|alg| alg.as_str()).collect();
    println!("key set {}: added an active key of {}", path.display(), added.join(", "));
    Ok(())
}

/// Key files hold private keys: created with mode 0600 before any byte is written.
fn write_private_file(path: &Path, bytes: &[u8]) -> CmdResult {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    file.write_all(bytes).map_err(|e| format!("{}: {e}", path.display()))
}
