//! A request body made into a `Command`: the command's fields as a JSON object, its kind taken
//! from the path. Bodies are strict — an unknown field is refused rather than silently dropped, so
//! a client built against another version of the api learns it at its first call — and errors
//! name the place: line and column for broken JSON, the field's path for a value that does not
//! fit.

use axum::http::StatusCode;
use baoan_api::Command;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::commands;
use crate::error::HttpError;

/// A command's fields as a request body carries them: without `type` (the path names it).
pub fn command_fields(command: &Command) -> Value {
    let mut v = serde_json::to_value(command).expect("a command serialises as JSON");
    if let Some(map) = v.as_object_mut() {
        map.remove("type");
    }
    v
}

/// The `kind` command from a request body. An empty body is `{}` (commands without fields,
/// such as `query_backlog`). `"type"` may be left out (the path names the command) or be the
/// path's kind.
pub fn parse_command(module: &str, kind: &str, body: &[u8]) -> Result<Command, HttpError> {
    let what = format!("{module}/{kind}");
    let mut value: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Map::new())
    } else {
        serde_json::from_slice(body).map_err(|e| {
            HttpError::new(
                StatusCode::BAD_REQUEST,
                "malformed_json",
                format!("{what}: the body is not valid JSON: {e}"),
            )
            .with("line", e.line())
            .with("column", e.column())
        })?
    };
    let Value::Object(fields) = &mut value else {
        return Err(invalid(format!(
            "{what}: expected a JSON object of the command's fields, found {}",
            type_name(&value)
        )));
    };
    match fields.get("type") {
        None => {}
        Some(Value::String(t)) if t == kind => {}
        Some(other) => {
            return Err(invalid(format!(
                "{what}: `type` is set by the path ({kind}); leave it out of the body, found {other}"
            ))
            .with("field", "type"));
        }
    }
    fields.insert("type".into(), Value::String(kind.into()));
    let command = match Command::deserialize(&value) {
        Ok(c) => c,
        Err(e) => {
            let message = e.to_string();
            let field = commands::examples()
                .into_iter()
                .find(|c| c.kind() == kind)
                .and_then(|example| serde_json::to_value(example).ok())
                .and_then(|template| locate(&value, &message, template));
            return Err(match field {
                Some(f) => invalid(format!("{what}: field `{f}`: {message}")).with("field", f),
                None => invalid(format!("{what}: {message}")),
            });
        }
    };
    // serde drops unknown fields of the api's types without a word; the command read back as
    // JSON has exactly the fields it took, so anything else in the body was not taken.
    let echo = serde_json::to_value(&command).expect("a command serialises as JSON");
    if let Some((field, known)) = unknown_field(&value, &echo, "") {
        return Err(HttpError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_field",
            format!(
                "{what}: field `{field}` is not part of the command; expected {}",
                if known.is_empty() {
                    "no fields here".to_string()
                } else {
                    format!("only: {}", known.join(", "))
                }
            ),
        )
        .with("field", field));
    }
    Ok(command)
}

