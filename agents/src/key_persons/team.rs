//! Who the key persons are and who works them: people drawn from the residents at the
//! scenario's prevalences, and the communities' professional team members, each with working
//! hours and the share of their time their other work leaves for key persons.

use std::collections::BTreeMap;

use baoan_api::key_persons::{Category, Function, KeyPersonDirectory, TeamMemberEntry};
use baoan_api::{Actor, PersonId, Role};
use baoan_scenarios::KeyPersonsLoop;
use baoan_world::Twin;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Poisson};

use super::course::{self, Course};
use super::{DAY, HOUR, Person};

/// Key-person staff identities: function, community and number within the community.
fn member_id(function: Function, community: u32, k: u32) -> PersonId {
    let f = Function::ALL
        .iter()
        .position(|&x| x == function)
        .expect("a function") as u32;
    PersonId(10_000_000 + community * 1_000 + f * 100 + k)
}

/// A guardian's identity on the platform (a family member who signed the guardianship).
fn guardian_id(i: usize) -> PersonId {
    PersonId(20_000_000 + i as u32)
}

/// The register's grades at the start: mostly stable (`REGISTER_STABLE`: 0 for 80%, 1 for 12%,
/// 2 for 6%, 3 for 2%).
pub fn register_grade(rng: &mut ChaCha8Rng) -> u8 {
    match rng.random::<f64>() {
        u if u < course::REGISTER_STABLE.value => 0,
        u if u < 0.92 => 1,
        u if u < 0.98 => 2,
        _ => 3,
    }
}

/// People of each category drawn from the adult residents: the register when the run starts,
/// and those who enter management during it, each with their course from then on.
pub fn draw_people(twin: &Twin, k: &KeyPersonsLoop, end: u64, rng: &mut ChaCha8Rng) -> Vec<Person> {
    let residents = twin.population.residents() as f64;
    let years = end as f64 / (365.0 * DAY as f64);
    let mut people = Vec::new();
    for (category, per_1000) in [
        (Category::SevereMentalDisorder, k.mental_per_1000),
        (Category::CommunityDrugTreatment, k.drug_treatment_per_1000),
        (Category::CommunityRehabilitation, k.rehabilitation_per_1000),
    ] {
        let n = (residents * per_1000 / 1000.0).round();
        for _ in 0..n as usize {
            people.push(draw_person(twin, category, 0, end, rng, people.len()));
        }
        let rate = if category.drugs() {
            course::NEW_DRUGS.value
        } else {
            course::NEW_MENTAL.value
        };
        let new = n * rate * years;
        let new = if new > 0.0 {
            Poisson::new(new).expect("positive").sample(rng) as usize
        } else {
            0
        };
        for _ in 0..new {
            let joins = rng.random_range(0..end.max(1));
            people.push(draw_person(twin, category, joins, end, rng, people.len()));
        }
    }
    people
}

/// One adult resident of `category` entering management at `joins`.
fn draw_person(
    twin: &Twin,
    category: Category,
    joins: u64,
    end: u64,
    rng: &mut ChaCha8Rng,
    i: usize,
) -> Person {
    let pop = &twin.population;
    let residents = pop.residents() as u32;
    let mut r = rng.random_range(0..residents);
    for _ in 0..10 {
        if pop.resident_age[r as usize] >= 18 {
            break;
        }
        r = rng.random_range(0..residents);
    }
    let grid = (pop.grid_first_resident.partition_point(|&f| f <= r) - 1) as u32;
    let g = &twin.district.grids[grid as usize];
    let at = g.random_point(rng);
    let guardian = (rng.random::<f64>() < course::GUARDIAN_SHARE.value).then(|| guardian_id(i));
    let course = Course::draw(rng, category, joins, end);
    let n_ep = course.episodes.len();
    Person {
        category,
        grid,
        community: g.community,
        street: g.street,
        x: at.x,
        y: at.y,
        guardian,
        joins_at: joins,
        course,
        record: None,
        team: None,
        ended: vec![None; n_ep],
        detected: vec![None; n_ep],
        harm_at: None,
        closed: false,
        record_closed: false,
        task_version: 0,
        task: None,
    }
}

