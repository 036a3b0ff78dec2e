//! The twin's actors, one Bevy plugin per family, each registering its messages, then its
//! resources, then its systems in the kernel's ordered sets (inputs → agents → bridge → record).
//!
//! Actors reach the stack only by writing `ToStack` commands and reading `FromStack` outcomes:
//! the same messages whether the stack is in-process or deployed. They know the truth (what
//! really happened, and when); the stack knows only what it was told.

// Bevy systems name every resource they touch as a parameter; that is the point, not a smell.
#![allow(clippy::too_many_arguments)]

pub mod blocks;
pub mod cameras;
pub mod cases;
pub mod command;
pub mod grid;
pub mod handoff;
pub mod inspector_time;
pub mod key_persons;
pub mod registry;
pub mod video;

/// What a loop hands the run when it ends: its report section, its part of index.html, the
/// invariants it checked and its metrics for the SLOs.
pub struct LoopOutcome {
    pub section: serde_json::Value,
    pub html: baoan_reports::html::Section,
    pub invariants: Vec<baoan_reports::Invariant>,
    pub metrics: baoan_reports::Metrics,
    /// The loop's layers on the run's interactive map (map.html).
    pub map: baoan_reports::map::MapLayers,
}

/// An exponential wait with the given mean (positive), in whole milliseconds.
pub(crate) fn exp_wait(rng: &mut rand_chacha::ChaCha8Rng, mean_ms: f64) -> u64 {
    use rand_distr::Distribution;
    rand_distr::Exp::new(1.0 / mean_ms)
        .expect("a positive mean")
        .sample(rng) as u64
}

/// A loop's count of the stack's refusals of its commands, keeping the first twenty as notes
/// for the report.
pub(crate) fn note_refusal(
    refused: &mut u64,
    notes: &mut Vec<String>,
    r: &baoan_world::bridge::Refused,
) {
    *refused += 1;
    if notes.len() < 20 {
        notes.push(format!(
            "refused {}: {}",
            r.envelope.command.kind(),
            r.error
        ));
    }
}

/// A loop's ledger that counts the stack's refusals of its calls and keeps notes of them.
pub(crate) trait CountsRefusals {
    fn refusals(&mut self) -> (&mut u64, &mut Vec<String>);
}

/// A call a loop makes before the run's first tick (an address library, a directory, the
/// departments' exports, enrolments): sent at time 0 with the loop's set-up tag, a refusal
/// counted and noted in its ledger for the report.
pub(crate) fn send_before_run(
    door: &mut baoan_world::bridge::StackDoor,
    client_ref: u64,
    ledger: &mut impl CountsRefusals,
    actor: baoan_api::Actor,
    command: baoan_api::Command,
) -> Option<Vec<baoan_api::Outcome>> {
    let kind = command.kind();
    match door.call(0, actor, command, client_ref) {
        Ok(out) => Some(out),
        Err(e) => {
            let (refused, notes) = ledger.refusals();
            *refused += 1;
            notes.push(format!("refused {kind}: {e}"));
            None
        }
    }
}

/// A map of the district's grids coloured by one value each (`None`: no data), as inline SVG.
pub fn grid_map_svg(
    district: &baoan_world::District,
    title: &str,
    legend: &str,
    values: impl IntoIterator<Item = Option<f64>>,
) -> Result<String, baoan_reports::plot::PlotError> {
    let areas: Vec<baoan_reports::plot::MapArea> = district
        .grids
        .iter()
        .zip(values)
        .map(|(g, value)| baoan_reports::plot::MapArea {
            rings: g
                .shape
                .0
                .iter()
                .map(|p| p.exterior().0.iter().map(|c| (c.x, c.y)).collect())
                .collect(),
            value,
        })
        .collect();
    baoan_reports::plot::map_svg(title, legend, &areas, 900)
}

/// Staff identities the twin gives the platform. Staff are synthetic like everyone else.
pub mod staff {
    use baoan_api::{Actor, PersonId, Role};

    pub const ADMIN: Actor = Actor {
        role: Role::Admin,
        person: PersonId(1),
    };
    pub const ANALYST: Actor = Actor {
        role: Role::Analyst,
        person: PersonId(2),
    };
    pub const HOTLINE: Actor = Actor {
        role: Role::Dispatcher,
        person: PersonId(3),
    };

    pub fn inspector(grid: u32) -> PersonId {
        PersonId(1_000_000 + grid)
    }

    pub fn resolver(index: u32) -> PersonId {
        PersonId(2_000_000 + index)
    }
}
