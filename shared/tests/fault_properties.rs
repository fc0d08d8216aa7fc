//! The services under store faults, property-based (issue #10, "Fault injection").
//!
//! Each case logs a user in at two clients (one RP answering, one down), then runs a
//! random sequence of refreshes (some concurrent), revocations, logouts, a revoke-all and
//! logout-retry runs, while the store takes a random schedule of faults, one per call:
//! outages (nothing happened), lost answers (it happened, the caller saw an error),
//! transaction conflicts and lost conditions. For any schedule:
//!
//! 1. a token, family or session whose revocation was confirmed (the call answered
//!    success) is never reported active, never allowed, and never rotates again;
//! 2. a refresh never leaves two live successors: at most one token handed out can
//!    still advance its family;
//! 3. every RP of an ended session ends delivered, pending or failed, never in nothing;
//! 4. nothing answers `active: true` or allows on an error: a check that met a fault
//!    answers inactive, deny or an error.
//!
//! Properties 1 and 4 are checked after every step, with the faults still on; 2 and 3
//! at the end, without faults (2 in copies of the store, one per token).
//!
//! `FAULT_CASES` sets the number of cases (default 64; `make fuzz` runs more).

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config as RunnerConfig, TestCaseError, TestRunner};
use shared::Services;
use shared::config::Config;
use shared::domain::{ClientRecord, GrantType, UserRecord};
use shared::ids::{FamilyId, Subject};
use shared::keys::KeyRing;
use shared::secrets::{PasswordHashString, SecretString};
use shared::store::{ClientAdmin, FamilyRead, SessionRead, UserAdmin};
use shared::testing::faults::{Fault, Scheduled};
use shared::testing::kit::{self, form_as};
use shared::testing::memory::MemoryStore;
use shared::testing::rp::TestRp;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

const PASSWORD: &str = "correct horse battery";
const AUDIENCE: &str = "https://api.example.com";
/// The client whose RP answers, and the one whose RP is down.
const CLIENTS: [&str; 2] = ["a", "b"];

#[derive(Clone, Debug)]
enum Op {
    Refresh(usize),
    /// The same refresh token twice at once (a retry racing the original).
    ConcurrentRefresh(usize),
    RevokeAccess(usize),
    RevokeRefresh(usize),
    Logout(usize),
    RevokeAll,
    RetryRun,
}

fn fault() -> impl Strategy<Value = Fault> {
    prop_oneof![
        10 => Just(Fault::None),
        3 => Just(Fault::Unavailable),
        3 => Just(Fault::LostAnswer),
        2 => Just(Fault::TransactionConflict),
        1 => Just(Fault::ConditionFailed { with_item: true }),
        1 => Just(Fault::ConditionFailed { with_item: false }),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => any::<usize>().prop_map(Op::Refresh),
        2 => any::<usize>().prop_map(Op::ConcurrentRefresh),
        2 => any::<usize>().prop_map(Op::RevokeAccess),
        2 => any::<usize>().prop_map(Op::RevokeRefresh),
        2 => any::<usize>().prop_map(Op::Logout),
        1 => Just(Op::RevokeAll),
        1 => Just(Op::RetryRun),
    ]
}

/// What stays the same across cases: keys (RSA generation is slow), configuration, the
/// user's password hash (argon2 is slow), and the two RPs.
struct Fixture {
    keys: Arc<KeyRing>,
    config: Config,
    password_hash: PasswordHashString,
    rp_ok: TestRp,
    rp_down: TestRp,
}

#[derive(Clone, Debug)]
struct Access {
    token: String,
    client: &'static str,
    jti: String,
    fid: String,
    sid: String,
}

#[derive(Clone, Debug)]
struct Refresh {
    token: String,
    client: &'static str,
    fid: String,
    sid: String,
}

/// What the case has seen confirmed, and everything it was handed.
#[derive(Default)]
struct Model {
    access: Vec<Access>,
    refresh: Vec<Refresh>,
    revoked_jtis: BTreeSet<String>,
    revoked_fids: BTreeSet<String>,
    revoked_sids: BTreeSet<String>,
    subject_revoked: bool,
    /// Each session and the client (RP) it was opened at.
    sessions: BTreeMap<String, &'static str>,
}

impl Model {
    fn access_revoked(&self, a: &Access) -> bool {
        self.subject_revoked
            || self.revoked_jtis.contains(&a.jti)
            || self.revoked_fids.contains(&a.fid)
            || self.revoked_sids.contains(&a.sid)
    }

