//! The harness's HTTP transport: a deployed stack as a `Stack`, so that any scenario drives it
//! (`twin run SCENARIO --stack URL`) exactly as it drives the in-process one.
//!
//! - The server must take the caller's clock (`twin serve --clock caller`): each command carries
//!   its simulated time in `X-Sent-At` and the time-driven work runs at `POST /clock/advance`,
//!   so the same scenario and seed give the same outcomes as in process — the transport adds
//!   latency, never a different answer.
//! - One gateway token speaks for every actor of the scenario (`X-Act-As: role:person`): the
//!   server checks each call against that person's role and audits it under that person.
//! - Open model in time: with a speed (simulated seconds per real second), each call goes out at
//!   its scheduled moment, `start + sent_at / speed`, whatever the server did with the last one.
//!   Latency is measured from that moment (corrected for coordinated omission) and from the
//!   actual send (service time). The scenario's calls depend on earlier answers (a resolver
//!   works the task a report made), so they go one at a time: when the server is slower than the
//!   schedule, calls go out late; past `max_lag` the transport says it fell behind
//!   ([`TransportStats::behind`]) and the run stops with exit 3 rather than quietly sending less.
//! - A `503` (a planned fault, a journal that could not commit) or a dropped connection is
//!   retried, after `Retry-After` where the server gives one, within `retry_budget`: the call was
//!   not carried, so sending it again is safe. Any other failure that is not the stack's refusal
//!   (a bad token, a body the server did not take) is fatal ([`TransportStats::failed`]).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use baoan_api::http::{self, Outcomes};
use baoan_api::{ApiError, CallOrder, Envelope, Millis, Outcome, Restart, RestartError, Stack};
use hdrhistogram::Histogram;
use http_body_util::BodyExt;
use hyper::body::Bytes;
use hyper::header::{HeaderValue, RETRY_AFTER};
use hyper::{Method, Uri};
use serde::Serialize;

use crate::LoadError;
use crate::client::{self, Sender};
use crate::engine::{LatencySummary, histogram, micros};
use crate::target::{Endpoint, resolve};

/// How to drive a deployed stack.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpStackSpec {
    /// `http://host:port` of a server started with `--clock caller`.
    pub base_url: String,
    /// A gateway's bearer token (`gateway = true` in the server's tokens file).
    pub token: String,
    /// Simulated seconds per real second; `None` sends each call as soon as the last is answered.
    pub speed: Option<f64>,
    /// A call going out later than this after its scheduled moment means the transport cannot
    /// keep the schedule.
    pub max_lag: Duration,
    /// How long one call may keep being retried (503, a dropped connection) before the run fails.
    pub retry_budget: Duration,
    /// The most calls of one tick in flight at once, each on its own connection (1: one at a
    /// time, the in-process order exactly). Calls by one actor or about one subject keep their
    /// order whatever this is (`Command::order`).
    pub concurrency: usize,
}

/// A retry the server gave no `Retry-After` for waits this long, doubling up to `MAX_BACKOFF`.
const FIRST_BACKOFF: Duration = Duration::from_millis(10);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// Defaults for [`HttpStackSpec::max_lag`] and [`HttpStackSpec::retry_budget`].
pub const DEFAULT_MAX_LAG: Duration = Duration::from_secs(1);
pub const DEFAULT_RETRY_BUDGET: Duration = Duration::from_secs(60);
/// Default for [`HttpStackSpec::concurrency`].
pub const DEFAULT_CONCURRENCY: usize = 16;

/// When the transport first fell behind its schedule.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Behind {
    /// The simulated time of the late call.
    pub at_ms: Millis,
    /// How late it went out.
    pub lag_ms: f64,
}

