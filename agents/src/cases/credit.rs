//! Credit: courts' trust and dishonesty records about the twin's people and companies, the
//! receiving bodies that apply them, and the appeals against wrong penalties.

use std::collections::BTreeMap;

use baoan_api::cases::{CreditDelivery, CreditKind, CreditReceiver, CreditSource, Subject};
use baoan_api::{Actor, Command, Outcome, PersonId, Role};
use baoan_world::Twin;
use baoan_world::bridge::FromStack;
use baoan_world::kernel::{Agenda, Streams};
use baoan_world::population::Population;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, LogNormal};

use super::{
    CasesAction, CasesConfig, CasesLedger, CasesState, CasesTruth, DAY, HOUR, TAG_CREDIT, Tick,
    arrivals, bernoulli, exp_wait, scale_factor, send, working_time,
};

/// Event refs of breaches of protection orders, clear of the courts' other records.
const BREACH_REF_BASE: u64 = 1 << 40;

const COURT: Actor = Actor {
    role: Role::Department,
    person: PersonId(9_000_101),
};
const CREDIT_REVIEWER: Actor = Actor {
    role: Role::Reviewer,
    person: PersonId(9_000_201),
};

fn receiver_actor(r: CreditReceiver) -> Actor {
    let n = CreditReceiver::ALL
        .iter()
        .position(|&x| x == r)
        .expect("receiver") as u32;
    Actor {
        role: Role::Department,
        person: PersonId(9_000_110 + n),
    }
}

/// Who runs companies: each legal representative and their companies, and the representatives
/// as a list to draw from. Ordered: subjects are drawn from it, and a run must not depend on
/// hash order.
struct Representatives {
    companies_of: BTreeMap<u32, Vec<usize>>,
    people: Vec<u32>,
}

impl Representatives {
    fn of(pop: &Population) -> Representatives {
        let mut companies_of: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
        for (c, co) in pop.companies.iter().enumerate() {
            companies_of
                .entry(co.legal_representative)
                .or_default()
                .push(c);
        }
        let people = companies_of.keys().copied().collect();
        Representatives {
            companies_of,
            people,
        }
    }
}

/// Every court record of the run, with the truth of whether it is wrong and whom it links.
pub(super) fn schedule(
    twin: &Twin,
    config: &CasesConfig,
    streams: &Streams,
    truth: &mut CasesTruth,
    ledger: &mut CasesLedger,
    agenda: &mut Agenda<CasesAction>,
) {
    let k = &config.loop_;
    let pop = &twin.population;
    let mut rng = streams.0.stream("cases/credit");
    let representatives = Representatives::of(pop);
    let per_day = k.credit_events_per_day * scale_factor(twin);
    for at in arrivals(&mut rng, per_day, config.end_ms) {
        let event_ref = truth.credit.len() as u64 + 1;
        let dishonesty = bernoulli(&mut rng, 0.7);
        let (subject, links) = draw_subject(&mut rng, pop, &representatives);
        let wrong = dishonesty && bernoulli(&mut rng, k.wrong_penalty_share);
        let kind = if dishonesty {
            CreditKind::Dishonesty
        } else {
            CreditKind::Trust
        };
        truth.credit.insert(event_ref, (subject, wrong, links));
        ledger.credit_kinds.insert(event_ref, kind);
        agenda.schedule(at, CasesAction::CreditEvent { event_ref });
    }
}

/// A record's subject (a company or a person) and the entities truly linked to it.
fn draw_subject(
    rng: &mut ChaCha8Rng,
    pop: &Population,
    representatives: &Representatives,
) -> (Subject, Vec<Subject>) {
    if !pop.companies.is_empty() && bernoulli(rng, 0.6) {
        let c = rng.random_range(0..pop.companies.len());
        let rep = pop.companies[c].legal_representative;
        return (
            Subject::Company {
                credit_code: pop.credit_code(c),
            },
            vec![Subject::Person {
                id_number: pop.id_number(rep),
            }],
        );
    }
    let people = &representatives.people;
    let r = if !representatives.companies_of.is_empty() && bernoulli(rng, 0.5) {
        // Penalties fall more often on people who run companies.
        people[rng.random_range(0..people.len())]
    } else {
        rng.random_range(0..pop.residents() as u32)
    };
    let links = representatives
        .companies_of
        .get(&r)
        .into_iter()
        .flatten()
        .map(|&c| Subject::Company {
            credit_code: pop.credit_code(c),
        })
        .collect();
    (
        Subject::Person {
            id_number: pop.id_number(r),
        },
        links,
    )
}

