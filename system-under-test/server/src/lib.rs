//! The district platform (the in-process stack) as an HTTP service, for engineers who test the
//! stack deployed rather than linked into the harness: `twin serve` runs it.
//!
//! - `POST /{module}/{kind}` carries one command of `baoan-api`: the body is the command's fields
//!   as a JSON object (no `type`: the path names the command), the caller is the bearer token's
//!   actor, and the time is the server's (milliseconds since it started). The answer is
//!   `{"outcomes": [...]}`, or a JSON error naming what was wrong and where. `POST /grid/reports`
//!   is `grid/submit_report` under a friendlier name.
//! - `GET /health`, `GET /metrics` (Prometheus text), `GET /openapi.json` (OpenAPI 3.1).
//! - Once a second the server lets the stack do its time-driven work (escalations).
//! - A gateway token (see `tokens`) may call for another person with `X-Act-As: role:person`:
//!   that is how the twin's harness drives a whole scenario, thousands of inspectors, cameras
//!   and departments, through one connection.
//! - With `--bus nats://…`, sightings go through a NATS JetStream stream to matcher workers
//!   (`bus`): answered 202 once stored, carried by a worker.
//! - `twin serve --clock caller` is for replaying a scenario: the server's time is then the
//!   caller's — each command's `X-Sent-At` (milliseconds) — and its time-driven work runs only
//!   when a gateway posts `POST /clock/advance {"now": ms}`, whose answer carries the outcomes.
//!   The same scenario and seed then give the same outcomes over HTTP as in process.
//!
//! What the stack was told is journaled in one SQLite file (the default) or in PostgreSQL
//! (`store`): a restart replays the journal, so nothing acknowledged is lost. Tests and quick
//! trials may keep it in memory only.

pub mod body;
pub mod bus;
pub mod commands;
pub mod conn;
pub mod error;
pub mod faults;
pub mod metrics;
pub mod openapi;
pub mod store;
pub mod tokens;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use baoan_api::http::{self, Outcomes};
use baoan_api::{Actor, Command, Envelope, Millis, Module, Outcome, Stack};
use baoan_stack::InProcessStack;
use serde_json::json;

pub use bus::{Bus, BusConfig, BusError};
pub use conn::ConnectionLimits;
pub use error::HttpError;
pub use faults::{Faults, FaultsError};
pub use store::{Database, StoreError};
pub use tokens::{Tokens, TokensError};

// The wire contract (paths, headers, bodies, answers) is the api's, shared with the clients.
pub use baoan_api::http::{
    ACT_AS, ADMIN_RESTART, ADMIN_RESTART_MAX_DOWN_MS, AWAIT_OUTCOMES, CLOCK_ADVANCE, SENT_AT,
};

/// Where `twin serve` listens unless told otherwise: this machine only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// The largest body taken unless told otherwise: 16 MiB, for block-data batches of records.
pub const DEFAULT_MAX_BODY: usize = baoan_api::http::DEFAULT_MAX_BODY;

/// How often the stack's time-driven work runs.
pub const CLOCK_TICK: Duration = Duration::from_secs(1);

/// Where a served stack's state lives unless told otherwise: one SQLite file in the directory
/// the server is started from.
pub const DEFAULT_DATABASE: &str = "sqlite://twin-stack.sqlite";

/// Where the server's time comes from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ClockMode {
    /// Its own: milliseconds since it started (resumed after a restart). Production.
    #[default]
    Wall,
    /// The caller's: `X-Sent-At` on each command and `POST /clock/advance` (`twin serve --clock
    /// caller`). For driving the stack with a scenario's simulated time.
    Caller,
}

impl ClockMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ClockMode::Wall => "wall",
            ClockMode::Caller => "caller",
        }
    }
}

/// Who a call is made by, and when (the caller's time, if the server takes it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    pub actor: Actor,
    /// `X-Sent-At`, on a server with a caller's clock; `None`: the server's time.
    pub sent_at: Option<Millis>,
    /// A gateway's token (it may act as others and move the caller's clock).
    pub gateway: bool,
}

impl Caller {
    /// A caller at the server's time.
    pub fn now(actor: Actor) -> Caller {
        Caller {
            actor,
            sent_at: None,
            gateway: false,
        }
    }
}

/// How to serve.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub tokens: Tokens,
    /// Bodies larger than this are refused with 413.
    pub max_body: usize,
    /// `sqlite://PATH` or `postgres://…`; `None` keeps the stack in memory only (lost on stop).
    pub database: Option<String>,
    /// Faults to inject on the HTTP path (`twin serve --faults FILE`), timed from the start.
    pub faults: Option<Arc<Faults>>,
    /// Where the server's time comes from (`twin serve --clock`).
    pub clock: ClockMode,
    /// Sightings through NATS JetStream (`twin serve --bus`).
    pub bus: Option<BusConfig>,
    /// Timeouts and the cap on connections (`conn`).
    pub connections: ConnectionLimits,
    /// Where `/metrics` (and `/health`) are served besides the main address, and whether the
    /// main address's `/metrics` asks for a token.
    pub metrics: MetricsAccess,
}

impl Config {
    /// A server on 127.0.0.1 with a port of its own, the stack in memory, no faults, no bus,
    /// the wall clock and the default limits: what tests and examples start from, changing a
    /// field or two with `..Config::local(tokens)`.
    pub fn local(tokens: Tokens) -> Config {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            tokens,
            max_body: DEFAULT_MAX_BODY,
            database: None,
            faults: None,
            clock: ClockMode::Wall,
            bus: None,
            connections: ConnectionLimits::default(),
            metrics: MetricsAccess::default(),
        }
    }
}

/// How Prometheus reaches `/metrics`. By default it is on the main address, open to all, as
/// `twin soak` expects; a deployment may also serve it on an address of its own (an internal
/// interface, no token) and ask a token of callers on the main address.
#[derive(Debug, Clone, Default)]
pub struct MetricsAccess {
    /// `--metrics-listen IP:PORT`: `/metrics` and `/health` there too, without a token.
    pub listen: Option<SocketAddr>,
    /// `--metrics-token TOKEN`: `GET /metrics` on the main address needs `Authorization:
    /// Bearer TOKEN` (401 otherwise).
    pub token: Option<String>,
}

/// What a start-up replay of the journal did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Replayed {
    pub commands: u64,
    pub advances: u64,
    /// The server's clock resumes here (milliseconds), so times never go backwards.
    pub resumed_at: Millis,
}

/// What outlives one life of the server's state (a restart or a recovery makes a new state):
/// the storage outages it rode out, for `/health`, `/metrics` and the log.
#[derive(Debug, Default)]
pub struct Lives {
    /// The journal failed (its database stopped answering) this many times.
    pub outages: AtomicU64,
    /// ... and the server rebuilt the stack from the journal and served again this many times.
    pub recoveries: AtomicU64,
    /// Waiting for the database to answer again, or replaying it.
    pub recovering: AtomicBool,
    /// The last outage, from the journal's failure to serving again (milliseconds).
    pub last_outage_ms: AtomicU64,
    /// The last recovery's reopening and replay of the journal, from the database's first
    /// answer to serving again (milliseconds).
    pub last_replay_ms: AtomicU64,
    /// Connections accepted, open, turned away and timed out.
    pub connections: Arc<conn::ConnectionCounts>,
}

