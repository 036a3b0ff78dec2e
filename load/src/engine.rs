//! The open-model engine: workers on a fixed timetable, one keep-alive connection each, and the
//! tallies (HDR histograms and counters) they keep.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use hyper::body::Bytes;
use hyper::header::HeaderValue;
use hyper::{Method, Uri};
use serde::Serialize;

use crate::client::{Sender, bearer, connect, exchange, host_header, request};
use crate::setup::{DEFAULT_GRIDS, REPORT_HEAD, prepare, report_tail, reserve_refs};
use crate::target::Endpoint;
use crate::{LoadError, LoadTarget, runtime};

/// A send later than this after its scheduled time, on an idle connection, was delayed by the
/// generator itself.
pub const LATE_TOLERANCE: Duration = Duration::from_millis(10);

/// Above this share of sends late by the generator, a step's figures describe the generator, not
/// the server: the result says `generator_behind`.
pub const GENERATOR_BEHIND_SHARE: f64 = 0.01;

/// Latencies are kept from 1 µs to 1 h, to two significant digits (1% resolution).
const HIST_MAX_US: u64 = 3_600_000_000;
const HIST_SIGFIG: u8 = 2;

/// Longest body of an error answer kept in `first_error`.
const ERROR_SAMPLE_CHARS: usize = 400;

/// One constant-rate run: the offered rate of reports, how long to measure after a warm-up, and
/// over how many connections.
#[derive(Debug, Clone, PartialEq)]
pub struct RateSpec {
    /// Reports per second offered, whatever the server does (open model).
    pub rate: f64,
    /// How long the measured part lasts.
    pub duration: Duration,
    /// Sent at the same rate before the measured part and left out of its figures (caches,
    /// connection set-up, the allocator's first growth).
    pub warmup: Duration,
    /// Keep-alive connections, one per worker; each carries at most one request at a time.
    pub connections: usize,
    /// A request unanswered this long counts as a transport error and its connection is
    /// replaced. Sending also stops this long after the timetable ends: requests still due then
    /// count as `unsent`.
    pub timeout: Duration,
    /// A line on stderr when the run starts and ends.
    pub progress: bool,
}

impl Default for RateSpec {
    fn default() -> Self {
        RateSpec {
            rate: 100.0,
            duration: Duration::from_secs(30),
            warmup: Duration::from_secs(5),
            connections: 64,
            timeout: Duration::from_secs(10),
            progress: true,
        }
    }
}

impl RateSpec {
    pub(crate) fn check(&self) -> Result<(), LoadError> {
        if !(self.rate.is_finite() && self.rate > 0.0) {
            return Err(LoadError::BadSpec(format!(
                "rate: expected reports per second above 0, got {}",
                self.rate
            )));
        }
        if self.connections == 0 {
            return Err(LoadError::BadSpec(
                "connections: expected at least 1".into(),
            ));
        }
        if self.duration.is_zero() {
            return Err(LoadError::BadSpec(
                "duration: expected more than 0 s".into(),
            ));
        }
        if self.timeout.is_zero() {
            return Err(LoadError::BadSpec("timeout: expected more than 0 s".into()));
        }
        Ok(())
    }
}

/// Latency percentiles in milliseconds (all 0 when `count` is 0).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct LatencySummary {
    pub count: u64,
    pub min_ms: f64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