fn invalid(message: String) -> HttpError {
    HttpError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", message)
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

/// The path of the value in `body` that makes deserialising fail with `error`, if it can be
/// told. serde cannot say where an internally tagged enum (as `Command` is) went wrong, so this
/// asks: put the body's values one at a time into a valid example of the command (`template`);
/// the one that alone brings back the same error is the culprit, then the same one level down.
/// A path is given only where the error came back word for word: better none than a wrong one.
fn locate(body: &Value, error: &str, mut template: Value) -> Option<String> {
    /// One step down: into an object's member, or into an array's element (with the example's
    /// first element, if any, to go on inside it).
    enum Step {
        Member(String),
        Element(usize, Option<Value>),
    }
    let fails_alike = |candidate: &Value| matches!(Command::deserialize(candidate), Err(e) if e.to_string() == error);
    let mut pointer = String::new();
    let mut path = String::new();
    let mut node = body;
    loop {
        let mut next = None;
        match (node, template.pointer(&pointer)) {
            (Value::Object(fields), Some(Value::Object(t))) => {
                for (k, v) in fields {
                    if (pointer.is_empty() && k == "type") || !t.contains_key(k) {
                        continue;
                    }
                    let mut candidate = template.clone();
                    candidate
                        .pointer_mut(&pointer)
                        .expect("the pointer is in the template")[k] = v.clone();
                    if fails_alike(&candidate) {
                        next = Some((Step::Member(k.clone()), v));
                        break;
                    }
                }
            }
            (Value::Array(items), Some(Value::Array(t))) => {
                let base = t.first().cloned();
                for (i, v) in items.iter().enumerate() {
                    let mut candidate = template.clone();
                    *candidate
                        .pointer_mut(&pointer)
                        .expect("the pointer is in the template") = Value::Array(vec![v.clone()]);
                    if fails_alike(&candidate) {
                        next = Some((Step::Element(i, base), v));
                        break;
                    }
                }
            }
            _ => {}
        }
        let Some((step, child)) = next else { break };
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(module: &str, kind: &str, body: &str) -> Result<Command, HttpError> {
        parse_command(module, kind, body.as_bytes())
    }

    #[test]
    fn every_example_read_back_from_its_fields_is_the_same_command() {
        for example in commands::examples() {
            let body = serde_json::to_string(&command_fields(&example)).unwrap();
            let back = parse(example.module().as_str(), example.kind(), &body)
                .unwrap_or_else(|e| panic!("{}: {:?}", example.kind(), e.body));
            assert_eq!(back, example);
        }
    }

    #[test]
    fn commands_without_fields_take_an_empty_body_or_an_empty_object() {
        assert_eq!(
            parse("grid", "query_backlog", ""),
            Ok(Command::QueryBacklog)
        );
        assert_eq!(
            parse("grid", "query_backlog", " {} \n"),
            Ok(Command::QueryBacklog)
        );
        assert_eq!(
            parse("grid", "query_backlog", r#"{"type":"query_backlog"}"#),
            Ok(Command::QueryBacklog)
        );
    }

    #[test]
    fn broken_json_is_a_400_naming_line_and_column() {
        let e = parse("grid", "accept_task", "{\n  \"task\": 1,\n  oops\n}").unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert_eq!(e.kind(), "malformed_json");
        assert_eq!(e.body["line"], 3);
        assert_eq!(e.body["column"], 3);
        assert!(
            e.body["message"]
                .as_str()
                .unwrap()
                .contains("line 3 column 3")
        );
    }

    #[test]
    fn a_wrong_type_names_the_fields_path() {
        let e = parse(
            "grid",
            "submit_report",
            r#"{"report_ref":1,"source":"inspector","grid":"zero","item_type":1,"observed_at":0,"resolved_on_spot":false}"#,
        )
        .unwrap_err();
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(e.body["field"], "grid", "{:?}", e.body);

        // Inside arrays and nested tagged enums.
        let e = parse(
            "grid",
            "load_directory",
            r#"{"directory":{"grids":[
                {"grid":0,"community":0,"street":0,"inspector":1,"neighbours":[1]},
                {"grid":1,"community":0,"street":0,"inspector":"x","neighbours":[0]}],
              "resolvers":[]}}"#,
        )
        .unwrap_err();
        assert_eq!(
            e.body["field"], "directory.grids[1].inspector",
            "{:?}",
            e.body
        );

        let e = parse(
            "blocks",
            "ingest_records",
            r#"{"records":[{"type":"company","feed":"business_registry","record_ref":"7","name":"x",
                "credit_code":null,"legal_representative_id":null,"registered_address":"y","observed_at_ms":0}]}"#,
        )
        .unwrap_err();
        assert_eq!(e.body["field"], "records[0].record_ref", "{:?}", e.body);

        // The example's subject is a person: inside a company the locator cannot check a
        // field, so it stops at the subject rather than guess.
        let e = parse(
            "cases",
            "query_credit",
            r#"{"subject":{"type":"company","credit_code":5}}"#,
        )
        .unwrap_err();
        assert_eq!(e.body["field"], "subject", "{:?}", e.body);
    }

    #[test]
    fn a_missing_field_is_named_by_the_message() {
        let e = parse("grid", "verify_task", r#"{"task":1}"#).unwrap_err();
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            e.body["message"].as_str().unwrap().contains("`passed`"),
            "{:?}",
            e.body
        );
    }

    #[test]
    fn unknown_fields_are_refused_with_their_path() {
        let e = parse("grid", "accept_task", r#"{"task":1,"taks":2}"#).unwrap_err();
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(e.kind(), "unknown_field");
        assert_eq!(e.body["field"], "taks");
        assert!(e.body["message"].as_str().unwrap().contains("only: task"));

        let e = parse(
            "cases",
            "close_case",
            r#"{"case":1,"evaluation":{"settled":true,"satisfaction":4,"notes":"fine"}}"#,
        )
        .unwrap_err();
        assert_eq!(e.body["field"], "evaluation.notes");

        let e = parse("grid", "query_backlog", r#"{"all":true}"#).unwrap_err();
        assert_eq!(e.body["field"], "all");
    }

    #[test]
    fn the_body_may_not_name_another_command_or_be_something_else_than_an_object() {
        let e = parse(
            "grid",
            "accept_task",
            r#"{"type":"load_directory","task":1}"#,
        )
        .unwrap_err();
        assert_eq!(e.body["field"], "type");
        let e = parse("grid", "accept_task", "[1]").unwrap_err();
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            e.body["message"]
                .as_str()
                .unwrap()
                .contains("found an array")
        );
    }
}