/// What a restart or a recovery carries from one state to the next.
struct CarriedOver {
    origin: Instant,
    mode: ClockMode,
    faults: Option<Arc<Faults>>,
    bus: Option<Arc<Bus>>,
    metrics_token: Option<String>,
}

impl CarriedOver {
    /// Gives `state` (new, not yet serving) what the last life had.
    fn onto(self, state: &Arc<AppState>) {
        let _ = state.plan_origin.set(self.origin);
        if let Some(plan) = self.faults {
            let _ = state.inject(plan);
        }
        if self.mode == ClockMode::Caller {
            state.use_caller_clock();
        }
        if let Some(bus) = self.bus {
            let _ = state.bus.set(bus);
        }
        if let Some(token) = self.metrics_token {
            let _ = state.metrics_token.set(token);
        }
    }
}

/// A call carried by the stack: its answer, to be given once the journal entry (if the stack is
/// journaled) is committed.
pub type Carried = (Result<Vec<Outcome>, HttpError>, Option<store::Committed>);

/// The stack and the next journal sequence number, under one lock: entries are numbered and
/// queued in the order the stack carries them.
struct Core {
    stack: InProcessStack,
    next_seq: i64,
}

/// What the handlers share: the stack behind a lock, who may call, the clock and the counters.
///
/// The lock is a std `Mutex`, never held across an `await`. A small call is carried on the async
/// worker when the lock is free (`try_carry`: a grid report takes microseconds, less than a
/// hand-off to another thread); a large batch, or any call while the lock is held, goes to a
/// blocking task, so a long batch keeps one blocking thread busy, not the async workers.
pub struct AppState {
    stack: Mutex<Core>,
    tokens: Tokens,
    started: Instant,
    /// The clock's reading at `started` (the last journaled time after a restart).
    base_ms: Millis,
    journal: Option<store::Journal>,
    /// "memory", or the database's URL without its password.
    storage: String,
    max_body: usize,
    metrics: metrics::Metrics,
    /// The audit log's length after the last call, so `/health` and `/metrics` never wait for
    /// the stack's lock.
    audit_entries: AtomicU64,
    openapi: String,
    /// The fault plan, if the server was given one (set once, before serving).
    faults: std::sync::OnceLock<Arc<Faults>>,
    /// Set if the server takes its time from its callers: the latest time one gave.
    caller_clock: std::sync::OnceLock<AtomicU64>,
    /// The database's URL (password and all: never shown), for a planned restart to reopen.
    database_url: Option<String>,
    /// The journal's first sequence number in this life of the server.
    first_seq: i64,
    /// Where the fault plan's clock started, if before this state (kept across a restart).
    plan_origin: std::sync::OnceLock<Instant>,
    /// Sightings go through this bus, if the server has one.
    bus: std::sync::OnceLock<Arc<Bus>>,
    /// A restart asked for at `POST /admin/restart`: how long to stay down.
    restart_request: Mutex<Option<Duration>>,
    restart_signal: tokio::sync::Notify,
    /// The embedding dimension the matcher takes, for `/health`.
    matcher_dim: usize,
    /// Outages, recoveries and connections over every life of this server.
    lives: Arc<Lives>,
    /// If set, `GET /metrics` on the main address needs `Authorization: Bearer` this token.
    metrics_token: std::sync::OnceLock<String>,
    /// With a caller's clock: the audit log's length and the stack's next time-driven work
    /// after the last call or tick carried, for `X-Next-Due`.
    next_due: Mutex<(u64, Option<Millis>)>,
}

impl AppState {
    /// A server whose stack lives in memory only.
    pub fn new(stack: InProcessStack, tokens: Tokens, max_body: usize) -> Arc<AppState> {
        Self::build(
            stack,
            1,
            0,
            None,
            "memory".into(),
            (tokens, max_body),
            Arc::default(),
        )
    }

    /// A server whose stack is journaled in the database at `url`: the journal is replayed into
    /// an empty stack first. Call in a tokio runtime (the journal's writer runs on it).
    pub async fn open(
        url: &str,
        tokens: Tokens,
        max_body: usize,
    ) -> Result<(Arc<AppState>, Replayed), StoreError> {
        Self::open_with(url, tokens, max_body, Arc::default()).await
    }

    /// `open`, for a new life of a server whose outage and connection counts go on in `lives`.
    async fn open_with(
        url: &str,
        tokens: Tokens,
        max_body: usize,
        lives: Arc<Lives>,
    ) -> Result<(Arc<AppState>, Replayed), StoreError> {
        let db = Database::open(url).await?;
        let mut stack = InProcessStack::new();
        let mut replayed = Replayed::default();
        let progress_every = 1_000_000u64;
        let (last_seq, last_at) = db
            .replay(url, |seq, entry| {
                match entry {
                    store::Entry::Command(envelope) => {
                        // Refused calls were journaled too: they change nothing but the audit
                        // log, which the replay rebuilds the same way.
                        let _ = stack.send(&envelope);
                        replayed.commands += 1;
                    }
                    store::Entry::Advance(at) => {
                        stack.advance(at);
                        replayed.advances += 1;
                    }
                }
                if (seq as u64).is_multiple_of(progress_every) {
                    eprintln!("twin: replaying the journal: {seq} entries");
                }
            })
            .await?;
        replayed.resumed_at = last_at;
        let journal = store::Journal::start(db);
        let state = Self::build(
            stack,
            last_seq + 1,
            last_at,
            Some((journal, url.to_string())),
            store::redact(url),
            (tokens, max_body),
            lives,
        );
        Ok((state, replayed))
    }

    fn build(
        stack: InProcessStack,
        next_seq: i64,
        base_ms: Millis,
        journal: Option<(store::Journal, String)>,
        storage: String,
        (tokens, max_body): (Tokens, usize),
        lives: Arc<Lives>,
    ) -> Arc<AppState> {
        let (journal, database_url) = journal.unzip();
        let audit_entries = AtomicU64::new(stack.audit().len() as u64);
        let next_due = Mutex::new((stack.audit().len() as u64, stack.next_due()));
        let matcher_dim = stack.matcher.dim();
        Arc::new(AppState {
            stack: Mutex::new(Core { stack, next_seq }),
            tokens,
            started: Instant::now(),
            base_ms,
            journal,
            storage,
            max_body,
            metrics: metrics::Metrics::default(),
            audit_entries,
            openapi: openapi::document().to_string(),
            faults: std::sync::OnceLock::new(),
            caller_clock: std::sync::OnceLock::new(),
            database_url,
            first_seq: next_seq,
            plan_origin: std::sync::OnceLock::new(),
            bus: std::sync::OnceLock::new(),
            restart_request: Mutex::new(None),
            restart_signal: tokio::sync::Notify::new(),
            matcher_dim,
            lives,
            metrics_token: std::sync::OnceLock::new(),
            next_due,
        })
    }

    /// Notes, under the stack's lock, when the stack next has time-driven work (a caller's
    /// clock only: a server on its own clock does that work itself).
    fn note_next_due(&self, stack: &InProcessStack) {
        if self.caller_clock.get().is_some()
            && let Ok(mut next) = self.next_due.lock()
        {
            *next = (stack.audit().len() as u64, stack.next_due());
        }
    }