impl LatencySummary {
    pub(crate) fn of(h: &Histogram<u64>) -> LatencySummary {
        if h.is_empty() {
            return LatencySummary::default();
        }
        let ms = |us: u64| us as f64 / 1000.0;
        LatencySummary {
            count: h.len(),
            min_ms: ms(h.min()),
            mean_ms: h.mean() / 1000.0,
            p50_ms: ms(h.value_at_quantile(0.5)),
            p90_ms: ms(h.value_at_quantile(0.9)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
        }
    }
}

/// What became of the requests: answers by status class, and the ones that got no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub struct StatusCounts {
    pub ok_2xx: u64,
    pub client_4xx: u64,
    pub server_5xx: u64,
    /// 1xx and 3xx: not expected from the stack, counted as errors.
    pub other: u64,
    /// No answer: connection refused or reset, broken HTTP, or a timeout.
    pub transport_errors: u64,
    /// Of the transport errors: unanswered within the timeout.
    pub timeouts: u64,
    /// Of the transport errors: the connection could not be opened.
    pub connect_errors: u64,
    /// Still due when sending stopped (the timeout after the timetable's end): never sent.
    pub unsent: u64,
}

impl StatusCounts {
    /// Everything but a 2xx answer.
    pub fn errors(&self) -> u64 {
        self.client_4xx + self.server_5xx + self.other + self.transport_errors + self.unsent
    }

    fn add(&mut self, o: &StatusCounts) {
        self.ok_2xx += o.ok_2xx;
        self.client_4xx += o.client_4xx;
        self.server_5xx += o.server_5xx;
        self.other += o.other;
        self.transport_errors += o.transport_errors;
        self.timeouts += o.timeouts;
        self.connect_errors += o.connect_errors;
        self.unsent += o.unsent;
    }
}

/// The measured part of one constant-rate run (one step of a knee search, or a soak's whole).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepResult {
    /// Reports per second the timetable offered.
    pub offered_rate: f64,
    pub connections: usize,
    pub duration_s: f64,
    pub warmup_s: f64,
    /// Requests the timetable had in the measured part (rate × duration).
    pub scheduled: u64,
    /// Requests the generator issued (whatever became of them).
    pub sent: u64,
    /// Requests answered with any status.
    pub responses: u64,
    pub status: StatusCounts,
    /// Every request not answered 2xx (see `StatusCounts::errors`).
    pub errors: u64,
    /// `errors / scheduled`.
    pub error_rate: f64,
    /// Sends per second over the measured part (lower than offered when sends fell behind).
    pub achieved_send_rate: f64,
    /// Answers per second over the measured part, until the last answer.
    pub response_rate: f64,
    /// Connections opened after a worker's first (after the server closed one or an error).
    pub reconnects: u64,
    /// From the scheduled time to the full answer: what a caller on the timetable waited
    /// (corrected for coordinated omission). Requests never sent are in it with the wait until
    /// sending stopped, a lower bound. It includes the generator's timer resolution (tokio's
    /// timers fire on millisecond ticks): up to about 1 ms above the service time when idle.
    pub corrected: LatencySummary,
    /// From the actual send to the full answer: the server's time once it had the request.
    pub service: LatencySummary,
    /// Sends more than `LATE_TOLERANCE` after their schedule on an idle connection.
    pub late_by_generator: u64,
    /// `late_by_generator / sent`.
    pub late_share: f64,
    /// More than `GENERATOR_BEHIND_SHARE` of the sends were late by the generator: the figures
    /// measure the generator, and the rate was *not* lowered to hide it.
    pub generator_behind: bool,
    /// The first error seen, for diagnosis: a transport error's message or a status and body.
    pub first_error: Option<String>,
}

/// Whether a send was delayed by the generator: its connection was idle at the scheduled time
/// (the previous answer, if any, had arrived by then) and yet the send started more than
/// `tolerance` after the schedule. Times are offsets from the run's start.
///
/// A send that waited for its connection's previous answer is late because of the server, and
/// is not counted: its wait is in the corrected latency.
pub fn late_by_generator(
    scheduled: Duration,
    previous_answer: Option<Duration>,
    started: Duration,
    tolerance: Duration,
) -> bool {
    let idle = previous_answer.is_none_or(|p| p <= scheduled);
    idle && started > scheduled + tolerance
}

