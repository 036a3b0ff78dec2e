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
use baoan_api::{ApiError, Envelope, Millis, Outcome, Restart, RestartError, Stack};
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
}

/// A retry the server gave no `Retry-After` for waits this long, doubling up to `MAX_BACKOFF`.
const FIRST_BACKOFF: Duration = Duration::from_millis(10);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// Defaults for [`HttpStackSpec::max_lag`] and [`HttpStackSpec::retry_budget`].
pub const DEFAULT_MAX_LAG: Duration = Duration::from_secs(1);
pub const DEFAULT_RETRY_BUDGET: Duration = Duration::from_secs(60);

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
    pub advances: u64,
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
}

impl Default for TransportStats {
    fn default() -> Self {
        TransportStats {
            calls: 0,
            advances: 0,
            retries: 0,
            refused: 0,
            from_scheduled_us: histogram(),
            service_us: histogram(),
            max_lag_ms: 0.0,
            behind: None,
            failed: None,
            schedule_over: false,
        }
    }
}

/// The transport's figures for `perf.json`.
#[derive(Debug, Clone, Serialize)]
pub struct TransportSummary {
    pub url: String,
    /// Simulated seconds per real second, or `null` for as fast as the server answers.
    pub speed: Option<f64>,
    pub calls: u64,
    pub advances: u64,
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
            calls: self.calls,
            advances: self.advances,
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
    /// One keep-alive connection, opened again when it drops.
    sender: Mutex<Option<Sender>>,
    /// The real moment and simulated time of the first call: the schedule's origin.
    origin: Option<(Instant, Millis)>,
    /// The latest scheduled moment so far: a call the simulation makes after another cannot be
    /// sent before it, so it is due no earlier.
    watermark: Option<Instant>,
    matcher_dim: usize,
    audit_entries_at_start: u64,
    stats: Arc<Mutex<TransportStats>>,
}

/// What `GET /health` says that the transport needs.
#[derive(serde::Deserialize)]
struct Health {
    clock: Option<String>,
    matcher_dim: Option<usize>,
    audit_entries: Option<u64>,
}

/// One attempt's result.
enum Attempt {
    Answered(u16, Bytes),
    /// Not carried: try again, after this long if the server said (`Retry-After`).
    Retry(Option<Duration>, String),
}

impl HttpStack {
    /// Connects to the server and checks that it takes the caller's clock. Call outside any
    /// async runtime (the transport runs its own, on the calling thread).
    pub fn connect(spec: HttpStackSpec) -> Result<HttpStack, LoadError> {
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
            sender: Mutex::new(None),
            origin: None,
            watermark: None,
            matcher_dim: health.matcher_dim.unwrap_or(0),
            audit_entries_at_start: health.audit_entries.unwrap_or(0),
            stats: Arc::default(),
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

    /// Waits for `at`'s scheduled moment (with a speed) and notes any lateness; the moment the
    /// call is due, from which its latency counts.
    fn pace(&mut self, at: Millis) -> Instant {
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
        if due > now {
            std::thread::sleep(due - now);
        } else {
            let lag_ms = (now - due).as_secs_f64() * 1000.0;
            let mut stats = self.stats.lock().expect("not poisoned");
            stats.max_lag_ms = stats.max_lag_ms.max(lag_ms);
            if now - due > self.spec.max_lag && stats.behind.is_none() {
                stats.behind = Some(Behind { at_ms: at, lag_ms });
            }
        }
        due
    }

    /// Sends one call, retrying what was not carried; its outcomes, the stack's refusal, or
    /// (recorded as the run's failure) why the transport gave up.
    fn call(
        &mut self,
        at: Millis,
        path: &str,
        act_as: Option<String>,
        body: Bytes,
    ) -> Result<Result<Vec<Outcome>, ApiError>, String> {
        if let Some(failed) = self.stats.lock().expect("not poisoned").failed.clone() {
            return Err(failed);
        }
        let due = self.pace(at);
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
            match self.attempt(&uri, &extra, body.clone()) {
                Attempt::Answered(status, body) => break (status, body),
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
                    std::thread::sleep(wait);
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

    fn fail(&self, why: String) -> String {
        let mut stats = self.stats.lock().expect("not poisoned");
        stats.failed.get_or_insert(why).clone()
    }

    /// One exchange on the kept connection (opened if need be).
    fn attempt(
        &mut self,
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
        let slot = self.sender.get_mut().expect("not poisoned");
        let result = self.runtime.block_on(async {
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
            Ok::<_, String>((status, retry_after, body))
        });
        match result {
            Ok((503, retry_after, body)) => Attempt::Retry(
                retry_after.map(Duration::from_secs),
                format!("HTTP 503: {}", String::from_utf8_lossy(&body)),
            ),
            Ok((status, _, body)) => Attempt::Answered(status, body),
            Err(e) => {
                *slot = None;
                Attempt::Retry(None, format!("the exchange with {addr} failed: {e}"))
            }
        }
    }
}

impl Stack for HttpStack {
    fn send(&mut self, envelope: &Envelope) -> Result<Vec<Outcome>, ApiError> {
        let command = &envelope.command;
        let path = http::command_path(command);
        let body = Bytes::from(http::command_body(command));
        let act_as = http::act_as_value(&envelope.actor);
        self.stats.lock().expect("not poisoned").calls += 1;
        match self.call(envelope.sent_at, &path, Some(act_as), body) {
            Ok(answer) => answer,
            // The run stops at the end of this tick; the call counts as refused meanwhile.
            Err(why) => Err(ApiError::Refused {
                what: "transport".into(),
                id: path,
                problem: why,
            }),
        }
    }

    fn advance(&mut self, now: Millis) -> Vec<Outcome> {
        self.stats.lock().expect("not poisoned").advances += 1;
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

    #[test]
    fn a_speed_that_is_not_positive_is_refused_before_connecting() {
        for speed in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let e = HttpStack::connect(HttpStackSpec {
                base_url: "http://127.0.0.1:1".into(),
                token: "x".repeat(32),
                speed: Some(speed),
                max_lag: DEFAULT_MAX_LAG,
                retry_budget: DEFAULT_RETRY_BUDGET,
            })
            .err()
            .expect("refused");
            assert!(e.to_string().contains("--speed"), "{e}");
        }
    }
}
