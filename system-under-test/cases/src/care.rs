//! Community care: residents enrolled for follow-up visits at a fixed interval, each assigned to
//! the community's least-loaded care worker; needs found on a visit become service tasks; visits
//! overdue go to the street, then the district. Only the community's own care workers may read
//! or act on a record; analysts see counts only.

use baoan_api::cases::{CareCategory, CareView};
use baoan_api::{Actor, ApiError, EscalationLevel, Millis, Outcome, PersonId};

use crate::{
    CasesService, DAY_MS, MAX_CARE_INTERVAL_DAYS, forbidden, invalid, not_found, refused, slot,
};

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CareRecord {
    pub id: u64,
    pub care_ref: u64,
    pub community: u32,
    pub category: CareCategory,
    pub worker: PersonId,
    pub interval_days: u16,
    pub enrolled_at: Millis,
    pub next_due_at: Millis,
    pub visits: u32,
    pub open_services: u32,
    /// The escalation of the current due period.
    pub escalation: Option<EscalationLevel>,
    /// What the first `EnrolCare` answered, for repeats.
    pub answer: Outcome,
}

impl CareRecord {
    fn interval(&self) -> Millis {
        u64::from(self.interval_days) * DAY_MS
    }

    /// The overdue clock's entries for the current due period.
    fn clock(&self) -> [(Millis, u64, EscalationLevel); 2] {
        let due = self.next_due_at;
        [
            (due.saturating_add(1), self.id, EscalationLevel::Street),
            (
                due.saturating_add(self.interval() / 2).saturating_add(1),
                self.id,
                EscalationLevel::District,
            ),
        ]
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Service {
    pub id: u64,
    pub care: u64,
    pub opened_at: Millis,
    pub done_at: Option<Millis>,
    pub by: Option<PersonId>,
}

impl CasesService {
    fn care_slot(&self, care: u64) -> Result<usize, ApiError> {
        slot(care, self.care.len()).ok_or_else(|| not_found("care record", care))
    }

    /// Forbidden unless the actor is a care worker of the community.
    fn check_carer(
        &self,
        actor: Actor,
        community: u32,
        command: impl FnOnce() -> String,
    ) -> Result<(), ApiError> {
        if self.dir()?.cares_for(actor.person, community) {
            return Ok(());
        }
        Err(forbidden(
            actor,
            command(),
            format!("care workers of community {community}"),
        ))
    }

    pub(crate) fn enrol_care(
        &mut self,
        actor: Actor,
        now: Millis,
        care_ref: u64,
        community: u32,
        category: CareCategory,
        interval_days: u16,
    ) -> Result<Vec<Outcome>, ApiError> {
        if let Some(&id) = self.care_by_ref.get(&care_ref) {
            let r = &self.care[(id - 1) as usize];
            self.check_carer(actor, r.community, || {
                format!("enrol_care repeating care_ref {care_ref}")
            })?;
            return Ok(vec![r.answer.clone()]);
        }
        self.check_carer(actor, community, || {
            format!("enrol_care in community {community}")
        })?;
        if !(1..=MAX_CARE_INTERVAL_DAYS).contains(&interval_days) {
            return Err(invalid(
                "interval_days",
                format!(
                    "expected 1..={MAX_CARE_INTERVAL_DAYS} days between visits, got {interval_days}"
                ),
            ));
        }
        let worker = *self
            .dir()?
            .care_workers_of(community)
            .iter()
            .min_by_key(|&&p| (self.worker_load.get(&p).copied().unwrap_or(0), p))
            .expect("the actor is a care worker of the community");
        let id = self.care.len() as u64 + 1;
        let next_due_at = now.saturating_add(u64::from(interval_days) * DAY_MS);
        let answer = Outcome::CareEnrolled {
            care: id,
            care_ref,
            worker,
            next_due_at,
        };
        let record = CareRecord {
            id,
            care_ref,
            community,
            category,
            worker,
            interval_days,
            enrolled_at: now,
            next_due_at,
            visits: 0,
            open_services: 0,
            escalation: None,
            answer: answer.clone(),
        };
        self.care_clock.extend(record.clock());
        self.care.push(record);
        self.care_by_ref.insert(care_ref, id);
        *self.worker_load.entry(worker).or_default() += 1;
        self.stats.care.enrolled += 1;
        Ok(vec![answer])
    }

    pub(crate) fn record_visit(
        &mut self,
        actor: Actor,
        now: Millis,
        care: u64,
        need_found: bool,
    ) -> Result<Vec<Outcome>, ApiError> {
        let ri = self.care_slot(care)?;
        self.check_carer(actor, self.care[ri].community, || {
            format!("record_care_visit on care record {care}")
        })?;
        let r = &mut self.care[ri];
        let on_time = now <= r.next_due_at;
        for e in r.clock() {
            self.care_clock.remove(&e);
        }
        r.next_due_at = now.saturating_add(r.interval());
        r.visits += 1;
        if r.escalation.take().is_some() {
            self.stats.care.overdue_now -= 1;
        }
        self.care_clock.extend(r.clock());
        let next_due_at = r.next_due_at;
        let service = need_found.then(|| {
            r.open_services += 1;
            let id = self.services.len() as u64 + 1;
            self.services.push(Service {
                id,
                care,
                opened_at: now,
                done_at: None,
                by: None,
            });
            self.stats.care.services_opened += 1;
            id
        });
        self.stats.care.visits += 1;
        self.stats.care.visits_on_time += u64::from(on_time);
        Ok(vec![Outcome::CareVisitRecorded {
            care,
            on_time,
            next_due_at,
            service,
        }])
    }

    pub(crate) fn complete_service(
        &mut self,
        actor: Actor,
        now: Millis,
        service: u64,
    ) -> Result<Vec<Outcome>, ApiError> {
        let si =
            slot(service, self.services.len()).ok_or_else(|| not_found("care service", service))?;
        let care = self.services[si].care;
        let ri = (care - 1) as usize;
        self.check_carer(actor, self.care[ri].community, || {
            format!("complete_care_service on service {service}")
        })?;
        if let Some(at) = self.services[si].done_at {
            return Err(refused(
                "care service",
                service,
                format!("already completed at {at} ms"),
            ));
        }
        let s = &mut self.services[si];
        s.done_at = Some(now);
        s.by = Some(actor.person);
        self.care[ri].open_services -= 1;
        self.stats.care.services_done += 1;
        Ok(vec![Outcome::CareServiceCompleted { service, care }])
    }

    pub(crate) fn query_care(&self, actor: Actor, care: u64) -> Result<Vec<Outcome>, ApiError> {
        let ri = self.care_slot(care)?;
        let r = &self.care[ri];
        self.check_carer(actor, r.community, || {
            format!("query_care on care record {care}")
        })?;
        Ok(vec![Outcome::CareAnswered {
            view: CareView {
                care: r.id,
                care_ref: r.care_ref,
                category: r.category,
                community: r.community,
                worker: r.worker,
                interval_days: r.interval_days,
                next_due_at: r.next_due_at,
                visits: r.visits,
                open_services: r.open_services,
                escalation: r.escalation,
            },
        }])
    }

    /// Overdue visits, each level once per due period, in record order.
    pub(crate) fn advance_care(&mut self, now: Millis) -> Vec<Outcome> {
        let mut fired = Vec::new();
        while let Some(&(at, id, level)) = self.care_clock.first() {
            if at > now {
                break;
            }
            self.care_clock.pop_first();
            let r = &mut self.care[(id - 1) as usize];
            if r.escalation < Some(level) {
                if r.escalation.is_none() {
                    self.stats.care.overdue_now += 1;
                }
                r.escalation = Some(level);
                fired.push((id, level));
            }
        }
        fired.sort_unstable();
        fired
            .into_iter()
            .map(|(care, level)| Outcome::CareVisitOverdue { care, level })
            .collect()
    }
}