/// Runs reports at one constant rate against `target`: the set-up (directory and a check
/// report), then `warmup + duration` on the timetable. Blocking.
///
/// Rejected set-up is an error; errors during the load are counted in the result, never raised.
pub fn run_constant(target: &LoadTarget, spec: &RateSpec) -> Result<StepResult, LoadError> {
    spec.check()?;
    let rt = runtime()?;
    rt.block_on(async {
        let endpoint = target.endpoint().await?;
        prepare(target, &endpoint, DEFAULT_GRIDS).await?;
        if spec.progress {
            eprintln!(
                "load: {} reports/s for {} s (+{} s warm-up) over {} connections to {}",
                fmt_rate(spec.rate),
                spec.duration.as_secs_f64(),
                spec.warmup.as_secs_f64(),
                spec.connections,
                endpoint.url
            );
        }
        let result = run_step(target, &endpoint, spec).await?;
        if spec.progress {
            eprintln!("load: {}", step_line(&result));
        }
        Ok(result)
    })
}

/// One step on an endpoint that is already set up.
pub(crate) async fn run_step(
    target: &LoadTarget,
    endpoint: &Endpoint,
    spec: &RateSpec,
) -> Result<StepResult, LoadError> {
    let run = Run::start(target, endpoint, spec)?;
    run.finish().await
}

pub(crate) fn fmt_rate(r: f64) -> String {
    if r >= 100.0 {
        format!("{r:.0}")
    } else {
        format!("{r:.1}")
    }
}

/// One line for a step's progress.
pub(crate) fn step_line(r: &StepResult) -> String {
    let mut line = format!(
        "offered {}/s, sent {}/s, answered {}/s; p50 {:.2} ms, p99 {:.2} ms (service p99 {:.2} ms); \
         errors {} ({:.2}%)",
        fmt_rate(r.offered_rate),
        fmt_rate(r.achieved_send_rate),
        fmt_rate(r.response_rate),
        r.corrected.p50_ms,
        r.corrected.p99_ms,
        r.service.p99_ms,
        r.errors,
        r.error_rate * 100.0
    );
    if r.generator_behind {
        line.push_str(&format!(
            "; GENERATOR BEHIND ({:.1}% of sends late)",
            r.late_share * 100.0
        ));
    }
    line
}

/// Counters and histograms of some requests.
#[derive(Debug, Clone)]
pub(crate) struct Tally {
    pub corrected: Histogram<u64>,
    pub service: Histogram<u64>,
    pub sent: u64,
    pub responses: u64,
    pub status: StatusCounts,
    pub reconnects: u64,
    pub late: u64,
    pub first_error: Option<String>,
    pub last_send: Option<Instant>,
    pub last_answer: Option<Instant>,
}

pub(crate) fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HIST_MAX_US, HIST_SIGFIG).expect("valid histogram bounds")
}

pub(crate) fn micros(d: Duration) -> u64 {
    (d.as_micros() as u64).max(1)
}

impl Tally {
    pub fn new() -> Tally {
        Tally {
            corrected: histogram(),
            service: histogram(),
            sent: 0,
            responses: 0,
            status: StatusCounts::default(),
            reconnects: 0,
            late: 0,
            first_error: None,
            last_send: None,
            last_answer: None,
        }
    }

    pub fn add(&mut self, o: &Tally) {
        // Same bounds everywhere: adding cannot fail.
        let _ = self.corrected.add(&o.corrected);
        let _ = self.service.add(&o.service);
        self.sent += o.sent;
        self.responses += o.responses;
        self.status.add(&o.status);
        self.reconnects += o.reconnects;
        self.late += o.late;
        if self.first_error.is_none() {
            self.first_error.clone_from(&o.first_error);
        }
        self.last_send = self.last_send.max(o.last_send);
        self.last_answer = self.last_answer.max(o.last_answer);
    }

    /// Empties it, keeping the histograms' memory.
    pub fn clear(&mut self) {
        self.corrected.reset();
        self.service.reset();
        self.sent = 0;
        self.responses = 0;
        self.status = StatusCounts::default();
        self.reconnects = 0;
        self.late = 0;
        self.first_error = None;
        self.last_send = None;
        self.last_answer = None;
    }

