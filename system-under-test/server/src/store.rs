//! Where the served stack keeps what it was told: a journal in one SQLite file (the default) or
//! in PostgreSQL, with the same migrations for both.
//!
//! The stack is deterministic: the same calls at the same times in the same order give the same
//! state. So the server journals every call that reached the stack (refused ones too: a refused
//! look-up is in the audit log) and every tick of its time-driven work, in the order the stack
//! carried them, and a restart replays the journal into an empty stack. A call is answered only
//! once its journal entry is committed: nothing acknowledged is lost across a restart.
//!
//! Writes are grouped: one writer task commits whatever has queued since its last commit in one
//! transaction, so a burst of ten thousand grid reports costs a few commits, not ten thousand.
//! If a commit fails, the server stops taking calls (the stack holds calls the journal does not)
//! and every call waiting on it is answered 503; a restart rebuilds the state from the journal.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use baoan_api::{Envelope, Millis};
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Connection, PgConnection, QueryBuilder, Row, Sqlite};
use tokio::sync::{mpsc, oneshot};

/// The migrations, embedded in the binary: a deployed server needs no files beside it.
const MIGRATIONS: [(i64, &str, &str); 1] =
    [(1, "journal", include_str!("../migrations/0001_journal.sql"))];

/// The most journal entries one transaction carries.
const MAX_BATCH: usize = 8192;

/// Rows per SQLite INSERT statement (four parameters each: well inside its limit).
const ROWS_PER_STATEMENT: usize = 1000;

/// How long a commit waits for a connection to PostgreSQL (sqlx retries the connection meanwhile)
/// before the journal fails and the server goes into recovery. A blip shorter than this only
/// delays the answers; a longer one is an outage. (sqlx's default is 30 s, which would leave
/// every caller waiting that long before hearing 503.)
const PG_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// Rows read per query while replaying.
const REPLAY_PAGE: i64 = 20_000;

/// Why storage could not be opened, read or written. Messages name the database (never its
/// password) and, for a bad journal entry, its sequence number.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "--database {url}: expected sqlite://PATH (one file, made if missing) or \
         postgres://USER@HOST:PORT/DATABASE"
    )]
    BadUrl { url: String },
    #[error("--database {url}: cannot open it: {source}")]
    Open { url: String, source: sqlx::Error },
    #[error("--database {url}: cannot bring its schema up to date: {source}")]
    Migrate {
        url: String,
        source: sqlx::migrate::MigrateError,
    },
    #[error("--database {url}: cannot read the journal: {source}")]
    Read { url: String, source: sqlx::Error },
    #[error("--database {url}: journal entry {seq}: {message}")]
    BadEntry {
        url: String,
        seq: i64,
        message: String,
    },
}

/// One thing the stack carried, as the journal keeps it.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    /// A call: who, when, what.
    Command(Envelope),
    /// The stack's time-driven work up to this time.
    Advance(Millis),
}

/// An open database holding the journal.
#[derive(Clone)]
pub enum Database {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.kind())
    }
}

/// The URL with any password replaced, for messages and `/health`.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

