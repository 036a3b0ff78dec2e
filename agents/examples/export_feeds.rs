//! The departments' person records for a peer: writes `persons.csv` (one row per record, with
//! the true person for scoring) from the twin's feeds at a scale, then links the same records
//! with the platform's block-data module and prints its wall time, peak memory and pairwise
//! precision, recall and F1 — the figures `benches/peers/splink_link.py` prints for Splink.
//!
//! `cargo run --release -p baoan-agents --example export_feeds -- SCALE OUT_DIR`

use std::io::Write;
use std::time::Instant;

use baoan_agents::blocks::feeds::{self, Entity};
use baoan_api::blocks::{Record, Sex};
use baoan_api::{Actor, Command, Envelope, Outcome, PersonId, Role, Stack};
use baoan_reports::peak_rss_mib;

fn csv(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let scale: f64 = args.get(1).map_or(0.1, |a| a.parse().expect("scale"));
    let out = std::path::PathBuf::from(args.get(2).map_or("out/peer-feeds", |s| s.as_str()));
    std::fs::create_dir_all(&out).expect("output folder");
    let (twin, _) = baoan_world::Twin::build(scale, 20201);
    let streams = baoan_world::RngStreams::new(20201);
    let f = feeds::generate(
        &twin,
        &baoan_scenarios::BlocksLoop::default(),
        &streams,
        86_400_000,
    );
    // Person records only, each key once (a resent record is the same record).
    let mut persons = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (_, r) in &f.records {
        if let Record::Person(p) = r
            && seen.insert(r.key())
        {
            let Some(Entity::Person(who)) = f.truth.get(&r.key()).map(|t| t.entity) else {
                continue;
            };
            persons.push((p.clone(), who));
        }
    }
    let mut w = std::io::BufWriter::new(std::fs::File::create(out.join("persons.csv")).unwrap());
    writeln!(
        w,
        "unique_id,feed,name,id_number,sex,birth_date,address,truth"
    )
    .unwrap();
    for (i, (p, who)) in persons.iter().enumerate() {
        let birth = p
            .birth_date
            .map(|b| format!("{:04}-{:02}-{:02}", b.year, b.month, b.day))
            .unwrap_or_default();
        let sex = match p.sex {
            Some(Sex::Male) => "m",
            Some(Sex::Female) => "f",
            None => "",
        };
        writeln!(
            w,
            "{i},{:?},{},{},{sex},{birth},{},{who}",
            p.feed,
            csv(&p.name),
            csv(p.id_number.as_deref().unwrap_or("")),
            csv(&p.address)
        )
        .unwrap();
    }
    drop(w);
    println!(
        "wrote {} person records to {}",
        persons.len(),
        out.join("persons.csv").display()
    );

    // The platform on the same records.
    let rss_before = peak_rss_mib();
    let mut stack = baoan_stack::InProcessStack::new();
    let send = |s: &mut baoan_stack::InProcessStack, role, command| {
        s.send(&Envelope {
            actor: Actor {
                role,
                person: PersonId(1),
            },
            sent_at: 0,
            command,
        })
    };
    send(
        &mut stack,
        Role::Admin,
        Command::LoadAddressLibrary {
            library: f.library.clone(),
            more: false,
        },
    )
    .unwrap();
    let records: Vec<Record> = persons
        .iter()
        .map(|(p, _)| Record::Person(p.clone()))
        .collect();
    let start = Instant::now();
    let mut cluster = Vec::with_capacity(records.len());
    for batch in records.chunks(10_000) {
        let out = send(
            &mut stack,
            Role::Department,
            Command::IngestRecords {
                records: batch.to_vec(),
            },
        )
        .unwrap();
        for o in out {
            if let Outcome::RecordsIngested { results } = o {
                cluster.extend(results.into_iter().map(|r| r.key));
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let data = stack.blocks.block_data().expect("loaded");
    let mut cells = std::collections::HashMap::new();
    let mut by_cluster = std::collections::HashMap::new();
    let mut by_truth = std::collections::HashMap::new();
    for ((_, who), key) in persons.iter().zip(&cluster) {
        let c = data.cluster_of(key).expect("kept");
        *cells.entry((c, *who)).or_insert(0u64) += 1;
        *by_cluster.entry(c).or_insert(0u64) += 1;
        *by_truth.entry(*who).or_insert(0u64) += 1;
    }
    let pairs = |n: &u64| n * n.saturating_sub(1) / 2;
    let tp: u64 = cells.values().map(pairs).sum();
    let pp: u64 = by_cluster.values().map(pairs).sum();
    let ap: u64 = by_truth.values().map(pairs).sum();
    let (p, r) = (tp as f64 / pp as f64, tp as f64 / ap as f64);
    println!(
        "baoan block-data: {} records linked in {:.2} s ({:.0}/s), peak memory {:.0} MiB (process; {:.0} MiB before linking); pairwise precision {:.4}, recall {:.4}, F1 {:.4}",
        records.len(),
        secs,
        records.len() as f64 / secs,
        peak_rss_mib(),
        rss_before,
        p,
        r,
        2.0 * p * r / (p + r)
    );
}
