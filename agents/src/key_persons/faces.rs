//! Face sightings of key persons, where the matcher loop is off: the key-persons office enrols
//! the register's faces on the platform's watchlist as key persons (`ListKind::KeyPerson`),
//! people pass face-capture points at the scenario's rate, the platform searches each capture,
//! and a reviewer confirms an alert when the candidate is the person sighted. What a confirmed
//! sighting leads to — a care lead for the team, police only from the sighting policy's grade —
//! is the platform's to decide, and the report checks it did so.
//!
//! Where the matcher loop runs it owns the watchlist and its false-alert accounting, and the
//! sightings of key persons are off (said in the report).

use baoan_api::key_persons::KEY_PERSON_ENTRY_BASE;
use baoan_api::{Actor, Command, ListKind, MatchPolicy, PersonId, Role, Sighting, WatchlistEntry};
use baoan_faces::noise::{capture, identity, threshold_for_fpir};
use baoan_scenarios::Scenario;
use baoan_world::kernel::Agenda;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp};

use super::{DAY, KpAction, Person};

/// The faces' settings, from the scenario's matcher section (its dimension, noise, threshold
/// or target FPIR) and the key-persons rate.
#[derive(Debug, Clone, Copy)]
pub struct Faces {
    pub dim: usize,
    pub noise: f32,
    pub per_day: f64,
    threshold: Option<f64>,
    target_fpir: f64,
}

/// The capture point's device credential.
const CAMERA: Actor = Actor {
    role: Role::Camera,
    person: PersonId(8_900_000),
};
/// The key-persons office's reviewer.
pub const REVIEWER: Actor = Actor {
    role: Role::Reviewer,
    person: PersonId(7_900_000),
};
/// Mean minutes from an alert to its review. Assumed.
pub const REVIEW_MIN: f64 = 10.0;

impl Faces {
    /// On where the scenario runs key persons with sightings and the matcher loop is off.
    pub fn from_scenario(s: &Scenario) -> Option<Faces> {
        let k = &s.key_persons;
        let on = k.enabled && !s.matcher.enabled && k.sightings_per_person_per_day > 0.0;
        on.then_some(Faces {
            dim: s.matcher.dim as usize,
            noise: s.matcher.noise_scale as f32,
            per_day: k.sightings_per_person_per_day,
            threshold: s.matcher.threshold,
            target_fpir: s.matcher.target_fpir,
        })
    }

    /// The match policy: the scenario's threshold, or the one its target FPIR gives on a list
    /// of `listed` entries; one reviewer.
    pub fn policy(&self, listed: usize) -> Command {
        let threshold = self
            .threshold
            .unwrap_or_else(|| threshold_for_fpir(self.target_fpir, self.dim, listed.max(1)));
        Command::SetMatchPolicy {
            policy: MatchPolicy {
                threshold: threshold as f32,
                top_k: 3,
                reviewers_required: 1,
            },
        }
    }

    /// Person `i`'s register entry (record `record`), with the photo the register holds.
    pub fn entry(&self, seed: u64, i: usize, record: u64) -> WatchlistEntry {
        WatchlistEntry {
            entry_ref: KEY_PERSON_ENTRY_BASE + record,
            list: ListKind::KeyPerson,
            legal_basis: format!("synthetic key-person register, record {record}"),
            owner: "Bao'an key-persons office (synthetic)".into(),
            expires_at: u64::MAX,
            embedding: identity(seed, i as u64, self.dim),
        }
    }

    /// A capture of person `i` at `at` by a face point in their grid.
    pub fn sighting(
        &self,
        seed: u64,
        i: usize,
        p: &Person,
        sighting_ref: u64,
        at: u64,
        rng: &mut ChaCha8Rng,
    ) -> (Actor, Command) {
        let quality: f32 = rng.random_range(0.6..0.95);
        let face = identity(seed, i as u64, self.dim);
        let sighting = Sighting {
            sighting_ref,
            // The grid's face point (a stand-in: the matcher loop's points are its own).
            camera: 1 + p.grid,
            grid: p.grid,
            x_m: p.x,
            y_m: p.y,
            captured_at: at,
            quality,
            embedding: capture(&face, quality, self.noise, rng),
        };
        (CAMERA, Command::SubmitSighting { sighting })
    }

    /// Each person's passes by a face point over their time in management.
    pub fn schedule(
        &self,
        people: &[Person],
        end: u64,
        rng: &mut ChaCha8Rng,
        agenda: &mut Agenda<KpAction>,
    ) {
        let gap = Exp::new(self.per_day / DAY as f64).expect("a positive rate");
        for (i, p) in people.iter().enumerate() {
            let mut t = p.joins_at as f64;
            loop {
                t += gap.sample(rng);
                if t >= end as f64 {
                    break;
                }
                agenda.schedule(t as u64, KpAction::Sighted { person: i });
            }
        }
    }
}
