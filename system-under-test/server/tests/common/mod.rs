//! What the server's tests share: a token table, calls through the router, and a small
//! district's grid directory and reports.

#![allow(dead_code)]

use std::path::Path;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use baoan_server::Tokens;
use serde_json::{Value, json};
use tower::ServiceExt;

pub const ADMIN: &str = "admin-token-0123456789";
pub const INSPECTOR: &str = "inspector-token-0123456789";
pub const DISPATCHER: &str = "dispatcher-token-0123456789";
pub const ANALYST: &str = "analyst-token-0123456789";
/// A gateway's token: it may act for others (`X-Act-As`) and move a caller's clock.
pub const GATEWAY: &str = "gateway-token-0123456789";

/// The grid's own inspector (grid 0) is the inspector token's person.
pub fn tokens() -> Tokens {
    let text = format!(
        r#"
[[token]]
token = "{ADMIN}"
role = "admin"
person = 9000001

[[token]]
token = "{INSPECTOR}"
role = "inspector"
person = 1000001

[[token]]
token = "{DISPATCHER}"
role = "dispatcher"
person = 9000002

[[token]]
token = "{ANALYST}"
role = "analyst"
person = 9000003

[[token]]
token = "{GATEWAY}"
role = "admin"
person = 9000004
gateway = true
"#
    );
    Tokens::parse(Path::new("test-tokens.toml"), &text).unwrap()
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub text: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }
    pub fn outcome_types(&self) -> Vec<String> {
        self.json()["outcomes"]
            .as_array()
            .unwrap_or_else(|| panic!("no outcomes: {}", self.text))
            .iter()
            .map(|o| o["type"].as_str().unwrap().to_string())
            .collect()
    }
}

pub async fn send(
    router: &Router,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> Answer {
    send_with(router, method, path, token, &[], body).await
}

/// `send` with extra headers (`X-Act-As`, `X-Sent-At`).
pub async fn send_with(
    router: &Router,
    method: &str,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: &str,
) -> Answer {
    let mut request = Request::builder().method(method).uri(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(t) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let request = request
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let answer = Answer {
        status,
        headers,
        text: String::from_utf8(bytes.to_vec()).unwrap(),
    };
    // Every refusal a test provokes is read by a person: one clean sentence, not a literal
    // that lost its line continuations.
    if !status.is_success()
        && let Ok(v) = serde_json::from_str::<Value>(&answer.text)
        && let Some(message) = v["message"].as_str()
    {
        assert!(
            !message.contains("  ") && !message.contains('\n'),
            "{method} {path}: the message has a run of spaces or a line break: {message:?}"
        );
    }
    answer
}

pub async fn post(router: &Router, path: &str, token: Option<&str>, body: &str) -> Answer {
    send(router, "POST", path, token, body).await
}

/// Two grids in one community, and a fire-department resolver there (item type 1 is a fire lane
/// obstructed: the fire department's).
pub fn directory() -> Value {
    json!({ "directory": {
        "grids": [
            { "grid": 0, "community": 0, "street": 0, "inspector": 1000001, "neighbours": [1] },
            { "grid": 1, "community": 0, "street": 0, "inspector": 1000002, "neighbours": [0] }
        ],
        "resolvers": [
            { "person": 2000001, "department": "fire", "community": 0, "street": 0 }
        ]
    } })
}

pub fn report(report_ref: u64) -> Value {
    json!({
        "report_ref": report_ref, "source": "inspector", "grid": 0, "item_type": 1,
        "observed_at": 0, "resolved_on_spot": false
    })
}

pub async fn load_directory(router: &Router) {
    let a = post(
        router,
        "/grid/load_directory",
        Some(ADMIN),
        &directory().to_string(),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.outcome_types(), ["directory_loaded"]);
}
