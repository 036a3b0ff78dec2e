//! Credit: trust and dishonesty records delivered to every receiving body for the subject and
//! the entities linked to it (a company's legal representative, a person's companies), their
//! acknowledgements, and appeals that revoke them everywhere.

use std::collections::BTreeSet;

use baoan_api::cases::{
    CreditDelivery, CreditEntry, CreditKind, CreditLink, CreditReceiver, CreditSource, Subject,
};
use baoan_api::{ApiError, Millis, Outcome};
use baoan_block_data::{validate_credit_code, validate_id_number};

use crate::{CasesService, Registry, invalid, not_found, refused, slot};

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Event {
    pub id: u64,
    pub event_ref: u64,
    pub subject: Subject,
    pub kind: CreditKind,
    pub source: CreditSource,
    pub observed_at: Millis,
    pub recorded_at: Millis,
    /// Delivery ids, revokes included.
    pub deliveries: Vec<u64>,
    /// The entities the record stands (or stood) on.
    pub stands_on: Vec<(Subject, CreditLink)>,
    pub revoked: bool,
    /// What the first `RecordCreditEvent` answered, for repeats.
    pub answer: Outcome,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Delivery {
    pub delivery: CreditDelivery,
    /// `Some(on_time)` once acknowledged.
    pub acknowledged: Option<bool>,
}

/// Where a record goes beyond its subject.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Links {
    /// Valid linked entities, sorted.
    pub linked: Vec<(Subject, CreditLink)>,
    /// Linked entities whose identifier fails its check, sorted.
    pub undelivered: Vec<Subject>,
}

/// Check a GB 11643 ID number; `field` names it in the command.
pub(crate) fn check_id_number(id_number: &str, field: &str) -> Result<(), ApiError> {
    validate_id_number(id_number).map_err(|e| {
        invalid(
            field,
            format!(
                "expected an 18-character GB 11643 ID number with a valid check digit, got {id_number:?} ({e})"
            ),
        )
    })
}

/// Check a GB 32100 unified social credit code; `field` names it in the command.
pub(crate) fn check_credit_code(credit_code: &str, field: &str) -> Result<(), ApiError> {
    validate_credit_code(credit_code).map_err(|e| {
        invalid(
            field,
            format!(
                "expected an 18-character GB 32100 unified social credit code with valid check characters, got {credit_code:?} ({e})"
            ),
        )
    })
}

/// Check a subject's identifier; `field` names the subject in the command.
pub(crate) fn check_subject(subject: &Subject, field: &str) -> Result<(), ApiError> {
    match subject {
        Subject::Person { id_number } => check_id_number(id_number, &format!("{field}.id_number")),
        Subject::Company { credit_code } => {
            check_credit_code(credit_code, &format!("{field}.credit_code"))
        }
    }
}

fn is_valid(subject: &Subject) -> bool {
    match subject {
        Subject::Person { id_number } => validate_id_number(id_number).is_ok(),
        Subject::Company { credit_code } => validate_credit_code(credit_code).is_ok(),
    }
}

