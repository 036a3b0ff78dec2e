//! Sightings through NATS JetStream (`twin serve --bus nats://HOST:PORT`), for deployments where
//! 1,034 face-capture points send in bursts the matcher should absorb rather than refuse.
//!
//! - `POST /matcher/submit_sighting` checks the caller and the body as always, then publishes
//!   the call to a JetStream stream (file storage, work-queue retention, bounded) and answers
//!   `202 {"queued": {"stream", "seq"}}` once JetStream has stored it: from then on it survives a
//!   restart of the server or of NATS. A caller that needs the outcomes (the twin's harness does)
//!   sends `X-Await-Outcomes: true` and gets them as from an inline call.
//! - Matcher workers — tasks pulling from one durable consumer, a queue group: each message goes
//!   to one of them — carry each sighting into the stack (role-checked, audited, journaled like
//!   any call), answer an awaiting caller, and only then acknowledge the message. A worker that
//!   stops before acknowledging leaves the message to be delivered again: delivery is at least
//!   once, and the matcher answers a sighting it has already alerted on with the same alert.
//! - With `--bus-workers 0` a server only publishes: another server with workers carries.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_nats::jetstream::{self, AckKind, consumer::pull, stream};
use baoan_api::{Actor, Command, Millis, Outcome};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::{AppState, Caller, HttpError};

/// The stream sightings go through unless told otherwise (`--bus-stream`).
pub const DEFAULT_STREAM: &str = "BAOAN_SIGHTINGS";
/// The durable consumer the workers share.
pub const CONSUMER: &str = "matcher-workers";
/// Workers a server runs unless told otherwise (`--bus-workers`).
pub const DEFAULT_WORKERS: usize = 2;
/// The most sightings the stream holds; beyond it a publish is refused (503), never dropped.
pub const MAX_QUEUED: i64 = 10_000_000;
/// How long an awaiting caller waits for a worker's answer.
pub const AWAIT_TIMEOUT: Duration = Duration::from_secs(30);
/// The header naming where a worker sends its answer.
const REPLY_HEADER: &str = "Baoan-Reply";

/// How to reach the bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusConfig {
    /// `nats://HOST:PORT`.
    pub url: String,
    /// The JetStream stream's name (letters, digits, `_` and `-`).
    pub stream: String,
    /// Matcher workers on this server (0: publish only).
    pub workers: usize,
}

/// Why the bus could not be used.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("--bus {url}: cannot reach NATS: {message}; is nats-server running with -js?")]
    Connect { url: String, message: String },
    #[error("--bus-stream {stream}: expected letters, digits, `_` and `-` only")]
    BadStream { stream: String },
    #[error("--bus {url}: JetStream: {message}")]
    JetStream { url: String, message: String },
}

/// One call as it travels on the bus.
#[derive(Debug, Serialize, Deserialize)]
struct BusCall {
    actor: Actor,
    /// The caller's time (`X-Sent-At`), if the server takes it; else the time it is carried.
    sent_at: Option<Millis>,
    command: Command,
}

/// A connected bus: the stream, its subject and the counters `/metrics` shows.
pub struct Bus {
    config: BusConfig,
    client: async_nats::Client,
    js: jetstream::Context,
    subject: String,
    published: AtomicU64,
    carried: AtomicU64,
}

impl std::fmt::Debug for Bus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bus").field("config", &self.config).finish()
    }
}