/// What the transport measured; shared with the caller, who reads it while and after the run.
#[derive(Debug, Clone)]
pub struct TransportStats {
    pub calls: u64,
    /// Ticks of the stack's time-driven work the run asked for…
    pub advances: u64,
    /// …and those not sent, the server having said nothing falls due in them (`X-Next-Due`).
    pub advances_skipped: u64,
    /// Attempts repeated after a 503 or a dropped connection.
    pub retries: u64,
    /// Calls the server refused with the stack's own error (a role, a state): part of the run.
    pub refused: u64,
    /// Microseconds from the scheduled moment to the answer (coordinated omission corrected).
    pub from_scheduled_us: Histogram<u64>,
    /// Microseconds from the first send to the answer.
    pub service_us: Histogram<u64>,
    /// The latest any call went out after its scheduled moment.
    pub max_lag_ms: f64,
    pub behind: Option<Behind>,
    /// The first failure that was neither an answer nor retried away; the run must stop.
    pub failed: Option<String>,
    /// Set by the caller once the simulation has run its course: the queries a report makes
    /// afterwards are not on the schedule, so they are sent at once and not timed against it.
    pub schedule_over: bool,
    /// The most calls of one tick that were in flight together.
    pub max_in_flight: u64,
}

impl Default for TransportStats {
    fn default() -> Self {
        TransportStats {
            calls: 0,
            advances: 0,
            advances_skipped: 0,
            retries: 0,
            refused: 0,
            from_scheduled_us: histogram(),
            service_us: histogram(),
            max_lag_ms: 0.0,
            behind: None,
            failed: None,
            schedule_over: false,
            max_in_flight: 0,
        }
    }
}

/// The transport's figures for `perf.json`.
#[derive(Debug, Clone, Serialize)]
pub struct TransportSummary {
    pub url: String,
    /// Simulated seconds per real second, or `null` for as fast as the server answers.
    pub speed: Option<f64>,
    /// The most calls of one tick the transport may have in flight (`--concurrency`), and the
    /// most it did.
    pub concurrency: usize,
    pub max_in_flight: u64,
    pub calls: u64,
    pub advances: u64,
    pub advances_skipped: u64,
    pub retries: u64,
    pub refused: u64,
    pub latency_from_scheduled: LatencySummary,
    pub service_time: LatencySummary,
    pub max_lag_ms: f64,
    pub behind: Option<Behind>,
    pub failed: Option<String>,
}

impl TransportStats {
    pub fn summary(&self, spec: &HttpStackSpec) -> TransportSummary {
        TransportSummary {
            url: spec.base_url.clone(),
            speed: spec.speed,
            concurrency: spec.concurrency,
            max_in_flight: self.max_in_flight.max(u64::from(self.calls > 0)),
            calls: self.calls,
            advances: self.advances,
            advances_skipped: self.advances_skipped,
            retries: self.retries,
            refused: self.refused,
            latency_from_scheduled: LatencySummary::of(&self.from_scheduled_us),
            service_time: LatencySummary::of(&self.service_us),
            max_lag_ms: self.max_lag_ms,
            behind: self.behind,
            failed: self.failed.clone(),
        }
    }
}

/// A deployed stack driven over HTTP (see the module's documentation).
pub struct HttpStack {
    spec: HttpStackSpec,
    runtime: tokio::runtime::Runtime,
    endpoint: Endpoint,
    host: HeaderValue,
    authorization: HeaderValue,
    /// Keep-alive connections, one per call in flight (the first for calls one at a time),
    /// each opened when first needed and again when it drops.
    lanes: Mutex<Vec<Option<Sender>>>,
    /// The real moment and simulated time of the first call: the schedule's origin.
    origin: Option<(Instant, Millis)>,
    /// The latest scheduled moment so far: a call the simulation makes after another cannot be
    /// sent before it, so it is due no earlier.
    watermark: Option<Instant>,
    matcher_dim: usize,
    /// The largest body the server takes (its `/health`; the default if it does not say).
    max_body: usize,
    audit_entries_at_start: u64,
    stats: Arc<Mutex<TransportStats>>,
    /// The latest `X-Next-Due` the server gave (the longest audit log's): a tick before it
    /// would do nothing, so it is not sent.
    next_due: Mutex<Option<NextDue>>,
}

/// The audit log's length and the stack's next time-driven work (`X-Next-Due`).
type NextDue = (u64, Option<Millis>);

/// What `GET /health` says that the transport needs.
#[derive(serde::Deserialize)]
struct Health {
    clock: Option<String>,
    matcher_dim: Option<usize>,
    max_body: Option<usize>,
    audit_entries: Option<u64>,
}