    /// `X-Next-Due` on an answer of a server with a caller's clock.
    fn stamp_next_due(&self, response: &mut Response) {
        if self.caller_clock.get().is_none() {
            return;
        }
        let Ok(next) = self.next_due.lock().map(|n| *n) else {
            return;
        };
        if let Ok(value) = HeaderValue::from_str(&http::next_due_value(next.0, next.1)) {
            response.headers_mut().insert(http::NEXT_DUE, value);
        }
    }

    /// Asks the serving loop to restart now, down for `down`; refused for a stack in memory,
    /// which a restart would empty.
    pub fn request_restart(&self, down: Duration) -> Result<(), HttpError> {
        if self.database_url.is_none() {
            return Err(HttpError::new(
                StatusCode::CONFLICT,
                "no_storage",
                "admin/restart: this server keeps its stack in memory only, so a restart would \
                 lose everything; serve it with --database sqlite://PATH or postgres://…",
            ));
        }
        *self
            .restart_request
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(down);
        self.restart_signal.notify_one();
        Ok(())
    }

    /// The bus sightings go through, if any.
    pub fn bus(&self) -> Option<&Arc<Bus>> {
        self.bus.get()
    }

    /// Connects to the bus (and makes its stream) before serving; a second bus is ignored.
    pub async fn connect_bus(&self, config: BusConfig) -> Result<(), BusError> {
        let bus = Bus::connect(config).await?;
        let _ = self.bus.set(Arc::new(bus));
        Ok(())
    }

    /// Time on the fault plan's clock: since the server first started, across planned restarts.
    /// The time of a call: the one its caller gave, on a server with a caller's clock (which
    /// moves to it, never back), else the server's now.
    fn time_of(&self, given: Option<Millis>) -> Millis {
        match (given, self.caller_clock.get()) {
            (Some(at), Some(clock)) => {
                clock.fetch_max(at, Ordering::AcqRel);
                at
            }
            _ => self.now_ms(),
        }
    }

    pub fn plan_elapsed(&self) -> Duration {
        self.plan_origin().elapsed()
    }

    fn plan_origin(&self) -> Instant {
        self.plan_origin.get().copied().unwrap_or(self.started)
    }

    /// Every journal entry queued in this life of the server is committed (or the journal
    /// failed, and nothing more will be).
    fn journal_settled(&self) -> bool {
        let Some(journal) = &self.journal else {
            return true;
        };
        let queued = match self.stack.lock() {
            Ok(core) => core.next_seq - self.first_seq,
            Err(_) => return true,
        };
        journal.failed() || journal.committed().0 as i64 >= queued
    }

    /// A planned restart: waits (up to a minute) until the journal has committed everything,
    /// stays down for `downtime`, then opens the database again and replays it into a new
    /// state, as a new process would; the fault plan, its clock and the clock mode carry over.
    async fn restarted(
        self: Arc<Self>,
        downtime: Duration,
    ) -> Result<(Arc<AppState>, Replayed), StoreError> {
        let url = self
            .database_url
            .clone()
            .expect("a restart is planned only for a server with a database");
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.journal_settled() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let (tokens, max_body) = (self.tokens.clone(), self.max_body);
        let carried = self.carried_over();
        let lives = Arc::clone(&self.lives);
        drop(self);
        tokio::time::sleep(downtime).await;
        let (state, replayed) = AppState::open_with(&url, tokens, max_body, lives).await?;
        carried.onto(&state);
        Ok((state, replayed))
    }

    /// What a new life of the server takes from this one: the fault plan, its clock, the clock
    /// mode, the bus and the outage counts.
    fn carried_over(&self) -> CarriedOver {
        CarriedOver {
            origin: self.plan_origin(),
            mode: self.clock_mode(),
            faults: self.faults.get().cloned(),
            bus: self.bus.get().cloned(),
            metrics_token: self.metrics_token.get().cloned(),
        }
    }

