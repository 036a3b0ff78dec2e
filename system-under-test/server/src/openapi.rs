//! `GET /openapi.json`: an OpenAPI 3.1 document of the served stack, made from the list of
//! commands, so a client generator or an engineer exploring the deployment sees every route, who
//! may call it, the JSON Schema of its body and of its answers, and an example body.
//!
//! The schemas are derived from the api's types (schemars, the api's `schema` feature): the
//! `Command` enum's branch for each kind becomes that route's body schema (its `type` optional,
//! since the path names the command, and no other member allowed, as the server refuses unknown
//! fields), and `Outcomes` the answer's, with every type they use under `components/schemas`.

use baoan_api::http::{Outcomes, Queued};
use baoan_api::{Command, Module, http};
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

use crate::body::command_fields;
use crate::commands::{COMMAND_KINDS, REPORTS_ALIAS, examples};

/// The api's types as JSON Schemas (draft 2020-12, OpenAPI 3.1's dialect), under
/// `#/components/schemas/`: every type `Command`, `Outcomes` and `Queued` use, and one
/// `{Kind}Body` per command kind (see the module's documentation).
pub fn schemas() -> Map<String, Value> {
    let mut generator = SchemaSettings::draft2020_12()
        .with(|s| {
            s.definitions_path = "/components/schemas/".into();
            s.meta_schema = None;
        })
        .into_generator();
    generator.subschema_for::<Command>();
    generator.subschema_for::<Outcomes>();
    generator.subschema_for::<Queued>();
    let mut defs = generator.take_definitions(true);
    let branches = defs
        .get("Command")
        .and_then(|c| c.get("oneOf"))
        .and_then(Value::as_array)
        .cloned()
        .expect("Command is an internally tagged enum: a oneOf of its kinds");
    for branch in branches {
        let kind = branch["properties"]["type"]["const"]
            .as_str()
            .expect("each branch names its kind in `type`")
            .to_string();
        defs.insert(body_schema_name(&kind), request_body(branch));
    }
    defs
}

/// `submit_report` → `SubmitReportBody`.
pub fn body_schema_name(kind: &str) -> String {
    let mut name: String = kind
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect();
    name.push_str("Body");
    name
}

/// A branch of `Command` as a route's body: `type` may be left out (the path names it) and no
/// member beyond the command's fields is taken.
fn request_body(mut branch: Value) -> Value {
    if let Some(required) = branch.get_mut("required").and_then(Value::as_array_mut) {
        required.retain(|r| r != "type");
    }
    let object = branch
        .as_object_mut()
        .expect("a branch is an object schema");
    object.insert("additionalProperties".into(), Value::Bool(false));
    branch
}

/// The document; made once at start-up.
pub fn document() -> Value {
    let mut paths = command_paths();
    paths.extend(service_paths());
    paths.extend(gateway_paths());
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Bao'an district platform",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The district governance platform's commands over HTTP: POST a \
                command's fields as a JSON object to /{module}/{kind}; the answer is the \
                outcomes the command caused at once. Every call is role-checked and written to \
                the audit log, refused ones too; a refused call changes nothing. The time of a \
                command is the server's, never the body's (a server started with `--clock \
                caller` takes it from X-Sent-At instead)."
        },
        "tags": Module::NAMES.iter().map(|m| json!({ "name": m }))
            .chain([json!({ "name": "service" })]).collect::<Vec<_>>(),
        "security": [{ "bearer": [] }],
        "paths": paths,
        "components": components(),
    })
}

/// `POST /{module}/{kind}` for every command, and the reports' alias.
fn command_paths() -> Map<String, Value> {
    let examples = examples();
    let mut paths = Map::new();
    for &(module, kind) in COMMAND_KINDS {
        let of_kind: Vec<&Command> = examples.iter().filter(|c| c.kind() == kind).collect();
        let operation = command_operation(module.as_str(), kind, &of_kind, None);
        paths.insert(http::path_of(module, kind), json!({ "post": operation }));
        if (module, kind) == (Module::Grid, "submit_report") {
            let alias = command_operation(module.as_str(), kind, &of_kind, Some(REPORTS_ALIAS));
            paths.insert(REPORTS_ALIAS.into(), json!({ "post": alias }));
        }
    }
    paths
}

