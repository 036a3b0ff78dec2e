//! The served stack's storage against real databases: one SQLite file, and the local PostgreSQL
//! (`BAOAN_TEST_POSTGRES`, by default postgres://postgres@127.0.0.1:5432/test; each test makes
//! and drops a database of its own). A restart replays the journal and loses nothing that was
//! answered; calls refused before they reach the stack leave the journal as it was.
//!
//! On a machine without PostgreSQL, `BAOAN_SKIP_POSTGRES=1` compiles the PostgreSQL half as
//! ignored (the summary shows it); without it a missing server fails the test (CI starts it, and
//! fails on any ignored test).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use axum::Router;
use axum::http::StatusCode;
use baoan_server::commands::REPORTS_ALIAS;
use baoan_server::{AppState, router};
use common::*;
use serde_json::Value;
use sqlx::Connection;

/// What a client can see of the stack's state: the grid's assessment and backlog, the audit
/// log's length and its entries.
async fn observe(state: &Arc<AppState>, router: &Router) -> (Value, Value, Vec<String>) {
    let backlog = post(router, "/grid/query_backlog", Some(DISPATCHER), "").await;
    assert_eq!(backlog.status, StatusCode::OK, "{}", backlog.text);
    let assessment = post(router, "/grid/query_assessment", Some(ANALYST), "").await;
    assert_eq!(assessment.status, StatusCode::OK, "{}", assessment.text);
    let audit = state
        .with_stack(|s| s.audit().entries().map(|e| format!("{e:?}")).collect())
        .unwrap();
    (backlog.json(), assessment.json(), audit)
}

async fn open(url: &str) -> (Arc<AppState>, Router, baoan_server::Replayed) {
    let (state, replayed) = AppState::open(url, tokens(), 4096).await.unwrap();
    let r = router(Arc::clone(&state));
    (state, r, replayed)
}

/// The journal's length as the server counts it.
fn committed(state: &AppState) -> u64 {
    state.journal_committed().expect("a journaled stack").0
}

