//! The cases module's settings: the dispute risk checklist's weights and cut-offs, each level's
//! required actions and deadlines, and the credit, oversight and care parameters.

use baoan_api::Millis;
use baoan_api::cases::{Agency, DisputeFeatures, DisputeKind, RiskLevel};
use serde::{Deserialize, Serialize};

use crate::{DAY_MS, HOUR_MS};

/// Points each answer of the risk checklist adds to a dispute's score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskWeights {
    /// Points per earlier incident (default 2), counted up to `prior_incidents_cap`.
    pub prior_incident: u32,
    /// Earlier incidents beyond this many add nothing (default 5).
    pub prior_incidents_cap: u8,
    /// Physical violence in this incident (default 4).
    pub violence: u32,
    /// Default 5.
    pub threats_to_kill: u32,
    /// A weapon used or at hand (default 5).
    pub weapon: u32,
    /// Default 6: the strongest single predictor of a later homicide.
    pub strangulation: u32,
    /// A recent or pending separation (default 3).
    pub separation: u32,
    /// Children in the household (default 1).
    pub children: u32,
    /// Default 2.
    pub alcohol_or_drugs: u32,
    /// Incidents getting worse or more frequent (default 3).
    pub escalating: u32,
    /// The person at risk is afraid (default 2).
    pub afraid: u32,
}

impl Default for RiskWeights {
    fn default() -> Self {
        RiskWeights {
            prior_incident: 2,
            prior_incidents_cap: 5,
            violence: 4,
            threats_to_kill: 5,
            weapon: 5,
            strangulation: 6,
            separation: 3,
            children: 1,
            alcohol_or_drugs: 2,
            escalating: 3,
            afraid: 2,
        }
    }
}

/// Where a score turns into a level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskCutoffs {
    /// Acute at or above this score (default 24).
    pub acute: u32,
    /// High at or above this score (default 14).
    pub high: u32,
    /// Medium at or above this score (default 6); Low below.
    pub medium: u32,
    /// A weapon together with threats to kill is acute whatever the score (default true).
    pub acute_on_weapon_and_threats: bool,
}

impl Default for RiskCutoffs {
    fn default() -> Self {
        RiskCutoffs {
            acute: 24,
            high: 14,
            medium: 6,
            acute_on_weapon_and_threats: true,
        }
    }
}

/// One agency's required action at one risk level, for the dispute kinds listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requirement {
    pub level: RiskLevel,
    pub agency: Agency,
    /// Hours after the case is opened (or reassessed to this level) by which it is due.
    pub hours: u32,
    /// The dispute kinds it applies to.
    pub kinds: Vec<DisputeKind>,
}

/// The cases module's settings; [`Default`] gives the documented values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CasesConfig {
    /// The risk checklist's points (see [`RiskWeights`]).
    pub weights: RiskWeights,
    /// Score thresholds of the levels (see [`RiskCutoffs`]).
    pub cutoffs: RiskCutoffs,
    /// Required actions by level, agency and dispute kind. Defaults:
    /// * Low: community 168 h, mediation 336 h.
    /// * Medium: police 72 h, community 72 h, mediation 168 h; women's federation 168 h for
    ///   domestic disputes.
    /// * High: police 24 h, community 24 h, mediation 72 h; women's federation 48 h and court
    ///   72 h for domestic and family disputes.
    /// * Acute: police 2 h, community 24 h, mediation 72 h; women's federation 24 h and court
    ///   24 h (the urgent protection order) for domestic and family disputes.
    ///
    /// Neighbour disputes never involve the women's federation or the court. An agency listed
    /// twice for the same level and kind takes its earliest deadline.
    pub requirements: Vec<Requirement>,
    /// Time each receiving body has to acknowledge a credit delivery (default 24 h).
    pub credit_deadline: Millis,
    /// Time an inspector has to check a flagged registration's premises (default 5 days).
    pub supervision_deadline: Millis,
    /// A residential room holding this many companies already flags the next one (default 3).
    pub max_companies_residential: u32,
    /// Any other room holding this many companies already flags the next one (default 50).
    pub max_companies_room: u32,
    /// Share of otherwise unflagged registrations drawn for the random spot check
    /// (default 0.03). The draw hashes the registration's ref, so it is repeatable.
    pub spot_check_share: f64,
    /// Mixed into the spot-check hash: a new seed draws a different sample (default 0).
    pub spot_check_seed: u64,
}