    /// The journal failed (its database stopped answering): waits until the database answers
    /// again, then replays the journal into a new state, as a restart would. Meanwhile this
    /// state goes on answering 503, and `/health` says `recovering`. Retries every 0.1 s at
    /// first, backing off to at most 1 s, so the server serves again about a second after the
    /// database is back (plus the replay).
    async fn recovered(self: &Arc<Self>) -> (Arc<AppState>, Replayed) {
        let url = self
            .database_url
            .clone()
            .expect("only a journaled state can lose its journal");
        let lost = Instant::now();
        self.lives.outages.fetch_add(1, Ordering::Relaxed);
        self.lives.recovering.store(true, Ordering::Release);
        eprintln!(
            "twin: the journal's database ({}) stopped answering; calls are refused with 503 \
             until it answers again",
            self.storage
        );
        let mut wait = Duration::from_millis(100);
        let mut attempts = 0u64;
        loop {
            let tried = Instant::now();
            let lives = Arc::clone(&self.lives);
            match AppState::open_with(&url, self.tokens.clone(), self.max_body, lives).await {
                Ok((state, replayed)) => {
                    self.carried_over().onto(&state);
                    let lives = &state.lives;
                    let outage = lost.elapsed();
                    let replay = tried.elapsed();
                    lives.recoveries.fetch_add(1, Ordering::Relaxed);
                    lives
                        .last_outage_ms
                        .store(outage.as_millis() as u64, Ordering::Relaxed);
                    lives
                        .last_replay_ms
                        .store(replay.as_millis() as u64, Ordering::Relaxed);
                    lives.recovering.store(false, Ordering::Release);
                    eprintln!(
                        "twin: the database answers again: replayed {} calls and {} ticks in \
                         {:.1} s; serving again after an outage of {:.1} s",
                        replayed.commands,
                        replayed.advances,
                        replay.as_secs_f64(),
                        outage.as_secs_f64()
                    );
                    return (state, replayed);
                }
                Err(e) => {
                    attempts += 1;
                    if attempts == 1 || attempts.is_multiple_of(30) {
                        eprintln!(
                            "twin: still waiting for the database ({:.0} s, {attempts} tries): {e}",
                            lost.elapsed().as_secs_f64()
                        );
                    }
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(1));
                }
            }
        }
    }

    /// Resolves when this state's journal fails (never for a stack in memory).
    async fn journal_lost(&self) {
        match &self.journal {
            Some(journal) => journal.failure().await,
            None => std::future::pending().await,
        }
    }

    /// From now on the server's time is its callers' (`ClockMode::Caller`), resuming at the
    /// last journaled time. Set before serving; a second call changes nothing.
    pub fn use_caller_clock(&self) {
        let _ = self.caller_clock.set(AtomicU64::new(self.base_ms));
    }

    pub fn clock_mode(&self) -> ClockMode {
        if self.caller_clock.get().is_some() {
            ClockMode::Caller
        } else {
            ClockMode::Wall
        }
    }

    /// Milliseconds since the server started: the time of every command and of the stack's
    /// time-driven work. With a caller's clock, the latest time a caller gave.
    pub fn now_ms(&self) -> Millis {
        match self.caller_clock.get() {
            Some(t) => t.load(Ordering::Acquire),
            None => self.base_ms + self.started.elapsed().as_millis() as Millis,
        }
    }

    /// "memory", or the database the stack is journaled in (without its password).
    pub fn storage(&self) -> &str {
        &self.storage
    }

    /// Journal entries committed since start and the transactions that carried them.
    pub fn journal_committed(&self) -> Option<(u64, u64)> {
        self.journal.as_ref().map(|j| j.committed())
    }

    pub fn tokens(&self) -> &Tokens {
        &self.tokens
    }

    /// Injects the faults of `plan` from now on, its windows timed from the server's start.
    /// A plan is given once: a second one is refused and handed back.
    pub fn inject(&self, plan: Arc<Faults>) -> Result<(), Arc<Faults>> {
        self.faults.set(plan)
    }

    pub fn metrics(&self) -> &metrics::Metrics {
        &self.metrics
    }

    /// Runs `f` on the stack (tests read its audit log with this). Blocks while a call is being
    /// carried: not for async code.
    pub fn with_stack<R>(&self, f: impl FnOnce(&mut InProcessStack) -> R) -> Result<R, HttpError> {
        let mut core = self.lock()?;
        let r = f(&mut core.stack);
        self.audit_entries
            .store(core.stack.audit().len() as u64, Ordering::Relaxed);
        Ok(r)
    }

    /// Carries one command for the caller, at the caller's time if the server takes it (else
    /// the server's), and queues it for the journal; the answer must not be given before the
    /// returned receiver (if any) says it is committed. Blocking.
    pub fn carry(&self, caller: Caller, command: Command) -> Result<Carried, HttpError> {
        let core = self.lock()?;
        Ok(self.carry_locked(core, caller, command))
    }

    fn carry_locked(
        &self,
        mut core: MutexGuard<'_, Core>,
        caller: Caller,
        command: Command,
    ) -> Carried {
        if self.journal.as_ref().is_some_and(|j| j.failed()) {
            return (Err(storage_failed()), None);
        }
        // The time is read under the lock, so commands reach the stack in time order.
        let sent_at = self.time_of(caller.sent_at);
        let envelope = Envelope {
            actor: caller.actor,
            sent_at,
            command,
        };
        let result = core.stack.send(&envelope);
        self.note_next_due(&core.stack);
        let committed = self.journal.as_ref().map(|j| {
            let seq = core.next_seq;
            core.next_seq += 1;
            j.command(seq, &envelope)
        });
        self.audit_entries
            .store(core.stack.audit().len() as u64, Ordering::Relaxed);
        drop(core);
        (result.map_err(|e| HttpError::from_api(&e)), committed)
    }

    /// `carry`, if the stack's lock is free now (the command is taken); `None`, leaving the
    /// command where it was, if the lock is held.
    pub fn try_carry(
        &self,
        caller: Caller,
        command: &mut Option<Command>,
    ) -> Option<Result<Carried, HttpError>> {
        match self.stack.try_lock() {
            Ok(core) => {
                let command = command.take().expect("a command to carry");
                Some(Ok(self.carry_locked(core, caller, command)))
            }
            Err(std::sync::TryLockError::WouldBlock) => None,
            Err(std::sync::TryLockError::Poisoned(_)) => Some(Err(stack_failed())),
        }
    }

    /// Lets the stack do its time-driven work up to now; the number of outcomes. Blocking.
    pub fn advance(&self) -> Result<usize, HttpError> {
        let (outcomes, _) = self.advance_locked(self.lock()?, None);
        Ok(outcomes.len())
    }

    /// With a caller's clock: moves the clock to `now` (never back) and lets the stack do its
    /// time-driven work up to it; the outcomes, to be given once the journal (if any) has
    /// committed the tick. Blocking.
    pub fn advance_to(&self, now: Millis) -> Result<Carried, HttpError> {
        if self.caller_clock.get().is_none() {
            return Err(HttpError::new(
                StatusCode::CONFLICT,
                "wall_clock",
                "this server keeps its own clock and does its time-driven work itself; \
                 POST /clock/advance is only for a server started with `twin serve --clock \
                 caller`",
            ));
        }
        let (outcomes, committed) = self.advance_locked(self.lock()?, Some(now));
        Ok((Ok(outcomes), committed))
    }

    fn advance_locked(
        &self,
        mut core: MutexGuard<'_, Core>,
        to: Option<Millis>,
    ) -> (Vec<Outcome>, Option<store::Committed>) {
        let now = self.time_of(to);
        let outcomes = core.stack.advance(now);
        self.note_next_due(&core.stack);
        let committed = self.journal.as_ref().map(|journal| {
            let seq = core.next_seq;
            core.next_seq += 1;
            journal.advance(seq, now)
        });
        drop(core);
        self.metrics.add_advance_outcomes(outcomes.len() as u64);
        (outcomes, committed)
    }

    /// The server can take no more calls: the stack panicked or the journal failed.
    pub fn failed(&self) -> bool {
        self.stack.is_poisoned() || self.journal.as_ref().is_some_and(|j| j.failed())
    }

    fn lock(&self) -> Result<MutexGuard<'_, Core>, HttpError> {
        if self.journal.as_ref().is_some_and(|j| j.failed()) {
            return Err(storage_failed());
        }
        // A poisoned lock means the stack panicked half-way through a call: its state may break
        // the promise that a refused call changes nothing, so it takes no more calls.
        self.stack.lock().map_err(|_| stack_failed())
    }
}

pub(crate) fn storage_failed() -> HttpError {
    HttpError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "storage_failed",
        "the journal could not commit, so this call is not acknowledged; the server takes no \
         calls until the journal's database answers again and the stack is rebuilt from what \
         was committed (GET /health says recovering meanwhile): retry later",
    )
}

pub(crate) fn stack_failed() -> HttpError {
    HttpError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "stack_failed",
        "the stack failed on a call (a bug: see the server's log) and takes no more calls; \
         restart the server",
    )
}

