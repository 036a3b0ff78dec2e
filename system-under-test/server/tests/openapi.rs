//! The OpenAPI document's schemas against the server: every example body validates against its
//! route's schema, a member the schema does not allow is refused by the server too, and every
//! answer the server gives to the examples — each sent as a role allowed to send it — validates
//! against the schema the document gives for its status. And a client generated from the
//! document by a standard generator (openapi-python-client, into a temporary folder: generated
//! code is never committed) calls a real server.

mod common;

use baoan_api::Command;
use baoan_server::commands::{COMMAND_KINDS, examples};
use baoan_server::openapi::{body_schema_name, document};
use common::*;
use serde_json::{Value, json};

/// A validator for the component `name`, resolving references within the document.
fn validator(doc: &Value, name: &str) -> jsonschema::Validator {
    let root = json!({
        "$ref": format!("#/components/schemas/{name}"),
        "components": { "schemas": doc["components"]["schemas"] },
    });
    jsonschema::draft202012::new(&root)
        .unwrap_or_else(|e| panic!("the schema {name} is not a valid JSON Schema: {e}"))
}

fn errors(v: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    v.iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

fn body_of(c: &Command) -> Value {
    let mut body = serde_json::to_value(c).unwrap();
    body.as_object_mut().unwrap().remove("type");
    body
}

#[test]
fn every_example_body_validates_against_its_routes_schema() {
    let doc = document();
    let mut checked = 0;
    for (module, kind) in COMMAND_KINDS {
        let op = &doc["paths"][format!("/{module}/{kind}")]["post"];
        let media = &op["requestBody"]["content"]["application/json"];
        let name = body_schema_name(kind);
        assert_eq!(
            media["schema"]["$ref"],
            format!("#/components/schemas/{name}"),
            "{module}/{kind}"
        );
        let v = validator(&doc, &name);
        let found = errors(&v, &media["example"]);
        assert!(
            found.is_empty(),
            "{module}/{kind}: the document's example: {found:?}"
        );
        checked += 1;
    }
    // Every example of the api, not only the first of each kind, with and without its `type`.
    for c in examples() {
        let v = validator(&doc, &body_schema_name(c.kind()));
        let body = body_of(&c);
        let found = errors(&v, &body);
        assert!(found.is_empty(), "{}: {found:?}\n{body}", c.kind());
        let typed = serde_json::to_value(&c).unwrap();
        assert!(v.is_valid(&typed), "{} with its type: {typed}", c.kind());
        checked += 1;
    }
    assert!(checked > 2 * COMMAND_KINDS.len() - 1, "{checked}");
}

#[test]
fn the_schemas_refuse_what_the_server_refuses() {
    let doc = document();
    let name = body_schema_name("submit_report");
    let v = validator(&doc, &name);
    let good = report(1);
    assert!(v.is_valid(&good), "{:?}", errors(&v, &good));
    let mut extra = good.clone();
    extra["colour"] = json!("red");
    assert!(!v.is_valid(&extra), "a member the command does not have");
    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("grid");
    assert!(!v.is_valid(&missing), "a required field left out");
    let mut wrong = good.clone();
    wrong["grid"] = json!("zero");
    assert!(!v.is_valid(&wrong), "a string for a number");
    let mut other_kind = good;
    other_kind["type"] = json!("accept_task");
    assert!(!v.is_valid(&other_kind), "another command's type");
}

#[tokio::test]
async fn every_answer_to_the_examples_validates_against_the_documented_schema() {
    let (_, router) = app();
    let doc = document();
    let outcomes = validator(&doc, "Outcomes");
    let error = validator(&doc, "Error");
    let (mut ok, mut refused) = (0, 0);
    for c in examples() {
        let role = c.allowed_roles()[0];
        let act_as = format!("{}:{}", role.as_str(), 9_100_000);
        let path = format!("/{}/{}", c.module().as_str(), c.kind());
        let a = send_with(
            &router,
            "POST",
            &path,
            Some(GATEWAY),
            &[("x-act-as", act_as.as_str())],
            &body_of(&c).to_string(),
        )
        .await;
        let answer = a.json();
        let documented = &doc["paths"][&path]["post"]["responses"][a.status.as_str()];
        assert!(
            !documented.is_null(),
            "{path}: status {} is not in the document",
            a.status
        );
        let (v, count) = if a.status.is_success() {
            (&outcomes, &mut ok)
        } else {
            (&error, &mut refused)
        };
        let found = errors(v, &answer);
        assert!(
            found.is_empty(),
            "{path} answered {}: {found:?}\n{answer}",
            a.status
        );
        *count += 1;
    }
    // The examples run in the api's order, so directories come before what needs them: half
    // are carried (62 examples: 31 carried, 31 refused), and the refusals are checked too.
    assert!(
        ok * 2 >= examples().len(),
        "{ok} carried, {refused} refused"
    );
    assert!(refused > 0, "{ok} carried, {refused} refused");
}

fn app() -> (std::sync::Arc<baoan_server::AppState>, axum::Router) {
    let state = baoan_server::AppState::new(
        baoan_stack::InProcessStack::new(),
        tokens(),
        baoan_server::DEFAULT_MAX_BODY,
    );
    (state.clone(), baoan_server::router(state))
}

/// The generator, installed on first use into a virtual environment of its own
/// (`$HOME/.cache/baoan-twin/openapi-venv`, or `BAOAN_OPENAPI_VENV`) from PyPI, pinned.
fn generator() -> std::path::PathBuf {
    const PINNED: &str = "openapi-python-client==0.29.1";
    let venv = std::env::var_os("BAOAN_OPENAPI_VENV")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(std::env::var_os("HOME").expect("HOME is set"))
                .join(".cache/baoan-twin/openapi-venv")
        });
    let bin = venv.join("bin/openapi-python-client");
    if !bin.is_file() {
        let run = |program: &std::path::Path, args: &[&str]| {
            let out = std::process::Command::new(program).args(args).output();
            match out {
                Ok(o) if o.status.success() => {}
                Ok(o) => panic!(
                    "{} {args:?}: {}{}; install {PINNED} by hand into {} or name a venv \
                     that has it in BAOAN_OPENAPI_VENV",
                    program.display(),
                    String::from_utf8_lossy(&o.stdout),
                    String::from_utf8_lossy(&o.stderr),
                    venv.display()
                ),
                Err(e) => panic!(
                    "{}: {e} (Python 3 with venv and pip is needed)",
                    program.display()
                ),
            }
        };
        run(
            std::path::Path::new("python3"),
            &["-m", "venv", venv.to_str().expect("a UTF-8 path")],
        );
        run(&venv.join("bin/pip"), &["install", "--quiet", PINNED]);
    }
    bin
}