impl Bus {
    /// Connects and makes sure the stream exists.
    pub async fn connect(config: BusConfig) -> Result<Bus, BusError> {
        if config.stream.is_empty()
            || !config
                .stream
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(BusError::BadStream {
                stream: config.stream.clone(),
            });
        }
        let client = async_nats::connect(&config.url)
            .await
            .map_err(|e| BusError::Connect {
                url: config.url.clone(),
                message: e.to_string(),
            })?;
        let js = jetstream::new(client.clone());
        let subject = format!("baoan.sightings.{}", config.stream.to_ascii_lowercase());
        js.get_or_create_stream(stream::Config {
            name: config.stream.clone(),
            subjects: vec![subject.clone()],
            retention: stream::RetentionPolicy::WorkQueue,
            storage: stream::StorageType::File,
            max_messages: MAX_QUEUED,
            discard: stream::DiscardPolicy::New,
            ..Default::default()
        })
        .await
        .map_err(|e| BusError::JetStream {
            url: config.url.clone(),
            message: e.to_string(),
        })?;
        Ok(Bus {
            config,
            client,
            js,
            subject,
            published: AtomicU64::new(0),
            carried: AtomicU64::new(0),
        })
    }

    pub fn config(&self) -> &BusConfig {
        &self.config
    }

    /// Sightings published and carried by this server since it started.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.published.load(Ordering::Relaxed),
            self.carried.load(Ordering::Relaxed),
        )
    }

    /// Messages in the stream not yet carried and acknowledged.
    pub async fn queued(&self) -> Result<u64, BusError> {
        let mut s = self
            .js
            .get_stream(&self.config.stream)
            .await
            .map_err(|e| self.jetstream(e))?;
        let info = s.info().await.map_err(|e| self.jetstream(e))?;
        Ok(info.state.messages)
    }

    /// Deletes the stream and everything in it (tests clean up with it).
    pub async fn delete_stream(&self) -> Result<(), BusError> {
        self.js
            .delete_stream(&self.config.stream)
            .await
            .map(drop)
            .map_err(|e| self.jetstream(e))
    }

    fn jetstream(&self, e: impl std::fmt::Display) -> BusError {
        BusError::JetStream {
            url: self.config.url.clone(),
            message: e.to_string(),
        }
    }

    /// Publishes one sighting; the stream's sequence once JetStream has stored it, or — when
    /// `await_outcomes` — the worker's answer.
    pub(crate) async fn submit(
        &self,
        caller: Caller,
        command: Command,
        await_outcomes: bool,
    ) -> Result<Submitted, HttpError> {
        let unavailable = |what: &str, e: &dyn std::fmt::Display| {
            HttpError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "bus_unavailable",
                format!("matcher/submit_sighting: {what}: {e}; nothing was queued, try again"),
            )
        };
        let payload = serde_json::to_vec(&BusCall {
            actor: caller.actor,
            sent_at: caller.sent_at,
            command,
        })
        .expect("api commands serialise");
        let mut headers = async_nats::HeaderMap::new();
        let mut answers = None;
        if await_outcomes {
            let inbox = self.client.new_inbox();
            answers = Some(
                self.client
                    .subscribe(inbox.clone())
                    .await
                    .map_err(|e| unavailable("cannot wait for the answer", &e))?,
            );
            headers.insert(REPLY_HEADER, inbox.as_str());
        }
        let ack = self
            .js
            .publish_with_headers(self.subject.clone(), headers, payload.into())
            .await
            .map_err(|e| unavailable("cannot publish to the stream", &e))?
            .await
            .map_err(|e| unavailable("the stream did not store it", &e))?;
        self.published.fetch_add(1, Ordering::Relaxed);
        let Some(mut answers) = answers else {
            return Ok(Submitted::Queued {
                stream: ack.stream,
                seq: ack.sequence,
            });
        };
        let answer = tokio::time::timeout(AWAIT_TIMEOUT, answers.next())
            .await
            .ok()
            .flatten()
            .ok_or_else(|| {
                HttpError::new(
                    axum::http::StatusCode::GATEWAY_TIMEOUT,
                    "bus_timeout",
                    format!(
                        "matcher/submit_sighting: queued as {} #{} but no matcher worker answered \
                         within {} s; it will still be carried (are workers running?)",
                        ack.stream,
                        ack.sequence,
                        AWAIT_TIMEOUT.as_secs()
                    ),
                )
            })?;
        let answer: WorkerAnswer = serde_json::from_slice(&answer.payload)
            .map_err(|e| unavailable("a worker's answer could not be read", &e))?;
        match answer {
            WorkerAnswer::Outcomes(outcomes) => Ok(Submitted::Carried(outcomes)),
            WorkerAnswer::Refused { status, body } => Err(HttpError {
                status: axum::http::StatusCode::from_u16(status)
                    .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR),
                body,
            }),
        }
    }
}