/// The routes (see the crate's documentation), with bodies limited to the state's `max_body`.
pub fn router(state: Arc<AppState>) -> Router {
    let max_body = state.max_body;
    Router::new()
        .route(http::HEALTH, get(health))
        .route(http::METRICS, get(metrics_text))
        .route(http::OPENAPI, get(openapi_json))
        .route(CLOCK_ADVANCE, post(clock_advance))
        .route(ADMIN_RESTART, post(admin_restart))
        .route(commands::REPORTS_ALIAS, post(report_alias))
        .route("/{module}/{kind}", post(command))
        .fallback(no_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(state)
}

/// `/metrics` and `/health` alone, for `--metrics-listen`: no token asked.
fn metrics_router(state: Arc<AppState>) -> Router {
    Router::new()
        .route(http::HEALTH, get(health))
        .route(http::METRICS, get(metrics_open))
        .fallback(no_route)
        .with_state(state)
}

async fn health(State(app): State<Arc<AppState>>) -> Response {
    let failed = app.failed();
    let recovering = failed && app.lives.recovering.load(Ordering::Acquire);
    let body = json!({
        "status": if recovering { "recovering" } else if failed { "failed" } else { "ok" },
        "uptime_s": app.started.elapsed().as_secs_f64(),
        "audit_entries": app.audit_entries.load(Ordering::Relaxed),
        "storage": app.storage,
        "journal_committed": app.journal_committed().map(|(entries, _)| entries),
        "clock": app.clock_mode().as_str(),
        "bus": app.bus().map(|b| json!({
            "stream": b.config().stream,
            "workers": b.config().workers,
            "published": b.counts().0,
            "carried": b.counts().1,
        })),
        "now_ms": app.now_ms(),
        "matcher_dim": app.matcher_dim,
        "max_body": app.max_body,
        "storage_outages": app.lives.outages.load(Ordering::Relaxed),
        "storage_recoveries": app.lives.recoveries.load(Ordering::Relaxed),
        "faults_active": app.faults.get().map(|f| {
            f.active(app.plan_elapsed())
                .map(|w| json!({
                    "module": w.module_name(),
                    "kind": w.kind.as_str(),
                    "until_s": w.end.as_secs_f64(),
                }))
                .collect::<Vec<_>>()
        }).unwrap_or_default(),
    });
    let status = if failed {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (status, axum::Json(body)).into_response()
}

/// `GET /metrics` on the main address: with `--metrics-token`, only for its bearer.
async fn metrics_text(State(app): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Some(token) = app.metrics_token.get() {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if !given.is_some_and(|g| tokens::same_secret(g, token)) {
            return HttpError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "GET /metrics: this server asks the metrics token (--metrics-token) as \
                 `Authorization: Bearer TOKEN`, or serves /metrics without one at its \
                 --metrics-listen address",
            )
            .into_response();
        }
    }
    metrics_open(State(app)).await
}

async fn metrics_open(State(app): State<Arc<AppState>>) -> Response {
    let mut text = app.metrics.render(
        app.audit_entries.load(Ordering::Relaxed) as usize,
        app.journal_committed(),
    );
    text.push_str(&app.lives.connections.render());
    if app.journal.is_some() {
        let lives = &app.lives;
        text.push_str(&format!(
            "# HELP baoan_storage_outages_total Times the journal's database stopped answering.\n\
             # TYPE baoan_storage_outages_total counter\n\
             baoan_storage_outages_total {}\n\
             # HELP baoan_storage_recoveries_total Times the server rebuilt the stack from the \
             journal once its database answered again, and served again.\n\
             # TYPE baoan_storage_recoveries_total counter\n\
             baoan_storage_recoveries_total {}\n\
             # HELP baoan_storage_recovering 1 while the server waits for the journal's database.\n\
             # TYPE baoan_storage_recovering gauge\n\
             baoan_storage_recovering {}\n\
             # HELP baoan_storage_last_outage_seconds The last outage, from the journal's failure \
             to serving again.\n\
             # TYPE baoan_storage_last_outage_seconds gauge\n\
             baoan_storage_last_outage_seconds {}\n\
             # HELP baoan_storage_last_replay_seconds The last recovery's replay, from the \
             database's first answer to serving again.\n\
             # TYPE baoan_storage_last_replay_seconds gauge\n\
             baoan_storage_last_replay_seconds {}\n",
            lives.outages.load(Ordering::Relaxed),
            lives.recoveries.load(Ordering::Relaxed),
            u8::from(lives.recovering.load(Ordering::Acquire)),
            lives.last_outage_ms.load(Ordering::Relaxed) as f64 / 1000.0,
            lives.last_replay_ms.load(Ordering::Relaxed) as f64 / 1000.0,
        ));
    }
    if let Some(bus) = app.bus() {
        let (published, carried) = bus.counts();
        text.push_str(&format!(
            "# HELP baoan_bus_published_total Sightings this server queued on the bus.\n\
             # TYPE baoan_bus_published_total counter\n\
             baoan_bus_published_total {published}\n\
             # HELP baoan_bus_carried_total Sightings this server's matcher workers carried.\n\
             # TYPE baoan_bus_carried_total counter\n\
             baoan_bus_carried_total {carried}\n"
        ));
    }
    if let Some(faults) = app.faults.get() {
        text.push_str(
            "# HELP baoan_faults_injected_total Calls a planned fault delayed or refused, by kind \
             (for kind=\"restart\": restarts done).\n\
             # TYPE baoan_faults_injected_total counter\n",
        );
        for (kind, n) in faults.injected() {
            text.push_str(&format!(
                "baoan_faults_injected_total{{kind=\"{}\"}} {n}\n",
                kind.as_str()
            ));
        }
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

async fn openapi_json(State(app): State<Arc<AppState>>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        app.openapi.clone(),
    )
        .into_response()
}

async fn report_alias(State(app): State<Arc<AppState>>, request: Request) -> Response {
    timed(&app, Module::Grid, "submit_report", request).await
}

async fn command(
    State(app): State<Arc<AppState>>,
    path: Result<Path<(String, String)>, axum::extract::rejection::PathRejection>,
    request: Request,
) -> Response {
    let started = Instant::now();
    let Ok(Path((module, kind))) = path else {
        return no_route(request.method().clone(), request.uri().clone())
            .await
            .into_response();
    };
    match route(&module, &kind) {
        Ok((module, kind)) => timed(&app, module, kind, request).await,
        Err(e) => {
            // Counted under fixed labels: a path's text never becomes a series.
            app.metrics
                .record("unknown", "unknown", e.status.as_u16(), started.elapsed());
            e.into_response()
        }
    }
}

/// The command a path names, with its module and kind as `'static` labels; a 404 saying what
/// the modules and their commands are if it names none.
fn route(module: &str, kind: &str) -> Result<(Module, &'static str), HttpError> {
    match commands::lookup(kind) {
        Some((owner, kind)) if owner.as_str() == module => Ok((owner, kind)),
        Some((owner, kind)) => Err(HttpError::new(
            StatusCode::NOT_FOUND,
            "wrong_module",
            format!("`{kind}` is a command of module {owner}, not {module}: POST /{owner}/{kind}"),
        )),
        None => Err(HttpError::new(
            StatusCode::NOT_FOUND,
            "unknown_command",
            match Module::parse(module) {
                Ok(m) => format!(
                    "no command `{kind}` in module {module}; its commands: {}",
                    commands::kinds_of(m).join(", ")
                ),
                Err(_) => format!(
                    "no module `{module}`; the modules are {} (GET /openapi.json lists every \
                     command)",
                    Module::NAMES.join(", ")
                ),
            },
        )),
    }
}

/// One call, counted and timed under its command's labels.
async fn timed(
    app: &Arc<AppState>,
    module: Module,
    kind: &'static str,
    request: Request,
) -> Response {
    let started = Instant::now();
    let mut response = match planned_fault(app, Some(module), (module.as_str(), kind)).await {
        Some(refused) => refused,
        None => match call(app, module, kind, request).await {
            Ok(Answered::Outcomes(outcomes)) => outcomes_answer(outcomes),
            Ok(Answered::Queued { stream, seq }) => (
                StatusCode::ACCEPTED,
                axum::Json(bus::queued_body(&stream, seq)),
            )
                .into_response(),
            Err(e) => e.into_response(),
        },
    };
    app.stamp_next_due(&mut response);
    app.metrics.record(
        module.as_str(),
        kind,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// `{"outcomes": [...]}` (200), written as it always was: through a JSON value, keys sorted.
fn outcomes_answer(outcomes: Vec<Outcome>) -> Response {
    axum::Json(json!(Outcomes { outcomes })).into_response()
}

/// What the fault plan (if any) does to a call of `module` (`None`: a call of no module, such
/// as the clock's) at `route` now: waits out an injected delay, or answers 503 with
/// `Retry-After` in the call's place (the call is then never carried).
async fn planned_fault(
    app: &AppState,
    module: Option<Module>,
    route: (&str, &str),
) -> Option<Response> {
    let (module_name, kind) = route;
    match app.faults.get()?.decide(module, app.plan_elapsed()) {
        faults::Decision::Carry => None,
        faults::Decision::Delay(d) => {
            tokio::time::sleep(d).await;
            None
        }
        faults::Decision::Refuse {
            kind: fault,
            retry_after_s,
        } => {
            let when = match retry_after_s {
                Some(s) => format!("for {s} s more; try again then"),
                None => "a share of calls fails; try again".into(),
            };
            let mut response = HttpError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "injected_fault",
                format!(
                    "{module_name}/{kind}: refused by the fault plan ({}, {when}); nothing was \
                     carried",
                    fault.as_str()
                ),
            )
            .into_response();
            if let Some(s) = retry_after_s {
                response.headers_mut().insert(header::RETRY_AFTER, s.into());
            }
            Some(response)
        }
    }
}

/// What a call came to: the outcomes, or (a sighting on the bus) where it was queued.
enum Answered {
    Outcomes(Vec<Outcome>),
    Queued { stream: String, seq: u64 },
}

async fn call(
    app: &Arc<AppState>,
    module: Module,
    kind: &'static str,
    request: Request,
) -> Result<Answered, HttpError> {
    let await_outcomes = request
        .headers()
        .get(AWAIT_OUTCOMES)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"true"));
    let on_bus = (module, kind) == (Module::Matcher, "submit_sighting") && app.bus().is_some();
    // Who is calling is settled before the body is read: a stranger's upload is not buffered.
    let caller = authenticate(app, request.headers())?;
    let body = Bytes::from_request(request, &())
        .await
        .map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                HttpError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    format!(
                        "{module}/{kind}: the body is larger than this server takes ({} bytes; \
                     `twin serve --max-body` sets it); split the batch",
                        app.max_body
                    ),
                )
            } else {
                HttpError::new(
                    StatusCode::BAD_REQUEST,
                    "unreadable_body",
                    format!("{module}/{kind}: the body could not be read: {rejection}"),
                )
            }
        })?;
    let mut parsed = None;
    if on_bus && let Some(bus) = app.bus() {
        let command = parse(module, kind, &body)?;
        if baoan_api::authorize(&caller.actor, &command).is_ok() {
            return match bus.submit(caller, command, await_outcomes).await? {
                bus::Submitted::Queued { stream, seq } => Ok(Answered::Queued { stream, seq }),
                bus::Submitted::Carried(outcomes) => Ok(Answered::Outcomes(outcomes)),
            };
        }
        // A caller whose role may not send sightings is refused at once, not after queueing:
        // carried inline, so the stack refuses it and its audit log has the refusal.
        parsed = Some(command);
    }
    if body.len() <= INLINE_BODY_MAX {
        if parsed.is_none() {
            parsed = Some(parse(module, kind, &body)?);
        }
        // A panic in the stack poisons the lock; the caller gets a 500 as from a blocking task.
        let tried = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            app.try_carry(caller, &mut parsed)
        }))
        .unwrap_or_else(|_| Some(Err(stack_failed())));
        if let Some(carried) = tried {
            return answer(carried?).await.map(Answered::Outcomes);
        }
    }
    let app = Arc::clone(app);
    // Parsing a large batch and carrying it take time, and the lock may be held: off the
    // async workers.
    let carried = tokio::task::spawn_blocking(move || {
        let command = match parsed {
            Some(c) => c,
            None => parse(module, kind, &body)?,
        };
        app.carry(caller, command)
    })
    .await
    // The stack panicked: the lock is poisoned and the panic is in the server's log.
    .unwrap_or_else(|_| Err(stack_failed()))?;
    answer(carried).await.map(Answered::Outcomes)
}

