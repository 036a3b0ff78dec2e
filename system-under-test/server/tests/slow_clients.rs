//! Slow and idle clients against a real server on 127.0.0.1: connections that sent half a request
//! header are dropped after the header-read timeout while other clients are served; a connection
//! over the cap is answered 503 at once; an idle keep-alive connection is closed; `/metrics`
//! behind a token and on an address of its own.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use baoan_server::{Config, ConnectionLimits, MetricsAccess, Server};
use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const METRICS_TOKEN: &str = "metrics-token-0123456789";

/// A server in memory with these limits, serving until the returned sender is dropped.
async fn serve(
    limits: ConnectionLimits,
    metrics: MetricsAccess,
) -> (
    SocketAddr,
    Option<SocketAddr>,
    tokio::sync::oneshot::Sender<()>,
) {
    let server = Server::bind(Config {
        connections: limits,
        metrics,
        ..Config::local(tokens())
    })
    .unwrap();
    let (addr, metrics_addr) = (server.local_addr(), server.metrics_addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.run_until(async {
        let _ = stopped.await;
    }));
    (addr, metrics_addr, stop)
}

/// One request on a connection of its own; the status and body.
async fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: &str,
    body: &str,
) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_string(&mut answer))
        .await
        .expect("answered within 10 s")
        .unwrap();
    let status = answer[9..12].parse().unwrap();
    (status, answer.split_once("\r\n\r\n").unwrap().1.to_string())
}

/// Waits until the server closes `stream` (end of file or a reset); how long that took.
async fn closed_after(mut stream: TcpStream, since: Instant, within: Duration) -> Duration {
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout_at((since + within).into(), stream.read(&mut buf)).await {
            Err(_) => panic!("still open after {within:?}"),
            Ok(Ok(0)) | Ok(Err(_)) => return since.elapsed(),
            Ok(Ok(_)) => {}
        }
    }
}

fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("{name} in /metrics:\n{text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_dropped_while_others_are_served() {
    const SLOW: usize = 1000;
    let limits = ConnectionLimits {
        header_read_timeout: Duration::from_secs(2),
        idle_timeout: Duration::from_secs(30),
        max_connections: SLOW + 100,
    };
    let (addr, _, _stop) = serve(limits, MetricsAccess::default()).await;
    let (status, body) = call(
        addr,
        "POST",
        "/grid/load_directory",
        ADMIN,
        &directory().to_string(),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    // A thousand clients each send half a request header and stop.
    let opened = Instant::now();
    let mut slow = Vec::with_capacity(SLOW);
    for _ in 0..SLOW {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"POST /grid/reports HTTP/1.1\r\nHost: twin\r\nContent-Le")
            .await
            .unwrap();
        slow.push(s);
    }
    let all_open = opened.elapsed();

    // Meanwhile others are served.
    let mut latencies = Vec::new();
    for r in 1..=50u64 {
        let t = Instant::now();
        let (status, body) = call(
            addr,
            "POST",
            "/grid/reports",
            INSPECTOR,
            &report(r).to_string(),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        latencies.push(t.elapsed());
    }
    latencies.sort();

    // Every slow connection is closed by the server, soon after the header-read timeout.
    let closes: Vec<Duration> = futures_util::future::join_all(slow.into_iter().map(|s| {
        closed_after(
            s,
            opened,
            limits.header_read_timeout + Duration::from_secs(10),
        )
    }))
    .await;
    let latest = closes.iter().max().unwrap();
    let earliest = closes.iter().min().unwrap();
    let (_, metrics) = call(addr, "GET", "/metrics", ADMIN, "").await;
    eprintln!(
        "{SLOW} clients with half a header (opened in {:.2} s): closed by the server {:.2}–{:.2} s \
         after the first connected (header-read timeout {:.0} s); meanwhile 50 reports answered, \
         p50 {:.1} ms, max {:.1} ms; header timeouts counted {}",
        all_open.as_secs_f64(),
        earliest.as_secs_f64(),
        latest.as_secs_f64(),
        limits.header_read_timeout.as_secs_f64(),
        latencies[latencies.len() / 2].as_secs_f64() * 1e3,
        latencies.last().unwrap().as_secs_f64() * 1e3,
        metric(&metrics, "baoan_connections_header_timeouts_total"),
    );
    assert!(
        *earliest >= limits.header_read_timeout - Duration::from_millis(50),
        "a slow client is given the whole timeout: closed after {earliest:?}"
    );
    assert!(metric(&metrics, "baoan_connections_header_timeouts_total") >= SLOW as u64);
    assert_eq!(metric(&metrics, "baoan_connections_refused_total"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_over_the_cap_is_answered_503_and_others_go_on() {
    let limits = ConnectionLimits {
        header_read_timeout: Duration::from_secs(5),
        idle_timeout: Duration::from_secs(30),
        max_connections: 8,
    };
    let (addr, _, _stop) = serve(limits, MetricsAccess::default()).await;
    // Eight keep-alive connections, each having made one call, hold the cap.
    let mut held = Vec::new();
    for _ in 0..8 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(
            format!("GET /health HTTP/1.1\r\nHost: twin\r\nAuthorization: Bearer {ADMIN}\r\n\r\n")
                .as_bytes(),
        )
        .await
        .unwrap();
        let mut buf = vec![0u8; 4096];
        let n = s.read(&mut buf).await.unwrap();
        assert!(
            buf[..n].starts_with(b"HTTP/1.1 200"),
            "{}",
            String::from_utf8_lossy(&buf[..n])
        );
        held.push(s);
    }
    let mut over = TcpStream::connect(addr).await.unwrap();
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(5), over.read_to_string(&mut answer))
        .await
        .expect("the connection over the cap is answered at once")
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("retry-after: 1"),
        "{answer}"
    );
    assert!(answer.contains("too_many_connections"), "{answer}");
    // A held connection is still served.
    held[0]
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: twin\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut text = String::new();
    held[0].read_to_string(&mut text).await.unwrap();
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(metric(&text, "baoan_connections_refused_total") >= 1);
    // Once one closes, a new client gets in.
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (status, _) = call(addr, "GET", "/health", ADMIN, "").await;
        if status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no room after the held connections closed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed() {
    let limits = ConnectionLimits {
        header_read_timeout: Duration::from_secs(5),
        idle_timeout: Duration::from_millis(600),
        max_connections: 16,
    };
    let (addr, _, _stop) = serve(limits, MetricsAccess::default()).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /health HTTP/1.1\r\nHost: twin\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = s.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    let answered = Instant::now();
    let after = closed_after(s, answered, Duration::from_secs(4)).await;
    assert!(
        after >= Duration::from_millis(500),
        "closed too soon: {after:?}"
    );
    let (_, metrics) = call(addr, "GET", "/metrics", ADMIN, "").await;
    assert_eq!(metric(&metrics, "baoan_connections_idle_closed_total"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_behind_a_token_and_on_an_address_of_their_own() {
    let metrics = MetricsAccess {
        listen: Some("127.0.0.1:0".parse().unwrap()),
        token: Some(METRICS_TOKEN.into()),
    };
    let (addr, metrics_addr, _stop) = serve(ConnectionLimits::default(), metrics).await;
    let metrics_addr = metrics_addr.expect("a metrics address");
    let (status, body) = call(addr, "GET", "/metrics", ADMIN, "").await;
    assert_eq!(
        status, 401,
        "an admin's token is not the metrics token: {body}"
    );
    assert!(body.contains("--metrics-token"), "{body}");
    let (status, body) = call(addr, "GET", "/metrics", METRICS_TOKEN, "").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("baoan_connections_open"), "{body}");
    let (status, body) = call(metrics_addr, "GET", "/metrics", "none", "").await;
    assert_eq!(status, 200, "no token on the metrics address: {body}");
    let (status, _) = call(metrics_addr, "GET", "/health", "none", "").await;
    assert_eq!(status, 200);
    let (status, _) = call(
        metrics_addr,
        "POST",
        "/grid/reports",
        INSPECTOR,
        &report(1).to_string(),
    )
    .await;
    assert_eq!(
        status, 404,
        "only /metrics and /health on the metrics address"
    );
}