impl CasesService {
    /// The entities a record about `subject` reaches now: a person's companies (block data's and
    /// this module's registrations), a company's legal representatives (block data's and this
    /// module's registration, both if they differ).
    pub(crate) fn links(&self, subject: &Subject, registry: &dyn Registry) -> Links {
        let (entities, link): (BTreeSet<Subject>, CreditLink) = match subject {
            Subject::Person { id_number } => {
                let mut codes: BTreeSet<String> = registry
                    .companies_represented_by(id_number)
                    .into_iter()
                    .collect();
                if let Some(regs) = self.registrations_by_rep.get(id_number) {
                    codes.extend(
                        regs.iter()
                            .map(|&i| self.registrations[i].credit_code.clone()),
                    );
                }
                (
                    codes
                        .into_iter()
                        .map(|credit_code| Subject::Company { credit_code })
                        .collect(),
                    CreditLink::RepresentedCompany,
                )
            }
            Subject::Company { credit_code } => {
                let mut reps: BTreeSet<String> = registry
                    .representative_of(credit_code)
                    .into_iter()
                    .collect();
                if let Some(&i) = self.registration_by_code.get(credit_code) {
                    reps.insert(self.registrations[i].rep_id.clone());
                }
                (
                    reps.into_iter()
                        .map(|id_number| Subject::Person { id_number })
                        .collect(),
                    CreditLink::LegalRepresentative,
                )
            }
        };
        let (ok, bad): (Vec<Subject>, Vec<Subject>) = entities
            .into_iter()
            .filter(|e| e != subject)
            .partition(is_valid);
        Links {
            linked: ok.into_iter().map(|e| (e, link)).collect(),
            undelivered: bad,
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn record_credit_event(
        &mut self,
        now: Millis,
        registry: &dyn Registry,
        event_ref: u64,
        subject: &Subject,
        kind: CreditKind,
        source: CreditSource,
        observed_at: Millis,
    ) -> Result<Vec<Outcome>, ApiError> {
        if let Some(&id) = self.event_by_ref.get(&event_ref) {
            return Ok(vec![self.events[(id - 1) as usize].answer.clone()]);
        }
        check_subject(subject, "subject")?;
        if observed_at > now {
            return Err(invalid(
                "observed_at",
                format!(
                    "expected a time no later than the command ({now} ms), got {observed_at} ms"
                ),
            ));
        }
        let links = self.links(subject, registry);
        let (_, answer) =
            self.commit_event(now, event_ref, subject, kind, source, observed_at, links);
        Ok(vec![answer])
    }

    /// Make a validated record: deliveries for the subject and each linked entity to every
    /// receiving body, and the record standing on each of them. Cannot fail.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn commit_event(
        &mut self,
        now: Millis,
        event_ref: u64,
        subject: &Subject,
        kind: CreditKind,
        source: CreditSource,
        observed_at: Millis,
        links: Links,
    ) -> (u64, Outcome) {
        let id = self.events.len() as u64 + 1;
        let due_at = now.saturating_add(self.config.credit_deadline);
        let mut stands_on = vec![(subject.clone(), CreditLink::Direct)];
        stands_on.extend(links.linked);
        let mut deliveries = Vec::with_capacity(stands_on.len() * CreditReceiver::ALL.len());
        for (entity, link) in &stands_on {
            for receiver in CreditReceiver::ALL {
                let d = CreditDelivery {
                    delivery: self.deliveries.len() as u64 + 1,
                    event: id,
                    entity: entity.clone(),
                    link: *link,
                    receiver,
                    revoke: false,
                    due_at,
                };
                self.deliveries.push(Delivery {
                    delivery: d.clone(),
                    acknowledged: None,
                });
                deliveries.push(d);
            }
            self.standing
                .entry(entity.clone())
                .or_default()
                .insert(id, *link);
        }
        self.stats.credit_events += 1;
        self.stats.credit_deliveries += deliveries.len() as u64;
        self.stats.credit_undelivered += links.undelivered.len() as u64;
        let answer = Outcome::CreditRecorded {
            event: id,
            event_ref,
            deliveries: deliveries.clone(),
            undelivered: links.undelivered,
        };
        self.events.push(Event {
            id,
            event_ref,
            subject: subject.clone(),
            kind,
            source,
            observed_at,
            recorded_at: now,
            deliveries: deliveries.iter().map(|d| d.delivery).collect(),
            stands_on,
            revoked: false,
            answer: answer.clone(),
        });
        self.event_by_ref.entry(event_ref).or_insert(id);
        (id, answer)
    }

    pub(crate) fn acknowledge(
        &mut self,
        now: Millis,
        delivery: u64,
    ) -> Result<Vec<Outcome>, ApiError> {
        let i = slot(delivery, self.deliveries.len())
            .ok_or_else(|| not_found("credit delivery", delivery))?;
        let d = &mut self.deliveries[i];
        let on_time = match d.acknowledged {
            Some(on_time) => on_time,
            None => {
                let on_time = now <= d.delivery.due_at;
                d.acknowledged = Some(on_time);
                self.stats.credit_acknowledged += 1;
                self.stats.credit_acknowledged_on_time += u64::from(on_time);
                on_time
            }
        };
        Ok(vec![Outcome::CreditAcknowledged { delivery, on_time }])
    }

    pub(crate) fn appeal(
        &mut self,
        now: Millis,
        event: u64,
        upheld: bool,
    ) -> Result<Vec<Outcome>, ApiError> {
        let ei = slot(event, self.events.len()).ok_or_else(|| not_found("credit event", event))?;
        if self.events[ei].revoked {
            return Err(refused(
                "credit event",
                event,
                "already revoked by an upheld appeal",
            ));
        }
        if !upheld {
            self.stats.credit_appeals_dismissed += 1;
            return Ok(vec![Outcome::AppealDismissed { event }]);
        }
        let due_at = now.saturating_add(self.config.credit_deadline);
        let earlier: Vec<u64> = self.events[ei].deliveries.clone();
        let mut revokes = Vec::with_capacity(earlier.len());
        for id in earlier {
            let original = &self.deliveries[(id - 1) as usize].delivery;
            if original.revoke {
                continue;
            }
            let d = CreditDelivery {
                delivery: self.deliveries.len() as u64 + 1,
                revoke: true,
                due_at,
                ..original.clone()
            };
            self.deliveries.push(Delivery {
                delivery: d.clone(),
                acknowledged: None,
            });
            revokes.push(d);
        }
        let e = &mut self.events[ei];
        e.revoked = true;
        e.deliveries.extend(revokes.iter().map(|d| d.delivery));
        for (entity, _) in &e.stands_on {
            if let Some(on) = self.standing.get_mut(entity) {
                on.remove(&event);
                if on.is_empty() {
                    self.standing.remove(entity);
                }
            }
        }
        self.stats.credit_revoked += 1;
        self.stats.credit_deliveries += revokes.len() as u64;
        Ok(vec![Outcome::CreditRevoked {
            event,
            deliveries: revokes,
        }])
    }

    pub(crate) fn query_credit(&self, subject: &Subject) -> Result<Vec<Outcome>, ApiError> {
        check_subject(subject, "subject")?;
        let entries = self
            .standing
            .get(subject)
            .into_iter()
            .flatten()
            .map(|(&event, &link)| {
                let e = &self.events[(event - 1) as usize];
                CreditEntry {
                    event,
                    event_ref: e.event_ref,
                    kind: e.kind,
                    source: e.source,
                    link,
                    recorded_at: e.recorded_at,
                }
            })
            .collect();
        Ok(vec![Outcome::CreditAnswered {
            subject: subject.clone(),
            entries,
        }])
    }
}
