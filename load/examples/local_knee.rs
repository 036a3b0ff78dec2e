//! A knee search and a short soak against a server started in this process (memory only, fresh
//! tokens): a quick look at the generator and the stack on one machine, leaving the reports in
//! `out/load-local/`. Both share the machine's cores, so the knee is a lower bound for a
//! deployment with a machine of its own.
//!
//! `cargo run --release -p baoan-load --example local_knee [MAX_RATE]`

use std::path::Path;
use std::time::Duration;

use baoan_load::{KneeSpec, LoadTarget, RateGrowth, SoakSpec, find_knee, soak};
use baoan_server::{Config, Server, Tokens};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let max_rate: f64 = std::env::args()
        .nth(1)
        .map_or(Ok(20_000.0), |a| a.parse())?;
    let tokens = Tokens::parse(
        Path::new("local_knee"),
        "[[token]]\ntoken = \"local-admin-0123456789\"\nrole = \"admin\"\nperson = 9000001\n\
         [[token]]\ntoken = \"local-inspector-0123456789\"\nrole = \"inspector\"\nperson = 1000001\n",
    )?;
    let server = Server::bind(Config::local(tokens.clone()))?;
    let url = format!("http://{}", server.local_addr());
    std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().expect("a runtime");
        rt.block_on(server.run_until(std::future::pending()))
    });
    let target = LoadTarget::from_tokens(&url, &tokens, Path::new("local_knee"))?;
    let knee = find_knee(
        &target,
        &KneeSpec {
            start_rate: 500.0,
            max_rate,
            growth: RateGrowth::Factor(1.5),
            step_duration: Duration::from_secs(5),
            warmup: Duration::from_secs(1),
            connections: 64,
            slo_p99_ms: 50.0,
            ..KneeSpec::default()
        },
    )?;
    let dir = Path::new("out/load-local");
    baoan_load::write_knee_report(dir, &knee)?;
    println!(
        "knee: {:?} reports/s; generator behind: {}",
        knee.knee_rate, knee.generator_behind
    );
    let rate = knee.knee_rate.unwrap_or(500.0) / 2.0;
    let soaked = soak(
        &target,
        &SoakSpec {
            rate,
            duration: Duration::from_secs(20),
            warmup: Duration::from_secs(5),
            interval: Duration::from_secs(5),
            ..SoakSpec::default()
        },
    )?;
    baoan_load::write_soak_report(&dir.join("soak"), &soaked)?;
    println!(
        "soak at {rate:.0}/s: p99 drift {:?} ms, server RSS growth {:?} B, harness {:?} B",
        soaked.p99_drift_ms, soaked.server_rss_growth_bytes, soaked.harness_rss_growth_bytes
    );
    Ok(())
}
