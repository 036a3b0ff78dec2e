//! The HTTP wire contract: what a served stack and its clients agree on — the paths, the
//! headers, how a command travels as a body, the shapes of the answers and the tokens file.
//!
//! It lives here, beside the messages it carries, so a client (the harness's load generator, its
//! `--stack` transport, anyone's) needs none of the server's crates, and the server and its
//! clients cannot drift apart. It must stay light: serde, `serde_json` and `toml`, nothing of a
//! web framework, a database or a bus.

pub mod body;
pub mod split;
pub mod tokens;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{Actor, ApiError, Command, Millis, Module, Outcome, PersonId, Role};

pub use body::{BodyError, command_body, command_fields, decode_command};
pub use split::{TooLarge, body_len, split_to_fit};
pub use tokens::{Bearer, MIN_TOKEN_LEN, Tokens, TokensError};

/// The largest request body a server takes unless told otherwise (`twin serve --max-body`);
/// the harness splits its own set-up calls to fit it (`split_to_fit`).
pub const DEFAULT_MAX_BODY: usize = 16 * 1024 * 1024;

/// `GET`: whether the server is up, its clock, storage and bus (a JSON object).
pub const HEALTH: &str = "/health";
/// `GET`: Prometheus text.
pub const METRICS: &str = "/metrics";
/// `GET`: the OpenAPI 3.1 document of every route.
pub const OPENAPI: &str = "/openapi.json";
/// `POST {"now": ms}`: where a gateway moves a caller's clock (`twin serve --clock caller`).
pub const CLOCK_ADVANCE: &str = "/clock/advance";
/// `POST {"down_ms": n}`: where a gateway asks a journaled server to restart now.
pub const ADMIN_RESTART: &str = "/admin/restart";
/// The longest `POST /admin/restart` may keep the server down (`down_ms`).
pub const ADMIN_RESTART_MAX_DOWN_MS: u64 = 600_000;
/// The friendly alias of `grid/submit_report`: where a reporting client posts its reports.
pub const REPORTS_ALIAS: &str = "/grid/reports";

/// `Authorization: Bearer <token>`: who calls (see `tokens`).
pub const AUTHORIZATION: &str = "authorization";
/// The only scheme `Authorization` takes (matched without regard to case).
pub const BEARER: &str = "Bearer";
/// The header a gateway names the person it calls for in: `role:person`.
pub const ACT_AS: &str = "x-act-as";
/// The header a caller gives a command's time in, in milliseconds (a caller's clock only).
pub const SENT_AT: &str = "x-sent-at";
/// The header (`true`) a caller asks, for a sighting on the bus, to wait for the worker's
/// outcomes with rather than be answered `{"queued": …}`.
pub const AWAIT_OUTCOMES: &str = "x-await-outcomes";
/// On every answer of a server with a caller's clock: `AUDIT;DUE`, the audit log's length and
/// the earliest time the stack may have time-driven work (`-`: none) as they stood when the
/// answer was written. A caller needs no `POST /clock/advance` to a time before `DUE` (it would
/// do nothing); of several answers, the one with the longest audit log is the latest.
pub const NEXT_DUE: &str = "x-next-due";

/// The `X-Next-Due` value for an audit log of `audit` entries and work due at `due`.
pub fn next_due_value(audit: u64, due: Option<Millis>) -> String {
    match due {
        Some(due) => format!("{audit};{due}"),
        None => format!("{audit};-"),
    }
}

/// An `X-Next-Due` value read back: the audit log's length and the time, if any.
pub fn parse_next_due(text: &str) -> Option<(u64, Option<Millis>)> {
    let (audit, due) = text.split_once(';')?;
    let audit = audit.trim().parse().ok()?;
    match due.trim() {
        "-" => Some((audit, None)),
        due => Some((audit, Some(due.parse().ok()?))),
    }
}

/// `POST /{module}/{kind}`: where `command` is sent.
pub fn command_path(command: &Command) -> String {
    path_of(command.module(), command.kind())
}

/// `/{module}/{kind}`.
pub fn path_of(module: Module, kind: &str) -> String {
    format!("/{}/{kind}", module.as_str())
}

/// The `Authorization` value for `token`.
pub fn bearer_value(token: &str) -> String {
    format!("{BEARER} {token}")
}