/// One attempt's result.
enum Attempt {
    /// The status, the body and the server's `X-Next-Due`, if it gave one.
    Answered(u16, Bytes, Option<NextDue>),
    /// Not carried: try again, after this long if the server said (`Retry-After`).
    Retry(Option<Duration>, String),
}

impl HttpStack {
    /// Connects to the server and checks that it takes the caller's clock. Call outside any
    /// async runtime (the transport runs its own, on the calling thread).
    pub fn connect(spec: HttpStackSpec) -> Result<HttpStack, LoadError> {
        if spec.concurrency == 0 {
            return Err(LoadError::BadSpec(
                "--concurrency: expected at least 1 call in flight, got 0".into(),
            ));
        }
        if let Some(speed) = spec.speed
            && !(speed.is_finite() && speed > 0.0)
        {
            return Err(LoadError::BadSpec(format!(
                "--speed: expected a positive number of simulated seconds per second, got {speed}"
            )));
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(LoadError::Runtime)?;
        let endpoint = runtime.block_on(resolve(&spec.base_url))?;
        let host = client::host_header(&endpoint)?;
        let authorization = client::bearer(&spec.token)?;
        let (status, body) = runtime.block_on(client::one_shot(
            &endpoint,
            Method::GET,
            http::HEALTH,
            None,
            Bytes::new(),
            Duration::from_secs(10),
            "GET /health",
        ))?;
        let health: Health = serde_json::from_slice(&body).map_err(|e| LoadError::Http {
            what: "GET /health".into(),
            addr: endpoint.addr,
            message: format!("HTTP {status}, not the health of a twin stack: {e}"),
        })?;
        if health.clock.as_deref() != Some("caller") {
            return Err(LoadError::BadSpec(format!(
                "{}: the server keeps its own clock ({}); to drive it with a scenario's time, \
                 start it with `twin serve --clock caller` (and a fresh database)",
                spec.base_url,
                health.clock.as_deref().unwrap_or("not said")
            )));
        }
        Ok(HttpStack {
            runtime,
            host,
            authorization,
            lanes: Mutex::new((0..spec.concurrency).map(|_| None).collect()),
            origin: None,
            watermark: None,
            matcher_dim: health.matcher_dim.unwrap_or(0),
            max_body: health.max_body.unwrap_or(http::DEFAULT_MAX_BODY),
            audit_entries_at_start: health.audit_entries.unwrap_or(0),
            stats: Arc::default(),
            next_due: Mutex::new(None),
            endpoint,
            spec,
        })
    }

    /// The face-embedding dimension the server's matcher takes.
    pub fn matcher_dim(&self) -> usize {
        self.matcher_dim
    }

    /// Calls the server had audited before this run: a stack that is not fresh answers
    /// differently from the in-process one.
    pub fn audit_entries_at_start(&self) -> u64 {
        self.audit_entries_at_start
    }

    /// The figures, shared: read them during and after the run.
    pub fn stats(&self) -> Arc<Mutex<TransportStats>> {
        Arc::clone(&self.stats)
    }

    /// The moment a call made at simulated `at` is due (with a speed; else now), from which
    /// its latency counts.
    fn due_of(&mut self, at: Millis) -> Instant {
        let now = Instant::now();
        let Some(speed) = self.spec.speed else {
            return now;
        };
        if self.stats.lock().expect("not poisoned").schedule_over {
            return now;
        }
        let (t0, m0) = *self.origin.get_or_insert((now, at));
        if at <= m0 {
            // Calls at the first simulated instant are the scenario's set-up (directories,
            // watchlists), made while the twin is still assembling: the schedule starts when
            // simulated time first moves.
            self.origin = Some((now, m0));
            self.watermark = Some(now);
            return now;
        }
        let offset_s = at.saturating_sub(m0) as f64 / 1000.0 / speed;
        let mut due = t0 + Duration::from_secs_f64(offset_s);
        if let Some(w) = self.watermark
            && w > due
        {
            due = w;
        }
        self.watermark = Some(due);
        due
    }

    /// Waits for a call's moment, or notes how late it goes out.
    async fn wait_for(&self, due: Instant, at: Millis) {
        let now = Instant::now();
        if due > now {
            tokio::time::sleep_until(due.into()).await;
        } else if self.spec.speed.is_some() {
            let lag_ms = (now - due).as_secs_f64() * 1000.0;
            let mut stats = self.stats.lock().expect("not poisoned");
            stats.max_lag_ms = stats.max_lag_ms.max(lag_ms);
            if now - due > self.spec.max_lag && stats.behind.is_none() {
                stats.behind = Some(Behind { at_ms: at, lag_ms });
            }
        }
    }

    /// The largest request body the server takes.
    pub fn max_body(&self) -> usize {
        self.max_body
    }

    /// Sends one call on the first connection, retrying what was not carried; its outcomes,
    /// the stack's refusal, or (recorded as the run's failure) why the transport gave up.
    fn call(
        &mut self,
        at: Millis,
        path: &str,
        act_as: Option<String>,
        body: Bytes,
    ) -> Result<Result<Vec<Outcome>, ApiError>, String> {
        let due = self.due_of(at);
        let mut lanes = std::mem::take(self.lanes.get_mut().expect("not poisoned"));
        let this = &*self;
        let answer = this.runtime.block_on(async {
            this.wait_for(due, at).await;
            this.call_on(&mut lanes[0], at, path, act_as, body, due)
                .await
        });
        *self.lanes.get_mut().expect("not poisoned") = lanes;
        answer
    }

    /// One call on the connection in `slot`, due at `due`, with its retries.
    async fn call_on(
        &self,
        slot: &mut Option<Sender>,
        at: Millis,
        path: &str,
        act_as: Option<String>,
        body: Bytes,
        due: Instant,
    ) -> Result<Result<Vec<Outcome>, ApiError>, String> {
        if let Some(failed) = self.stats.lock().expect("not poisoned").failed.clone() {
            return Err(failed);
        }
        let sent = Instant::now();
        let uri: Uri = path
            .parse()
            .map_err(|e| self.fail(format!("{path}: not a request path: {e}")))?;
        // On a server whose sightings go through a bus, wait for the worker's outcomes: the
        // scenario's actors act on them.
        let mut extra = vec![
            (http::SENT_AT, HeaderValue::from(at)),
            (http::AWAIT_OUTCOMES, HeaderValue::from_static("true")),
        ];
        if let Some(act_as) = act_as {
            let value = HeaderValue::from_str(&act_as)
                .map_err(|_| self.fail(format!("X-Act-As `{act_as}` is not a header value")))?;
            extra.push((http::ACT_AS, value));
        }
        let mut retries = 0u64;
        let mut backoff = FIRST_BACKOFF;
        let answer = loop {
            match self.attempt(slot, &uri, &extra, body.clone()).await {
                Attempt::Answered(status, body, stamp) => {
                    self.note_next_due(stamp, retries > 0);
                    break (status, body);
                }
                Attempt::Retry(hint, why) => {
                    let wait = hint.unwrap_or(backoff);
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    if sent.elapsed() + wait > self.spec.retry_budget {
                        return Err(self.fail(format!(
                            "{path} at {at} ms: not carried after {retries} retries in {:.1} s \
                             (--retry-budget-s): {why}",
                            sent.elapsed().as_secs_f64()
                        )));
                    }
                    retries += 1;
                    tokio::time::sleep(wait).await;
                }
            }
        };
        let done = Instant::now();
        let mut stats = self.stats.lock().expect("not poisoned");
        stats.retries += retries;
        stats
            .from_scheduled_us
            .saturating_record(micros(done - due));
        stats.service_us.saturating_record(micros(done - sent));
        drop(stats);
        let (status, body) = answer;
        if status == 200 {
            return serde_json::from_slice::<Outcomes>(&body)
                .map(|o| Ok(o.outcomes))
                .map_err(|e| self.fail(format!("{path}: the answer is not outcomes: {e}")));
        }
        if (400..500).contains(&status)
            && let Ok(refusal) = serde_json::from_slice::<ApiError>(&body)
        {
            self.stats.lock().expect("not poisoned").refused += 1;
            return Ok(Err(refusal));
        }
        Err(self.fail(format!(
            "{path} at {at} ms: HTTP {status}: {}",
            String::from_utf8_lossy(&body)
        )))
    }

    /// Keeps the latest `X-Next-Due`. After a retry (a restart may have lost a call that was
    /// not acknowledged) the one known before is forgotten.
    fn note_next_due(&self, stamp: Option<NextDue>, retried: bool) {
        let mut known = self.next_due.lock().expect("not poisoned");
        if retried {
            *known = None;
        }
        if let Some(stamp) = stamp
            && known.is_none_or(|k| stamp.0 >= k.0)
        {
            *known = Some(stamp);
        }
    }

    fn fail(&self, why: String) -> String {
        let mut stats = self.stats.lock().expect("not poisoned");
        stats.failed.get_or_insert(why).clone()
    }

    /// One exchange on the connection in `slot` (opened if need be).
    async fn attempt(
        &self,
        slot: &mut Option<Sender>,
        uri: &Uri,
        extra: &[(&'static str, HeaderValue)],
        body: Bytes,
    ) -> Attempt {
        let mut request = client::request(
            Method::POST,
            uri.clone(),
            &self.host,
            Some(&self.authorization),
            body,
        );
        for (name, value) in extra {
            request.headers_mut().insert(*name, value.clone());
        }
        let addr = self.endpoint.addr;
        let result = async {
            if slot.is_none() {
                *slot = Some(client::connect(addr).await.map_err(|e| e.to_string())?);
            }
            let sender = slot.as_mut().expect("connected above");
            sender.ready().await.map_err(|e| e.to_string())?;
            let response = sender
                .send_request(request)
                .await
                .map_err(|e| e.to_string())?;
            let status = response.status().as_u16();
            let stamp = response
                .headers()
                .get(http::NEXT_DUE)
                .and_then(|v| v.to_str().ok())
                .and_then(http::parse_next_due);
            let retry_after = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok());
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| e.to_string())?
                .to_bytes();
            Ok::<_, String>((status, retry_after, body, stamp))
        }
        .await;
        match result {
            Ok((503, retry_after, body, _)) => Attempt::Retry(
                retry_after.map(Duration::from_secs),
                format!("HTTP 503: {}", String::from_utf8_lossy(&body)),
            ),
            Ok((status, _, body, stamp)) => Attempt::Answered(status, body, stamp),
            Err(e) => {
                *slot = None;
                Attempt::Retry(None, format!("the exchange with {addr} failed: {e}"))
            }
        }
    }

    /// A tick's calls, several in flight at once: split at barriers (`CallOrder::Barrier`,
    /// carried alone), the calls between them grouped so that calls by one actor or about one
    /// subject share a group, each group sent in order on one connection, up to
    /// `concurrency` groups at a time. The answers come back in the order given.
    fn send_concurrently(
        &mut self,
        envelopes: &[&Envelope],
    ) -> Vec<Result<Vec<Outcome>, ApiError>> {
        let mut answers: Vec<Option<Result<Vec<Outcome>, ApiError>>> = vec![None; envelopes.len()];
        let mut start = 0;
        while start < envelopes.len() {
            if envelopes[start].command.order() == CallOrder::Barrier {
                answers[start] = Some(self.send(envelopes[start]));
                start += 1;
                continue;
            }
            let end = (start..envelopes.len())
                .find(|&i| envelopes[i].command.order() == CallOrder::Barrier)
                .unwrap_or(envelopes.len());
            let calls: Vec<Prepared> = (start..end)
                .map(|i| {
                    self.stats.lock().expect("not poisoned").calls += 1;
                    let e = envelopes[i];
                    Prepared {
                        index: i,
                        at: e.sent_at,
                        due: self.due_of(e.sent_at),
                        path: http::command_path(&e.command),
                        act_as: http::act_as_value(&e.actor),
                        body: wire_body(&e.command),
                    }
                })
                .collect();
            let groups = ordered_groups(&envelopes[start..end]);
            {
                let mut stats = self.stats.lock().expect("not poisoned");
                let in_flight = groups.len().min(self.spec.concurrency) as u64;
                stats.max_in_flight = stats.max_in_flight.max(in_flight);
            }
            let mut lanes = std::mem::take(self.lanes.get_mut().expect("not poisoned"));
            let this = &*self;
            let next = std::cell::Cell::new(0usize);
            let done = std::cell::RefCell::new(Vec::with_capacity(calls.len()));
            this.runtime.block_on(futures_util::future::join_all(
                lanes.iter_mut().take(groups.len()).map(|slot| {
                    let (groups, calls, next, done) = (&groups, &calls, &next, &done);
                    async move {
                        loop {
                            let g = next.get();
                            if g >= groups.len() {
                                break;
                            }
                            next.set(g + 1);
                            for &k in &groups[g] {
                                let c = &calls[k];
                                this.wait_for(c.due, c.at).await;
                                let answer = this
                                    .call_on(
                                        slot,
                                        c.at,
                                        &c.path,
                                        Some(c.act_as.clone()),
                                        c.body.clone(),
                                        c.due,
                                    )
                                    .await;
                                done.borrow_mut()
                                    .push((c.index, transported(answer, &c.path)));
                            }
                        }
                    }
                }),
            ));
            *self.lanes.get_mut().expect("not poisoned") = lanes;
            for (i, answer) in done.into_inner() {
                answers[i] = Some(answer);
            }
            start = end;
        }
        answers
            .into_iter()
            .map(|a| a.expect("every call of the tick was answered"))
            .collect()
    }
}

/// A command as a request body: written straight from the command, `type` and all (the server
/// takes a `type` that names the path's command), not through a JSON value first — a district's
/// address library is 200 MB of it.
fn wire_body(command: &baoan_api::Command) -> Bytes {
    Bytes::from(serde_json::to_vec(command).expect("the api's commands serialise as JSON"))
}

/// One call of a tick, ready to go on any connection.
struct Prepared {
    index: usize,
    at: Millis,
    due: Instant,
    path: String,
    act_as: String,
    body: Bytes,
}

/// A call's answer as the stack's: a transport failure (the run stops at the end of the tick)
/// counts as a refusal meanwhile.
fn transported(
    answer: Result<Result<Vec<Outcome>, ApiError>, String>,
    path: &str,
) -> Result<Vec<Outcome>, ApiError> {
    match answer {
        Ok(answer) => answer,
        Err(why) => Err(ApiError::Refused {
            what: "transport".into(),
            id: path.to_string(),
            problem: why,
        }),
    }
}

/// The calls (none a barrier) in groups to send in parallel: calls by one actor or about one
/// subject (`CallOrder::Keyed`) fall in one group, each group's calls in the order given. Groups
/// are listed by their first call.
fn ordered_groups(calls: &[&Envelope]) -> Vec<Vec<usize>> {
    use std::collections::HashMap;
    // Union-find over the calls: a call joins every earlier call sharing one of its keys.
    let mut parent: Vec<usize> = (0..calls.len()).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    let mut owner: HashMap<(bool, u64), usize> = HashMap::new();
    for (i, e) in calls.iter().enumerate() {
        let subject = match e.command.order() {
            CallOrder::Keyed(subject) => subject,
            CallOrder::Barrier => unreachable!("barriers are carried alone"),
        };
        let keys = [
            Some((false, u64::from(e.actor.person.0))),
            subject.map(|s| (true, s)),
        ];
        for key in keys.into_iter().flatten() {
            match owner.get(&key) {
                Some(&j) => {
                    let (a, b) = (root(&mut parent, i), root(&mut parent, j));
                    parent[a.max(b)] = a.min(b);
                }
                None => {
                    owner.insert(key, i);
                }
            }
        }
    }
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut group_of: HashMap<usize, usize> = HashMap::new();
    for i in 0..calls.len() {
        let r = root(&mut parent, i);
        let g = *group_of.entry(r).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[g].push(i);
    }
    groups
}

impl Stack for HttpStack {
    fn send(&mut self, envelope: &Envelope) -> Result<Vec<Outcome>, ApiError> {
        let command = &envelope.command;
        let path = http::command_path(command);
        let body = wire_body(command);
        let act_as = http::act_as_value(&envelope.actor);
        self.stats.lock().expect("not poisoned").calls += 1;
        let answer = self.call(envelope.sent_at, &path, Some(act_as), body);
        transported(answer, &path)
    }

