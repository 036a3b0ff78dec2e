//! Business oversight: registrations checked against block data (and this module's own earlier
//! registrations), flagged ones sent to an inspector, false registrations turned into dishonesty
//! records, and reports of trading at places with no registration.

use baoan_api::cases::{
    AddressCheck, BusinessScope, CreditKind, CreditSource, FlagReason, PremisesFinding,
    RegistrationDecision, Subject, SupervisionVerdict,
};
use baoan_api::{Actor, ApiError, Millis, Outcome, PersonId};

use crate::credit::{check_credit_code, check_id_number};
use crate::{CasesService, OVERSIGHT_EVENT_REF_BASE, Registry, invalid, not_found, refused, slot};

/// What `RegisterCompany` carries.
pub(crate) struct Application<'a> {
    pub registration_ref: u64,
    pub name: &'a str,
    pub credit_code: &'a str,
    pub legal_representative_id: &'a str,
    pub address: &'a str,
    pub scope: BusinessScope,
    pub observed_at: Millis,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Registration {
    pub registration_ref: u64,
    pub name: String,
    pub credit_code: String,
    pub rep_id: String,
    pub address: String,
    pub scope: BusinessScope,
    pub check: AddressCheck,
    pub registered_at: Millis,
    pub task: Option<u64>,
    /// What the first `RegisterCompany` answered, for repeats.
    pub answer: Outcome,
}

/// An inspector's check of a flagged registration's premises.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Supervision {
    pub id: u64,
    pub registration: usize,
    pub grid: Option<u32>,
    pub issued_at: Millis,
    pub due_at: Millis,
    pub verdict: Option<SupervisionVerdict>,
    pub reported_at: Option<Millis>,
    pub by: Option<PersonId>,
    pub credit_event: Option<u64>,
}

impl CasesService {
    /// Block data's check of an address, counting this module's own registrations at the room
    /// (the building when no room is known) as well.
    fn place_check(&self, address: &str, registry: &dyn Registry) -> AddressCheck {
        let mut check = registry.check_address(address);
        let own = match (check.room, check.building) {
            (Some(room), _) => self.own_at_room.get(&room).copied().unwrap_or(0),
            (None, Some(building)) => self.own_at_building.get(&building).copied().unwrap_or(0),
            (None, None) => 0,
        };
        check.companies_at_room = check.companies_at_room.saturating_add(own);
        check
    }

    pub(crate) fn register_company(
        &mut self,
        now: Millis,
        registry: &dyn Registry,
        a: Application<'_>,
    ) -> Result<Vec<Outcome>, ApiError> {
        if let Some(&i) = self.registration_by_ref.get(&a.registration_ref) {
            return Ok(vec![self.registrations[i].answer.clone()]);
        }
        if a.name.trim().is_empty() {
            return Err(invalid(
                "name",
                "expected the company's registered name, got an empty string",
            ));
        }
        check_credit_code(a.credit_code, "credit_code")?;
        check_id_number(a.legal_representative_id, "legal_representative_id")?;
        if a.address.trim().is_empty() {
            return Err(invalid(
                "address",
                "expected the registered address, got an empty string",
            ));
        }
        if a.observed_at > now {
            return Err(invalid(
                "observed_at",
                format!(
                    "expected a time no later than the command ({now} ms), got {} ms",
                    a.observed_at
                ),
            ));
        }
        if let Some(&i) = self.registration_by_code.get(a.credit_code) {
            return Err(refused(
                "company",
                a.credit_code,
                format!(
                    "already registered by registration_ref {}",
                    self.registrations[i].registration_ref
                ),
            ));
        }
        let check = self.place_check(a.address, registry);
        let mut reasons = Vec::new();
        if !check.found {
            reasons.push(FlagReason::AddressNotFound);
        }
        if check.found
            && check.residential
            && matches!(
                a.scope,
                BusinessScope::Retail | BusinessScope::Catering | BusinessScope::Manufacturing
            )
        {
            reasons.push(FlagReason::ResidentialPremises);
        }
        let limit = if check.residential {
            self.config.max_companies_residential
        } else {
            self.config.max_companies_room
        };
        if check.companies_at_room >= limit {
            reasons.push(FlagReason::CrowdedRoom);
        }
        if reasons.is_empty() && self.config.spot_checked(a.registration_ref) {
            reasons.push(FlagReason::SpotCheck);
        }
        let index = self.registrations.len();
        let (decision, task, grid) = if reasons.is_empty() {
            (RegistrationDecision::Approved, None, None)
        } else {
            let id = self.supervision.len() as u64 + 1;
            self.supervision.push(Supervision {
                id,
                registration: index,
                grid: check.grid,
                issued_at: now,
                due_at: now.saturating_add(self.config.supervision_deadline),
                verdict: None,
                reported_at: None,
                by: None,
                credit_event: None,
            });
            self.stats.registrations_flagged += 1;
            (
                RegistrationDecision::Flagged { reasons },
                Some(id),
                check.grid,
            )
        };
        let answer = Outcome::RegistrationChecked {
            registration_ref: a.registration_ref,
            check,
            decision,
            task,
            grid,
        };
        if let Some(room) = check.room {
            *self.own_at_room.entry(room).or_default() += 1;
        }
        if let Some(building) = check.building {
            *self.own_at_building.entry(building).or_default() += 1;
        }
        self.registrations.push(Registration {
            registration_ref: a.registration_ref,
            name: a.name.to_owned(),
            credit_code: a.credit_code.to_owned(),
            rep_id: a.legal_representative_id.to_owned(),
            address: a.address.to_owned(),
            scope: a.scope,
            check,
            registered_at: now,
            task,
            answer: answer.clone(),
        });
        self.registration_by_ref.insert(a.registration_ref, index);
        self.registration_by_code
            .insert(a.credit_code.to_owned(), index);
        self.registrations_by_rep
            .entry(a.legal_representative_id.to_owned())
            .or_default()
            .push(index);
        self.stats.registrations += 1;
        Ok(vec![answer])
    }