/// Bodies up to this size are parsed and carried on the async worker when the lock is free.
const INLINE_BODY_MAX: usize = 16 * 1024;

/// The command in a body, checked against the route's module.
fn parse(module: Module, kind: &'static str, body: &[u8]) -> Result<Command, HttpError> {
    let command = body::parse_command(module.as_str(), kind, body)?;
    // The route came from `COMMAND_KINDS`; the api has the last word on the module.
    let owner = command.module();
    if owner != module {
        return Err(HttpError::new(
            StatusCode::NOT_FOUND,
            "wrong_module",
            format!("`{kind}` is a command of module {owner}, not {module}: POST /{owner}/{kind}"),
        ));
    }
    Ok(command)
}

/// The answer to a carried call, once its journal entry is committed.
pub(crate) async fn answer(carried: Carried) -> Result<Vec<Outcome>, HttpError> {
    let (result, committed) = carried;
    // Answered only once journaled: an acknowledged call survives a restart.
    if let Some(committed) = committed
        && committed.await != Ok(true)
    {
        return Err(storage_failed());
    }
    result
}

/// Who calls and when: the bearer token's actor — or, for a gateway's token, the person named in
/// `X-Act-As` — and `X-Sent-At` on a server with a caller's clock.
fn authenticate(app: &AppState, headers: &HeaderMap) -> Result<Caller, HttpError> {
    let bearer = bearer(&app.tokens, headers)?;
    let bad =
        |error: &str, message: String| HttpError::new(StatusCode::BAD_REQUEST, error, message);
    let mut caller = Caller::now(bearer.actor);
    caller.gateway = bearer.gateway;
    if let Some(value) = headers.get(ACT_AS) {
        if !bearer.gateway {
            return Err(HttpError::new(
                StatusCode::FORBIDDEN,
                "not_a_gateway",
                format!(
                    "{ACT_AS}: this token is not a gateway's (`gateway = true` in the tokens \
                     file), so it may only act as its own person"
                ),
            ));
        }
        caller.actor = value
            .to_str()
            .ok()
            .and_then(http::parse_act_as)
            .ok_or_else(|| {
                bad(
                    "bad_act_as",
                    format!(
                        "{ACT_AS}: expected `<role>:<person id>` such as `inspector:1000001`, \
                     with a role of {}",
                        tokens::ROLES.map(|r| r.as_str()).join(", ")
                    ),
                )
            })?;
        app.metrics.add_delegated();
    }
    if let Some(value) = headers.get(SENT_AT) {
        if app.clock_mode() != ClockMode::Caller {
            return Err(bad(
                "clock_not_settable",
                format!(
                    "{SENT_AT}: this server keeps its own clock; only a server started with \
                     `twin serve --clock caller` takes the caller's time"
                ),
            ));
        }
        let at = value
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse::<Millis>().ok())
            .ok_or_else(|| {
                bad(
                    "bad_sent_at",
                    format!("{SENT_AT}: expected milliseconds as a whole number, such as 3600000"),
                )
            })?;
        caller.sent_at = Some(at);
    }
    Ok(caller)
}

