//! The matcher's safeguards through the stack, as a client sees them: roles on every call, the
//! audit log, no retention of non-matches, expiry and removal, the two-person review.

use baoan_api::{
    Actor, AlertId, ApiError, Command, Envelope, ListKind, MatchPolicy, Outcome, PersonId, Role,
    Sighting, Stack, WatchlistEntry,
};
use baoan_faces::noise::{capture, identity};
use baoan_matcher::MatcherService;
use baoan_stack::InProcessStack;
use proptest::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

const DIM: usize = 64;
const HOUR: u64 = 3_600_000;

fn stack() -> InProcessStack {
    InProcessStack::with_matcher(MatcherService::new(DIM))
}

fn send(
    s: &mut InProcessStack,
    role: Role,
    person: u32,
    at: u64,
    command: Command,
) -> Result<Vec<Outcome>, ApiError> {
    s.send(&Envelope {
        actor: Actor {
            role,
            person: PersonId(person),
        },
        sent_at: at,
        command,
    })
}

fn entry(person: u64, expires_at: u64) -> WatchlistEntry {
    WatchlistEntry {
        entry_ref: person,
        list: if person.is_multiple_of(2) {
            ListKind::Wanted
        } else {
            ListKind::Missing
        },
        legal_basis: format!("warrant 2026-{person:04}"),
        owner: "Xin'an police station".into(),
        expires_at,
        embedding: identity(7, person, DIM),
    }
}

fn sighting(sighting_ref: u64, person: u64, at: u64, quality: f32) -> Sighting {
    let mut rng = ChaCha8Rng::seed_from_u64(sighting_ref);
    Sighting {
        sighting_ref,
        camera: 3,
        grid: 10,
        x_m: 100.0,
        y_m: 200.0,
        captured_at: at,
        quality,
        embedding: capture(&identity(7, person, DIM), quality, 1.0, &mut rng),
    }
}

fn policy(threshold: f32, reviewers: u8) -> Command {
    Command::SetMatchPolicy {
        policy: MatchPolicy {
            threshold,
            top_k: 3,
            reviewers_required: reviewers,
        },
    }
}