impl Database {
    /// Opens (and for SQLite, creates) the database at `url` and brings its schema up to date.
    pub async fn open(url: &str) -> Result<Database, StoreError> {
        let shown = redact(url);
        let open = |source| StoreError::Open {
            url: shown.clone(),
            source,
        };
        let db = if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(open)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                // FULL: a commit is on disk before the call is answered, so an acknowledged
                // call survives a crash of the machine, not only of the server.
                .synchronous(SqliteSynchronous::Full)
                .busy_timeout(Duration::from_secs(5));
            // One connection: the journal has one writer, and reads happen only at start-up.
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(options)
                .await
                .map_err(open)?;
            Database::Sqlite(pool)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(url).map_err(open)?;
            // One connection first: a server that is not there is reported at once, with its
            // own error, rather than after the pool's retries time out.
            PgConnection::connect_with(&options)
                .await
                .map_err(open)?
                .close()
                .await
                .map_err(open)?;
            let pool = PgPoolOptions::new()
                .max_connections(2)
                .acquire_timeout(PG_ACQUIRE_TIMEOUT)
                .connect_with(options)
                .await
                .map_err(open)?;
            Database::Postgres(pool)
        } else {
            return Err(StoreError::BadUrl { url: shown });
        };
        let migrator = Migrator::new(Embedded)
            .await
            .map_err(|source| StoreError::Migrate {
                url: shown.clone(),
                source,
            })?;
        let migrated = match &db {
            Database::Sqlite(pool) => migrator.run(pool).await,
            Database::Postgres(pool) => migrator.run(pool).await,
        };
        migrated.map_err(|source| StoreError::Migrate { url: shown, source })?;
        Ok(db)
    }

    /// "sqlite" or "postgres".
    pub fn kind(&self) -> &'static str {
        match self {
            Database::Sqlite(_) => "sqlite",
            Database::Postgres(_) => "postgres",
        }
    }

    /// Reads the journal in order, handing each entry to `each`; the last sequence number and
    /// time (0 and 0 for an empty journal). `url` names the database in errors.
    pub async fn replay(
        &self,
        url: &str,
        mut each: impl FnMut(i64, Entry),
    ) -> Result<(i64, Millis), StoreError> {
        let shown = redact(url);
        let mut last = (0i64, 0 as Millis);
        loop {
            let rows = match self {
                Database::Sqlite(pool) => sqlx::query(
                    "SELECT seq, at_ms, kind, body FROM journal WHERE seq > ? ORDER BY seq LIMIT ?",
                )
                .bind(last.0)
                .bind(REPLAY_PAGE)
                .fetch_all(pool)
                .await
                .map(|rows| rows.into_iter().map(raw_sqlite).collect::<Vec<_>>()),
                Database::Postgres(pool) => sqlx::query(
                    "SELECT seq, at_ms, kind, body FROM journal WHERE seq > $1 ORDER BY seq \
                     LIMIT $2",
                )
                .bind(last.0)
                .bind(REPLAY_PAGE)
                .fetch_all(pool)
                .await
                .map(|rows| rows.into_iter().map(raw_pg).collect::<Vec<_>>()),
            }
            .map_err(|source| StoreError::Read {
                url: shown.clone(),
                source,
            })?;
            if rows.is_empty() {
                return Ok(last);
            }
            for row in rows {
                let (seq, at_ms, kind, body) = row.map_err(|source| StoreError::Read {
                    url: shown.clone(),
                    source,
                })?;
                let bad = |message: String| StoreError::BadEntry {
                    url: shown.clone(),
                    seq,
                    message,
                };
                if seq != last.0 + 1 {
                    return Err(bad(format!(
                        "expected entry {} next: the journal has a gap, so replaying it would \
                         not give the state the server had",
                        last.0 + 1
                    )));
                }
                let at = Millis::try_from(at_ms)
                    .map_err(|_| bad(format!("at_ms {at_ms}: expected a time ≥ 0")))?;
                let entry = match kind.as_str() {
                    "command" => Entry::Command(serde_json::from_str(&body).map_err(|e| {
                        bad(format!(
                            "the call cannot be read by this build ({e}); was the journal \
                             written by another version of the stack?"
                        ))
                    })?),
                    "advance" => Entry::Advance(at),
                    other => {
                        return Err(bad(format!(
                            "kind `{other}`: expected `command` or `advance`"
                        )));
                    }
                };
                each(seq, entry);
                last = (seq, at);
            }
        }
    }

    async fn append(&self, batch: &[Pending]) -> Result<(), sqlx::Error> {
        match self {
            // SQLite: INSERTs of many rows each, in one transaction.
            Database::Sqlite(pool) => {
                let mut tx = pool.begin().await?;
                for chunk in batch.chunks(ROWS_PER_STATEMENT) {
                    let mut q: QueryBuilder<Sqlite> =
                        QueryBuilder::new("INSERT INTO journal (seq, at_ms, kind, body) ");
                    q.push_values(chunk, |mut b, p| {
                        b.push_bind(p.seq)
                            .push_bind(p.at_ms as i64)
                            .push_bind(p.kind)
                            .push_bind(p.body.as_str());
                    });
                    q.build().execute(&mut *tx).await?;
                }
                tx.commit().await
            }
            // PostgreSQL takes a batch fastest as one COPY (one statement, so all or nothing):
            // at ten thousand calls a second, binding four parameters a row cost the knee a
            // tenth of its rate on this machine.
            Database::Postgres(pool) => {
                let mut conn = pool.acquire().await?;
                let mut copy = conn
                    .copy_in_raw("COPY journal (seq, at_ms, kind, body) FROM STDIN")
                    .await?;
                copy.send(copy_text(batch)).await?;
                copy.finish().await.map(|_| ())
            }
        }
    }

    /// Closes the pool, waiting for its connections (SQLite checkpoints its WAL on close).
    pub async fn close(&self) {
        match self {
            Database::Sqlite(pool) => pool.close().await,
            Database::Postgres(pool) => pool.close().await,
        }
    }
}