    fn family_revoked(&self, r: &Refresh) -> bool {
        self.subject_revoked || self.revoked_fids.contains(&r.fid) || self.revoked_sids.contains(&r.sid)
    }

    fn pick<T: Clone>(list: &[T], i: usize) -> Option<T> {
        (!list.is_empty()).then(|| list[i % list.len()].clone())
    }
}

struct World<'f> {
    fixture: &'f Fixture,
    store: Arc<MemoryStore>,
    faulty: Arc<Scheduled<MemoryStore>>,
    services: Services,
    sub: Subject,
    model: Model,
}

fn fail(message: String) -> TestCaseError {
    TestCaseError::fail(message)
}

/// The claims of one of our JWTs, read without verifying (the services verify).
fn claims(token: &str) -> serde_json::Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

impl<'f> World<'f> {
    async fn new(fixture: &'f Fixture) -> Self {
        let store = Arc::new(MemoryStore::new());
        for (id, rp) in CLIENTS.iter().zip([&fixture.rp_ok, &fixture.rp_down]) {
            let client = ClientRecord {
                dpop_bound_access_tokens: false,
                audience: Some(AUDIENCE.into()),
                backchannel_logout_uri: Some(rp.uri()),
                ..kit::client(id, &[GrantType::Password, GrantType::RefreshToken], "openid read")
            };
            store.put_client(&client).await.expect("client");
        }
        let rs = ClientRecord { may_introspect: true, ..kit::client("rs", &[GrantType::ClientCredentials], "") };
        let admin = ClientRecord { admin: true, ..kit::client("admin", &[GrantType::ClientCredentials], "") };
        for client in [rs, admin] {
            store.put_client(&client).await.expect("client");
        }
        let sub = Subject::random();
        let user = UserRecord {
            username: "alice".into(),
            sub: sub.clone(),
            password_hash: fixture.password_hash.clone(),
            disabled: false,
        };
        store.create_user(&user).await.expect("user");
        let faulty = Arc::new(Scheduled::scheduled(store.clone()));
        let services = Services::new(fixture.config.clone(), fixture.keys.clone(), faulty.clone());
        let mut world = Self { fixture, store, faulty, services, sub, model: Model::default() };
        for client in CLIENTS {
            let body = format!("grant_type=password&username=alice&password={PASSWORD}&scope=openid+read");
            let reply = world.services.token_issuer().token(&form_as(client, &body)).await.expect("login");
            world.remember(client, &reply.access_token, reply.refresh_token.as_deref());
        }
        world
    }

    fn remember(&mut self, client: &'static str, access: &str, refresh: Option<&str>) {
        let c = claims(access);
        let field = |name: &str| c[name].as_str().expect("a claim of a user token").to_string();
        let (fid, sid) = (field("fid"), field("sid"));
        self.model.sessions.insert(sid.clone(), client);
        self.model.access.push(Access {
            token: access.into(),
            client,
            jti: field("jti"),
            fid: fid.clone(),
            sid: sid.clone(),
        });
        if let Some(refresh) = refresh {
            self.model.refresh.push(Refresh { token: refresh.into(), client, fid, sid });
        }
    }

    async fn refresh(&self, r: &Refresh) -> Option<shared::grants::TokenResponse> {
        let body = format!("grant_type=refresh_token&refresh_token={}", r.token);
        self.services.token_issuer().token(&form_as(r.client, &body)).await.ok()
    }

    /// Property 1 for a refresh that succeeded: its family was not known to be revoked.
    fn check_rotation(&self, r: &Refresh) -> Result<(), TestCaseError> {
        if self.model.family_revoked(r) {
            return Err(fail(format!("a revoked family rotated: {r:?}")));
        }
        Ok(())
    }

