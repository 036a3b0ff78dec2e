//! A command as a request body: the command's fields as a JSON object, its kind taken from the
//! path. Bodies are strict — an unknown field is refused rather than silently dropped, so a
//! client built against another version of the api learns it at its first call — and errors
//! name the place: line and column for broken JSON, the field's path for a value that does not
//! fit.

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::Command;

/// Why a body is not the command its path names. Each message starts with `module/kind`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("{what}: the body is not valid JSON: {message}")]
    MalformedJson {
        what: String,
        message: String,
        line: usize,
        column: usize,
    },
    #[error("{what}: expected a JSON object of the command's fields, found {found}")]
    NotAnObject { what: String, found: &'static str },
    #[error("{what}: `type` is set by the path ({kind}); leave it out of the body, found {found}")]
    OtherType {
        what: String,
        kind: String,
        found: String,
    },
    /// A value that does not fit; `field` is its path where it can be told.
    #[error("{what}: {}{message}", field.as_ref().map(|f| format!("field `{f}`: ")).unwrap_or_default())]
    Invalid {
        what: String,
        field: Option<String>,
        message: String,
    },
    #[error(
        "{what}: field `{field}` is not part of the command; expected {}",
        expected(known)
    )]
    UnknownField {
        what: String,
        field: String,
        known: Vec<String>,
    },
}

fn expected(known: &[String]) -> String {
    if known.is_empty() {
        "no fields here".to_string()
    } else {
        format!("only: {}", known.join(", "))
    }
}

impl BodyError {
    /// The refusal's `error` member: `malformed_json`, `invalid_body` or `unknown_field`.
    pub fn kind(&self) -> &'static str {
        match self {
            BodyError::MalformedJson { .. } => "malformed_json",
            BodyError::NotAnObject { .. }
            | BodyError::OtherType { .. }
            | BodyError::Invalid { .. } => "invalid_body",
            BodyError::UnknownField { .. } => "unknown_field",
        }
    }

    /// The path of the field at fault, where it is known.
    pub fn field(&self) -> Option<&str> {
        match self {
            BodyError::OtherType { .. } => Some("type"),
            BodyError::Invalid { field, .. } => field.as_deref(),
            BodyError::UnknownField { field, .. } => Some(field),
            BodyError::MalformedJson { .. } | BodyError::NotAnObject { .. } => None,
        }
    }
}

/// A command's fields as a request body carries them: without `type` (the path names it).
pub fn command_fields(command: &Command) -> Value {
    let mut v = serde_json::to_value(command).expect("a command serialises as JSON");
    if let Some(map) = v.as_object_mut() {
        map.remove("type");
    }
    v
}

/// The body that carries `command` to its path.
pub fn command_body(command: &Command) -> Vec<u8> {
    serde_json::to_vec(&command_fields(command)).expect("JSON values serialise")
}

/// The `kind` command of `module` from a request body. An empty body is `{}` (commands without
/// fields, such as `query_backlog`). `"type"` may be left out (the path names the command) or be
/// the path's kind. `example` is asked, only when a value does not fit, for a valid command of
/// that kind, to tell which field it was.
pub fn decode_command(
    module: &str,
    kind: &str,
    body: &[u8],
    example: impl FnOnce() -> Option<Command>,
) -> Result<Command, BodyError> {
    let what = format!("{module}/{kind}");
    let value = typed_object(&what, kind, body)?;
    let command = Command::deserialize(&value).map_err(|e| {
        let message = e.to_string();
        let field = example()
            .and_then(|example| serde_json::to_value(example).ok())
            .and_then(|template| locate(&value, &message, template));
        BodyError::Invalid {
            what: what.clone(),
            field,
            message,
        }
    })?;
    // serde drops unknown fields of the api's types without a word; the command read back as
    // JSON has exactly the fields it took, so anything else in the body was not taken.
    let echo = serde_json::to_value(&command).expect("a command serialises as JSON");
    if let Some((field, known)) = unknown_field(&value, &echo, "") {
        return Err(BodyError::UnknownField { what, field, known });
    }
    Ok(command)
}

/// The body as a JSON object with the path's `type`.
fn typed_object(what: &str, kind: &str, body: &[u8]) -> Result<Value, BodyError> {
    let mut value: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Map::new())
    } else {
        serde_json::from_slice(body).map_err(|e| BodyError::MalformedJson {
            what: what.into(),
            message: e.to_string(),
            line: e.line(),
            column: e.column(),
        })?
    };
    let Value::Object(fields) = &mut value else {
        return Err(BodyError::NotAnObject {
            what: what.into(),
            found: type_name(&value),
        });
    };
    match fields.get("type") {
        None => {}
        Some(Value::String(t)) if t == kind => {}
        Some(other) => {
            return Err(BodyError::OtherType {
                what: what.into(),
                kind: kind.into(),
                found: other.to_string(),
            });
        }
    }
    fields.insert("type".into(), Value::String(kind.into()));
    Ok(value)
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// The first member of `body` that `echo` (the command as it was understood) lacks, with the
/// members that were expected beside it.
fn unknown_field(body: &Value, echo: &Value, path: &str) -> Option<(String, Vec<String>)> {
    match (body, echo) {
        (Value::Object(b), Value::Object(e)) => {
            for (k, v) in b {
                match e.get(k) {
                    Some(ev) => {
                        if let Some(found) = unknown_field(v, ev, &join(path, k)) {
                            return Some(found);
                        }
                    }
                    None => {
                        let known = e
                            .keys()
                            .filter(|key| !(path.is_empty() && *key == "type"))
                            .cloned()
                            .collect();
                        return Some((join(path, k), known));
                    }
                }
            }
            None
        }
        (Value::Array(b), Value::Array(e)) => b
            .iter()
            .zip(e)
            .enumerate()
            .find_map(|(i, (bv, ev))| unknown_field(bv, ev, &format!("{path}[{i}]"))),
        _ => None,
    }
}