    fn error(&mut self, message: impl FnOnce() -> String) {
        if self.first_error.is_none() {
            self.first_error = Some(message());
        }
    }
}

/// What happened to one request, recorded by its worker.
enum Event<'a> {
    Answer {
        status: u16,
        body: &'a [u8],
        corrected: Duration,
        service: Duration,
    },
    Transport {
        message: &'a dyn Fn() -> String,
        timeout: bool,
        connect: bool,
    },
}

/// A worker's tallies: since the last interval drain (every request) and of the measured part
/// (requests scheduled after the warm-up).
struct WorkerStats {
    interval: Tally,
    measured: Tally,
}

impl WorkerStats {
    fn record(&mut self, measured: bool, late: bool, sent: Instant, at: Instant, event: &Event) {
        let tallies: &mut [Tally] = if measured {
            std::slice::from_mut(&mut self.measured)
        } else {
            &mut []
        };
        for t in std::iter::once(&mut self.interval).chain(tallies.iter_mut()) {
            t.sent += 1;
            t.late += u64::from(late);
            t.last_send = t.last_send.max(Some(sent));
            match *event {
                Event::Answer {
                    status,
                    body,
                    corrected,
                    service,
                } => {
                    t.responses += 1;
                    t.last_answer = t.last_answer.max(Some(at));
                    t.corrected.saturating_record(micros(corrected));
                    t.service.saturating_record(micros(service));
                    match status {
                        200..=299 => t.status.ok_2xx += 1,
                        400..=499 => t.status.client_4xx += 1,
                        500..=599 => t.status.server_5xx += 1,
                        _ => t.status.other += 1,
                    }
                    if !(200..=299).contains(&status) {
                        t.error(|| {
                            let text = String::from_utf8_lossy(body);
                            let text: String = text.chars().take(ERROR_SAMPLE_CHARS).collect();
                            format!("HTTP {status}: {text}")
                        });
                    }
                }
                Event::Transport {
                    message,
                    timeout,
                    connect,
                } => {
                    t.status.transport_errors += 1;
                    t.status.timeouts += u64::from(timeout);
                    t.status.connect_errors += u64::from(connect);
                    t.error(message);
                }
            }
        }
    }

    fn record_unsent(&mut self, measured: bool, waited: Duration) {
        let tallies: &mut [Tally] = if measured {
            std::slice::from_mut(&mut self.measured)
        } else {
            &mut []
        };
        for t in std::iter::once(&mut self.interval).chain(tallies.iter_mut()) {
            t.status.unsent += 1;
            t.corrected.saturating_record(micros(waited));
        }
    }

    fn reconnect(&mut self, measured: bool) {
        self.interval.reconnects += 1;
        if measured {
            self.measured.reconnects += 1;
        }
    }
}

fn lock(stats: &Mutex<WorkerStats>) -> MutexGuard<'_, WorkerStats> {
    // A worker that panicked left counters, not broken invariants.
    stats.lock().unwrap_or_else(|p| p.into_inner())
}

/// The timetable and what every request carries.
struct Plan {
    start: Instant,
    rate: f64,
    connections: u64,
    /// Requests in the whole timetable (warm-up and measured).
    total: u64,
    /// The first request of the measured part.
    measured_from: u64,
    stop_sending_at: Instant,
    timeout: Duration,
    addr: std::net::SocketAddr,
    host: HeaderValue,
    authorization: HeaderValue,
    uri: Uri,
    ref_base: u64,
    tail: String,
}

impl Plan {
    fn scheduled(&self, index: u64) -> Instant {
        self.start + Duration::from_secs_f64(index as f64 / self.rate)
    }

