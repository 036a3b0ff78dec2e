//! A database blip under load: the served stack journaled in a PostgreSQL this test starts and
//! stops itself (initdb into a temporary folder, its own port), eight writers posting grid
//! reports over TCP, the database stopped for 7 s and started again. The server must serve again
//! by itself within 30 s of the database's return, count the outage in `/health` and `/metrics`,
//! and have lost nothing it acknowledged.
//!
//! It needs PostgreSQL's server programs (`initdb`, `pg_ctl`: on the PATH, in
//! /usr/lib/postgresql/*/bin, or in `BAOAN_PG_BIN`); as root it runs them as the `postgres` user.
//! `BAOAN_SKIP_POSTGRES=1` compiles it as ignored.

mod common;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use baoan_server::store::{Database, Entry};
use baoan_server::{Config, Server};
use common::*;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A PostgreSQL cluster of the test's own, removed when dropped.
struct OwnPostgres {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    /// Run the server programs as this user (initdb refuses root).
    user: Option<&'static str>,
}

impl OwnPostgres {
    fn bin() -> PathBuf {
        if let Some(dir) = std::env::var_os("BAOAN_PG_BIN") {
            return dir.into();
        }
        let on_path = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
            .unwrap_or_default();
        let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .map(|d| d.flatten().map(|e| e.path().join("bin")).collect())
            .unwrap_or_default();
        versions.sort();
        on_path
            .into_iter()
            .chain(versions.into_iter().rev())
            .find(|d| d.join("initdb").is_file() && d.join("pg_ctl").is_file())
            .expect(
                "PostgreSQL's initdb and pg_ctl: install the server (Debian: postgresql), name \
                 their folder in BAOAN_PG_BIN, or set BAOAN_SKIP_POSTGRES=1",
            )
    }

