//! A request body made into a `Command` and a refusal of the body made into an answer. The
//! wire format and its errors are the api's (`baoan_api::http::body`); this says which status
//! and which members each refusal is answered with.

use axum::http::StatusCode;
use baoan_api::Command;
use baoan_api::http::BodyError;

use crate::commands;
use crate::error::HttpError;

pub use baoan_api::http::command_fields;

/// The `kind` command from a request body (see `baoan_api::http::decode_command`).
pub fn parse_command(module: &str, kind: &str, body: &[u8]) -> Result<Command, HttpError> {
    baoan_api::http::decode_command(module, kind, body, || commands::example_of(kind))
        .map_err(|e| refusal(&e))
}

/// A body's refusal: 400 for broken JSON (with its line and column), 422 for the rest (with the
/// field's path where it is known).
fn refusal(e: &BodyError) -> HttpError {
    let status = match e {
        BodyError::MalformedJson { .. } => StatusCode::BAD_REQUEST,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    let mut answer = HttpError::new(status, e.kind(), e.to_string());
    if let BodyError::MalformedJson { line, column, .. } = e {
        answer = answer.with("line", *line).with("column", *column);
    }
    match e.field() {
        Some(field) => answer.with("field", field),
        None => answer,
    }
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