/// The token in an `Authorization` value, if its scheme is `Bearer`.
pub fn bearer_token(value: &str) -> Option<&str> {
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case(BEARER) => Some(token.trim()),
        _ => None,
    }
}

/// The `X-Act-As` value for `actor`: `inspector:1000001`.
pub fn act_as_value(actor: &Actor) -> String {
    format!("{}:{}", actor.role.as_str(), actor.person.0)
}

/// `inspector:1000001` as an actor.
pub fn parse_act_as(text: &str) -> Option<Actor> {
    let (role, person) = text.trim().split_once(':')?;
    let role = Role::ALL.into_iter().find(|r| r.as_str() == role.trim())?;
    let person = person.trim().parse::<u32>().ok()?;
    Some(Actor {
        role,
        person: PersonId(person),
    })
}

/// The answer to a carried call: `{"outcomes": [...]}` (each outcome tagged by `type`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Outcomes {
    pub outcomes: Vec<Outcome>,
}

/// The answer (202) to a sighting queued on the server's bus: `{"queued": {"stream", "seq"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Queued {
    pub queued: QueuedAt,
}

/// Where a queued sighting waits: the bus's stream and its sequence number there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct QueuedAt {
    // In the order the server has always written them (alphabetical).
    pub seq: u64,
    pub stream: String,
}

/// A refusal's body: `{"error": "<kind>", "message": "..."}`; more members (`field`, `line`,
/// `column`...) may follow.
pub fn error_body(error: &str, message: impl Into<String>) -> Map<String, Value> {
    let mut body = Map::new();
    body.insert("error".into(), error.into());
    body.insert("message".into(), Value::String(message.into()));
    body
}

/// The stack's own refusal as a body: the `ApiError` as this crate serialises it (so a client
/// reads it back as an `ApiError`) plus its `message`.
pub fn api_error_body(e: &ApiError) -> Map<String, Value> {
    let mut body = match serde_json::to_value(e) {
        Ok(Value::Object(map)) => map,
        // The derive makes an object with its `error` tag; anything else is a bug there.
        _ => unreachable!("ApiError serialises as a tagged object"),
    };
    body.insert("message".into(), Value::String(e.to_string()));
    body
}

/// The status the stack's refusal is answered with.
pub fn api_error_status(e: &ApiError) -> u16 {
    match e {
        ApiError::Forbidden { .. } => 403,
        ApiError::NotFound { .. } => 404,
        ApiError::Conflict { .. } | ApiError::Refused { .. } => 409,
        ApiError::Invalid { .. } => 422,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_carry_a_bearer_token_and_an_actor_both_ways() {
        assert_eq!(bearer_token(&bearer_value("abc")), Some("abc"));
        assert_eq!(bearer_token("bearer  abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        let actor = Actor {
            role: Role::CareWorker,
            person: PersonId(5_000_001),
        };
        assert_eq!(act_as_value(&actor), "care_worker:5000001");
        assert_eq!(parse_act_as(" care_worker : 5000001 "), Some(actor));
        assert_eq!(parse_act_as("mayor:1"), None);
    }

    #[test]
    fn answers_have_their_documented_shapes() {
        let text = serde_json::to_string(&Outcomes { outcomes: vec![] }).unwrap();
        assert_eq!(text, r#"{"outcomes":[]}"#);
        let queued = Queued {
            queued: QueuedAt {
                stream: "sightings".into(),
                seq: 7,
            },
        };
        let text = serde_json::to_string(&queued).unwrap();
        assert_eq!(text, r#"{"queued":{"seq":7,"stream":"sightings"}}"#);
        assert_eq!(
            path_of(Module::Grid, "submit_report"),
            "/grid/submit_report"
        );
        assert_eq!(command_path(&Command::QueryBacklog), "/grid/query_backlog");
    }

    #[test]
    fn a_refusal_body_reads_back_as_the_stacks_error() {
        let e = ApiError::NotFound {
            what: "task".into(),
            id: "7".into(),
        };
        let body = api_error_body(&e);
        assert_eq!(body["message"], e.to_string());
        assert_eq!(api_error_status(&e), 404);
        let back: ApiError = serde_json::from_value(Value::Object(body)).unwrap();
        assert_eq!(back, e);
        assert_eq!(error_body("no_route", "x")["error"], "no_route");
    }
}
