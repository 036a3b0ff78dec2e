//! A grid inspector's day is so many hours: verification visits — block data's conflicts, the
//! grid's resolved tasks — take them from the patrol. Every loop that sends an inspector on a
//! visit books it here; the patrol misses the sweeps that fall while its inspector is away.

use std::collections::{BTreeMap, HashMap};

use baoan_scenarios::Patrol;
use bevy_ecs::prelude::*;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, LogNormal};

/// What the inspectors' visits took, and where they are now.
#[derive(Resource, Debug, Clone)]
pub struct InspectorTime {
    visit_median_ms: u64,
    visit_sigma: f64,
    /// Whether visits take patrol time (the scenario's `grid.patrol.visits_take_patrol`).
    pub takes_patrol: bool,
    /// Share of findings that are wrong (`grid.patrol.finding_error_share`).
    pub error_share: f64,
    /// Visit time an inspector may spend a day (`grid.patrol.visit_budget_share` of the
    /// shifts); a visit beyond it waits for the next working day.
    budget_ms: u64,
    /// When the first shift starts and the last ends (ms since midnight).
    day_span: (u64, u64),
    /// The run's end: a visit put off past it never happens and takes no time.
    end_ms: u64,
    /// Each grid's inspector's visits, (start, end).
    busy: Vec<Vec<(u64, u64)>>,
    /// Each grid's inspector's visit time booked per day.
    used: HashMap<(u32, u64), u64>,
    /// Time on visits and the number of visits, by what they were for.
    pub visit_ms: BTreeMap<&'static str, u64>,
    pub visits: BTreeMap<&'static str, u64>,
    pub wrong_findings: BTreeMap<&'static str, u64>,
    /// Visits put off to a later day because the day's visit time was spent, and by how long.
    pub deferred: u64,
    pub deferred_ms: u64,
    /// Patrol sweeps lost to a visit.
    pub passes_lost: u64,
}

const DAY_MS: u64 = 86_400_000;

impl InspectorTime {
    /// `visit_sigma`: the spread of visit times around `patrol.visit_time` (lognormal σ,
    /// `grid.patrol.visit_sigma`).
    pub fn new(patrol: &Patrol, visit_sigma: f64, grids: usize, end_ms: u64) -> InspectorTime {
        let shifts: Vec<(u64, u64)> = patrol
            .shifts
            .iter()
            .map(|[a, b]| (a.ms(), b.ms()))
            .collect();
        let shift_ms: u64 = shifts.iter().map(|(a, b)| b.saturating_sub(*a)).sum();
        let day_span = (
            shifts.iter().map(|s| s.0).min().unwrap_or(0),
            shifts.iter().map(|s| s.1).max().unwrap_or(DAY_MS),
        );
        InspectorTime {
            visit_median_ms: patrol.visit_time.ms(),
            visit_sigma,
            takes_patrol: patrol.visits_take_patrol,
            error_share: patrol.finding_error_share,
            budget_ms: (shift_ms as f64 * patrol.visit_budget_share) as u64,
            end_ms,
            day_span,
            busy: vec![Vec::new(); grids],
            used: HashMap::new(),
            visit_ms: BTreeMap::new(),
            visits: BTreeMap::new(),
            wrong_findings: BTreeMap::new(),
            deferred: 0,
            deferred_ms: 0,
            passes_lost: 0,
        }
    }

    /// The grid's inspector books a visit for `what`, wanted at `wanted`: when it starts (after
    /// the inspector's other visits; the next working day when this day's visit time is spent)
    /// and how long it takes, drawn from `rng`. With visits free of patrol time it starts when
    /// wanted.
    pub fn book(
        &mut self,
        grid: u32,
        wanted: u64,
        what: &'static str,
        rng: &mut ChaCha8Rng,
    ) -> u64 {
        let ms = LogNormal::new((self.visit_median_ms.max(1) as f64).ln(), self.visit_sigma)
            .expect("valid")
            .sample(rng) as u64;
        if !self.takes_patrol {
            if wanted < self.end_ms {
                *self.visit_ms.entry(what).or_default() += ms;
                *self.visits.entry(what).or_default() += 1;
            }
            return wanted;
        }
        // After the inspector's other visits booked so far (those that ended a day before the
        // patrol's latest question are let go in `away`).
        let mut start = self.busy[grid as usize]
            .iter()
            .map(|&(_, e)| e)
            .filter(|e| *e > wanted)
            .max()
            .unwrap_or(wanted);
        start = start.max(wanted);
        loop {
            let day = start / DAY_MS;
            let used = self.used.get(&(grid, day)).copied().unwrap_or(0);
            if used == 0 || used + ms <= self.budget_ms {
                break;
            }
            start = (day + 1) * DAY_MS + self.day_span.0;
        }
        if start / DAY_MS > wanted / DAY_MS {
            self.deferred += 1;
            self.deferred_ms += start - wanted;
        }
        if start >= self.end_ms {
            return start;
        }
        *self.visit_ms.entry(what).or_default() += ms;
        *self.visits.entry(what).or_default() += 1;
        *self.used.entry((grid, start / DAY_MS)).or_default() += ms;
        self.busy[grid as usize].push((start, start + ms));
        start
    }