    fn body(&self, index: u64, buf: &mut Vec<u8>) -> Bytes {
        buf.clear();
        buf.extend_from_slice(REPORT_HEAD.as_bytes());
        buf.extend_from_slice(itoa::Buffer::new().format(self.ref_base + index).as_bytes());
        buf.extend_from_slice(self.tail.as_bytes());
        Bytes::copy_from_slice(buf)
    }
}

/// A run in progress: its workers and their tallies.
pub(crate) struct Run {
    plan: Arc<Plan>,
    stats: Vec<Arc<Mutex<WorkerStats>>>,
    workers: Vec<tokio::task::JoinHandle<()>>,
    spec: RateSpec,
}

/// Requests of a timetable of `seconds` at `rate`: those scheduled in `[0, seconds)`.
fn requests_in(seconds: f64, rate: f64) -> u64 {
    (seconds * rate).ceil() as u64
}

impl Run {
    /// Starts the workers (call in a runtime). The timetable starts a few milliseconds from now,
    /// once every worker is spawned.
    pub fn start(
        target: &LoadTarget,
        endpoint: &Endpoint,
        spec: &RateSpec,
    ) -> Result<Run, LoadError> {
        spec.check()?;
        let warmup = spec.warmup.as_secs_f64();
        let total_s = warmup + spec.duration.as_secs_f64();
        let total = requests_in(total_s, spec.rate);
        let measured_from = requests_in(warmup, spec.rate);
        let start = Instant::now() + Duration::from_millis(20);
        let plan = Arc::new(Plan {
            start,
            rate: spec.rate,
            connections: spec.connections as u64,
            total,
            measured_from,
            stop_sending_at: start + Duration::from_secs_f64(total_s) + spec.timeout,
            timeout: spec.timeout,
            addr: endpoint.addr,
            host: host_header(endpoint)?,
            authorization: bearer(&target.inspector_token)?,
            uri: Uri::from_static(baoan_api::http::REPORTS_ALIAS),
            ref_base: reserve_refs(total),
            tail: report_tail(),
        });
        let stats: Vec<_> = (0..spec.connections)
            .map(|_| {
                Arc::new(Mutex::new(WorkerStats {
                    interval: Tally::new(),
                    measured: Tally::new(),
                }))
            })
            .collect();
        let workers = stats
            .iter()
            .enumerate()
            .map(|(k, s)| tokio::spawn(worker(k as u64, Arc::clone(&plan), Arc::clone(s))))
            .collect();
        Ok(Run {
            plan,
            stats,
            workers,
            spec: spec.clone(),
        })
    }

    pub fn start_instant(&self) -> Instant {
        self.plan.start
    }

    /// Every worker has finished (sent its last request and had its answer or given up).
    pub fn is_done(&self) -> bool {
        self.workers.iter().all(|w| w.is_finished())
    }

    /// Takes every worker's interval tally (every request recorded since the last drain).
    pub fn drain_interval(&self, into: &mut Tally) {
        into.clear();
        for s in &self.stats {
            let mut s = lock(s);
            into.add(&s.interval);
            s.interval.clear();
        }
    }

    /// Waits for the workers and sums the measured part.
    pub async fn finish(mut self) -> Result<StepResult, LoadError> {
        for w in std::mem::take(&mut self.workers) {
            // A worker's panic is a bug in the generator: say so rather than report half a run.
            w.await.map_err(|e| {
                LoadError::Runtime(std::io::Error::other(format!("a load worker failed: {e}")))
            })?;
        }
        let mut measured = Tally::new();
        for s in &self.stats {
            measured.add(&lock(s).measured);
        }
        Ok(self.result(&measured))
    }