    fn new() -> OwnPostgres {
        let dir = std::env::temp_dir().join(format!("baoan-pg-blip-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let is_root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
        let user = is_root.then_some("postgres");
        if let Some(user) = user {
            let chown = Command::new("chown")
                .arg(format!("{user}:"))
                .arg(&dir)
                .status()
                .unwrap();
            assert!(chown.success(), "chown {user} {}", dir.display());
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let pg = OwnPostgres {
            dir,
            bin: Self::bin(),
            port,
            user,
        };
        let data = pg.data();
        pg.run(
            "initdb",
            &["-D", &data, "-A", "trust", "-U", "postgres", "--no-sync"],
        );
        pg.start();
        pg
    }

    fn data(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    fn run(&self, program: &str, args: &[&str]) {
        let program = self.bin.join(program);
        let mut command = match self.user {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&program);
                c
            }
            None => Command::new(&program),
        };
        let out = command.args(args).current_dir(&self.dir).output().unwrap();
        assert!(
            out.status.success(),
            "{} {args:?}: {}{}",
            program.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Starts the cluster and waits until it accepts connections.
    fn start(&self) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("postgres.log").display().to_string();
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-o",
                &options,
                "-l",
                &log,
                "-w",
                "start",
            ],
        );
    }

    /// Stops it as an administrator would: open connections are cut.
    fn stop(&self, mode: &str) {
        self.run("pg_ctl", &["-D", &self.data(), "-m", mode, "-w", "stop"]);
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let program = self.bin.join("pg_ctl");
        let data = self.data();
        let args = ["-D", data.as_str(), "-m", "immediate", "stop"];
        let _ = match self.user {
            Some(user) => Command::new("runuser")
                .args(["-u", user, "--"])
                .arg(&program)
                .args(args)
                .output(),
            None => Command::new(&program).args(args).output(),
        };
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One call on a connection of its own: the status and body, or `None` if the server could not
/// be reached or closed the connection.
async fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: &str,
    body: &str,
) -> Option<(u16, String)> {
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.ok()?;
        let status = answer.get(9..12)?.parse().ok()?;
        let body = answer.split_once("\r\n\r\n")?.1.to_string();
        Some((status, body))
    };
    tokio::time::timeout(Duration::from_secs(60), exchange)
        .await
        .ok()
        .flatten()
}

/// What the writers saw.
#[derive(Default)]
struct Seen {
    acknowledged: BTreeSet<u64>,
    /// When each call was answered 200.
    answered: Vec<Instant>,
    refused_503: u64,
    unreachable: u64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    skip_postgres,
    ignore = "BAOAN_SKIP_POSTGRES is set: needs PostgreSQL's server programs"
)]
async fn the_server_serves_again_by_itself_after_a_database_blip() {
    let pg = tokio::task::spawn_blocking(OwnPostgres::new).await.unwrap();
    let server = Server::open(Config {
        database: Some(pg.url()),
        ..Config::local(tokens())
    })
    .await
    .unwrap();
    let addr = server.local_addr();
    let (stop_serving, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.run_until(async {
        let _ = stopped.await;
    }));
    let (status, body) = call(
        addr,
        "POST",
        "/grid/load_directory",
        ADMIN,
        &directory().to_string(),
    )
    .await
    .expect("the server answers");
    assert_eq!(status, 200, "{body}");

    // Eight writers, each posting one report after another until told to stop.
    let seen = Arc::new(Mutex::new(Seen::default()));
    let next_ref = Arc::new(AtomicU64::new(1));
    let done = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..8)
        .map(|_| {
            let (seen, next_ref, done) =
                (Arc::clone(&seen), Arc::clone(&next_ref), Arc::clone(&done));
            tokio::spawn(async move {
                while !done.load(Ordering::Relaxed) {
                    let r = next_ref.fetch_add(1, Ordering::Relaxed);
                    let answer = call(
                        addr,
                        "POST",
                        "/grid/reports",
                        INSPECTOR,
                        &report(r).to_string(),
                    )
                    .await;
                    let refused = !matches!(answer, Some((200, _)));
                    {
                        let mut seen = seen.lock().unwrap();
                        match answer {
                            Some((200, _)) => {
                                seen.acknowledged.insert(r);
                                seen.answered.push(Instant::now());
                            }
                            Some((503, _)) => seen.refused_503 += 1,
                            Some((status, body)) => panic!("report {r}: {status} {body}"),
                            None => seen.unreachable += 1,
                        }
                    }
                    // A refused writer waits a little, as a client backing off would.
                    if refused {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            })
        })
        .collect();

    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = seen.lock().unwrap().acknowledged.len();
    assert!(before > 0, "the writers were answered before the blip");
    let pg = Arc::new(pg);
    let stopper = Arc::clone(&pg);
    tokio::task::spawn_blocking(move || stopper.stop("fast"))
        .await
        .unwrap();
    // Down for 7 s: longer than a commit waits for a connection (5 s), so an outage.
    let stopped_at = Instant::now();
    let mut saw_recovering = false;
    while stopped_at.elapsed() < Duration::from_secs(7) {
        saw_recovering |= health_of(addr).await["status"] == "recovering";
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        saw_recovering,
        "/health said recovering while the database was down"
    );
    let starter = Arc::clone(&pg);
    tokio::task::spawn_blocking(move || starter.start())
        .await
        .unwrap();
    let back = Instant::now();

    // The first call answered after the database's return.
    let first = loop {
        let found = seen
            .lock()
            .unwrap()
            .answered
            .iter()
            .find(|&&t| t > back)
            .copied();
        if let Some(t) = found {
            break t;
        }
        assert!(
            back.elapsed() < Duration::from_secs(30),
            "no call answered within 30 s of the database's return"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let recovery = first - back;
    tokio::time::sleep(Duration::from_secs(2)).await;
    done.store(true, Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }
    let seen = Arc::try_unwrap(seen).ok().unwrap().into_inner().unwrap();
    let health = health_of(addr).await;
    let (_, metrics) = call(addr, "GET", "/metrics", ADMIN, "").await.unwrap();
    eprintln!(
        "database blip: first call answered {:.2} s after the database's return; {} reports \
         acknowledged ({before} before the blip), {} refused with 503, {} unreachable; health {health}",
        recovery.as_secs_f64(),
        seen.acknowledged.len(),
        seen.refused_503,
        seen.unreachable
    );
    assert!(recovery < Duration::from_secs(30), "{recovery:?}");
    assert_eq!(health["status"], "ok", "{health}");
    assert!(health["storage_outages"].as_u64() >= Some(1), "{health}");
    assert_eq!(
        health["storage_outages"], health["storage_recoveries"],
        "{health}"
    );
    assert!(seen.refused_503 > 0, "the writers saw the outage");
    assert!(
        seen.acknowledged.len() > before,
        "calls were answered after the blip"
    );
    for metric in [
        "baoan_storage_outages_total",
        "baoan_storage_recoveries_total",
    ] {
        let n: u64 = metrics
            .lines()
            .find_map(|l| l.strip_prefix(metric)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("{metric} in /metrics:\n{metrics}"));
        assert!(n >= 1, "{metric} {n}");
    }

    stop_serving.send(()).unwrap();
    serving.await.unwrap().unwrap();

    // Nothing acknowledged was lost: every report answered 200 is in the journal.
    let db = Database::open(&pg.url()).await.unwrap();
    let mut journaled = BTreeSet::new();
    db.replay(&pg.url(), |_, entry| {
        if let Entry::Command(envelope) = entry {
            let command: Value = serde_json::to_value(&envelope.command).unwrap();
            if let Some(r) = command["report_ref"].as_u64() {
                journaled.insert(r);
            }
        }
    })
    .await
    .unwrap();
    db.close().await;
    let lost: Vec<_> = seen.acknowledged.difference(&journaled).collect();
    assert!(lost.is_empty(), "acknowledged but not journaled: {lost:?}");
    drop(pg);
}

async fn health_of(addr: SocketAddr) -> Value {
    let (_, body) = call(addr, "GET", "/health", ADMIN, "")
        .await
        .expect("the server answers /health");
    serde_json::from_str(&body).unwrap()
}
