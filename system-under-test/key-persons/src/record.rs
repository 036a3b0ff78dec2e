//! A key person's record and what the team does with it: registration (the team assigned, the
//! first follow-up pushed), follow-ups and their findings, re-grading, warning signs, crises,
//! supervision of overdue and high-risk cases, and closure.

use baoan_api::key_persons::{
    Category, ClosureReason, CrisisSource, EscalationReason, Findings, FollowUpTask, Function,
    KeyPersonView, MAX_RISK, Team, UrineTest,
};
use baoan_api::{Actor, ApiError, EscalationLevel, Millis, Outcome, PersonId};

use crate::rules::{self, DAY_MS};
use crate::{
    Crisis, CrisisRecord, KeyPersonsService, Timer, forbidden, invalid, not_found, refused, slot,
};

/// A registration as it arrives.
pub(crate) struct Intake {
    pub person_ref: u64,
    pub category: Category,
    pub risk: u8,
    pub grid: u32,
    pub community: u32,
    pub street: u32,
    pub x_m: f64,
    pub y_m: f64,
    pub guardian: Option<PersonId>,
    pub months_in: u16,
    pub next_due_at: Option<Millis>,
    pub observed_at: Millis,
}

pub(crate) struct CrisisReport {
    pub crisis_ref: u64,
    pub person: u64,
    pub source: CrisisSource,
    pub grid: u32,
    pub x_m: f64,
    pub y_m: f64,
    pub observed_at: Millis,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub id: u64,
    pub person_ref: u64,
    pub category: Category,
    pub risk: u8,
    pub grid: u32,
    pub community: u32,
    pub street: u32,
    pub team: Team,
    pub registered_at: Millis,
    /// Months under management at registration (where a drug term stood).
    pub months_in: u16,
    pub term_ends_at: Option<Millis>,
    pub next_due_at: Millis,
    pub with_police: bool,
    pub follow_ups: u32,
    pub refused_tests: u8,
    /// How far the current follow-up's lateness has gone.
    pub overdue: Option<EscalationLevel>,
    /// The supervision the grade calls for.
    pub supervision: Option<EscalationLevel>,
    pub closed: Option<(Millis, ClosureReason)>,
    pub history: Vec<(Millis, String)>,
    /// What the first registration answered, for repeats.
    answer: Outcome,
}

impl Record {
    pub(crate) fn note(&mut self, at: Millis, what: String) {
        self.history.push((at, what));
    }

    pub(crate) fn view(&self) -> KeyPersonView {
        KeyPersonView {
            person: self.id,
            person_ref: self.person_ref,
            category: self.category,
            risk: self.risk,
            community: self.community,
            street: self.street,
            grid: self.grid,
            team: self.team.clone(),
            registered_at: self.registered_at,
            next_due_at: self.next_due_at,
            follow_ups: self.follow_ups,
            refused_tests: self.refused_tests,
            escalation: self.overdue,
            closed: self.closed,
            history: self.history.clone(),
        }
    }

    /// Months under management at `now`.
    fn months_at(&self, now: Millis) -> u32 {
        u32::from(self.months_in) + (now.saturating_sub(self.registered_at) / (30 * DAY_MS)) as u32
    }

    /// The member who leads follow-ups: the doctor for mental disorders, the drug-treatment
    /// social worker for the drug categories (whoever of the two the community has).
    fn lead(&self) -> PersonId {
        let first = if self.category.drugs() {
            [Function::SocialWorker, Function::Doctor]
        } else {
            [Function::Doctor, Function::SocialWorker]
        };
        first
            .into_iter()
            .chain([Function::Police, Function::GridInspector])
            .find_map(|f| self.team.member(f))
            .expect("a team has a professional member")
    }

    fn task(&self) -> FollowUpTask {
        FollowUpTask {
            person: self.id,
            lead: self.lead(),
            due_at: self.next_due_at,
            with_police: self.with_police,
        }
    }

    fn clock(&self) -> [(Millis, u64, Timer); 2] {
        let due = self.next_due_at;
        [
            (
                due.saturating_add(1),
                self.id,
                Timer::Overdue(EscalationLevel::Street),
            ),
            (
                due.saturating_add(rules::DISTRICT_AFTER_OVERDUE_DAYS * DAY_MS),
                self.id,
                Timer::Overdue(EscalationLevel::District),
            ),
        ]
    }
}