    pub(crate) fn report_premises(
        &mut self,
        actor: Actor,
        now: Millis,
        registry: &dyn Registry,
        task: u64,
        finding: &PremisesFinding,
    ) -> Result<Vec<Outcome>, ApiError> {
        let si = slot(task, self.supervision.len())
            .ok_or_else(|| not_found("supervision task", task))?;
        let s = &self.supervision[si];
        if let (Some(verdict), Some(at)) = (s.verdict, s.reported_at) {
            return Err(refused(
                "supervision task",
                task,
                format!("already reported at {at} ms: {verdict:?}"),
            ));
        }
        let verdict = if !finding.place_exists {
            SupervisionVerdict::FalseRegistration
        } else if !finding.business_present {
            SupervisionVerdict::AddressMisuse
        } else {
            SupervisionVerdict::Compliant
        };
        let r = &self.registrations[s.registration];
        let registration_ref = r.registration_ref;
        // The record a false registration makes; the credit code was checked at registration.
        let dishonesty = (verdict == SupervisionVerdict::FalseRegistration).then(|| {
            let subject = Subject::Company {
                credit_code: r.credit_code.clone(),
            };
            let links = self.links(&subject, registry);
            (subject, links)
        });
        let credit = dishonesty.map(|(subject, links)| {
            self.commit_event(
                now,
                OVERSIGHT_EVENT_REF_BASE + task,
                &subject,
                CreditKind::Dishonesty,
                CreditSource::Oversight,
                now,
                links,
            )
        });
        let s = &mut self.supervision[si];
        s.verdict = Some(verdict);
        s.reported_at = Some(now);
        s.by = Some(actor.person);
        s.credit_event = credit.as_ref().map(|(id, _)| *id);
        self.stats.supervision_reports += 1;
        match verdict {
            SupervisionVerdict::FalseRegistration => self.stats.false_registrations += 1,
            SupervisionVerdict::AddressMisuse => self.stats.address_misuse += 1,
            _ => {}
        }
        let mut out = vec![Outcome::PremisesChecked {
            task,
            registration_ref,
            verdict,
            credit_event: s.credit_event,
        }];
        out.extend(credit.map(|(_, answer)| answer));
        Ok(out)
    }

    pub(crate) fn report_trading(
        &mut self,
        registry: &dyn Registry,
        report_ref: u64,
        address: &str,
    ) -> Result<Vec<Outcome>, ApiError> {
        if let Some(answer) = self.trading.get(&report_ref) {
            return Ok(vec![answer.clone()]);
        }
        if address.trim().is_empty() {
            return Err(invalid(
                "address",
                "expected the address where the business trades, got an empty string",
            ));
        }
        let check = self.place_check(address, registry);
        let verdict = if check.companies_at_room > 0 {
            SupervisionVerdict::Compliant
        } else {
            SupervisionVerdict::UnlicensedTrading
        };
        let answer = Outcome::TradingChecked {
            report_ref,
            verdict,
        };
        self.trading.insert(report_ref, answer.clone());
        self.stats.trading_reports += 1;
        if verdict == SupervisionVerdict::UnlicensedTrading {
            self.stats.unlicensed_trading += 1;
        }
        Ok(vec![answer])
    }
}