/// The batch in COPY's text format: tab-separated columns, one row a line, with backslash,
/// tab, newline and carriage return escaped in the body.
fn copy_text(batch: &[Pending]) -> Vec<u8> {
    use std::fmt::Write;
    let mut out = String::with_capacity(batch.iter().map(|p| p.body.len() + 40).sum());
    for p in batch {
        let _ = write!(out, "{}\t{}\t{}\t", p.seq, p.at_ms, p.kind);
        for c in p.body.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\t' => out.push_str("\\t"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                c => out.push(c),
            }
        }
        out.push('\n');
    }
    out.into_bytes()
}

/// A new, empty PostgreSQL database called `name` on the server of `admin_url` (a database
/// that user may create databases from); its URL. For tests and trials that need a journal of
/// their own: `name` must be lower-case letters, digits and underscores.
pub async fn create_postgres_database(admin_url: &str, name: &str) -> Result<String, StoreError> {
    admin_statement(admin_url, name, &format!("CREATE DATABASE {name}")).await
}

/// Drops the database `name` made by [`create_postgres_database`], closing its connections.
pub async fn drop_postgres_database(admin_url: &str, name: &str) -> Result<(), StoreError> {
    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
    admin_statement(admin_url, name, &sql).await.map(drop)
}

/// Runs `sql` about the database `name` on `admin_url`'s server; the URL of that database.
async fn admin_statement(admin_url: &str, name: &str, sql: &str) -> Result<String, StoreError> {
    let (base, mut conn) = admin_connection(admin_url, name).await?;
    sqlx::raw_sql(sql)
        .execute(&mut conn)
        .await
        .map_err(|source| StoreError::Open {
            url: redact(admin_url),
            source,
        })?;
    Ok(format!("{base}/{name}"))
}

/// A connection to `admin_url`, and the URL without its database, once `name` is checked.
async fn admin_connection(
    admin_url: &str,
    name: &str,
) -> Result<(String, PgConnection), StoreError> {
    let bad = || StoreError::BadUrl {
        url: redact(admin_url),
    };
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(bad());
    }
    if !admin_url.starts_with("postgres://") && !admin_url.starts_with("postgresql://") {
        return Err(bad());
    }
    let base = admin_url.rsplit_once('/').ok_or_else(bad)?.0.to_string();
    let conn = PgConnection::connect(admin_url)
        .await
        .map_err(|source| StoreError::Open {
            url: redact(admin_url),
            source,
        })?;
    Ok((base, conn))
}

type RawRow = Result<(i64, i64, String, String), sqlx::Error>;

fn raw_sqlite(row: sqlx::sqlite::SqliteRow) -> RawRow {
    Ok((
        row.try_get(0)?,
        row.try_get(1)?,
        row.try_get(2)?,
        row.try_get(3)?,
    ))
}

fn raw_pg(row: sqlx::postgres::PgRow) -> RawRow {
    Ok((
        row.try_get(0)?,
        row.try_get(1)?,
        row.try_get(2)?,
        row.try_get(3)?,
    ))
}

/// The embedded migrations as sqlx's migrator takes them.
#[derive(Debug)]
struct Embedded;

impl MigrationSource<'static> for Embedded {
    fn resolve(
        self,
    ) -> Pin<
        Box<
            dyn Future<Output = Result<Vec<Migration>, Box<dyn std::error::Error + Send + Sync>>>
                + Send,
        >,
    > {
        Box::pin(async {
            Ok(MIGRATIONS
                .iter()
                .map(|&(version, description, sql)| {
                    Migration::new(
                        version,
                        Cow::Borrowed(description),
                        MigrationType::Simple,
                        Cow::Borrowed(sql),
                        false,
                    )
                })
                .collect())
        })
    }
}

/// One entry waiting for its commit.
struct Pending {
    seq: i64,
    at_ms: Millis,
    kind: &'static str,
    body: String,
    done: Option<oneshot::Sender<bool>>,
}

/// Hands entries to the writer task. Entries must be queued in the order the stack carried
/// them (the caller holds the stack's lock while queueing).
pub struct Journal {
    queue: mpsc::UnboundedSender<Pending>,
    failed: Arc<AtomicBool>,
    /// Told once, when the journal fails: the serving loop then waits for the database to
    /// answer again and rebuilds the stack from what was committed.
    failure: Arc<tokio::sync::Notify>,
    committed: Arc<AtomicU64>,
    commits: Arc<AtomicU64>,
}