    fn send_all(&mut self, envelopes: &[&Envelope]) -> Vec<Result<Vec<Outcome>, ApiError>> {
        if self.spec.concurrency <= 1 || envelopes.len() <= 1 {
            return envelopes.iter().map(|e| self.send(e)).collect();
        }
        self.send_concurrently(envelopes)
    }

    fn body_limit(&self) -> usize {
        self.max_body
    }

    fn calls_in_flight(&self) -> usize {
        self.spec.concurrency
    }

    fn advance(&mut self, now: Millis) -> Vec<Outcome> {
        self.stats.lock().expect("not poisoned").advances += 1;
        // The server said when its next time-driven work falls: a tick before then would do
        // nothing (no outcome, no change), so it is left out.
        let idle = self
            .next_due
            .lock()
            .expect("not poisoned")
            .is_some_and(|(_, due)| due.is_none_or(|due| due > now));
        if idle {
            self.stats.lock().expect("not poisoned").advances_skipped += 1;
            return Vec::new();
        }
        let body = Bytes::from(format!("{{\"now\":{now}}}"));
        match self.call(now, http::CLOCK_ADVANCE, None, body) {
            Ok(Ok(outcomes)) => outcomes,
            Ok(Err(refusal)) => {
                self.fail(format!(
                    "POST /clock/advance at {now} ms was refused: {refusal}"
                ));
                Vec::new()
            }
            Err(_) => Vec::new(),
        }
    }

