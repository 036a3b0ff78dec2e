//! The server's error answers: always a JSON object `{"error": "<kind>", "message": "...", ...}`
//! (the api's `http::error_body`), so an engineer reading a failed call sees what was wrong and
//! where without the server's log.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use baoan_api::{ApiError, http};
use serde_json::{Map, Value};

/// An error answer: its status and its JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpError {
    pub status: StatusCode,
    pub body: Map<String, Value>,
}

impl HttpError {
    /// `{"error": error, "message": message}` with `status`.
    pub fn new(status: StatusCode, error: &str, message: impl Into<String>) -> Self {
        HttpError {
            status,
            body: http::error_body(error, message),
        }
    }

    /// Adds a member to the body (`field`, `line`, `column`...).
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.body.insert(key.into(), value.into());
        self
    }

    /// The stack's refusal as an answer. The body is the `ApiError` as the api serialises it (so a
    /// client can read it back as an `ApiError`) plus its `message`.
    pub fn from_api(e: &ApiError) -> Self {
        HttpError {
            status: StatusCode::from_u16(http::api_error_status(e))
                .expect("the api's statuses are valid"),
            body: http::api_error_body(e),
        }
    }

    /// The `error` member: `forbidden`, `malformed_json`...
    pub fn kind(&self) -> &str {
        self.body.get("error").and_then(Value::as_str).unwrap_or("")
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let status = self.status;
        // The journal's database is away: the server is recovering by itself, so a client
        // should try again in a second rather than at once. (Other 503s, such as a fault plan's
        // injected errors, carry no hint: the harness retries them at once.)
        let recovering = self.kind() == "storage_failed";
        let mut response = (status, Json(Value::Object(self.body))).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if recovering {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stack_refusals_map_to_statuses_and_keep_the_apis_fields() {
        let cases = [
            (
                ApiError::Forbidden {
                    role: "inspector".into(),
                    command: "load_directory".into(),
                    allowed: "admin".into(),
                },
                403,
            ),
            (
                ApiError::NotFound {
                    what: "task".into(),
                    id: "7".into(),
                },
                404,
            ),
            (
                ApiError::Conflict {
                    task: 7,
                    problem: "already closed".into(),
                },
                409,
            ),
            (
                ApiError::Refused {
                    what: "alert".into(),
                    id: "1".into(),
                    problem: "already decided".into(),
                },
                409,
            ),
            (
                ApiError::Invalid {
                    field: "grid".into(),
                    problem: "no such grid".into(),
                },
                422,
            ),
        ];
        for (e, status) in cases {
            let h = HttpError::from_api(&e);
            assert_eq!(h.status.as_u16(), status, "{e:?}");
            assert_eq!(h.body["message"], e.to_string());
            let back: ApiError = serde_json::from_value(Value::Object(h.body)).unwrap();
            assert_eq!(back, e, "a client reads the refusal back");
        }
    }
}