/// One professional team member: how much of their time is for key persons, the visit time
/// booked on each day, and the time spent on visits made.
#[derive(Debug, Clone)]
pub struct Member {
    pub function: Function,
    pub community: u32,
    pub share: f64,
    /// Visit time booked per day (day number → ms), against `share` of a working day.
    pub booked: BTreeMap<u64, u64>,
    pub busy_ms: u64,
}

impl Member {
    /// Their key-person time in a day: a working day of nine hours times their share.
    fn budget(&self) -> u64 {
        (WORKING_DAY as f64 * self.share) as u64
    }

    fn used(&self, day: u64) -> u64 {
        self.booked.get(&day).copied().unwrap_or(0)
    }

    /// A visit can start on `day` while the day's budget is not spent.
    fn free_on(&self, day: u64) -> bool {
        self.used(day) < self.budget().max(1)
    }

    /// Book `visit_ms` from `day`: what overruns the day's budget is taken from the next days'
    /// (a member with an hour a day for key persons makes a 1.5-hour visit every other day).
    fn take(&mut self, day: u64, visit_ms: u64) {
        let budget = self.budget().max(1);
        let (mut day, mut left) = (day, visit_ms);
        while left > 0 {
            let used = self.booked.entry(day).or_default();
            let room = budget.saturating_sub(*used).max(1).min(left);
            *used += room;
            left -= room;
            day += 1;
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Staff {
    pub members: BTreeMap<PersonId, Member>,
    pub visit_ms: u64,
    /// Doctors of each community (for the probes' "another community's doctor").
    pub doctors: Vec<PersonId>,
}

/// Working hours, every day: 08:30–17:30 (assumed).
const OPEN: u64 = 8 * HOUR + HOUR / 2;
const WORKING_DAY: u64 = 9 * HOUR;

impl Staff {
    /// Doctors by caseload for the community's mental-disorder patients, social workers by
    /// caseload for its drug cases (at least one: the community's cadre for the others), the
    /// community police officers, and every grid's inspector (their own identity: they patrol
    /// for the grid loop too).
    pub fn hire(
        twin: &Twin,
        k: &KeyPersonsLoop,
        people: &[Person],
        directory: &mut KeyPersonDirectory,
    ) -> Staff {
        let n = twin.district.communities.len();
        let (mut mental, mut drugs) = (vec![0u32; n], vec![0u32; n]);
        for p in people {
            if p.category.drugs() {
                drugs[p.community as usize] += 1;
            } else {
                mental[p.community as usize] += 1;
            }
        }
        let mut staff = Staff {
            visit_ms: (k.visit_hours * HOUR as f64) as u64,
            ..Staff::default()
        };
        for c in &twin.district.communities {
            let ci = c.id as usize;
            let counts = [
                (
                    Function::Police,
                    k.police_per_community,
                    k.police_time_share,
                ),
                (
                    Function::Doctor,
                    mental[ci].div_ceil(k.doctor_caseload).max(1),
                    k.doctor_time_share,
                ),
                (
                    Function::SocialWorker,
                    drugs[ci].div_ceil(k.social_worker_caseload).max(1),
                    k.social_worker_time_share,
                ),
            ];
            for (function, count, share) in counts {
                for j in 0..count {
                    let person = member_id(function, c.id, j);
                    staff.add(directory, person, function, c.id, None, share);
                    if function == Function::Doctor {
                        staff.doctors.push(person);
                    }
                }
            }
            for g in c.grids.clone() {
                let person = crate::staff::inspector(g);
                staff.add(
                    directory,
                    person,
                    Function::GridInspector,
                    c.id,
                    Some(g),
                    k.inspector_time_share,
                );
            }
        }
        staff
    }

    fn add(
        &mut self,
        directory: &mut KeyPersonDirectory,
        person: PersonId,
        function: Function,
        community: u32,
        grid: Option<u32>,
        share: f64,
    ) {
        directory.members.push(TeamMemberEntry {
            person,
            function,
            community,
            grid,
        });
        self.members.insert(
            person,
            Member {
                function,
                community,
                share,
                booked: BTreeMap::new(),
                busy_ms: 0,
            },
        );
    }

    pub fn count_by_function(&self) -> BTreeMap<&'static str, u64> {
        let mut out = BTreeMap::new();
        for m in self.members.values() {
            *out.entry(m.function.as_str()).or_default() += 1;
        }
        out
    }

    /// Book a visit by `lead` (and `police` with them) no sooner than `ready`: the first day
    /// both still have key-person time (a working day of nine hours times their share), at the
    /// point of the day their bookings so far have reached. Returns when the visit starts.
    pub fn book(&mut self, lead: PersonId, police: Option<PersonId>, ready: u64) -> u64 {
        let visit = self.visit_ms;
        let who: Vec<PersonId> = [Some(lead), police].into_iter().flatten().collect();
        let mut day = ready / DAY;
        if ready % DAY >= OPEN + WORKING_DAY - visit.min(WORKING_DAY) {
            day += 1;
        }
        // Two years ahead at most: past that the visit is as late as it can usefully be.
        for _ in 0..730 {
            if who
                .iter()
                .all(|p| self.members.get(p).is_none_or(|m| m.free_on(day)))
            {
                break;
            }
            day += 1;
        }
        let mut into_day: f64 = 0.0;
        for p in &who {
            if let Some(m) = self.members.get_mut(p) {
                into_day = into_day.max(m.used(day) as f64 / m.budget().max(1) as f64);
                m.take(day, visit);
            }
        }
        let span = (WORKING_DAY - visit.min(WORKING_DAY)) as f64;
        let start = day * DAY + OPEN + (span * into_day.min(1.0)) as u64;
        start.max(ready)
    }

    /// A visit was made: its time on each member's account.
    pub fn visited(&mut self, lead: PersonId, police: Option<PersonId>) {
        for p in [Some(lead), police].into_iter().flatten() {
            if let Some(m) = self.members.get_mut(&p) {
                m.busy_ms += self.visit_ms;
            }
        }
    }
}

/// An out-of-team reader for a probe of `kind`: 0 another community's doctor, 1 the person's
/// guardian, 2 an analyst, 3 a closed record's former doctor. `None` when the run has no such
/// pair (no second community, no guardian, nothing closed yet).
pub fn probe_target(
    people: &[Person],
    staff: &Staff,
    kind: u8,
    rng: &mut ChaCha8Rng,
) -> Option<(u64, Actor)> {
    if people.is_empty() {
        return None;
    }
    let team_actor = |person| Actor {
        role: Role::KeyPersonTeam,
        person,
    };
    let pick_open = |rng: &mut ChaCha8Rng| {
        (0..20).find_map(|_| {
            let p = &people[rng.random_range(0..people.len())];
            (!p.closed).then_some(p).and_then(|p| Some((p, p.record?)))
        })
    };
    match kind {
        0 => {
            let (p, record) = pick_open(rng)?;
            let team = p.team.as_ref()?;
            let other = (0..20).find_map(|_| {
                let d = staff.doctors[rng.random_range(0..staff.doctors.len())];
                (!team.has(d)).then_some(d)
            })?;
            Some((record, team_actor(other)))
        }
        1 => {
            let (p, record) = pick_open(rng)?;
            Some((record, team_actor(p.guardian?)))
        }
        2 => {
            let (_, record) = pick_open(rng)?;
            Some((record, crate::staff::ANALYST))
        }
        _ => {
            let closed: Vec<&Person> = people
                .iter()
                .filter(|p| p.record_closed && p.record.is_some())
                .collect();
            if closed.is_empty() {
                return None;
            }
            let p = closed[rng.random_range(0..closed.len())];
            let team = p.team.as_ref()?;
            let doctor = team
                .member(Function::Doctor)
                .or(team.member(Function::SocialWorker))?;
            Some((p.record?, team_actor(doctor)))
        }
    }
}