#[test]
fn a_non_match_is_answered_and_forgotten_and_a_match_is_a_lead_for_two_reviewers() {
    let mut s = stack();
    send(&mut s, Role::Admin, 1, 0, policy(0.6, 2)).unwrap();
    send(
        &mut s,
        Role::Admin,
        1,
        0,
        Command::UpsertWatchlist {
            entries: vec![entry(10, 10 * HOUR), entry(11, 10 * HOUR)],
        },
    )
    .unwrap();
    // Someone not on the list: discarded, nothing kept.
    let out = send(
        &mut s,
        Role::Camera,
        900,
        1000,
        Command::SubmitSighting {
            sighting: sighting(1, 555, 1000, 0.9),
        },
    )
    .unwrap();
    assert_eq!(out, vec![Outcome::SightingDiscarded { sighting_ref: 1 }]);
    assert_eq!(s.matcher.sightings_retained(), 0);
    // Person 10 on a good capture: an alert naming the versions that produced it.
    let out = send(
        &mut s,
        Role::Camera,
        900,
        2000,
        Command::SubmitSighting {
            sighting: sighting(2, 10, 2000, 0.95),
        },
    )
    .unwrap();
    let Outcome::AlertRaised {
        alert,
        candidates,
        watchlist_version,
        policy_version,
        reviewers_required,
        ..
    } = &out[0]
    else {
        panic!("expected an alert, got {out:?}");
    };
    assert_eq!(
        (
            candidates[0].entry_ref,
            *watchlist_version,
            *policy_version,
            *reviewers_required
        ),
        (10, 1, 1, 2)
    );
    assert_eq!(
        candidates[0].legal_basis, "warrant 2026-0010",
        "reviewers see what the entry rests on"
    );
    let alert = *alert;
    // The same sighting again (an at-least-once transport): the same alert, no second search.
    let again = send(
        &mut s,
        Role::Camera,
        900,
        2001,
        Command::SubmitSighting {
            sighting: sighting(2, 10, 2000, 0.95),
        },
    )
    .unwrap();
    assert_eq!(again, out);
    assert_eq!(s.matcher.stats().searches, 2);
    // A camera may not review, a reviewer may not search.
    assert!(matches!(
        send(
            &mut s,
            Role::Camera,
            900,
            3000,
            Command::ReviewAlert {
                alert,
                confirm: true
            }
        ),
        Err(ApiError::Forbidden { .. })
    ));
    assert!(matches!(
        send(
            &mut s,
            Role::Reviewer,
            5,
            3000,
            Command::SubmitSighting {
                sighting: sighting(3, 10, 3000, 0.9)
            }
        ),
        Err(ApiError::Forbidden { .. })
    ));
    // One confirmation is not enough, and the same person cannot give the second.
    let first = send(
        &mut s,
        Role::Reviewer,
        5,
        4000,
        Command::ReviewAlert {
            alert,
            confirm: true,
        },
    )
    .unwrap();
    assert_eq!(first.len(), 1, "{first:?}");
    let twice = send(
        &mut s,
        Role::Reviewer,
        5,
        4100,
        Command::ReviewAlert {
            alert,
            confirm: true,
        },
    );
    assert!(matches!(twice, Err(ApiError::Refused { .. })), "{twice:?}");
    let second = send(
        &mut s,
        Role::Reviewer,
        6,
        4200,
        Command::ReviewAlert {
            alert,
            confirm: true,
        },
    )
    .unwrap();
    assert!(
        second.contains(&Outcome::AlertConfirmed {
            alert,
            entry_ref: 10
        }),
        "{second:?}"
    );
    assert!(s.matcher.confirmed_sighting(alert).is_some());
    // Decided: no more reviews.
    assert!(
        send(
            &mut s,
            Role::Reviewer,
            7,
            4300,
            Command::ReviewAlert {
                alert,
                confirm: false
            }
        )
        .is_err()
    );
    // Every call is in the audit log, refusals too; the alert is named there.
    let audit: Vec<_> = s.audit().entries().collect();
    assert_eq!(audit.len(), 11);
    assert!(audit.iter().any(|e| {
        e.detail
            .as_deref()
            .is_some_and(|d| d.contains(&format!("alert {} raised", alert.0)))
    }));
    assert!(
        audit
            .iter()
            .any(|e| e.detail.as_deref() == Some("search: no match, nothing kept"))
    );
}

