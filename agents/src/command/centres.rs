//! The people of the "1+10+N+124" centres: call-takers at the district centre who answer calls
//! in turn, the dispatcher at each incident's lead centre who enters it on the platform, and
//! the duty leaders who take command of level I and II incidents. Each desk serves first come,
//! first served, with as many staff as its shift has; a surge of calls makes a queue.

use std::collections::HashMap;

use baoan_api::emergency::{self, Severity};
use baoan_api::{Centre, LeaderEntry, PersonId};
use baoan_scenarios::Centres;
use bevy_ecs::prelude::*;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, LogNormal};

const HOUR_MS: u64 = 3_600_000;
/// The centres' day shift, 08:00–20:00; the rest is the night shift (assumed).
const DAY_SHIFT: (u64, u64) = (8 * HOUR_MS, 20 * HOUR_MS);
/// Dispatchers on duty at each level of centre, day and night (assumed: the district's duty
/// room the largest, a community's micro centre one person).
const DISPATCHERS_DISTRICT: (usize, usize) = (4, 2);
const DISPATCHERS_STREET: (usize, usize) = (2, 1);
const DISPATCHERS_DEPARTMENT: (usize, usize) = (2, 1);
const DISPATCHERS_COMMUNITY: (usize, usize) = (1, 1);

fn day(t: u64) -> bool {
    let d = t % 86_400_000;
    d >= DAY_SHIFT.0 && d < DAY_SHIFT.1
}

/// Staff at one desk: when each is next free.
#[derive(Debug, Clone, Default)]
struct Desk {
    free_at: Vec<u64>,
}

impl Desk {
    fn new(staff: usize) -> Desk {
        Desk {
            free_at: vec![0; staff.max(1)],
        }
    }

    /// The first of the `on_duty` staff free serves a job arriving at `at`: when they start and
    /// finish.
    fn serve(&mut self, at: u64, on_duty: usize, handling_ms: u64) -> (u64, u64) {
        let n = on_duty.clamp(1, self.free_at.len());
        let k = (0..n)
            .min_by_key(|&k| (self.free_at[k].max(at), k))
            .expect("at least one on duty");
        let start = at.max(self.free_at[k]);
        let end = start + handling_ms;
        self.free_at[k] = end;
        (start, end)
    }
}

/// Where the leader who took command sits, against the incident's street.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LeaderSeat {
    District,
    OwnStreet,
    OtherStreet,
}

impl LeaderSeat {
    pub fn as_str(self) -> &'static str {
        match self {
            LeaderSeat::District => "district",
            LeaderSeat::OwnStreet => "own_street",
            LeaderSeat::OtherStreet => "other_street",
        }
    }
}

/// The centres' staff on the twin's side.
#[derive(Resource)]
pub struct CentreStaff {
    pub settings: Centres,
    call_takers: Desk,
    dispatchers: HashMap<Centre, Desk>,
    /// Each centre's leaders in roster order (sorted by person, as the platform's).
    leaders: Vec<(Centre, Vec<PersonId>)>,
    leader_free_at: HashMap<PersonId, u64>,
    /// Spread of every handling time around its median (lognormal σ;
    /// `command.centres.handling_sigma`).
    handling_sigma: f64,
    rng: ChaCha8Rng,
}

impl CentreStaff {
    pub fn new(
        settings: Centres,
        handling_sigma: f64,
        roster: &[LeaderEntry],
        rng: ChaCha8Rng,
    ) -> CentreStaff {
        let mut by_centre: Vec<(Centre, Vec<PersonId>)> = Vec::new();
        for l in roster {
            match by_centre.iter_mut().find(|(c, _)| *c == l.centre) {
                Some((_, list)) => list.push(l.person),
                None => by_centre.push((l.centre, vec![l.person])),
            }
        }
        for (_, list) in &mut by_centre {
            list.sort();
        }
        let call_takers =
            Desk::new(settings.call_takers_day.max(settings.call_takers_night) as usize);
        CentreStaff {
            settings,
            call_takers,
            dispatchers: HashMap::new(),
            leaders: by_centre,
            leader_free_at: HashMap::new(),
            handling_sigma,
            rng,
        }
    }

    fn handling(&mut self, median_ms: u64) -> u64 {
        LogNormal::new((median_ms.max(1) as f64).ln(), self.handling_sigma)
            .expect("valid")
            .sample(&mut self.rng) as u64
    }

    /// A call made at `at`: when a call-taker answers it and when they have entered it (they
    /// stay on the call and its form for the wrap-up after that).
    pub fn take_call(&mut self, at: u64) -> (u64, u64) {
        let on = if day(at) {
            self.settings.call_takers_day
        } else {
            self.settings.call_takers_night
        } as usize;
        let entry = self.handling(self.settings.take_call.ms());
        let rest = self.handling(self.settings.wrap_up.ms());
        let (answered, _) = self.call_takers.serve(at, on, entry + rest);
        (answered, answered + entry)
    }