/// `POST /clock/advance {"now": ms}`: a gateway moves a caller's clock and the stack does its
/// time-driven work up to it; the answer carries the outcomes.
async fn clock_advance(State(app): State<Arc<AppState>>, request: Request) -> Response {
    let started = Instant::now();
    let mut response = match planned_fault(&app, None, ("clock", "advance")).await {
        Some(refused) => refused,
        None => match advance_call(&app, request).await {
            Ok(outcomes) => outcomes_answer(outcomes),
            Err(e) => e.into_response(),
        },
    };
    app.stamp_next_due(&mut response);
    app.metrics.record(
        "clock",
        "advance",
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// The JSON body of a call only a gateway may make: `what` names the call and `expected` the
/// body's shape in errors, which give the line and column of a body that does not fit.
async fn gateway_json<T: serde::de::DeserializeOwned>(
    app: &AppState,
    request: Request,
    what: &str,
    expected: &str,
) -> Result<T, HttpError> {
    let caller = authenticate(app, request.headers())?;
    if !caller.gateway {
        return Err(HttpError::new(
            StatusCode::FORBIDDEN,
            "not_a_gateway",
            format!("{what}: only a gateway's token (`gateway = true`) may call it"),
        ));
    }
    let body = Bytes::from_request(request, &())
        .await
        .map_err(|rejection| {
            HttpError::new(
                StatusCode::BAD_REQUEST,
                "unreadable_body",
                format!("{what}: the body could not be read: {rejection}"),
            )
        })?;
    serde_json::from_slice(&body).map_err(|e| {
        HttpError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            format!(
                "{what}: expected {expected}: {e} (line {}, column {})",
                e.line(),
                e.column()
            ),
        )
        .with("line", e.line())
        .with("column", e.column())
    })
}

async fn advance_call(app: &Arc<AppState>, request: Request) -> Result<Vec<Outcome>, HttpError> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Advance {
        now: Millis,
    }
    let Advance { now } =
        gateway_json(app, request, "clock/advance", r#"{"now": <milliseconds>}"#).await?;
    let app = Arc::clone(app);
    let carried = tokio::task::spawn_blocking(move || app.advance_to(now))
        .await
        .unwrap_or_else(|_| Err(stack_failed()))?;
    answer(carried).await
}

/// `POST /admin/restart {"down_ms": n}`: a gateway asks a journaled server to restart now, as
/// a planned restart does; answered before the server stops (graceful: calls in flight finish).
async fn admin_restart(State(app): State<Arc<AppState>>, request: Request) -> Response {
    let answer = async {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Restart {
            down_ms: u64,
        }
        let Restart { down_ms } = gateway_json(
            &app,
            request,
            "admin/restart",
            &format!(r#"{{"down_ms": <0 to {ADMIN_RESTART_MAX_DOWN_MS}>}}"#),
        )
        .await?;
        if down_ms > ADMIN_RESTART_MAX_DOWN_MS {
            return Err(HttpError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid",
                format!(
                    "admin/restart: down_ms: expected 0 to {ADMIN_RESTART_MAX_DOWN_MS}, got \
                     {down_ms}"
                ),
            )
            .with("field", "down_ms"));
        }
        app.request_restart(Duration::from_millis(down_ms))?;
        Ok(down_ms)
    }
    .await;
    match answer {
        Ok(down_ms) => {
            axum::Json(json!({ "outcomes": [], "restarting_for_ms": down_ms })).into_response()
        }
        Err(e) => e.into_response(),
    }
}

/// The bearer token's entry in the token table (`Authorization: Bearer <token>`).
fn bearer(tokens: &Tokens, headers: &HeaderMap) -> Result<tokens::Bearer, HttpError> {
    let unauthorized = |message: &str| {
        HttpError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            message.to_string(),
        )
    };
    let value = headers.get(header::AUTHORIZATION).ok_or_else(|| {
        unauthorized("no Authorization header: send `Authorization: Bearer <token>`")
    })?;
    let value = value
        .to_str()
        .map_err(|_| unauthorized("Authorization: expected `Bearer <token>` in ASCII"))?;
    let token = http::bearer_token(value).ok_or_else(|| {
        unauthorized("Authorization: expected `Bearer <token>`, found another scheme")
    })?;
    tokens
        .bearer(token)
        .ok_or_else(|| unauthorized("unknown token: it is not in this server's token table"))
}

async fn no_route(method: Method, uri: Uri) -> HttpError {
    HttpError::new(
        StatusCode::NOT_FOUND,
        "no_route",
        format!(
            "nothing at {method} {}; commands are POST /{{module}}/{{kind}} (modules: {}; \
             GET /openapi.json lists them), and GET /health, /metrics, /openapi.json",
            uri.path(),
            Module::NAMES.join(", ")
        ),
    )
}

async fn method_not_allowed(method: Method, uri: Uri) -> HttpError {
    HttpError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!(
            "{method} is not served at {}: commands take POST; /health, /metrics and \
             /openapi.json take GET",
            uri.path()
        ),
    )
}

/// Runs the stack's time-driven work every `CLOCK_TICK` until the stack fails or the task is
/// aborted; its outcomes are counted in `baoan_advance_outcomes_total`.
pub fn spawn_clock(app: Arc<AppState>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(CLOCK_TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let app = Arc::clone(&app);
            let ticked = tokio::task::spawn_blocking(move || app.advance()).await;
            match ticked {
                Ok(Ok(_)) => {}
                // The journal failed: the stack rebuilt after the recovery gets a clock of its
                // own, so this one stops quietly (the recovery says what happens).
                Ok(Err(e)) if e.kind() == "storage_failed" => return,
                _ => {
                    eprintln!("twin: the stack failed; its time-driven work has stopped");
                    return;
                }
            }
        }
    })
}

/// Why the server could not start or went down.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("--listen {addr}: cannot listen there: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot start the server's runtime: {0}")]
    Runtime(std::io::Error),
    #[error("the server stopped on an error: {0}")]
    Serving(std::io::Error),
    #[error(transparent)]
    Storage(#[from] StoreError),
    #[error(
        "--faults: the plan restarts the server, which needs a database to restart from \
         (--database sqlite://PATH or postgres://…, not memory)"
    )]
    RestartWithoutStorage,
    #[error(transparent)]
    Bus(#[from] BusError),
    #[error(
        "--max-connections and --header-read-timeout-s: expected both above zero, got {} and \
         {} s", .0.max_connections, .0.header_read_timeout.as_secs_f64()
    )]
    Limits(ConnectionLimits),
}

/// Why one life of serving ended.
enum Next {
    Stop,
    Restart { down: Duration, planned: bool },
    Recovered(Arc<AppState>),
}

/// A server with its socket bound, not yet serving: the caller can print where it listens.
pub struct Server {
    listener: std::net::TcpListener,
    /// `/metrics` and `/health` on an address of their own, if asked.
    metrics_listener: Option<std::net::TcpListener>,
    state: Arc<AppState>,
    replayed: Replayed,
    connections: ConnectionLimits,
}

impl Server {
    /// Binds `config.listen` with a fresh, empty stack kept in memory (`config.database` is not
    /// read: `open` serves a journaled stack).
    pub fn bind(config: Config) -> Result<Server, ServeError> {
        if config
            .faults
            .as_ref()
            .is_some_and(|f| !f.restarts().is_empty())
        {
            return Err(ServeError::RestartWithoutStorage);
        }
        let listener = Self::listen(config.listen)?;
        let state = AppState::new(InProcessStack::new(), config.tokens, config.max_body);
        Server::new(listener, state, Replayed::default(), &config.metrics)?
            .with_faults(config.faults)
            .with_clock(config.clock)
            .with_connections(config.connections)
    }

    fn new(
        listener: std::net::TcpListener,
        state: Arc<AppState>,
        replayed: Replayed,
        metrics: &MetricsAccess,
    ) -> Result<Server, ServeError> {
        if let Some(token) = &metrics.token {
            let _ = state.metrics_token.set(token.clone());
        }
        Ok(Server {
            listener,
            metrics_listener: metrics.listen.map(Self::listen).transpose()?,
            state,
            replayed,
            connections: ConnectionLimits::default(),
        })
    }