impl Default for CasesConfig {
    fn default() -> Self {
        use Agency::*;
        use DisputeKind::*;
        use RiskLevel::*;
        let all = || vec![Domestic, Family, Neighbour];
        let req = |level, agency, hours, kinds| Requirement {
            level,
            agency,
            hours,
            kinds,
        };
        CasesConfig {
            weights: RiskWeights::default(),
            cutoffs: RiskCutoffs::default(),
            requirements: vec![
                req(Low, Community, 168, all()),
                req(Low, Mediation, 336, all()),
                req(Medium, Police, 72, all()),
                req(Medium, Community, 72, all()),
                req(Medium, Mediation, 168, all()),
                req(Medium, WomensFederation, 168, vec![Domestic]),
                req(High, Police, 24, all()),
                req(High, Community, 24, all()),
                req(High, Mediation, 72, all()),
                req(High, WomensFederation, 48, vec![Domestic, Family]),
                req(High, Court, 72, vec![Domestic, Family]),
                req(Acute, Police, 2, all()),
                req(Acute, Community, 24, all()),
                req(Acute, Mediation, 72, all()),
                req(Acute, WomensFederation, 24, vec![Domestic, Family]),
                req(Acute, Court, 24, vec![Domestic, Family]),
            ],
            credit_deadline: 24 * HOUR_MS,
            supervision_deadline: 5 * DAY_MS,
            max_companies_residential: 3,
            max_companies_room: 50,
            spot_check_share: 0.03,
            spot_check_seed: 0,
        }
    }
}

impl CasesConfig {
    /// The risk score of a checklist.
    pub fn score(&self, f: &DisputeFeatures) -> u32 {
        let w = &self.weights;
        let flag = |set: bool, points: u32| if set { points } else { 0 };
        w.prior_incident * u32::from(f.prior_incidents.min(w.prior_incidents_cap))
            + flag(f.violence, w.violence)
            + flag(f.threats_to_kill, w.threats_to_kill)
            + flag(f.weapon, w.weapon)
            + flag(f.strangulation, w.strangulation)
            + flag(f.separation, w.separation)
            + flag(f.children, w.children)
            + flag(f.alcohol_or_drugs, w.alcohol_or_drugs)
            + flag(f.escalating, w.escalating)
            + flag(f.afraid, w.afraid)
    }

    /// The level a score (with the checklist it came from) reaches.
    pub fn level(&self, score: u32, f: &DisputeFeatures) -> RiskLevel {
        let c = &self.cutoffs;
        if score >= c.acute || (c.acute_on_weapon_and_threats && f.weapon && f.threats_to_kill) {
            RiskLevel::Acute
        } else if score >= c.high {
            RiskLevel::High
        } else if score >= c.medium {
            RiskLevel::Medium
        } else {
            RiskLevel::Low
        }
    }

    /// Score and level of a checklist.
    pub fn assess(&self, f: &DisputeFeatures) -> (u32, RiskLevel) {
        let score = self.score(f);
        (score, self.level(score, f))
    }

    /// The agencies a level requires for a kind of dispute, with their deadlines in hours, in
    /// the order of [`Agency::ALL`].
    pub fn required(&self, level: RiskLevel, kind: DisputeKind) -> Vec<(Agency, u32)> {
        Agency::ALL
            .iter()
            .filter_map(|&agency| {
                self.requirements
                    .iter()
                    .filter(|r| r.level == level && r.agency == agency && r.kinds.contains(&kind))
                    .map(|r| r.hours)
                    .min()
                    .map(|hours| (agency, hours))
            })
            .collect()
    }

    /// Whether an otherwise unflagged registration is drawn for the spot check.
    pub fn spot_checked(&self, registration_ref: u64) -> bool {
        let h = splitmix64(registration_ref ^ self.spot_check_seed);
        let unit = (h >> 11) as f64 / (1u64 << 53) as f64;
        unit < self.spot_check_share
    }
}

/// SplitMix64's finaliser: a fixed, well-mixed hash of one word.
pub(crate) fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