/// `GET /health`, `/metrics` and `/openapi.json`: anyone may read them.
fn service_paths() -> Map<String, Value> {
    let mut paths = Map::new();
    paths.insert(
        http::HEALTH.into(),
        json!({ "get": {
            "operationId": "health",
            "tags": ["service"],
            "summary": "Whether the server is up, its uptime and the audit log's length",
            "security": [],
            "responses": { "200": { "description": "Up", "content": { "application/json": {
                "schema": { "type": "object", "required": ["status", "uptime_s", "audit_entries"],
                    "properties": {
                        "status": { "const": "ok" },
                        "uptime_s": { "type": "number" },
                        "audit_entries": { "type": "integer" },
                        "clock": { "enum": ["wall", "caller"] },
                        "now_ms": { "type": "integer", "description": "The server's time" },
                        "matcher_dim": { "type": "integer",
                            "description": "The face-embedding dimension the matcher takes" },
                        "max_body": { "type": "integer",
                            "description": "The largest request body taken, in bytes (--max-body): \
                                a client splits its own large calls to fit" } } } } } } }
        } }),
    );
    paths.insert(
        http::METRICS.into(),
        json!({ "get": {
            "operationId": "metrics",
            "tags": ["service"],
            "summary": "Prometheus text exposition: calls, latency, audit log, time-driven work",
            "security": [],
            "responses": { "200": { "description": "Metrics",
                "content": { "text/plain": { "schema": { "type": "string" } } } } }
        } }),
    );
    paths.insert(
        http::OPENAPI.into(),
        json!({ "get": {
            "operationId": "openapi",
            "tags": ["service"],
            "summary": "This document",
            "security": [],
            "responses": { "200": { "description": "The OpenAPI document",
                "content": { "application/json": { "schema": { "type": "object" } } } } }
        } }),
    );
    paths
}

/// `POST /clock/advance` and `/admin/restart`: a gateway's calls.
fn gateway_paths() -> Map<String, Value> {
    let mut paths = Map::new();
    paths.insert(
        http::CLOCK_ADVANCE.into(),
        json!({ "post": {
            "operationId": "clock.advance",
            "tags": ["service"],
            "summary": "Move a caller's clock and run the stack's time-driven work up to it",
            "description": "Only on a server started with `twin serve --clock caller`, and only \
                with a gateway's token. The clock never moves back. The answer carries the \
                outcomes of the time-driven work (escalations, overdue visits), given once \
                journaled.",
            "requestBody": { "required": true, "content": { "application/json": {
                "schema": { "type": "object", "required": ["now"], "additionalProperties": false,
                    "properties": { "now": { "type": "integer", "minimum": 0,
                        "description": "Milliseconds on the scenario's clock" } } },
                "example": { "now": 60000 } } } },
            "responses": {
                "200": { "description": "The outcomes of the time-driven work", "content": {
                    "application/json": { "schema": { "$ref": "#/components/schemas/Outcomes" } } } },
                "401": { "$ref": "#/components/responses/E401" },
                "403": { "$ref": "#/components/responses/E403" },
                "409": { "$ref": "#/components/responses/E409" },
                "422": { "$ref": "#/components/responses/E422" },
                "503": { "$ref": "#/components/responses/E503" }
            }
        } }),
    );
    paths.insert(
        http::ADMIN_RESTART.into(),
        json!({ "post": {
            "operationId": "admin.restart",
            "tags": ["service"],
            "summary": "Restart the server now from its journal (a scenario's scheduled restart)",
            "description": "Only with a gateway's token, and only on a server with a database. \
                Answered before the server stops; calls in flight finish; the server comes back \
                on the same address after `down_ms`, its stack replayed from the journal.",
            "requestBody": { "required": true, "content": { "application/json": {
                "schema": { "type": "object", "required": ["down_ms"], "additionalProperties": false,
                    "properties": { "down_ms": { "type": "integer", "minimum": 0, "maximum": http::ADMIN_RESTART_MAX_DOWN_MS } } },
                "example": { "down_ms": 500 } } } },
            "responses": {
                "200": { "description": "The restart is under way", "content": {
                    "application/json": { "schema": { "$ref": "#/components/schemas/Outcomes" } } } },
                "401": { "$ref": "#/components/responses/E401" },
                "403": { "$ref": "#/components/responses/E403" },
                "409": { "$ref": "#/components/responses/E409" },
                "422": { "$ref": "#/components/responses/E422" }
            }
        } }),
    );
    paths
}