    fn with_connections(mut self, limits: ConnectionLimits) -> Result<Server, ServeError> {
        if limits.max_connections == 0 || limits.header_read_timeout.is_zero() {
            return Err(ServeError::Limits(limits));
        }
        self.connections = limits;
        Ok(self)
    }

    /// Binds `config.listen` and opens `config.database`, replaying its journal (in memory if
    /// it is `None`). In a tokio runtime: the journal's writer runs on it.
    pub async fn open(config: Config) -> Result<Server, ServeError> {
        let bus = config.bus.clone();
        let server = match &config.database {
            None => Self::bind(config)?,
            Some(url) => {
                let listener = Self::listen(config.listen)?;
                let (state, replayed) = AppState::open(url, config.tokens, config.max_body).await?;
                Server::new(listener, state, replayed, &config.metrics)?
                    .with_faults(config.faults)
                    .with_clock(config.clock)
                    .with_connections(config.connections)?
            }
        };
        if let Some(bus) = bus {
            server.state.connect_bus(bus).await?;
        }
        Ok(server)
    }

    /// A new server's state takes the plan first, so its set cannot fail.
    fn with_faults(self, plan: Option<Arc<Faults>>) -> Server {
        if let Some(plan) = plan {
            let _ = self.state.inject(plan);
        }
        self
    }

    fn with_clock(self, clock: ClockMode) -> Server {
        if clock == ClockMode::Caller {
            self.state.use_caller_clock();
        }
        self
    }

    fn listen(addr: SocketAddr) -> Result<std::net::TcpListener, ServeError> {
        let listen = |source| ServeError::Listen { addr, source };
        let listener = std::net::TcpListener::bind(addr).map_err(listen)?;
        listener.set_nonblocking(true).map_err(listen)?;
        Ok(listener)
    }

    /// What the start-up replay did (nothing for a stack in memory).
    pub fn replayed(&self) -> Replayed {
        self.replayed
    }

    /// Where it listens (the port chosen, if the address asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound socket has an address")
    }

    pub fn state(&self) -> Arc<AppState> {
        Arc::clone(&self.state)
    }

    /// Serves until `shutdown` completes; in a runtime of the caller's. The fault plan's
    /// restarts happen here: serving stops gracefully, the state is rebuilt from the journal
    /// (`AppState::restarted`) and serving resumes on the same address.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let addr = self.local_addr();
        let metrics_addr = self.metrics_addr();
        let mut listener = tokio::net::TcpListener::from_std(self.listener)?;
        let mut metrics_listener = self
            .metrics_listener
            .map(tokio::net::TcpListener::from_std)
            .transpose()?;
        let limits = self.connections;
        let mut state = self.state;
        let origin = state.plan_origin();
        let restarts = state.faults.get().map(|f| f.restarts()).unwrap_or_default();
        let mut shutdown = Box::pin(shutdown);
        let mut next_planned = 0;
        loop {
            // With a caller's clock, the time-driven work waits for `POST /clock/advance`.
            let clock =
                (state.clock_mode() == ClockMode::Wall).then(|| spawn_clock(Arc::clone(&state)));
            let workers = bus::spawn_workers(&state);
            let (stop, stopped) = tokio::sync::watch::channel(false);
            let until_stopped = |mut stopped: tokio::sync::watch::Receiver<bool>| async move {
                let _ = stopped.wait_for(|s| *s).await;
            };
            let counts = Arc::clone(&state.lives.connections);
            let serving = tokio::spawn(conn::serve(
                listener,
                router(Arc::clone(&state)),
                limits,
                counts,
                until_stopped(stopped.clone()),
            ));
            let metrics_serving = metrics_listener.take().map(|l| {
                tokio::spawn(conn::serve(
                    l,
                    metrics_router(Arc::clone(&state)),
                    limits,
                    Arc::clone(&state.lives.connections),
                    until_stopped(stopped.clone()),
                ))
            });
            let planned = restarts.get(next_planned).copied();
            let planned_due = async {
                match planned {
                    Some((at, _)) => tokio::time::sleep_until((origin + at).into()).await,
                    None => std::future::pending().await,
                }
            };
            let state_for_request = Arc::clone(&state);
            let requested = state_for_request.restart_signal.notified();
            let lost = state_for_request.journal_lost();
            // Why serving stops: shutdown, the plan's next restart, one asked for at `POST
            // /admin/restart`, or a new state rebuilt after the journal's database came back.
            let next = tokio::select! {
                _ = &mut shutdown => Next::Stop,
                _ = planned_due => match planned {
                    Some((_, down)) => Next::Restart { down, planned: true },
                    None => Next::Stop,
                },
                _ = requested => Next::Restart {
                    down: state
                        .restart_request
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .take()
                        .unwrap_or_default(),
                    planned: false,
                },
                // The old state keeps answering 503 while the recovery waits for the database.
                _ = lost => tokio::select! {
                    _ = &mut shutdown => Next::Stop,
                    (next, _) = state.recovered() => Next::Recovered(next),
                },
            };
            let _ = stop.send(true);
            let served = serving.await.map_err(std::io::Error::other)?;
            if let Some(m) = metrics_serving {
                m.await.map_err(std::io::Error::other)??;
            }
            for task in clock.into_iter().chain(workers) {
                task.abort();
                let _ = task.await;
            }
            served?;
            state = match next {
                Next::Stop => return Ok(()),
                Next::Recovered(next) => next,
                Next::Restart { down, planned } => {
                    if planned {
                        next_planned += 1;
                        if let Some(f) = state.faults.get() {
                            f.count_restart();
                        }
                    }
                    eprintln!(
                        "twin: {}: restarting the server (down for {:.1} s)",
                        if planned {
                            "fault plan"
                        } else {
                            "asked at POST /admin/restart"
                        },
                        down.as_secs_f64()
                    );
                    let (next, replayed) =
                        state.restarted(down).await.map_err(std::io::Error::other)?;
                    eprintln!(
                        "twin: restarted: replayed {} calls and {} ticks; serving again at \
                         http://{addr}",
                        replayed.commands, replayed.advances
                    );
                    next
                }
            };
            listener = tokio::net::TcpListener::bind(addr).await?;
            if let Some(a) = metrics_addr {
                metrics_listener = Some(tokio::net::TcpListener::bind(a).await?);
            }
        }
    }

    /// Where `/metrics` is served on an address of its own, if it is.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .map(|l| l.local_addr().expect("a bound socket has an address"))
    }
}

/// Opens the storage, binds and serves until Ctrl-C (or SIGTERM); `ready` is told the server
/// before it serves (to print where it listens). Blocking: it runs its own runtime.
pub fn serve(config: Config, ready: impl FnOnce(&Server)) -> Result<(), ServeError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(ServeError::Runtime)?;
    runtime.block_on(async {
        let server = Server::open(config).await?;
        ready(&server);
        server
            .run_until(shutdown_signal())
            .await
            .map_err(ServeError::Serving)
    })
}

/// Ctrl-C or SIGTERM (what a service manager sends).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        // If the handler cannot be installed, only SIGTERM (or a kill) stops the server.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}