    async fn step(&mut self, op: &Op) -> Result<(), TestCaseError> {
        match *op {
            Op::Refresh(i) => {
                let Some(r) = Model::pick(&self.model.refresh, i) else { return Ok(()) };
                if let Some(reply) = self.refresh(&r).await {
                    self.check_rotation(&r)?;
                    self.remember(r.client, &reply.access_token, reply.refresh_token.as_deref());
                }
            }
            Op::ConcurrentRefresh(i) => {
                let Some(r) = Model::pick(&self.model.refresh, i) else { return Ok(()) };
                let (first, second) = tokio::join!(self.refresh(&r), self.refresh(&r));
                for reply in [first, second].into_iter().flatten() {
                    self.check_rotation(&r)?;
                    self.remember(r.client, &reply.access_token, reply.refresh_token.as_deref());
                }
            }
            Op::RevokeAccess(i) => {
                let Some(a) = Model::pick(&self.model.access, i) else { return Ok(()) };
                let body = format!("token={}&token_type_hint=access_token", a.token);
                if self.services.revoker().revoke(&form_as(a.client, &body)).await.is_ok() {
                    self.model.revoked_jtis.insert(a.jti);
                }
            }
            Op::RevokeRefresh(i) => {
                let Some(r) = Model::pick(&self.model.refresh, i) else { return Ok(()) };
                let body = format!("token={}&token_type_hint=refresh_token", r.token);
                if self.services.revoker().revoke(&form_as(r.client, &body)).await.is_ok() {
                    self.model.revoked_fids.insert(r.fid);
                }
            }
            Op::Logout(i) => {
                let Some(r) = Model::pick(&self.model.refresh, i) else { return Ok(()) };
                let logout = self.services.logout().expect("logout service");
                let body = format!("refresh_token={}", r.token);
                if let Ok(summary) = logout.logout(&form_as(r.client, &body)).await {
                    self.check_summary(&summary)?;
                    self.model.revoked_sids.extend(summary.sessions_ended.iter().cloned());
                }
            }
            Op::RevokeAll => {
                let logout = self.services.logout().expect("logout service");
                let body = format!("sub={}", self.sub);
                if let Ok(summary) = logout.logout(&form_as("admin", &body)).await {
                    self.check_summary(&summary)?;
                    self.model.subject_revoked = true;
                    self.model.revoked_sids.extend(summary.sessions_ended.iter().cloned());
                }
            }
            Op::RetryRun => {
                let logout = self.services.logout().expect("logout service");
                let _ = logout.retry_due(std::time::Instant::now() + Duration::from_secs(2)).await;
            }
        }
        Ok(())
    }

    /// Property 3 as the caller sees it: every RP of every session the call ended is in
    /// its answer, delivered, pending or failed.
    fn check_summary(&self, summary: &shared::logout::LogoutSummary) -> Result<(), TestCaseError> {
        for sid in &summary.sessions_ended {
            let client = self.model.sessions.get(sid).copied().unwrap_or("?");
            let reported = summary.deliveries.iter().find(|d| &d.sid == sid && d.client_id == client);
            match reported.map(|d| d.status) {
                Some("delivered" | "pending" | "failed") => {}
                other => {
                    return Err(fail(format!("RP {client} of ended session {sid} reported {other:?}: {summary:?}")));
                }
            }
        }
        Ok(())
    }

    /// Properties 1 and 4, with the faults still on.
    async fn check_every_token(&self) -> Result<(), TestCaseError> {
        let introspector = self.services.introspector();
        let authorizer = self.services.authorizer().expect("EXPECTED_AUDIENCE is set");
        for a in &self.model.access {
            self.faulty.take_log();
            let answer = introspector.introspect(&form_as("rs", &format!("token={}", a.token))).await;
            let active = matches!(&answer, Ok(json) if json["active"] == true);
            self.check_answer(active, "introspection", self.model.access_revoked(a), &a.token)?;
            let allowed = authorizer
                .decide(&shared::verify::ResourceRequest::with_authorization(Some(&format!("Bearer {}", a.token))))
                .await
                .allow;
            self.check_answer(allowed, "the authorizer", self.model.access_revoked(a), &a.token)?;
        }
        for r in self.model.refresh.iter().filter(|r| self.model.family_revoked(r)) {
            self.faulty.take_log();
            let answer = introspector.introspect(&form_as("rs", &format!("token={}", r.token))).await;
            let active = matches!(&answer, Ok(json) if json["active"] == true);
            self.check_answer(active, "refresh-token introspection", true, &r.token)?;
            if self.refresh(r).await.is_some() {
                return Err(fail(format!("a revoked family rotated again: {r:?}")));
            }
        }
        Ok(())
    }

    fn check_answer(&self, positive: bool, what: &str, revoked: bool, token: &str) -> Result<(), TestCaseError> {
        let faults: Vec<_> = self.faulty.take_log().into_iter().filter(|(_, f)| *f != Fault::None).collect();
        if positive && revoked {
            return Err(fail(format!("{what} accepted a token whose revocation was confirmed: {token}")));
        }
        if positive && !faults.is_empty() {
            return Err(fail(format!("{what} accepted a token although the store failed: {faults:?}")));
        }
        Ok(())
    }