/// Resolves once the entry is committed: `true`, or `false` if the journal failed.
pub type Committed = oneshot::Receiver<bool>;

impl Journal {
    /// Starts the writer task on the current runtime.
    pub fn start(db: Database) -> Journal {
        let (queue, mut rx) = mpsc::unbounded_channel::<Pending>();
        let failed = Arc::new(AtomicBool::new(false));
        let failure = Arc::new(tokio::sync::Notify::new());
        let committed = Arc::new(AtomicU64::new(0));
        let commits = Arc::new(AtomicU64::new(0));
        let kind = db.kind();
        let (f, c, n, told) = (
            Arc::clone(&failed),
            Arc::clone(&committed),
            Arc::clone(&commits),
            Arc::clone(&failure),
        );
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(MAX_BATCH);
            while let Some(first) = rx.recv().await {
                batch.push(first);
                while batch.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(p) => batch.push(p),
                        Err(_) => break,
                    }
                }
                // After a failed commit nothing more is written: a gap in the journal would
                // make its replay diverge from what callers were told.
                let ok = !f.load(Ordering::Acquire) && {
                    match db.append(&batch).await {
                        Ok(()) => true,
                        Err(e) => {
                            eprintln!(
                                "twin: the journal ({kind}) failed to commit {} entries: {e}; \
                                 calls are refused with 503 until the database answers again \
                                 and the stack is rebuilt from what was committed",
                                batch.len()
                            );
                            f.store(true, Ordering::Release);
                            told.notify_one();
                            false
                        }
                    }
                };
                if ok {
                    c.fetch_add(batch.len() as u64, Ordering::Relaxed);
                    n.fetch_add(1, Ordering::Relaxed);
                }
                for p in batch.drain(..) {
                    if let Some(done) = p.done {
                        let _ = done.send(ok);
                    }
                }
            }
            db.close().await;
        });
        Journal {
            queue,
            failed,
            failure,
            committed,
            commits,
        }
    }

    /// Queues a call; the receiver resolves when it is committed.
    pub fn command(&self, seq: i64, envelope: &Envelope) -> Committed {
        let (done, committed) = oneshot::channel();
        let body = serde_json::to_string(envelope).expect("api types serialise");
        self.push(Pending {
            seq,
            at_ms: envelope.sent_at,
            kind: "command",
            body,
            done: Some(done),
        });
        committed
    }

    /// Queues a tick of the time-driven work; the receiver resolves when it is committed (the
    /// server's own ticker does not wait; a caller driving the clock does).
    pub fn advance(&self, seq: i64, at: Millis) -> Committed {
        let (done, committed) = oneshot::channel();
        self.push(Pending {
            seq,
            at_ms: at,
            kind: "advance",
            body: String::new(),
            done: Some(done),
        });
        committed
    }

    fn push(&self, p: Pending) {
        if let Err(mpsc::error::SendError(p)) = self.queue.send(p) {
            // The writer is gone (the runtime is shutting down): the caller is told it failed.
            self.failed.store(true, Ordering::Release);
            self.failure.notify_one();
            if let Some(done) = p.done {
                let _ = done.send(false);
            }
        }
    }

    /// A commit failed: the server must take no more calls.
    pub fn failed(&self) -> bool {
        self.failed.load(Ordering::Acquire)
    }

    /// Resolves when the journal has failed (at once if it already has).
    pub async fn failure(&self) {
        if !self.failed() {
            self.failure.notified().await;
        }
    }

    /// Entries committed since the server started, and the transactions that carried them.
    pub fn committed(&self) -> (u64, u64) {
        (
            self.committed.load(Ordering::Relaxed),
            self.commits.load(Ordering::Relaxed),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_shown() {
        assert_eq!(
            redact("postgres://twin:s3cret@db:5432/test"),
            "postgres://twin:***@db:5432/test"
        );
        assert_eq!(
            redact("postgres://postgres@127.0.0.1/test"),
            "postgres://postgres@127.0.0.1/test"
        );
        assert_eq!(redact("sqlite://stack.db"), "sqlite://stack.db");
    }

    #[test]
    fn copy_rows_escape_what_copy_text_reads_as_special() {
        let p = Pending {
            seq: 7,
            at_ms: 1500,
            kind: "command",
            body: "a\\b\tc\nd\re\"".into(),
            done: None,
        };
        let text = String::from_utf8(copy_text(&[p])).unwrap();
        assert_eq!(text, "7\t1500\tcommand\ta\\\\b\\tc\\nd\\re\"\n");
    }
}