#[test]
fn a_rejected_alert_deletes_its_sighting_and_bad_input_changes_nothing() {
    let mut s = stack();
    send(&mut s, Role::Admin, 1, 0, policy(0.6, 2)).unwrap();
    send(
        &mut s,
        Role::Admin,
        1,
        0,
        Command::UpsertWatchlist {
            entries: vec![entry(10, 10 * HOUR)],
        },
    )
    .unwrap();
    let out = send(
        &mut s,
        Role::Camera,
        900,
        10,
        Command::SubmitSighting {
            sighting: sighting(1, 10, 10, 0.95),
        },
    )
    .unwrap();
    let Outcome::AlertRaised { alert, .. } = out[0] else {
        panic!("{out:?}")
    };
    assert_eq!(s.matcher.sightings_retained(), 1);
    let r = send(
        &mut s,
        Role::Reviewer,
        5,
        20,
        Command::ReviewAlert {
            alert,
            confirm: false,
        },
    )
    .unwrap();
    assert!(r.contains(&Outcome::AlertRejected { alert }));
    assert_eq!(s.matcher.sightings_retained(), 0);
    assert!(matches!(
        send(
            &mut s,
            Role::Reviewer,
            5,
            30,
            Command::ReviewAlert {
                alert: AlertId(99),
                confirm: true
            }
        ),
        Err(ApiError::NotFound { .. })
    ));
    // A batch with one bad entry is refused whole, naming the entry and field.
    let mut bad = entry(12, 10 * HOUR);
    bad.embedding.truncate(DIM - 1);
    let err = send(
        &mut s,
        Role::Admin,
        1,
        40,
        Command::UpsertWatchlist {
            entries: vec![entry(11, 10 * HOUR), bad],
        },
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("entries[1].embedding")
            && err.to_string().contains("expected 64 numbers"),
        "{err}"
    );
    let mut no_basis = entry(13, 10 * HOUR);
    no_basis.legal_basis.clear();
    let err = send(
        &mut s,
        Role::Admin,
        1,
        40,
        Command::UpsertWatchlist {
            entries: vec![no_basis],
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("legal_basis"), "{err}");
    assert_eq!(
        s.matcher.active_entries(),
        1,
        "nothing of a refused batch is taken"
    );
    let err = send(&mut s, Role::Admin, 1, 40, policy(1.5, 2)).unwrap_err();
    assert!(err.to_string().contains("policy.threshold"), "{err}");
    assert_eq!(s.matcher.policy().1, 1);
}

/// The loop inside the stack: a confirmed alert becomes an incident and the nearest police
/// unit is dispatched — and nothing moves for an alert still waiting for its second reviewer.
#[test]
fn a_confirmed_alert_sends_the_nearest_police_and_only_police() {
    use baoan_api::{CommandDirectory, UnitClass, UnitEntry, UnitId};
    let mut s = stack();
    let unit = |id: u32, class: UnitClass, x: f64| UnitEntry {
        unit: UnitId(id),
        class,
        x_m: x,
        y_m: 200.0,
        grid: 10,
        on_duty: true,
    };
    let directory = CommandDirectory {
        grids: (0..20).map(|g| (g / 5, 0)).collect(),
        units: vec![
            unit(1, UnitClass::Police, 5_000.0),
            unit(2, UnitClass::Police, 300.0),
            unit(3, UnitClass::Volunteer, 100.0),
            unit(4, UnitClass::AuxiliaryPolice, 150.0),
        ],
        leaders: vec![],
        departments_wait: false,
        four_duties: false,
    };
    send(
        &mut s,
        Role::Admin,
        1,
        0,
        Command::LoadCommandDirectory { directory },
    )
    .unwrap();
    send(&mut s, Role::Admin, 1, 0, policy(0.6, 2)).unwrap();
    send(
        &mut s,
        Role::Admin,
        1,
        0,
        Command::UpsertWatchlist {
            entries: vec![entry(10, 10 * HOUR)],
        },
    )
    .unwrap();
    let out = send(
        &mut s,
        Role::Camera,
        900,
        1000,
        Command::SubmitSighting {
            sighting: sighting(1, 10, 900, 0.95),
        },
    )
    .unwrap();
    let Outcome::AlertRaised { alert, .. } = out[0] else {
        panic!("{out:?}")
    };
    let first = send(
        &mut s,
        Role::Reviewer,
        5,
        2000,
        Command::ReviewAlert {
            alert,
            confirm: true,
        },
    )
    .unwrap();
    assert!(
        !first
            .iter()
            .any(|o| matches!(o, Outcome::UnitDispatched { .. })),
        "a lead is not an action: {first:?}"
    );
    let second = send(
        &mut s,
        Role::Reviewer,
        6,
        3000,
        Command::ReviewAlert {
            alert,
            confirm: true,
        },
    )
    .unwrap();
    let dispatched: Vec<(UnitId, UnitClass)> = second
        .iter()
        .filter_map(|o| match o {
            Outcome::UnitDispatched { unit, class, .. } => Some((*unit, *class)),
            _ => None,
        })
        .collect();
    assert_eq!(
        dispatched,
        vec![(UnitId(2), UnitClass::Police)],
        "{second:?}"
    );
    assert!(second.iter().any(|o| matches!(o, Outcome::IncidentOpened { incident_ref, .. } if *incident_ref == baoan_api::matcher::LEAD_REF_BASE + alert.0)));
    assert!(s.lead_refusals().is_empty());
    // A client cannot open a lead itself: type 0 is refused from outside.
    let forged = send(
        &mut s,
        Role::Dispatcher,
        2,
        4000,
        Command::ReportIncident {
            incident_ref: 7,
            source: baoan_api::IncidentSource::Camera,
            emergency_type: baoan_api::matcher::WATCHLIST_LEAD,
            severity: baoan_api::Severity::IV,
            grid: 10,
            x_m: 0.0,
            y_m: 0.0,
            observed_at: 4000,
        },
    );
    assert!(
        matches!(forged, Err(ApiError::Invalid { .. })),
        "{forged:?}"
    );
}

#[derive(Debug, Clone)]
enum Op {
    Add {
        person: u64,
        hours: u64,
    },
    Remove {
        person: u64,
    },
    Sight {
        person: u64,
        quality: f32,
    },
    Review {
        pick: usize,
        reviewer: u32,
        confirm: bool,
    },
    Wait {
        minutes: u64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u64..12, 1u64..6).prop_map(|(person, hours)| Op::Add { person, hours }),
        (0u64..12).prop_map(|person| Op::Remove { person }),
        (0u64..24, 0.3f32..1.0).prop_map(|(person, quality)| Op::Sight { person, quality }),
        (0usize..50, 1u32..4, any::<bool>()).prop_map(|(pick, reviewer, confirm)| Op::Review {
            pick,
            reviewer,
            confirm
        }),
        (1u64..180).prop_map(|minutes| Op::Wait { minutes }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever happens: no sighting that matched nothing is kept; expired or removed entries
    /// never produce an alert; every call, search and alert is in the audit log.
    #[test]
    fn safeguards_hold_for_any_sequence(ops in prop::collection::vec(op(), 1..80)) {
        let mut s = stack();
        send(&mut s, Role::Admin, 1, 0, policy(0.55, 2)).unwrap();
        let mut now = 0u64;
        let mut live: std::collections::BTreeMap<u64, u64> = Default::default(); // person -> expiry
        let mut alerts: Vec<AlertId> = Vec::new();
        let mut calls = 1usize;
        for (k, op) in ops.into_iter().enumerate() {
            now += 1000;
            calls += 1;
            match op {
                Op::Add { person, hours } => {
                    send(&mut s, Role::Admin, 1, now, Command::UpsertWatchlist { entries: vec![entry(person, now + hours * HOUR)] }).unwrap();
                    live.insert(person, now + hours * HOUR);
                }
                Op::Remove { person } => {
                    // Unknown or already switched off: refused with NotFound, and still audited.
                    let r = send(&mut s, Role::Admin, 1, now, Command::RemoveWatchlistEntry { entry_ref: person, reason: "warrant withdrawn".into() });
                    if !live.contains_key(&person) {
                        prop_assert!(matches!(r, Err(ApiError::NotFound { .. })), "{:?}", r);
                    }
                    live.remove(&person);
                }
                Op::Sight { person, quality } => {
                    let out = send(&mut s, Role::Camera, 900, now, Command::SubmitSighting { sighting: sighting(k as u64 + 1, person, now, quality) }).unwrap();
                    match &out[0] {
                        Outcome::AlertRaised { alert, candidates, .. } => {
                            for c in candidates {
                                prop_assert!(live.get(&c.entry_ref).is_some_and(|&e| e > now),
                                    "entry {} matched while expired or removed", c.entry_ref);
                            }
                            alerts.push(*alert);
                        }
                        Outcome::SightingDiscarded { .. } => {}
                        other => prop_assert!(false, "unexpected {:?}", other),
                    }
                }
                Op::Review { pick, reviewer, confirm } => {
                    if let Some(&alert) = alerts.get(pick % alerts.len().max(1)) {
                        let _ = send(&mut s, Role::Reviewer, reviewer, now, Command::ReviewAlert { alert, confirm });
                    } else {
                        calls -= 1;
                    }
                }
                Op::Wait { minutes } => {
                    calls -= 1;
                    now += minutes * 60_000;
                    s.advance(now);
                }
            }
            let st = s.matcher.stats();
            prop_assert_eq!(st.searches, st.discarded + st.alerts);
            let kept = s.matcher.alerts().filter(|a| a.sighting.is_some()).count();
            prop_assert_eq!(s.matcher.sightings_retained(), kept);
            prop_assert_eq!(kept as u64, st.alerts - st.rejected, "only alerts not rejected keep a sighting");
        }
        let audit: Vec<_> = s.audit().entries().collect();
        prop_assert_eq!(audit.len(), calls);
        prop_assert_eq!(audit.iter().filter(|e| e.command == "submit_sighting").count() as u64, s.matcher.stats().searches);
        for a in &alerts {
            let needle = format!("alert {} raised", a.0);
            prop_assert!(audit.iter().any(|e| e.detail.as_deref().is_some_and(|d| d.contains(&needle))));
        }
    }
}

/// The use log a regulator asks for (EU AI Act, Article 12(3)): the period of use, the watchlist
/// and policy versions behind each alert, the sightings that matched, who verified each, nothing
/// kept of the rest; with the stack's reads of personal data by role. Only an auditor exports it.
#[test]
fn an_auditor_exports_the_matchers_use_log() {
    let mut s = stack();
    send(&mut s, Role::Admin, 1, 0, policy(0.5, 2)).unwrap();
    send(
        &mut s,
        Role::Admin,
        1,
        0,
        Command::UpsertWatchlist {
            entries: vec![entry(10, 10 * HOUR), entry(11, 10 * HOUR)],
        },
    )
    .unwrap();
    let raise = |s: &mut InProcessStack, r: u64, person: u64, at: u64| -> AlertId {
        let out = send(
            s,
            Role::Camera,
            900,
            at,
            Command::SubmitSighting {
                sighting: sighting(r, person, at, 0.95),
            },
        )
        .unwrap();
        match out[0] {
            Outcome::AlertRaised { alert, .. } => alert,
            ref o => panic!("{o:?}"),
        }
    };
    let review = |s: &mut InProcessStack, reviewer: u32, at: u64, alert: AlertId, confirm: bool| {
        send(
            s,
            Role::Reviewer,
            reviewer,
            at,
            Command::ReviewAlert { alert, confirm },
        )
    };
    let a = raise(&mut s, 1, 10, 100);
    let b = raise(&mut s, 2, 11, 200);
    // A stranger's face: answered and forgotten.
    send(
        &mut s,
        Role::Camera,
        900,
        300,
        Command::SubmitSighting {
            sighting: sighting(3, 77, 300, 0.95),
        },
    )
    .unwrap();
    review(&mut s, 5, 400, a, true).unwrap();
    review(&mut s, 6, 500, a, true).unwrap();
    review(&mut s, 5, 600, b, false).unwrap();
    // A second look by the same reviewer is refused, and counted as refused.
    assert!(review(&mut s, 5, 700, b, true).is_err());
    // Only an auditor exports it.
    assert!(matches!(
        send(&mut s, Role::Analyst, 8, 800, Command::ExportMatcherAudit),
        Err(ApiError::Forbidden { .. })
    ));
    let out = send(&mut s, Role::Auditor, 9, 900, Command::ExportMatcherAudit).unwrap();
    let [Outcome::MatcherAuditExported { audit }] = out.as_slice() else {
        panic!("{out:?}")
    };
    assert_eq!(
        (audit.first_search_at, audit.last_search_at),
        (Some(100), Some(300))
    );
    assert_eq!((audit.searches, audit.no_match), (3, 1));
    assert_eq!((audit.sightings_held, audit.non_matching_retained), (1, 0));
    assert_eq!((audit.watchlist_version, audit.policy_version), (1, 1));
    let states: Vec<(&str, bool)> = audit
        .alerts
        .iter()
        .map(|x| (x.state.as_str(), x.sighting_held))
        .collect();
    assert_eq!(states, [("confirmed", true), ("rejected", false)]);
    let first = &audit.alerts[0];
    assert_eq!(
        (first.sighting_ref, first.camera, first.raised_at),
        (1, 3, 100)
    );
    assert_eq!(first.entry_refs[0], 10);
    assert_eq!((first.watchlist_version, first.policy_version), (1, 1));
    let reviewers: Vec<(u32, bool, u64)> = first
        .reviews
        .iter()
        .map(|r| (r.reviewer.0, r.confirm, r.at))
        .collect();
    assert_eq!(reviewers, [(5, true, 400), (6, true, 500)]);
    let lookups: Vec<(&str, &str, u64, u64)> = audit
        .lookups
        .iter()
        .map(|l| (l.command.as_str(), l.role.as_str(), l.allowed, l.refused))
        .collect();
    assert_eq!(
        lookups,
        [
            ("review_alert", "reviewer", 3, 1),
            ("export_matcher_audit", "analyst", 0, 1)
        ]
    );
    // The export itself is in the stack's audit log.
    let last = s.audit().get(s.audit().len() - 1).unwrap();
    assert_eq!(last.command, "export_matcher_audit");
    assert!(last.detail.unwrap().contains("returned 2 alerts"));
}
