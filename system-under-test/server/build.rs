//! Tests that need the machine's PostgreSQL or NATS are compiled as ignored when
//! `BAOAN_SKIP_POSTGRES` or `BAOAN_SKIP_NATS` is set: a skip shows in the test summary as
//! "ignored" with its reason, never as a pass (`.ci/run` fails on any ignored test).

fn main() {
    for (var, cfg) in [
        ("BAOAN_SKIP_POSTGRES", "skip_postgres"),
        ("BAOAN_SKIP_NATS", "skip_nats"),
    ] {
        println!("cargo::rustc-check-cfg=cfg({cfg})");
        println!("cargo::rerun-if-env-changed={var}");
        if std::env::var_os(var).is_some() {
            println!("cargo::rustc-cfg={cfg}");
        }
    }
}