/// A registration must have a grade 0–5, a place, a time not after it was sent, and a carried
/// over due date within the next 90 days; returns the first follow-up's due date.
fn check_intake(k: &Intake, now: Millis) -> Result<Millis, ApiError> {
    check_grade(k.risk)?;
    check_place_and_time(k.x_m, k.y_m, k.observed_at, now)?;
    let latest = now + rules::STABLE_FOLLOW_UP_DAYS * DAY_MS;
    match k.next_due_at {
        None => {
            let days = rules::follow_up_days(k.category, k.risk, u32::from(k.months_in));
            Ok(rules::due_after(now, days))
        }
        Some(t) if (now..=latest).contains(&t) => Ok(t),
        Some(t) => Err(invalid(
            "next_due_at",
            format!(
                "expected a time from {now} ms to {latest} ms (at most 90 days ahead), got {t}"
            ),
        )),
    }
}

/// A place in finite metres, and a time not after the call that reports it.
fn check_place_and_time(
    x_m: f64,
    y_m: f64,
    observed_at: Millis,
    now: Millis,
) -> Result<(), ApiError> {
    if !x_m.is_finite() || !y_m.is_finite() {
        return Err(invalid("x_m", "expected finite coordinates"));
    }
    if observed_at > now {
        return Err(invalid(
            "observed_at",
            format!("{observed_at} ms is after the call was sent ({now} ms)"),
        ));
    }
    Ok(())
}

/// A follow-up's findings must fit the person: a grade 0–5, and a urine test exactly when the
/// category has one.
fn check_findings(category: Category, findings: &Findings) -> Result<(), ApiError> {
    check_grade(findings.risk)?;
    match (category.drugs(), findings.urine) {
        (true, None) => Err(invalid(
            "findings.urine",
            "expected a urine test result at a drug-treatment follow-up",
        )),
        (false, Some(_)) => Err(invalid(
            "findings.urine",
            "expected none: urine tests are for the drug categories",
        )),
        _ => Ok(()),
    }
}

fn check_grade(risk: u8) -> Result<(), ApiError> {
    if risk > MAX_RISK {
        return Err(invalid(
            "risk",
            format!("expected a grade 0..={MAX_RISK}, got {risk}"),
        ));
    }
    Ok(())
}

impl KeyPersonsService {
    pub(crate) fn register(&mut self, now: Millis, k: Intake) -> Result<Vec<Outcome>, ApiError> {
        if let Some(&id) = self.by_ref.get(&k.person_ref) {
            return Ok(vec![self.records[(id - 1) as usize].answer.clone()]);
        }
        let next_due_at = check_intake(&k, now)?;
        let team = self.assign_team(&k)?;
        let id = self.records.len() as u64 + 1;
        for &(_, p) in &team.members {
            *self.load.entry(p).or_default() += 1;
        }
        let term_ends_at = k.category.drugs().then(|| {
            let served = u64::from(k.months_in) * 30 * DAY_MS;
            now + (rules::DRUG_TERM_DAYS * DAY_MS)
                .saturating_sub(served)
                .max(DAY_MS)
        });
        let mut r = Record {
            id,
            person_ref: k.person_ref,
            category: k.category,
            risk: k.risk,
            grid: k.grid,
            community: k.community,
            street: k.street,
            team,
            registered_at: now,
            months_in: k.months_in,
            term_ends_at,
            next_due_at,
            with_police: k.risk >= rules::POLICE_FROM_RISK,
            follow_ups: 0,
            refused_tests: 0,
            overdue: None,
            supervision: None,
            closed: None,
            history: vec![(
                now,
                format!("registered: {}, grade {}", k.category.as_str(), k.risk),
            )],
            answer: Outcome::KeyPersonDirectoryLoaded { members: 0 },
        };
        r.answer = Outcome::KeyPersonRegistered {
            person: id,
            person_ref: k.person_ref,
            team: r.team.clone(),
            risk: k.risk,
            task: r.task(),
        };
        let mut out = vec![r.answer.clone()];
        self.clock.extend(r.clock());
        if let Some(t) = term_ends_at {
            self.clock.insert((t, id, Timer::TermEnds));
        }
        self.by_ref.insert(k.person_ref, id);
        self.records.push(r);
        self.stats.registered += 1;
        self.stats.open += 1;
        self.supervise(now, (id - 1) as usize, &mut out);
        Ok(out)
    }