/// Violence after a protection order is a breach: the court records it against the party, a
/// dishonesty record from the case.
pub(super) fn record_breach(tick: &mut Tick, household: usize, party: String, at: u64) {
    let event_ref = BREACH_REF_BASE + household as u64;
    tick.truth.credit.insert(
        event_ref,
        (Subject::Person { id_number: party }, false, Vec::new()),
    );
    tick.ledger
        .credit_kinds
        .insert(event_ref, CreditKind::Dishonesty);
    tick.schedule_in_run(
        working_time(at + DAY),
        CasesAction::CreditEvent { event_ref },
    );
}

/// How long a receiving body takes to apply what it is sent, usually.
fn hours_to_apply(rng: &mut ChaCha8Rng) -> u64 {
    (LogNormal::new((2.0 * HOUR as f64).ln(), 0.8)
        .expect("valid")
        .sample(rng)) as u64
}

/// A new record's receiving bodies apply it.
pub(super) fn schedule_acknowledgements(tick: &mut Tick, deliveries: &[CreditDelivery], at: u64) {
    for d in deliveries {
        // Receiving bodies apply what they get within hours, a few after days.
        let delay = if bernoulli(tick.rng, 0.03) {
            DAY + exp_wait(tick.rng, 2.0 * DAY as f64)
        } else {
            hours_to_apply(tick.rng)
        };
        let delivery = d.delivery;
        tick.schedule_in_run(
            working_time(at + delay),
            CasesAction::Acknowledge { delivery },
        );
    }
}

/// A revoked record's receiving bodies remove it.
pub(super) fn schedule_revocation_acknowledgements(
    tick: &mut Tick,
    deliveries: &[CreditDelivery],
    at: u64,
) {
    for d in deliveries {
        let delay = hours_to_apply(tick.rng);
        let delivery = d.delivery;
        tick.schedule_in_run(
            working_time(at + delay),
            CasesAction::Acknowledge { delivery },
        );
    }
}

/// The court sends a record (a breach's comes from the case).
pub(super) fn record_event(tick: &mut Tick, event_ref: u64, at: u64) {
    let (subject, _, _) = tick.truth.credit[&event_ref].clone();
    let kind = tick.ledger.credit_kinds[&event_ref];
    send(
        tick.out,
        COURT,
        at,
        Command::RecordCreditEvent {
            event_ref,
            subject,
            kind,
            source: if event_ref >= BREACH_REF_BASE {
                CreditSource::Case
            } else {
                CreditSource::Court
            },
            observed_at: at,
        },
        TAG_CREDIT | event_ref,
    );
}

/// A receiving body says it applied a delivery.
pub(super) fn acknowledge(tick: &mut Tick, delivery: u64, at: u64) {
    let Some(receiver) = tick.ledger.delivery_receiver.get(&delivery).copied() else {
        return;
    };
    send(
        tick.out,
        receiver_actor(receiver),
        at,
        Command::AcknowledgeCredit { delivery },
        TAG_CREDIT | delivery,
    );
}

/// A reviewer decides an appeal.
pub(super) fn appeal(tick: &mut Tick, event: u64, upheld: bool, at: u64) {
    send(
        tick.out,
        CREDIT_REVIEWER,
        at,
        Command::AppealCredit { event, upheld },
        TAG_CREDIT | event,
    );
}

/// On a record's arrival, its subject may appeal.
pub(super) fn maybe_appeal(
    config: &CasesConfig,
    truth: &CasesTruth,
    ledger: &CasesLedger,
    state: &mut CasesState,
    agenda: &mut Agenda<CasesAction>,
    msg: &FromStack,
) {
    let Outcome::CreditRecorded {
        event, event_ref, ..
    } = &msg.outcome
    else {
        return;
    };
    let Some(&(_, wrong, _)) = truth.credit.get(event_ref) else {
        return;
    };
    // Wrong penalties are appealed within weeks and upheld; a tenth of right ones are appealed
    // and dismissed.
    let rng = state.rng.as_mut().expect("set up");
    let appeal = wrong
        || (ledger.credit_kinds.get(event_ref) == Some(&CreditKind::Dishonesty)
            && bernoulli(rng, 0.1));
    if appeal {
        let wait = exp_wait(rng, 5.0 * DAY as f64);
        let when = working_time(msg.at + wait);
        if when < config.end_ms {
            agenda.schedule(
                when,
                CasesAction::Appeal {
                    event: *event,
                    upheld: wrong,
                },
            );
        }
    }
}