/// The document's components: the bearer scheme, the error and outcomes schemas, the error
/// answers and the headers a call may carry.
fn components() -> Value {
    let mut all_schemas = schemas();
    all_schemas.insert("Error".into(), error_schema());
    json!({
        "securitySchemes": {
            "bearer": { "type": "http", "scheme": "bearer",
                "description": "A token from the server's tokens file; it stands for one \
                    person in one role." }
        },
        "schemas": all_schemas,
        "responses": error_responses(),
        "parameters": {
            "ActAs": { "name": http::ACT_AS, "in": "header", "required": false,
                "schema": { "type": "string", "pattern": "^[a-z_]+:[0-9]+$" },
                "example": "inspector:1000001",
                "description": "With a gateway's token only: the person (role:person id) the \
                    call is made for; the role check and the audit log see that person." },
            "AwaitOutcomes": { "name": http::AWAIT_OUTCOMES, "in": "header",
                "required": false, "schema": { "enum": ["true"] },
                "description": "On a server with a bus: wait for the matcher worker and \
                    answer the outcomes (200) instead of 202." },
            "SentAt": { "name": http::SENT_AT, "in": "header", "required": false,
                "schema": { "type": "integer", "minimum": 0 },
                "description": "With `twin serve --clock caller` only: the command's time in \
                    milliseconds on the scenario's clock." }
        }
    })
}

/// What every error answer looks like.
fn error_schema() -> Value {
    json!({
        "type": "object",
        "required": ["error", "message"],
        "properties": {
            "error": { "type": "string", "description": "What kind of error: malformed_json, \
                invalid_body, unknown_field, unauthorized, forbidden, not_found, unknown_command, \
                wrong_module, payload_too_large, conflict, refused, invalid, not_a_gateway, \
                bad_act_as, bad_sent_at, clock_not_settable, wall_clock, injected_fault, \
                storage_failed, bus_unavailable, bus_timeout" },
            "message": { "type": "string" },
            "field": { "type": "string", "description": "The field's path, where one is at fault" },
            "line": { "type": "integer" },
            "column": { "type": "integer" }
        }
    })
}

/// The error answers every command may give, by status.
const ERRORS: [(&str, &str); 8] = [
    (
        "400",
        "The body is not valid JSON (line and column given), or a header is malformed \
         (X-Act-As, X-Sent-At) or not taken by this server",
    ),
    ("401", "No bearer token, or one the server does not know"),
    (
        "403",
        "The token's role may not send this command (the allowed roles given), or a token \
         that is no gateway's sent X-Act-As",
    ),
    (
        "404",
        "A thing the command names does not exist (or the path is no command)",
    ),
    (
        "409",
        "The thing named is not in a state to take the command (conflict or refused)",
    ),
    ("413", "The body is larger than the server's --max-body"),
    (
        "422",
        "The body is not this command's fields (the field given), or a value is invalid",
    ),
    (
        "503",
        "Not carried, nothing changed: a planned fault (`injected_fault`; a module down gives \
         Retry-After), a journal that could not commit (`storage_failed`), or a bus that did not \
         store a sighting (`bus_unavailable`)",
    ),
];

fn error_responses() -> Value {
    let mut out = Map::new();
    for (status, description) in ERRORS {
        out.insert(
            format!("E{status}"),
            json!({ "description": description, "content": { "application/json": {
                "schema": { "$ref": "#/components/schemas/Error" } } } }),
        );
    }
    Value::Object(out)
}