    /// Property 2, without faults, each token tried in its own copy of the store.
    async fn check_single_successor(&self) -> Result<(), TestCaseError> {
        let mut advancing: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let tokens: BTreeSet<&str> = self.model.refresh.iter().map(|r| r.token.as_str()).collect();
        for token in tokens {
            let r = self.model.refresh.iter().find(|r| r.token == token).expect("known");
            let copy = Arc::new(self.store.snapshot().expect("snapshot"));
            let fid = FamilyId::new(&r.fid);
            let before = copy.family(&fid).await.expect("read").map(|f| f.generation);
            let services = Services::new(self.fixture.config.clone(), self.fixture.keys.clone(), copy.clone());
            let body = format!("grant_type=refresh_token&refresh_token={}", r.token);
            if services.token_issuer().token(&form_as(r.client, &body)).await.is_err() {
                continue;
            }
            if self.model.family_revoked(r) {
                return Err(fail(format!("a revoked family rotates: {r:?}")));
            }
            let after = copy.family(&fid).await.expect("read").map(|f| f.generation);
            if after > before {
                advancing.entry(r.fid.clone()).or_default().push(r.token.clone());
            }
        }
        if let Some((fid, live)) = advancing.iter().find(|(_, live)| live.len() > 1) {
            return Err(fail(format!("family {fid} has {} live successors: {live:?}", live.len())));
        }
        Ok(())
    }

    /// Property 3 at rest, without faults: every session that ended (by any call, even
    /// one that answered an error) has its RP told, or a delivery on record.
    async fn check_every_rp(&self) -> Result<(), TestCaseError> {
        let records = self.store.deliveries().expect("deliveries");
        let told = self.fixture.rp_ok.sids();
        for (sid, client) in &self.model.sessions {
            let ended = self.store.session(&shared::ids::Sid::new(sid)).await.expect("read").is_none();
            if !ended {
                continue;
            }
            let delivered = *client == CLIENTS[0] && told.contains(sid);
            let recorded = records.iter().any(|d| d.sid.as_str() == sid && d.client_id.as_str() == *client);
            if !delivered && !recorded {
                return Err(fail(format!("RP {client} of ended session {sid} was neither told nor recorded")));
            }
        }
        Ok(())
    }
}

async fn run_case(fixture: &Fixture, schedule: Vec<Fault>, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mut world = World::new(fixture).await;
    world.faulty.set_schedule(schedule);
    for op in &ops {
        world.step(op).await?;
        world.check_every_token().await?;
    }
    world.faulty.set_schedule([]);
    world.check_single_successor().await?;
    world.check_every_rp().await
}

#[test]
fn every_fault_schedule_keeps_revocations_single_successors_and_rp_outcomes() {
    let cases: u32 = std::env::var("FAULT_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(64);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let fixture = runtime.block_on(async {
        let config = Config::from_lookup(|name| match name {
            "TABLE_NAME" => Some("unused".into()),
            "ISSUER" => Some(kit::ISSUER.into()),
            "KEY_SOURCE" => Some("file:unused".into()),
            "EXPECTED_AUDIENCE" => Some(AUDIENCE.into()),
            // Short in-line logout attempts: the down RP costs a fraction of a second.
            "LOGOUT_DEADLINE_MS" => Some("300".into()),
            "LOGOUT_RP_TIMEOUT_MS" => Some("200".into()),
            "LOGOUT_RETRY_BASE_SECONDS" => Some("1".into()),
            _ => None,
        })
        .expect("configuration");
        Fixture {
            keys: Arc::new(KeyRing::ephemeral(shared::domain::SigningAlgorithm::Es256).expect("keys")),
            config,
            password_hash: PasswordHashString::create(&SecretString::new(PASSWORD)).expect("hash"),
            rp_ok: TestRp::start(Duration::ZERO, "200 OK").await,
            rp_down: TestRp::start(Duration::ZERO, "503 Service Unavailable").await,
        }
    });
    let config = RunnerConfig { cases, failure_persistence: None, ..RunnerConfig::default() };
    let started = std::time::Instant::now();
    let mut runner = TestRunner::new(config);
    let result = runner.run(&(vec(fault(), 0..80), vec(op(), 1..10)), |(schedule, ops)| {
        runtime.block_on(run_case(&fixture, schedule, ops))
    });
    println!("fault schedules: {cases} cases in {:.1} s", started.elapsed().as_secs_f64());
    if let Err(err) = result {
        panic!("{err}");
    }
}
