//! The hidden course of each key person, as the twin knows it and the platform does not: stable
//! stretches broken by episodes (a prodrome — "unstable" — then a relapse), some of which would
//! end in harm (肇事肇祸) with nobody acting. Every draw is made up front, per person, so the same
//! episodes play out whether the team acts or not: the counterfactual is read off the draws, and
//! "incidents prevented" is the difference on the same random numbers.
//!
//! Every number here is an assumption (no public source gives these rates for Bao'an), named
//! and listed in the report's `assumptions`.

use baoan_api::key_persons::Category;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::DAY;

/// One behaviour number of the loop: its name, value, unit and where it comes from.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Assumption {
    pub name: &'static str,
    pub value: f64,
    pub unit: &'static str,
    pub source: &'static str,
}

const fn assumed(name: &'static str, value: f64, unit: &'static str) -> Assumption {
    Assumption {
        name,
        value,
        unit,
        source: "assumed",
    }
}

/// Episodes a year: mental disorders (about half relapse within a year off treatment; under
/// management fewer) and drug use (relapse is the rule in the first years).
pub const EPISODES_MENTAL: Assumption =
    assumed("key_persons.episodes_per_year.mental", 0.8, "1/year");
pub const EPISODES_DRUGS: Assumption =
    assumed("key_persons.episodes_per_year.drugs", 1.2, "1/year");
/// Mean days of prodrome (warning signs, missed doses, craving) before a relapse.
pub const PRODROME_DAYS: Assumption = assumed("key_persons.prodrome_days", 10.0, "days");
/// Mean days from relapse to harm, for an episode that would end in harm.
pub const RELAPSE_TO_HARM_DAYS: Assumption =
    assumed("key_persons.relapse_to_harm_days", 7.0, "days");
/// Mean days a harmless relapse lasts before it remits by itself.
pub const REMISSION_DAYS: Assumption = assumed("key_persons.remission_days", 21.0, "days");
/// Share of episodes that would end in harm to self or others with nobody acting.
pub const HARM_MENTAL: Assumption = assumed("key_persons.harm_share.mental", 0.08, "share");
pub const HARM_DRUGS: Assumption = assumed("key_persons.harm_share.drugs", 0.05, "share");
/// A follow-up during a prodrome sees the warning signs with this probability; during a
/// relapse, with the second.
pub const DETECT_PRODROME: Assumption = assumed("key_persons.detect.prodrome", 0.6, "probability");
pub const DETECT_RELAPSE: Assumption = assumed("key_persons.detect.relapse", 0.9, "probability");
/// A urine test during drug use is positive with this probability (detection windows of days).
pub const URINE_SENSITIVITY: Assumption =
    assumed("key_persons.urine_sensitivity", 0.95, "probability");
/// A urine test is evaded or refused with this probability; a person in an episode takes their
/// treatment with the second.
pub const URINE_REFUSED: Assumption = assumed("key_persons.urine_refused", 0.02, "probability");
pub const ADHERENT_IN_EPISODE: Assumption =
    assumed("key_persons.adherent_in_episode", 0.5, "probability");
/// Treatment adjusted at a follow-up ends the episode with this probability (prodrome; relapse
/// at grade 3).
pub const TREAT_PRODROME: Assumption =
    assumed("key_persons.treatment.prodrome", 0.7, "probability");
pub const TREAT_RELAPSE: Assumption = assumed("key_persons.treatment.relapse", 0.5, "probability");
/// A guardian notices warning signs at this rate a day while an episode is on; the inspector on
/// patrol notices a relapse at the second.
pub const GUARDIAN_NOTICES: Assumption = assumed("key_persons.guardian_notices", 0.15, "1/day");
pub const INSPECTOR_NOTICES: Assumption = assumed("key_persons.inspector_notices", 0.1, "1/day");
/// Share of people with a guardian on the team.
pub const GUARDIAN_SHARE: Assumption = assumed("key_persons.guardian_share", 0.85, "share");
/// People leave the district, or die, at these rates a year.
pub const MOVES: Assumption = assumed("key_persons.moves_per_year", 0.05, "1/year");
pub const DEATHS: Assumption = assumed("key_persons.deaths_per_year", 0.008, "1/year");
/// People entering management during the run, a year, as a share of the register: new
/// diagnoses against deaths, moves and recoveries for mental disorders (assumed), and a third of
/// the register for the drug categories (the steady state of a three-year term).
pub const NEW_MENTAL: Assumption = assumed("key_persons.new_per_year.mental", 0.07, "1/year");
pub const NEW_DRUGS: Assumption = Assumption {
    name: "key_persons.new_per_year.drugs",
    value: 1.0 / 3.0,
    unit: "1/year",
    source: "the steady state of the three-year term (禁毒法 art. 33)",
};
/// The register's grades when the run starts: this share at grade 0 (stable).
pub const REGISTER_STABLE: Assumption = Assumption {
    name: "key_persons.register_grade_0_share",
    value: 0.80,
    unit: "share",
    source: "assumed; the rest 0.12 at grade 1, 0.06 at 2, 0.02 at 3",
};
/// Members book a follow-up at most this many days before it is due.
pub const PLAN_AHEAD_DAYS: Assumption = assumed("key_persons.plan_ahead_days", 7.0, "days");
/// Mean minutes from harm to a caller's 110 call.
pub const CALL_DELAY_MIN: Assumption = assumed("key_persons.call_delay_min", 2.0, "minutes");