    /// Whether the finding of a visit is right (`error_share` of them are not).
    pub fn finding(&mut self, what: &'static str, rng: &mut ChaCha8Rng) -> bool {
        let right = rng.random::<f64>() >= self.error_share;
        if !right {
            *self.wrong_findings.entry(what).or_default() += 1;
        }
        right
    }

    /// A finding drawn wrong that could not be wrong in any way the platform would take.
    pub fn right_after_all(&mut self, what: &'static str) {
        if let Some(n) = self.wrong_findings.get_mut(what) {
            *n = n.saturating_sub(1);
        }
    }

    /// Whether the grid's inspector is on a visit at `t` (and visits take patrol time). The
    /// patrol asks in the order of time, so visits that ended a day before `t` are let go here
    /// (not when booking: visits are booked out of time order, days ahead).
    pub fn away(&mut self, grid: u32, t: u64) -> bool {
        if !self.takes_patrol {
            return false;
        }
        let Some(list) = self.busy.get_mut(grid as usize) else {
            return false;
        };
        list.retain(|&(_, end)| end + DAY_MS > t);
        list.iter().any(|&(s, e)| s <= t && t < e)
    }

    pub fn total_visit_ms(&self) -> u64 {
        self.visit_ms.values().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    const SIGMA: f64 = baoan_scenarios::assumptions::code::VISIT_SIGMA.default;

    #[test]
    fn a_visit_takes_the_inspector_away_and_a_full_day_puts_the_next_off() {
        let patrol = Patrol {
            visit_budget_share: 0.2,
            ..Patrol::default()
        };
        let mut t = InspectorTime::new(&patrol, SIGMA, 3, 7 * 86_400_000);
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let nine = 9 * 3_600_000;
        let start = t.book(1, nine, "block_data", &mut rng);
        assert_eq!(start, nine);
        let ms = t.total_visit_ms();
        assert!(t.away(1, nine) && t.away(1, nine + ms - 1));
        assert!(!t.away(1, nine + ms) && !t.away(0, nine) && !t.away(1, nine - 1));
        // The next visit wanted at the same time waits for the first to end.
        assert_eq!(t.book(1, nine, "block_data", &mut rng), nine + ms);
        // A fifth of a 7.5-hour day is 90 minutes: a few 20-minute visits fill it, and the
        // next goes to tomorrow's first shift.
        let mut last = 0;
        for _ in 0..10 {
            last = t.book(1, nine, "grid_verification", &mut rng);
        }
        assert!(last >= 86_400_000 + 8 * 3_600_000 + 1_800_000, "{last}");
        assert!(t.deferred > 0 && t.deferred_ms > 0);
    }

    #[test]
    fn a_visit_booked_days_ahead_leaves_todays_in_place() {
        let mut t = InspectorTime::new(&Patrol::default(), SIGMA, 1, 7 * 86_400_000);
        let mut rng = ChaCha8Rng::seed_from_u64(6);
        let nine = 9 * 3_600_000;
        assert_eq!(t.book(0, nine, "block_data", &mut rng), nine);
        t.book(0, 3 * 86_400_000 + nine, "block_data", &mut rng);
        assert!(
            t.away(0, nine + 60_000),
            "today's visit still takes the inspector away"
        );
    }

    #[test]
    fn free_visits_take_no_patrol_time_and_findings_are_wrong_at_the_stated_share() {
        let patrol = Patrol {
            visits_take_patrol: false,
            finding_error_share: 0.2,
            ..Patrol::default()
        };
        let mut t = InspectorTime::new(&patrol, SIGMA, 1, 7 * 86_400_000);
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        assert_eq!(t.book(0, 10_000, "block_data", &mut rng), 10_000);
        assert!(!t.away(0, 10_000) && t.total_visit_ms() > 0);
        let wrong = (0..2000)
            .filter(|_| !t.finding("grid_verification", &mut rng))
            .count();
        assert!((300..500).contains(&wrong), "{wrong}");
        assert_eq!(t.wrong_findings["grid_verification"], wrong as u64);
    }
}