fn command_operation(
    module: &str,
    kind: &str,
    examples: &[&Command],
    alias: Option<&str>,
) -> Value {
    let mut responses = Map::new();
    responses.insert(
        "200".into(),
        json!({ "description": "The outcomes the command caused at once", "content": {
            "application/json": { "schema": { "$ref": "#/components/schemas/Outcomes" } } } }),
    );
    for (status, _) in ERRORS {
        responses.insert(
            status.into(),
            json!({ "$ref": format!("#/components/responses/E{status}") }),
        );
    }
    let mut parameters = vec![
        json!({ "$ref": "#/components/parameters/ActAs" }),
        json!({ "$ref": "#/components/parameters/SentAt" }),
    ];
    if kind == "submit_sighting" {
        responses.insert(
            "202".into(),
            json!({ "description": "On a server with a bus (`twin serve --bus`): stored in the \
                JetStream stream, to be carried by a matcher worker (a refusal then goes to \
                the audit log)", "content": { "application/json": { "schema": {
                "$ref": "#/components/schemas/Queued" } } } }),
        );
        responses.insert(
            "504".into(),
            json!({ "description": "Queued on the bus, but no matcher worker answered an \
                awaiting caller in time (it will still be carried)", "content": {
                "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } }),
        );
        parameters.push(json!({ "$ref": "#/components/parameters/AwaitOutcomes" }));
    }
    let example = examples
        .first()
        .map(|c| command_fields(c))
        .unwrap_or(json!({}));
    let mut description = format!("{}.", roles_text(examples));
    if let Some(alias) = alias {
        description = format!("The same as POST /{module}/{kind} (at {alias}). {description}");
    }
    json!({
        "operationId": match alias { Some(_) => format!("{module}.{kind}.alias"), None => format!("{module}.{kind}") },
        "tags": [module],
        "summary": kind.replace('_', " "),
        "description": description,
        "parameters": parameters,
        "requestBody": {
            "required": false,
            "content": { "application/json": {
                "schema": { "$ref": format!("#/components/schemas/{}", body_schema_name(kind)) },
                "example": example } }
        },
        "responses": responses,
    })
}

/// "Allowed roles: a, b" — or, where the roles depend on a field, one clause per value of the
/// fields in which the examples differ.
fn roles_text(examples: &[&Command]) -> String {
    let names =
        |c: &Command| -> Vec<&str> { c.allowed_roles().iter().map(|r| r.as_str()).collect() };
    let Some(first) = examples.first() else {
        return "Allowed roles: see the api".into();
    };
    if examples
        .iter()
        .all(|c| c.allowed_roles() == first.allowed_roles())
    {
        return format!("Allowed roles: {}", names(first).join(", "));
    }
    let bodies: Vec<Value> = examples.iter().map(|c| command_fields(c)).collect();
    let differing: Vec<&String> = bodies[0]
        .as_object()
        .into_iter()
        .flat_map(|m| m.keys())
        .filter(|k| {
            bodies
                .iter()
                .any(|b| b[k.as_str()] != bodies[0][k.as_str()])
        })
        .collect();
    let clauses: Vec<String> = examples
        .iter()
        .zip(&bodies)
        .map(|(c, b)| {
            let when: Vec<String> = differing
                .iter()
                .map(|k| format!("{k} {}", b[k.as_str()]))
                .collect();
            format!("{}: {}", when.join(", "), names(c).join(", "))
        })
        .collect();
    format!(
        "Allowed roles, by {}: {}",
        differing
            .iter()
            .map(|k| k.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        clauses.join("; ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_has_a_post_path_with_its_roles_and_the_error_statuses() {
        let doc = document();
        assert_eq!(doc["openapi"], "3.1.0");
        let paths = doc["paths"].as_object().unwrap();
        for (module, kind) in COMMAND_KINDS {
            let op = &paths[&format!("/{module}/{kind}")]["post"];
            assert!(
                op["description"]
                    .as_str()
                    .unwrap()
                    .starts_with("Allowed roles"),
                "{kind}: {}",
                op["description"]
            );
            for status in [
                "200", "400", "401", "403", "404", "409", "413", "422", "503",
            ] {
                assert!(op["responses"].get(status).is_some(), "{kind}: no {status}");
            }
        }
        assert!(paths.contains_key(REPORTS_ALIAS));
        assert_eq!(
            doc["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
    }

    #[test]
    fn roles_that_depend_on_the_source_are_told_per_source() {
        let doc = document();
        let text = doc["paths"]["/grid/submit_report"]["post"]["description"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(
            text,
            "Allowed roles, by source: source \"inspector\": inspector; source \"hotline\": dispatcher; source \"video\": dispatcher."
        );
        let text = doc["paths"]["/grid/query_backlog"]["post"]["description"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(text, "Allowed roles: analyst, dispatcher, admin.");
    }

    #[test]
    fn internal_references_resolve() {
        let doc = document();
        let text = doc.to_string();
        for r in text.split("\"$ref\":\"").skip(1) {
            let target = &r[..r.find('"').unwrap()];
            let pointer = target.trim_start_matches('#');
            assert!(doc.pointer(pointer).is_some(), "dangling $ref {target}");
        }
    }
}