    fn name(&self) -> String {
        "http".into()
    }

    /// `POST /admin/restart`: the server restarts from its journal, down for the window's
    /// length at this run's speed (half a second when it runs as fast as it can).
    fn restart(&mut self, at: Millis, down_ms: Millis) -> Result<Restart, RestartError> {
        let real_ms = match self.spec.speed {
            Some(speed) => (down_ms as f64 / speed).round() as u64,
            None => 500,
        }
        .min(http::ADMIN_RESTART_MAX_DOWN_MS);
        let body = Bytes::from(format!("{{\"down_ms\":{real_ms}}}"));
        match self.call(at, http::ADMIN_RESTART, None, body) {
            Ok(Ok(_)) => Ok(Restart::Restarting),
            Ok(Err(refusal)) => Err(RestartError::Refused(refusal.to_string())),
            Err(why) => Err(RestartError::Unreachable(why)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(person: u32, command: baoan_api::Command) -> Envelope {
        Envelope {
            actor: baoan_api::Actor {
                role: baoan_api::Role::Inspector,
                person: baoan_api::PersonId(person),
            },
            sent_at: 1_000,
            command,
        }
    }

    #[test]
    fn calls_by_one_actor_or_about_one_subject_share_a_group_in_the_order_sent() {
        use baoan_api::{Command, TaskId};
        let calls = [
            envelope(1, Command::AcceptTask { task: TaskId(10) }),
            envelope(2, Command::AcceptTask { task: TaskId(20) }),
            envelope(3, Command::ResolveTask { task: TaskId(10) }),
            envelope(4, Command::AcceptTask { task: TaskId(30) }),
            envelope(2, Command::ResolveTask { task: TaskId(40) }),
            envelope(
                5,
                Command::VerifyTask {
                    task: TaskId(40),
                    passed: true,
                },
            ),
        ];
        let refs: Vec<&Envelope> = calls.iter().collect();
        // Task 10 joins calls 0 and 2; person 2 joins 1 and 4, and task 40 brings in 5.
        assert_eq!(
            ordered_groups(&refs),
            vec![vec![0, 2], vec![1, 4, 5], vec![3]]
        );
    }

    #[test]
    fn a_speed_that_is_not_positive_is_refused_before_connecting() {
        for speed in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let e = HttpStack::connect(HttpStackSpec {
                base_url: "http://127.0.0.1:1".into(),
                token: "x".repeat(32),
                speed: Some(speed),
                max_lag: DEFAULT_MAX_LAG,
                retry_budget: DEFAULT_RETRY_BUDGET,
                concurrency: 1,
            })
            .err()
            .expect("refused");
            assert!(e.to_string().contains("--speed"), "{e}");
        }
    }
}