/// One step down: into an object's member, or into an array's element (with the example's
/// first element, if any, to go on inside it).
enum Step {
    Member(String),
    Element(usize, Option<Value>),
}

/// The path of the value in `body` that makes deserialising fail with `error`, if it can be
/// told. serde cannot say where an internally tagged enum (as `Command` is) went wrong, so this
/// asks: put the body's values one at a time into a valid example of the command (`template`);
/// the one that alone brings back the same error is the culprit, then the same one level down.
/// A path is given only where the error came back word for word: better none than a wrong one.
fn locate(body: &Value, error: &str, mut template: Value) -> Option<String> {
    let mut pointer = String::new();
    let mut path = String::new();
    let mut node = body;
    while let Some((step, child)) = culprit(node, error, &template, &pointer) {
        match step {
            Step::Member(k) => {
                path = join(&path, &k);
                pointer = format!("{pointer}/{}", k.replace('~', "~0").replace('/', "~1"));
            }
            Step::Element(i, base) => {
                path = format!("{path}[{i}]");
                // An empty example array has no element to go on inside with: the element is as
                // far as it can be told.
                let Some(base) = base else { break };
                *template
                    .pointer_mut(&pointer)
                    .expect("the pointer is in the template") = Value::Array(vec![base]);
                pointer = format!("{pointer}/0");
            }
        }
        node = child;
    }
    (!path.is_empty()).then_some(path)
}

/// The member or element of `node` (at `pointer` in the template) that alone, put into the
/// template, fails with `error`.
fn culprit<'b>(
    node: &'b Value,
    error: &str,
    template: &Value,
    pointer: &str,
) -> Option<(Step, &'b Value)> {
    let fails_alike = |candidate: &Value| matches!(Command::deserialize(candidate), Err(e) if e.to_string() == error);
    match (node, template.pointer(pointer)) {
        (Value::Object(fields), Some(Value::Object(t))) => {
            for (k, v) in fields {
                if (pointer.is_empty() && k == "type") || !t.contains_key(k) {
                    continue;
                }
                let mut candidate = template.clone();
                candidate
                    .pointer_mut(pointer)
                    .expect("the pointer is in the template")[k] = v.clone();
                if fails_alike(&candidate) {
                    return Some((Step::Member(k.clone()), v));
                }
            }
            None
        }
        (Value::Array(items), Some(Value::Array(t))) => {
            let base = t.first().cloned();
            for (i, v) in items.iter().enumerate() {
                let mut candidate = template.clone();
                *candidate
                    .pointer_mut(pointer)
                    .expect("the pointer is in the template") = Value::Array(vec![v.clone()]);
                if fails_alike(&candidate) {
                    return Some((Step::Element(i, base), v));
                }
            }
            None
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TaskId;

    fn decode(kind: &str, body: &str) -> Result<Command, BodyError> {
        decode_command("grid", kind, body.as_bytes(), || {
            Some(Command::VerifyTask {
                task: TaskId(1),
                passed: true,
            })
        })
    }

    #[test]
    fn a_command_goes_out_without_its_type_and_comes_back_the_same() {
        let command = Command::VerifyTask {
            task: TaskId(3),
            passed: false,
        };
        let body = command_body(&command);
        assert_eq!(body, br#"{"passed":false,"task":3}"#);
        assert_eq!(
            decode("verify_task", std::str::from_utf8(&body).unwrap()),
            Ok(command)
        );
        assert_eq!(decode("query_backlog", " "), Ok(Command::QueryBacklog));
    }

    #[test]
    fn errors_say_what_kind_of_refusal_and_which_field() {
        let e = decode("verify_task", "{\n oops").unwrap_err();
        assert_eq!((e.kind(), e.field()), ("malformed_json", None));
        assert!(
            matches!(e, BodyError::MalformedJson { line: 2, .. }),
            "{e:?}"
        );

        let e = decode("verify_task", r#"{"task":"x","passed":true}"#).unwrap_err();
        assert_eq!((e.kind(), e.field()), ("invalid_body", Some("task")));
        assert!(
            e.to_string()
                .starts_with("grid/verify_task: field `task`: "),
            "{e}"
        );

        let e = decode("verify_task", r#"{"task":1,"passed":true,"why":1}"#).unwrap_err();
        assert_eq!((e.kind(), e.field()), ("unknown_field", Some("why")));
        assert!(
            e.to_string().ends_with("expected only: passed, task"),
            "{e}"
        );

        let e = decode("verify_task", r#"{"type":"accept_task"}"#).unwrap_err();
        assert_eq!((e.kind(), e.field()), ("invalid_body", Some("type")));
        let e = decode("verify_task", "[]").unwrap_err();
        assert_eq!(
            e.to_string(),
            "grid/verify_task: expected a JSON object of the command's fields, found an array"
        );
    }
}