/// Every assumption of the loop, for the report.
pub const ASSUMPTIONS: [Assumption; 25] = [
    EPISODES_MENTAL,
    EPISODES_DRUGS,
    PRODROME_DAYS,
    RELAPSE_TO_HARM_DAYS,
    REMISSION_DAYS,
    HARM_MENTAL,
    HARM_DRUGS,
    DETECT_PRODROME,
    DETECT_RELAPSE,
    URINE_SENSITIVITY,
    URINE_REFUSED,
    ADHERENT_IN_EPISODE,
    TREAT_PRODROME,
    TREAT_RELAPSE,
    GUARDIAN_NOTICES,
    INSPECTOR_NOTICES,
    GUARDIAN_SHARE,
    MOVES,
    DEATHS,
    REGISTER_STABLE,
    NEW_MENTAL,
    NEW_DRUGS,
    PLAN_AHEAD_DAYS,
    CALL_DELAY_MIN,
    assumed("key_persons.admission_on_arrival", 1.0, "probability"),
];

/// One episode, drawn up front: when it starts, when the relapse comes, and how it would end
/// with nobody acting (harm at `harm_at`, or remission at `remits_at`).
#[derive(Debug, Clone, Copy)]
pub struct Episode {
    pub onset: u64,
    pub relapse: u64,
    pub harm_at: Option<u64>,
    pub remits_at: u64,
    /// Uniform draws for the team's success at each chance (detection, treatment), shared by
    /// every run of the same seed.
    pub treat_u: f64,
}

/// Where a person stands at a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Stable,
    Unstable,
    Relapse,
}

/// A person's draws over the run: episodes in order, and when they leave the district.
#[derive(Debug, Clone, Default)]
pub struct Course {
    pub episodes: Vec<Episode>,
    /// Moved away or died (the team cannot change it), if within the run.
    pub leaves_at: Option<(u64, bool)>,
}

fn exp_days(rng: &mut ChaCha8Rng, mean_days: f64) -> u64 {
    crate::exp_wait(rng, mean_days * DAY as f64)
}

impl Course {
    /// The person's episodes and departure over `[start, end)` (`start`: when they enter
    /// management).
    pub fn draw(rng: &mut ChaCha8Rng, category: Category, start: u64, end: u64) -> Course {
        let (per_year, harm) = if category.drugs() {
            (EPISODES_DRUGS.value, HARM_DRUGS.value)
        } else {
            (EPISODES_MENTAL.value, HARM_MENTAL.value)
        };
        let mut episodes = Vec::new();
        let mut t = start;
        loop {
            t += exp_days(rng, 365.0 / per_year);
            if t >= end {
                break;
            }
            let relapse = t + exp_days(rng, PRODROME_DAYS.value);
            let harmful = rng.random::<f64>() < harm;
            let harm_at = harmful.then(|| relapse + exp_days(rng, RELAPSE_TO_HARM_DAYS.value));
            let remits_at =
                harm_at.unwrap_or_else(|| relapse + exp_days(rng, REMISSION_DAYS.value));
            episodes.push(Episode {
                onset: t,
                relapse,
                harm_at,
                remits_at,
                treat_u: rng.random(),
            });
            // The next episode starts no sooner than this one has run its course.
            t = remits_at;
        }
        let leave = start + exp_days(rng, 365.0 / (MOVES.value + DEATHS.value));
        let died = rng.random::<f64>() < DEATHS.value / (MOVES.value + DEATHS.value);
        Course {
            episodes,
            leaves_at: (leave < end).then_some((leave, died)),
        }
    }

    /// When harm would come with nobody acting: the first harmful episode's harm, if before the
    /// person leaves.
    pub fn counterfactual_harm(&self) -> Option<u64> {
        let gone = self.leaves_at.map_or(u64::MAX, |(t, _)| t);
        self.episodes
            .iter()
            .filter_map(|e| e.harm_at)
            .find(|&h| h < gone)
    }
}

/// The risk grade a follow-up assesses in `state` (0–5), drawn: stable 0; a prodrome 1–2; a
/// relapse 3–5, higher the nearer the harm.
pub fn assessed_grade(state: State, near_harm: bool, rng: &mut ChaCha8Rng) -> u8 {
    match state {
        State::Stable => 0,
        State::Unstable => 1 + u8::from(rng.random::<f64>() < 0.4),
        State::Relapse if near_harm => 4 + u8::from(rng.random::<f64>() < 0.3),
        State::Relapse => 3 + u8::from(rng.random::<f64>() < 0.3),
    }
}