/// What a submission through the bus came to.
pub(crate) enum Submitted {
    Queued { stream: String, seq: u64 },
    Carried(Vec<Outcome>),
}

/// A worker's answer to an awaiting caller.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum WorkerAnswer {
    Outcomes(Vec<Outcome>),
    Refused {
        status: u16,
        body: serde_json::Map<String, serde_json::Value>,
    },
}

/// Starts this server's matcher workers on `app`'s bus (none if it has no bus); they run until
/// aborted.
pub fn spawn_workers(app: &Arc<AppState>) -> Vec<tokio::task::JoinHandle<()>> {
    let Some(bus) = app.bus() else {
        return Vec::new();
    };
    (0..bus.config.workers)
        .map(|worker| {
            let app = Arc::clone(app);
            tokio::spawn(async move {
                // A worker that cannot reach its consumer tries again: the messages wait.
                loop {
                    if let Err(e) = work(&app).await {
                        eprintln!("twin: matcher worker {worker}: {e}; retrying in 1 s");
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            })
        })
        .collect()
}

/// One worker's loop: pull, carry, answer, acknowledge.
async fn work(app: &Arc<AppState>) -> Result<(), BusError> {
    let bus = app.bus().expect("workers run only on a server with a bus");
    let stream = bus
        .js
        .get_stream(&bus.config.stream)
        .await
        .map_err(|e| bus.jetstream(e))?;
    let consumer = stream
        .get_or_create_consumer(
            CONSUMER,
            pull::Config {
                durable_name: Some(CONSUMER.into()),
                ack_policy: jetstream::consumer::AckPolicy::Explicit,
                ack_wait: Duration::from_secs(30),
                max_ack_pending: 10_000,
                ..Default::default()
            },
        )
        .await
        .map_err(|e| bus.jetstream(e))?;
    let mut messages = consumer.messages().await.map_err(|e| bus.jetstream(e))?;
    while let Some(message) = messages.next().await {
        let message = message.map_err(|e| bus.jetstream(e))?;
        let Ok(call) = serde_json::from_slice::<BusCall>(&message.payload) else {
            // Not a call this server published: it can never be carried, so it is dropped
            // from the queue rather than delivered for ever.
            eprintln!("twin: matcher worker: an unreadable message on the bus was dropped");
            let _ = message.ack_with(AckKind::Term).await;
            continue;
        };
        let caller = Caller {
            actor: call.actor,
            sent_at: call.sent_at,
            gateway: false,
        };
        let carrier = Arc::clone(app);
        let carried = tokio::task::spawn_blocking(move || carrier.carry(caller, call.command))
            .await
            .unwrap_or_else(|_| Err(crate::stack_failed()));
        let answer = match carried {
            Ok(carried) => crate::answer(carried).await,
            Err(e) => Err(e),
        };
        if answer.as_ref().is_err_and(|e| e.status.is_server_error()) {
            // Not carried (the journal or the stack failed): delivered again later.
            let _ = message
                .ack_with(AckKind::Nak(Some(Duration::from_secs(1))))
                .await;
            continue;
        }
        bus.carried.fetch_add(1, Ordering::Relaxed);
        if let Some(reply) = message
            .headers
            .as_ref()
            .and_then(|h| h.get(REPLY_HEADER))
            .map(|v| v.to_string())
        {
            let body = match answer {
                Ok(outcomes) => WorkerAnswer::Outcomes(outcomes),
                Err(e) => WorkerAnswer::Refused {
                    status: e.status.as_u16(),
                    body: e.body,
                },
            };
            let payload = serde_json::to_vec(&body).expect("answers serialise");
            let _ = bus.client.publish(reply, payload.into()).await;
        }
        message.ack().await.map_err(|e| bus.jetstream(e))?;
    }
    Ok(())
}

/// `{"queued": {...}}` (the api's `http::Queued`), the answer to a sighting queued on the bus.
pub(crate) fn queued_body(stream: &str, seq: u64) -> serde_json::Value {
    json!(baoan_api::http::Queued {
        queued: baoan_api::http::QueuedAt {
            seq,
            stream: stream.into(),
        },
    })
}