async fn restart_loses_nothing_acknowledged(url: &str) {
    let (state, router, replayed) = open(url).await;
    assert_eq!(
        replayed,
        baoan_server::Replayed::default(),
        "a new database"
    );
    load_directory(&router).await;
    for r in 1..=40 {
        let a = post(
            &router,
            REPORTS_ALIAS,
            Some(INSPECTOR),
            &report(r).to_string(),
        )
        .await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    }
    // The resolver's side of a task, a refusal (audited) and the clock's work.
    let refused = post(
        &router,
        "/grid/accept_task",
        Some(INSPECTOR),
        r#"{"task": 1}"#,
    )
    .await;
    assert!(refused.status.is_client_error(), "{}", refused.text);
    // A look-up whose text has what a journal must escape (backslash, tab, newline, quote):
    // refused by the stack (no case directory yet), and journaled as it came.
    let tricky = r#"{"subject": {"type": "person", "id_number": "44\\0\t3\n\"x"}}"#;
    let refused = post(&router, "/cases/query_credit", Some(ANALYST), tricky).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.text);
    state.advance().unwrap();
    // The clock promises that no answered call's time is passed again after a restart: read
    // before the last journaled calls (the observation's queries), not after, where a slow
    // machine's next millisecond belongs to no call at all.
    let stopped_at = state.now_ms();
    let before = observe(&state, &router).await;
    let entries = committed(&state);

    // Calls turned away before the stack: malformed JSON, an oversized body, a stranger, a
    // command that does not exist. None is journaled; none changes what a client sees.
    let bad = [
        post(&router, REPORTS_ALIAS, Some(INSPECTOR), "{\"report_ref\": ").await,
        post(&router, REPORTS_ALIAS, Some(INSPECTOR), &"x".repeat(5000)).await,
        post(
            &router,
            REPORTS_ALIAS,
            Some("not-a-token"),
            &report(99).to_string(),
        )
        .await,
        post(&router, "/grid/no_such_command", Some(ADMIN), "{}").await,
    ];
    for a in &bad {
        assert!(a.status.is_client_error(), "{} {}", a.status, a.text);
        assert!(
            a.json()["error"].is_object() || a.json()["message"].is_string(),
            "{}",
            a.text
        );
    }
    assert_eq!(
        committed(&state),
        entries,
        "a call turned away was journaled"
    );
    drop((state, router));

    let (state, router, replayed) = open(url).await;
    // 1 directory + 40 reports + 2 refusals + the 2 queries of the first observation.
    assert_eq!(replayed.commands, 45, "{replayed:?}");
    assert_eq!(replayed.advances, 1, "{replayed:?}");
    assert!(
        state.now_ms() >= stopped_at,
        "the clock went back on restart"
    );
    let after = observe(&state, &router).await;
    assert_eq!(after.0, before.0, "the backlog changed across the restart");
    assert_eq!(
        after.1, before.1,
        "the assessment changed across the restart"
    );
    // The audit log is the same, plus the two queries `observe` made before the restart (the
    // second observation's own queries are audited after it reads the log).
    assert_eq!(after.2.len(), before.2.len() + 2);
    assert_eq!(after.2[..before.2.len()], before.2[..]);

    // A report sent again after the restart is recognised; a new one is taken.
    let again = post(
        &router,
        REPORTS_ALIAS,
        Some(INSPECTOR),
        &report(7).to_string(),
    )
    .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    assert!(
        !again
            .outcome_types()
            .contains(&"task_dispatched".to_string()),
        "report 7 dispatched twice: {}",
        again.text
    );
    let new = post(
        &router,
        REPORTS_ALIAS,
        Some(INSPECTOR),
        &report(41).to_string(),
    )
    .await;
    assert_eq!(new.status, StatusCode::OK, "{}", new.text);
    assert!(
        new.outcome_types().contains(&"task_dispatched".to_string()),
        "{}",
        new.text
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_restart_loses_nothing_acknowledged() {
    let dir = std::env::temp_dir().join(format!("baoan-storage-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("stack.sqlite");
    let _ = std::fs::remove_file(&path);
    restart_loses_nothing_acknowledged(&format!("sqlite://{}", path.display())).await;
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A database of this test's own on the local PostgreSQL, dropped at the end.
struct PgDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl PgDatabase {
    async fn create() -> PgDatabase {
        static N: AtomicU32 = AtomicU32::new(0);
        let admin_url = std::env::var("BAOAN_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let name = format!(
            "baoan_test_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let url = baoan_server::store::create_postgres_database(&admin_url, &name)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "cannot make a database on PostgreSQL at {admin_url} ({e}); start it (see \
                     README, \"The stack as a service\") or set BAOAN_SKIP_POSTGRES=1"
                )
            });
        PgDatabase {
            admin_url,
            name,
            url,
        }
    }

    async fn drop_database(self) {
        baoan_server::store::drop_postgres_database(&self.admin_url, &self.name)
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    skip_postgres,
    ignore = "BAOAN_SKIP_POSTGRES is set: needs the machine's PostgreSQL"
)]
async fn postgres_restart_loses_nothing_acknowledged() {
    let db = PgDatabase::create().await;
    restart_loses_nothing_acknowledged(&db.url).await;
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_database_url_names_what_was_expected() {
    let e = AppState::open("mysql://localhost/test", tokens(), 4096)
        .await
        .err()
        .expect("refused");
    let text = e.to_string();
    assert!(text.contains("expected sqlite://PATH"), "{text}");
    let e = AppState::open("postgres://twin:s3cret@127.0.0.1:1/none", tokens(), 4096)
        .await
        .err()
        .expect("nobody listens on port 1");
    let text = e.to_string();
    assert!(text.contains("cannot open"), "{text}");
    assert!(!text.contains("s3cret"), "the password was shown: {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journal_with_a_gap_is_refused_naming_the_entry() {
    let dir = std::env::temp_dir().join(format!("baoan-gap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("stack.sqlite");
    let _ = std::fs::remove_file(&path);
    let url = format!("sqlite://{}", path.display());
    {
        let (state, router, _) = open(&url).await;
        load_directory(&router).await;
        for r in 1..=3 {
            post(
                &router,
                REPORTS_ALIAS,
                Some(INSPECTOR),
                &report(r).to_string(),
            )
            .await;
        }
        drop((state, router));
    }
    // Someone deletes an entry by hand.
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::raw_sql("DELETE FROM journal WHERE seq = 2")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let e = AppState::open(&url, tokens(), 4096)
        .await
        .err()
        .expect("refused");
    let text = e.to_string();
    assert!(text.contains("journal entry 3"), "{text}");
    assert!(text.contains("gap"), "{text}");
    std::fs::remove_dir_all(&dir).unwrap();
}