    /// Held department units at the lead centre from `at`: when its dispatcher sends them.
    pub fn dispatch(&mut self, at: u64, centre: Centre) -> u64 {
        let (d, n) = match centre {
            Centre::District => DISPATCHERS_DISTRICT,
            Centre::Street(_) => DISPATCHERS_STREET,
            Centre::Department(_) => DISPATCHERS_DEPARTMENT,
            Centre::Community(_) => DISPATCHERS_COMMUNITY,
        };
        let on = if day(at) { d } else { n };
        let h = self.handling(self.settings.dispatch.ms());
        self.dispatchers
            .entry(centre)
            .or_insert_with(|| Desk::new(d.max(n)))
            .serve(at, on, h)
            .1
    }

    /// The two leaders on duty at a centre at `at`, by the platform's roster rotation.
    fn on_duty(&self, centre: Centre, at: u64) -> Vec<PersonId> {
        let Some((_, list)) = self.leaders.iter().find(|(c, _)| *c == centre) else {
            return vec![];
        };
        baoan_api::units::leaders_on_duty(list, at)
    }

    /// A level I or II incident in `street` waits from `at` for a leader: the first free of
    /// the district's two on duty — and, where any centre's leader may command the district,
    /// of every street's (its own street's first on a tie). Who, from where, and when they
    /// decide; the leader then commands it for `leader_command`.
    pub fn leader_for(&mut self, at: u64, street: u32) -> Option<(PersonId, LeaderSeat, u64)> {
        let mut candidates: Vec<(PersonId, LeaderSeat)> = self
            .on_duty(Centre::District, at)
            .into_iter()
            .map(|p| (p, LeaderSeat::District))
            .collect();
        if self.settings.leaders_anywhere {
            let streets: Vec<Centre> = self
                .leaders
                .iter()
                .map(|(c, _)| *c)
                .filter(|c| matches!(c, Centre::Street(_)))
                .collect();
            for c in streets {
                let seat = if c == Centre::Street(street) {
                    LeaderSeat::OwnStreet
                } else {
                    LeaderSeat::OtherStreet
                };
                candidates.extend(self.on_duty(c, at).into_iter().map(|p| (p, seat)));
            }
        }
        let (person, seat) = candidates.into_iter().min_by_key(|(p, seat)| {
            let free = self.leader_free_at.get(p).copied().unwrap_or(0).max(at);
            (free, *seat, *p)
        })?;
        let free = self
            .leader_free_at
            .get(&person)
            .copied()
            .unwrap_or(0)
            .max(at);
        let decided = free + self.handling(self.settings.leader_decision.ms());
        self.leader_free_at
            .insert(person, decided + self.settings.leader_command.ms());
        Some((person, seat, decided))
    }
}

/// The centre that leads an emergency of this type and severity in this grid's community and
/// street (the platform's rule, from the api).
pub fn lead_of(kind: u16, severity: Severity, community: u32, street: u32) -> Centre {
    let owner = emergency::emergency_type(kind).and_then(|t| t.owner);
    emergency::lead_centre(owner, severity, community, street)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn a_desk_serves_in_turn_and_queues_when_all_are_busy() {
        let mut d = Desk::new(2);
        assert_eq!(d.serve(0, 2, 100), (0, 100));
        assert_eq!(d.serve(10, 2, 100), (10, 110));
        // Both busy: the third waits for the first free.
        assert_eq!(d.serve(20, 2, 100), (100, 200));
        // With one on duty, only the first desk serves.
        assert_eq!(d.serve(20, 1, 50), (200, 250));
    }

    fn roster() -> Vec<LeaderEntry> {
        let mut out = Vec::new();
        for (c, centre) in [Centre::District, Centre::Street(0), Centre::Street(1)]
            .into_iter()
            .enumerate()
        {
            for k in 0..6 {
                out.push(LeaderEntry {
                    person: PersonId(100 + c as u32 * 10 + k),
                    centre,
                });
            }
        }
        out
    }

    const SIGMA: f64 = baoan_scenarios::assumptions::code::HANDLING_SIGMA.default;

    #[test]
    fn leaders_anywhere_shortens_the_wait_when_the_district_is_busy() {
        let settings = Centres {
            leaders_anywhere: false,
            ..Centres::default()
        };
        let rng = ChaCha8Rng::seed_from_u64(1);
        let mut only_district = CentreStaff::new(settings.clone(), SIGMA, &roster(), rng.clone());
        let mut anywhere = CentreStaff::new(
            Centres {
                leaders_anywhere: true,
                ..settings
            },
            SIGMA,
            &roster(),
            rng,
        );
        let mut last = [0u64; 2];
        for _ in 0..3 {
            let a = only_district.leader_for(0, 1).expect("a leader");
            assert_eq!(a.1, LeaderSeat::District);
            last[0] = a.2;
            last[1] = anywhere.leader_for(0, 1).expect("a leader").2;
        }
        // The third incident waits for a district leader to finish commanding; anywhere, a
        // street's leader takes it at once.
        assert!(last[0] > 45 * 60_000, "{last:?}");
        assert!(last[1] < 45 * 60_000, "{last:?}");
        let seat = anywhere.leader_for(0, 1).expect("a leader").1;
        assert_ne!(seat, LeaderSeat::District);
    }
}