    fn result(&self, t: &Tally) -> StepResult {
        let spec = &self.spec;
        let duration = spec.duration.as_secs_f64();
        let measured_start = self.plan.start + spec.warmup;
        let span = |last: Option<Instant>| {
            last.map_or(duration, |l| {
                l.saturating_duration_since(measured_start)
                    .as_secs_f64()
                    .max(duration)
            })
        };
        let scheduled = self.plan.total - self.plan.measured_from;
        let errors = t.status.errors();
        let late_share = if t.sent == 0 {
            0.0
        } else {
            t.late as f64 / t.sent as f64
        };
        StepResult {
            offered_rate: spec.rate,
            connections: spec.connections,
            duration_s: duration,
            warmup_s: spec.warmup.as_secs_f64(),
            scheduled,
            sent: t.sent,
            responses: t.responses,
            status: t.status,
            errors,
            error_rate: if scheduled == 0 {
                0.0
            } else {
                errors as f64 / scheduled as f64
            },
            achieved_send_rate: t.sent as f64 / span(t.last_send),
            response_rate: t.responses as f64 / span(t.last_answer),
            reconnects: t.reconnects,
            corrected: LatencySummary::of(&t.corrected),
            service: LatencySummary::of(&t.service),
            late_by_generator: t.late,
            late_share,
            generator_behind: late_share > GENERATOR_BEHIND_SHARE,
            first_error: t.first_error.clone(),
        }
    }
}