#[test]
fn a_client_generated_from_the_document_calls_the_server() {
    let generator = generator();
    let dir = std::env::temp_dir().join(format!("baoan-openapi-client-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("openapi.json"), document().to_string()).unwrap();
    // No post-generation formatter (ruff is not installed), and any warning — a route or a
    // schema the generator had to skip — fails the test.
    std::fs::write(dir.join("config.yaml"), "post_hooks: []\n").unwrap();
    let out = std::process::Command::new(&generator)
        .args([
            "generate",
            "--path",
            "openapi.json",
            "--output-path",
            "baoan_client",
        ])
        .args([
            "--meta",
            "none",
            "--fail-on-warning",
            "--config",
            "config.yaml",
        ])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the generator refused the document:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(async {
        baoan_server::Server::bind(baoan_server::Config::local(tokens())).unwrap()
    });
    let addr = server.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = runtime.spawn(server.run_until(async {
        let _ = stopped.await;
    }));
    let python = generator.parent().unwrap().join("python");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/openapi_client.py");
    let out = std::process::Command::new(python)
        .arg(script)
        .arg(&dir)
        .arg(format!("http://{addr}"))
        .args([ADMIN, INSPECTOR])
        .arg(directory()["directory"].to_string())
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "the generated client's calls:\n{said}"
    );
    assert!(said.contains("report_accepted"), "{said}");
    let _ = stop.send(());
    runtime.block_on(serving).unwrap().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}
