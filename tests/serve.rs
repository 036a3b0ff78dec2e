//! `twin serve` as an operator runs it: killed without warning (SIGKILL, no shutdown), started
//! again on the same SQLite file, it still has every call it answered.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};

const ADMIN: &str = "admin-token-0123456789";
const INSPECTOR: &str = "inspector-token-0123456789";

/// A running `twin serve`, killed (SIGKILL) and reaped when dropped, whatever the test did.
struct Served(Child);

impl Served {
    /// SIGKILL: no graceful shutdown, no flush at exit.
    fn kill(mut self) {
        self.0.kill().unwrap();
        self.0.wait().unwrap();
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `twin serve` on a free port; waits for the line saying where it serves. The
/// server's standard error up to that line is returned too (the replay is reported there).
fn start(database: &str, tokens: &std::path::Path) -> (Served, SocketAddr, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_twin"))
        .args(["serve", "--listen", "127.0.0.1:0", "--database", database])
        .arg("--tokens")
        .arg(tokens)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("twin serve starts");
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let child = Served(child);
    let mut said = String::new();
    loop {
        let mut line = String::new();
        assert!(
            err.read_line(&mut line).unwrap() > 0,
            "twin serve stopped before serving: {said}"
        );
        said.push_str(&line);
        if let Some(rest) = line.split("serving the stack at http://").nth(1) {
            let addr = rest.split_whitespace().next().unwrap().parse().unwrap();
            // Keep draining its standard error so the server never blocks on a full pipe.
            std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
            return (child, addr, said);
        }
    }
}

/// One HTTP/1.1 call; the status and the body.
fn post(addr: SocketAddr, path: &str, token: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    let status = answer[9..12].parse().unwrap();
    let body = answer.split_once("\r\n\r\n").unwrap().1.to_string();
    (status, body)
}

fn report(r: u64) -> String {
    format!(
        r#"{{"report_ref": {r}, "source": "inspector", "grid": 0, "item_type": 1, "observed_at": 0, "resolved_on_spot": false}}"#
    )
}

#[test]
fn a_killed_server_restarts_with_every_call_it_answered() {
    let dir = std::env::temp_dir().join(format!("baoan-serve-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let tokens = dir.join("tokens.toml");
    std::fs::write(
        &tokens,
        format!(
            "[[token]]\ntoken = \"{ADMIN}\"\nrole = \"admin\"\nperson = 9000001\n\n\
             [[token]]\ntoken = \"{INSPECTOR}\"\nrole = \"inspector\"\nperson = 1000001\n"
        ),
    )
    .unwrap();
    let db = dir.join("stack.sqlite");
    let _ = std::fs::remove_file(&db);
    let database = format!("sqlite://{}", db.display());

    let (server, addr, _) = start(&database, &tokens);
    let directory = r#"{"directory": {"grids": [{"grid": 0, "community": 0, "street": 0, "inspector": 1000001, "neighbours": []}], "resolvers": [{"person": 2000001, "department": "fire", "community": 0, "street": 0}]}}"#;
    let (status, body) = post(addr, "/grid/load_directory", ADMIN, directory);
    assert_eq!(status, 200, "{body}");
    for r in 1..=30 {
        let (status, body) = post(addr, "/grid/reports", INSPECTOR, &report(r));
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("task_dispatched"), "report {r}: {body}");
    }
    server.kill();

    let (server, addr, said) = start(&database, &tokens);
    assert!(
        said.contains("replayed the journal: 31 calls"),
        "the restart did not replay the 31 answered calls: {said}"
    );
    // Every report answered before the kill is known: sending it again dispatches nothing.
    for r in 1..=30 {
        let (status, body) = post(addr, "/grid/reports", INSPECTOR, &report(r));
        assert_eq!(status, 200, "{body}");
        assert!(
            !body.contains("task_dispatched"),
            "report {r} was lost: {body}"
        );
    }
    let (status, body) = post(addr, "/grid/reports", INSPECTOR, &report(31));
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("task_dispatched"), "{body}");
    server.kill();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn twin_load_names_a_bad_url_or_tokens_file_and_exits_2() {
    let dir = std::env::temp_dir().join(format!("baoan-load-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let tokens = dir.join("tokens.toml");
    let admin = format!("[[token]]\ntoken = \"{ADMIN}\"\nrole = \"admin\"\nperson = 9000001\n");
    let inspector =
        format!("[[token]]\ntoken = \"{INSPECTOR}\"\nrole = \"inspector\"\nperson = 1000001\n");
    std::fs::write(&tokens, format!("{admin}\n{inspector}")).unwrap();
    let run = |url: &str| {
        Command::new(env!("CARGO_BIN_EXE_twin"))
            .args(["load", "--stack", url, "--tokens"])
            .arg(&tokens)
            .output()
            .unwrap()
    };
    let bad_url = run("ftp://127.0.0.1:1");
    assert_eq!(bad_url.status.code(), Some(2));
    let said = String::from_utf8_lossy(&bad_url.stderr);
    assert!(
        said.contains("ftp://127.0.0.1:1") && said.contains("expected"),
        "{said}"
    );
    // The tokens file has no inspector: it is named, with what is missing.
    std::fs::write(&tokens, admin).unwrap();
    let no_inspector = run("http://127.0.0.1:1");
    assert_eq!(no_inspector.status.code(), Some(2));
    let said = String::from_utf8_lossy(&no_inspector.stderr);
    assert!(
        said.contains("tokens.toml") && said.contains("inspector"),
        "{said}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn twin_serve_names_the_place_in_a_bad_fault_plan_and_exits_2() {
    let dir = std::env::temp_dir().join(format!("baoan-faults-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let plan = dir.join("faults.toml");
    std::fs::write(
        &plan,
        "[[fault]]\nat_s = 5\nfor_s = 10\nmodule = \"grid\"\nkind = \"errors\"\nshare = 0\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_twin"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database",
            "memory",
            "--faults",
        ])
        .arg(&plan)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains(
            "faults.toml: [[fault]] number 1 (line 1): share: expected a share in (0, 1], got 0"
        ),
        "{said}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn twin_serve_refuses_limits_that_would_serve_nobody_and_exits_2() {
    for (flag, value, said) in [
        (
            "--max-connections",
            "0",
            "--max-connections: expected a positive number, got 0",
        ),
        (
            "--header-read-timeout-s",
            "0",
            "--header-read-timeout-s: expected a positive number of seconds, got 0",
        ),
        (
            "--idle-timeout-s",
            "-1",
            "--idle-timeout-s: expected a positive number of seconds, got -1",
        ),
        (
            "--metrics-token",
            "short",
            "--metrics-token: expected at least",
        ),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_twin"))
            .args(["serve", "--listen", "127.0.0.1:0", "--database", "memory"])
            .arg(format!("{flag}={value}"))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flag} {value}: {err}");
        assert!(err.contains(said), "{flag} {value}: {err}");
    }
}