    /// One member of each function the community has: the least-loaded police officer, doctor
    /// and social worker, the grid's inspector, and the guardian named.
    fn assign_team(&self, k: &Intake) -> Result<Team, ApiError> {
        let dir = self.dir.as_ref().expect("checked by handle");
        let mut members = Vec::new();
        for f in [Function::Police, Function::Doctor, Function::SocialWorker] {
            let pick = dir
                .by_community
                .get(&(k.community, f))
                .and_then(|v| v.iter().min_by_key(|p| (self.load.get(p).copied(), **p)));
            if let Some(&p) = pick {
                members.push((f, p));
            }
        }
        if members.is_empty() {
            return Err(refused(
                "community",
                k.community,
                "has no police officer, doctor or social worker in the directory",
            ));
        }
        if let Some(&p) = dir.inspector_of.get(&k.grid) {
            members.push((Function::GridInspector, p));
        }
        if let Some(g) = k.guardian {
            if members.iter().any(|&(_, p)| p == g) {
                return Err(invalid(
                    "guardian",
                    format!("person {} is already on the team as a professional", g.0),
                ));
            }
            members.push((Function::Guardian, g));
        }
        Ok(Team { members })
    }

    /// The open record `person`, acted on by a member of its team with one of `functions`.
    fn team_record(
        &self,
        actor: Actor,
        person: u64,
        functions: &[Function],
        command: &str,
    ) -> Result<usize, ApiError> {
        let i = slot(person, self.records.len()).ok_or_else(|| not_found("key person", person))?;
        let r = &self.records[i];
        if let Some((at, reason)) = r.closed {
            return Err(refused(
                "key person",
                person,
                format!("closed at {at} ms ({reason:?}): only auditors may read it"),
            ));
        }
        match r.team.function_of(actor.person) {
            Some(f) if functions.contains(&f) => Ok(i),
            _ => Err(forbidden(
                actor,
                format!("{command} on key person {person}"),
                format!(
                    "the person's team members acting as {}",
                    functions
                        .iter()
                        .map(|f| f.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
        }
    }

    pub(crate) fn follow_up(
        &mut self,
        actor: Actor,
        now: Millis,
        person: u64,
        findings: &Findings,
    ) -> Result<Vec<Outcome>, ApiError> {
        let i = self.team_record(
            actor,
            person,
            &[Function::Doctor, Function::SocialWorker, Function::Police],
            "record_follow_up",
        )?;
        check_findings(self.records[i].category, findings)?;
        let on_time = self.take_follow_up(i, actor, now, findings);
        let mut out = Vec::new();
        self.regrade(now, i, findings.risk, &mut out);
        let r = &self.records[i];
        let breach = findings.urine == Some(UrineTest::Positive)
            || r.refused_tests >= rules::REFUSED_TESTS_BREACH;
        let task = if breach {
            let why = if findings.urine == Some(UrineTest::Positive) {
                "a positive urine test in community treatment (禁毒法 art. 38)"
            } else {
                "three tests evaded or refused (戒毒条例 art. 19)"
            };
            out.push(Outcome::PoliceNotified {
                person,
                reason: format!("serious breach: {why}"),
            });
            out.push(self.close(now, i, ClosureReason::CompulsoryIsolation));
            None
        } else {
            let r = &mut self.records[i];
            let days = rules::follow_up_days(r.category, r.risk, r.months_at(now));
            r.with_police = r.risk >= rules::POLICE_FROM_RISK;
            self.clock_due(i, rules::due_after(now, days));
            Some(self.records[i].task())
        };
        out.insert(
            0,
            Outcome::FollowUpRecorded {
                person,
                on_time,
                risk: findings.risk,
                task,
            },
        );
        Ok(out)
    }

    /// Record a follow-up made on record `i`: off the overdue clock, counted, its findings on
    /// record. Returns whether it was on time.
    fn take_follow_up(&mut self, i: usize, actor: Actor, now: Millis, f: &Findings) -> bool {
        let on_time = now <= self.records[i].next_due_at;
        self.unclock(i);
        let r = &mut self.records[i];
        r.follow_ups += 1;
        self.stats.follow_ups += 1;
        self.stats.follow_ups_on_time += u64::from(on_time);
        if let Some(u) = f.urine {
            r.refused_tests += u8::from(u == UrineTest::Refused);
        }
        let said = |yes: bool, a: &'static str, b: &'static str| if yes { a } else { b };
        r.note(
            now,
            format!(
                "follow-up by {} ({}): grade {}, {}, {}{}",
                actor.person.0,
                said(on_time, "on time", "late"),
                f.risk,
                said(f.adherent, "adherent", "not adherent"),
                said(f.warning_signs, "warning signs", "no warning signs"),
                f.urine.map_or(String::new(), |u| format!(", urine {u:?}")),
            ),
        );
        on_time
    }

    /// A new grade from a follow-up or a crisis: the change on record, the police told from
    /// grade 3, supervision set to what the grade calls for.
    fn regrade(&mut self, now: Millis, i: usize, to: u8, out: &mut Vec<Outcome>) {
        let r = &mut self.records[i];
        let from = r.risk;
        if from == to {
            return;
        }
        r.risk = to;
        r.note(now, format!("re-graded {from} → {to}"));
        out.push(Outcome::KeyPersonRegraded {
            person: r.id,
            from,
            to,
        });
        if to >= rules::POLICE_FROM_RISK && from < rules::POLICE_FROM_RISK {
            out.push(Outcome::PoliceNotified {
                person: r.id,
                reason: format!("grade {to}: the police join the follow-ups"),
            });
        }
        self.supervise(now, i, out);
    }

    /// Put the record under the supervision its grade calls for (raised only: a lower grade
    /// lifts it).
    fn supervise(&mut self, now: Millis, i: usize, out: &mut Vec<Outcome>) {
        let r = &mut self.records[i];
        let wanted = rules::supervision(r.risk);
        if wanted > r.supervision {
            let level = wanted.expect("above none");
            r.note(now, format!("under {level:?} supervision: high risk"));
            out.push(Outcome::KeyPersonEscalated {
                person: r.id,
                level,
                reason: EscalationReason::HighRisk,
            });
        }
        r.supervision = wanted;
    }

    pub(crate) fn warning_sign(
        &mut self,
        actor: Actor,
        now: Millis,
        person: u64,
        observed_at: Millis,
    ) -> Result<Vec<Outcome>, ApiError> {
        let i = self.team_record(actor, person, &Function::ALL, "report_warning_sign")?;
        if observed_at > now {
            return Err(invalid(
                "observed_at",
                format!("{observed_at} ms is after the report was sent ({now} ms)"),
            ));
        }
        let r = &mut self.records[i];
        r.note(now, format!("warning sign reported by {}", actor.person.0));
        Ok(vec![Outcome::FollowUpPushed {
            task: self.bring_forward(i, now),
        }])
    }

    /// A warning sign or a care lead at `now`: record `i`'s next follow-up is due within
    /// `WARNING_FOLLOW_UP_DAYS`, if it was not already; the task as it stands.
    pub(crate) fn bring_forward(&mut self, i: usize, now: Millis) -> FollowUpTask {
        let due = rules::due_after(now, rules::WARNING_FOLLOW_UP_DAYS);
        if due < self.records[i].next_due_at {
            self.unclock(i);
            self.clock_due(i, due);
        }
        self.records[i].task()
    }

    /// Take record `i` off the overdue clock: its timers, and the lateness they escalated.
    fn unclock(&mut self, i: usize) {
        let r = &mut self.records[i];
        for e in r.clock() {
            self.clock.remove(&e);
        }
        if r.overdue.take().is_some() {
            self.stats.overdue_now -= 1;
        }
    }

    /// Record `i`'s next follow-up is due at `due`, and on the overdue clock for it.
    fn clock_due(&mut self, i: usize, due: Millis) {
        let r = &mut self.records[i];
        r.next_due_at = due;
        self.clock.extend(r.clock());
    }

    pub(crate) fn crisis(
        &mut self,
        actor: Actor,
        now: Millis,
        c: CrisisReport,
    ) -> Result<Vec<Outcome>, ApiError> {
        if let Some(&id) = self.crisis_by_ref.get(&c.crisis_ref) {
            let k = &self.crises[(id - 1) as usize];
            return match k.incident {
                Some(incident) => Ok(vec![Outcome::CrisisOpened {
                    crisis: id,
                    crisis_ref: c.crisis_ref,
                    person: k.person,
                    incident,
                }]),
                None => Ok(Vec::new()),
            };
        }
        let i = self.crisis_record(actor, now, &c)?;
        let id = self.crises.len() as u64 + 1;
        self.crises.push(CrisisRecord {
            crisis_ref: c.crisis_ref,
            person: c.person,
            incident: None,
        });
        self.crisis_by_ref.insert(c.crisis_ref, id);
        self.handoffs.push(Crisis {
            crisis: id,
            crisis_ref: c.crisis_ref,
            person: c.person,
            grid: c.grid,
            x_m: c.x_m,
            y_m: c.y_m,
            at: c.observed_at,
        });
        self.stats.crises += 1;
        let mut out = Vec::new();
        self.records[i].note(now, format!("crisis {id} reported ({:?})", c.source));
        let to = self.records[i].risk.max(4);
        self.regrade(now, i, to, &mut out);
        // Followed up within two weeks, with the police: the team is told.
        let due = rules::due_after(now, rules::AFTER_CRISIS_DAYS);
        if due < self.records[i].next_due_at {
            self.unclock(i);
            self.clock_due(i, due);
        }
        self.records[i].with_police = true;
        out.push(Outcome::FollowUpPushed {
            task: self.records[i].task(),
        });
        Ok(out)
    }

    /// The open record a crisis report names, checked: a team member reports their own
    /// person's; a dispatcher any registered person's (a 110 call about them).
    fn crisis_record(
        &self,
        actor: Actor,
        now: Millis,
        c: &CrisisReport,
    ) -> Result<usize, ApiError> {
        let i = match c.source {
            CrisisSource::Team => {
                self.team_record(actor, c.person, &Function::ALL, "report_crisis")?
            }
            CrisisSource::Caller => {
                let i = slot(c.person, self.records.len())
                    .ok_or_else(|| not_found("key person", c.person))?;
                if self.records[i].closed.is_some() {
                    return Err(refused(
                        "key person",
                        c.person,
                        "closed: not under management",
                    ));
                }
                i
            }
        };
        check_place_and_time(c.x_m, c.y_m, c.observed_at, now)?;
        Ok(i)
    }

    pub(crate) fn close_by_team(
        &mut self,
        actor: Actor,
        now: Millis,
        person: u64,
        reason: ClosureReason,
    ) -> Result<Vec<Outcome>, ApiError> {
        let i = self.team_record(
            actor,
            person,
            &[Function::Doctor, Function::SocialWorker, Function::Police],
            "close_key_person",
        )?;
        match reason {
            ClosureReason::TermCompleted | ClosureReason::CompulsoryIsolation => {
                return Err(invalid(
                    "reason",
                    "expected moved_away, died or recovered: the platform closes terms and breaches itself",
                ));
            }
            ClosureReason::Recovered if self.records[i].category.drugs() => {
                return Err(invalid(
                    "reason",
                    "expected moved_away or died: a drug term ends by itself",
                ));
            }
            _ => {}
        }
        Ok(vec![self.close(now, i, reason)])
    }

    /// Close record `i`: off the clocks and the members' loads; the record stays for auditors.
    fn close(&mut self, now: Millis, i: usize, reason: ClosureReason) -> Outcome {
        self.unclock(i);
        let r = &mut self.records[i];
        if let Some(t) = r.term_ends_at {
            self.clock.remove(&(t, r.id, Timer::TermEnds));
        }
        r.closed = Some((now, reason));
        r.note(now, format!("closed: {reason:?}"));
        for &(_, p) in &r.team.members {
            if let Some(n) = self.load.get_mut(&p) {
                *n -= 1;
            }
        }
        self.stats.open -= 1;
        self.stats.closed += 1;
        Outcome::KeyPersonClosed {
            person: r.id,
            at: now,
            reason,
        }
    }

    pub(crate) fn fire(&mut self, at: Millis, id: u64, timer: Timer, out: &mut Vec<Outcome>) {
        let i = (id - 1) as usize;
        match timer {
            Timer::TermEnds => out.push(self.close(at, i, ClosureReason::TermCompleted)),
            Timer::Overdue(level) => {
                let r = &mut self.records[i];
                if r.overdue >= Some(level) {
                    return;
                }
                if r.overdue.is_none() {
                    self.stats.overdue_now += 1;
                }
                r.overdue = Some(level);
                r.note(at, format!("follow-up overdue: {level:?} supervises"));
                out.push(Outcome::FollowUpOverdue { person: id, level });
                out.push(Outcome::KeyPersonEscalated {
                    person: id,
                    level,
                    reason: EscalationReason::Overdue,
                });
            }
        }
    }
}