/// Worker `k`: requests `k, k + C, k + 2C, …` of the timetable, each at its time, on one
/// keep-alive connection opened again after any failure.
async fn worker(k: u64, plan: Arc<Plan>, stats: Arc<Mutex<WorkerStats>>) {
    let mut sender: Option<Sender> = None;
    let mut opened_before = false;
    let mut previous_answer: Option<Instant> = None;
    let mut buf = Vec::with_capacity(192);
    let mut index = k;
    while index < plan.total {
        if Instant::now() >= plan.stop_sending_at {
            let now = Instant::now();
            let mut s = lock(&stats);
            while index < plan.total {
                let waited = now.saturating_duration_since(plan.scheduled(index));
                s.record_unsent(index >= plan.measured_from, waited);
                index += plan.connections;
            }
            break;
        }
        let scheduled = plan.scheduled(index);
        let measured = index >= plan.measured_from;
        tokio::time::sleep_until(scheduled.into()).await;
        let woke = Instant::now();
        let offset = |t: Instant| t.saturating_duration_since(plan.start);
        let late = late_by_generator(
            offset(scheduled),
            previous_answer.map(offset),
            offset(woke),
            LATE_TOLERANCE,
        );

        if sender.as_ref().is_none_or(|s| s.is_closed()) {
            sender = None;
            if opened_before {
                lock(&stats).reconnect(measured);
            }
            opened_before = true;
            let failure = match tokio::time::timeout(plan.timeout, connect(plan.addr)).await {
                Ok(Ok(s)) => {
                    sender = Some(s);
                    None
                }
                Ok(Err(e)) => Some((e.to_string(), false)),
                Err(_) => Some(("no connection within the timeout".to_string(), true)),
            };
            if let Some((message, timeout)) = failure {
                let now = Instant::now();
                previous_answer = Some(now);
                let addr = plan.addr;
                let text = move || format!("cannot connect to {addr}: {message}");
                lock(&stats).record(
                    measured,
                    late,
                    woke,
                    now,
                    &Event::Transport {
                        message: &text,
                        timeout,
                        connect: true,
                    },
                );
                index += plan.connections;
                continue;
            }
        }
        let Some(conn) = sender.as_mut() else {
            unreachable!("a connection was just opened")
        };

        let req = request(
            Method::POST,
            plan.uri.clone(),
            &plan.host,
            Some(&plan.authorization),
            plan.body(index, &mut buf),
        );
        let sent = Instant::now();
        let result = tokio::time::timeout(plan.timeout, exchange(conn, req)).await;
        let done = Instant::now();
        previous_answer = Some(done);
        let mut s = lock(&stats);
        match result {
            Ok(Ok((status, body))) => s.record(
                measured,
                late,
                sent,
                done,
                &Event::Answer {
                    status,
                    body: &body,
                    corrected: done.saturating_duration_since(scheduled),
                    service: done.saturating_duration_since(sent),
                },
            ),
            Ok(Err(e)) => {
                sender = None;
                let addr = plan.addr;
                let text = move || format!("HTTP exchange with {addr} failed: {e}");
                s.record(
                    measured,
                    late,
                    sent,
                    done,
                    &Event::Transport {
                        message: &text,
                        timeout: false,
                        connect: false,
                    },
                );
            }
            Err(_) => {
                sender = None;
                let secs = plan.timeout.as_secs_f64();
                let text = move || format!("no answer within the {secs} s timeout");
                s.record(
                    measured,
                    late,
                    sent,
                    done,
                    &Event::Transport {
                        message: &text,
                        timeout: true,
                        connect: false,
                    },
                );
            }
        }
        drop(s);
        index += plan.connections;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn a_late_send_on_an_idle_connection_is_the_generators_fault() {
        // Idle since 90 ms, due at 100 ms, sent at 115 ms: the generator was late.
        assert!(late_by_generator(
            ms(100),
            Some(ms(90)),
            ms(115),
            LATE_TOLERANCE
        ));
        // First request of a worker: idle by definition.
        assert!(late_by_generator(ms(100), None, ms(111), LATE_TOLERANCE));
        // Within the tolerance.
        assert!(!late_by_generator(
            ms(100),
            Some(ms(90)),
            ms(110),
            LATE_TOLERANCE
        ));
        assert!(!late_by_generator(ms(100), None, ms(100), LATE_TOLERANCE));
        // The previous answer came at 150 ms, after the schedule: the server made it late.
        assert!(!late_by_generator(
            ms(100),
            Some(ms(150)),
            ms(151),
            LATE_TOLERANCE
        ));
        // An answer exactly at the scheduled time leaves the connection idle.
        assert!(late_by_generator(
            ms(100),
            Some(ms(100)),
            ms(200),
            LATE_TOLERANCE
        ));
    }

    #[test]
    fn latency_summaries_are_in_milliseconds() {
        let mut h = histogram();
        for us in 1..=1000u64 {
            h.record(us * 10).unwrap();
        }
        let s = LatencySummary::of(&h);
        assert_eq!(s.count, 1000);
        assert!((s.p50_ms - 5.0).abs() < 0.05, "{s:?}");
        assert!((s.max_ms - 10.0).abs() < 0.1, "{s:?}");
        assert_eq!(LatencySummary::of(&histogram()), LatencySummary::default());
    }

    #[test]
    fn errors_are_everything_but_2xx() {
        let c = StatusCounts {
            ok_2xx: 10,
            client_4xx: 1,
            server_5xx: 2,
            other: 3,
            transport_errors: 4,
            timeouts: 1,
            connect_errors: 2,
            unsent: 5,
        };
        assert_eq!(c.errors(), 15);
    }

    #[test]
    fn worker_stats_split_warm_up_from_the_measured_part() {
        let mut s = WorkerStats {
            interval: Tally::new(),
            measured: Tally::new(),
        };
        let now = Instant::now();
        let answer = |status| Event::Answer {
            status,
            body: b"{\"error\":\"x\"}",
            corrected: ms(5),
            service: ms(2),
        };
        s.record(false, false, now, now, &answer(200));
        s.record(true, true, now, now, &answer(503));
        s.record_unsent(true, ms(50));
        assert_eq!(s.interval.sent, 2);
        assert_eq!(s.measured.sent, 1);
        assert_eq!(s.measured.late, 1);
        assert_eq!(s.measured.status.server_5xx, 1);
        assert_eq!(s.measured.status.unsent, 1);
        assert_eq!(s.measured.corrected.len(), 2);
        assert_eq!(s.measured.service.len(), 1);
        assert_eq!(
            s.measured.first_error.as_deref(),
            Some("HTTP 503: {\"error\":\"x\"}")
        );
        assert_eq!(s.interval.status.ok_2xx, 1);
    }
}
