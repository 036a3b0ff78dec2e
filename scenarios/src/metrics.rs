//! The metrics a scenario's SLOs may name, and the statistics each one offers.

/// How a metric is recorded, which decides the statistics an SLO may ask of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// A latency distribution in seconds (HDR histogram): quantiles, mean, min, max, count.
    Seconds,
    /// A single figure for the run (a share, a count): `value`.
    Figure,
    /// A series over time (backlog): max, mean, last.
    Series,
}

pub struct MetricDef {
    pub name: &'static str,
    pub kind: MetricKind,
    pub about: &'static str,
}

pub const METRICS: &[MetricDef] = &[
    MetricDef {
        name: "grid.detection_s",
        kind: MetricKind::Seconds,
        about: "an item occurred -> first reported (inspector or hotline)",
    },
    MetricDef {
        name: "grid.inspector.detection_s",
        kind: MetricKind::Seconds,
        about: "an item occurred -> first reported, for items the grid's inspector reported first",
    },
    MetricDef {
        name: "grid.hotline.detection_s",
        kind: MetricKind::Seconds,
        about: "an item occurred -> first reported, for items a resident's hotline call reported first",
    },
    MetricDef {
        name: "grid.video.detection_s",
        kind: MetricKind::Seconds,
        about: "an item occurred -> first reported, for items the video network (automated detection or video patrol) reported first",
    },
    MetricDef {
        name: "grid.video.gain_s",
        kind: MetricKind::Seconds,
        about: "for items video reported first: how much sooner than the inspector's sweep or a resident's call would have",
    },
    MetricDef {
        name: "grid.report_to_dispatch_s",
        kind: MetricKind::Seconds,
        about: "report sent -> task dispatched to a resolver",
    },
    MetricDef {
        name: "grid.dispatch_to_accept_s",
        kind: MetricKind::Seconds,
        about: "dispatched -> accepted by the resolver",
    },
    MetricDef {
        name: "grid.accept_to_resolve_s",
        kind: MetricKind::Seconds,
        about: "accepted -> resolved on site",
    },
    MetricDef {
        name: "grid.resolve_to_verify_s",
        kind: MetricKind::Seconds,
        about: "resolved -> verified by an inspector",
    },
    MetricDef {
        name: "grid.report_to_closed_s",
        kind: MetricKind::Seconds,
        about: "report sent -> task closed, all item types",
    },
    MetricDef {
        name: "grid.urgent.report_to_closed_s",
        kind: MetricKind::Seconds,
        about: "report -> closed, urgent item types",
    },
    MetricDef {
        name: "grid.high.report_to_closed_s",
        kind: MetricKind::Seconds,
        about: "report -> closed, high-urgency item types",
    },
    MetricDef {
        name: "grid.normal.report_to_closed_s",
        kind: MetricKind::Seconds,
        about: "report -> closed, normal item types",
    },
    MetricDef {
        name: "grid.low.report_to_closed_s",
        kind: MetricKind::Seconds,
        about: "report -> closed, low-urgency item types",
    },
    MetricDef {
        name: "grid.occurred_to_closed_s",
        kind: MetricKind::Seconds,
        about: "an item occurred -> its task closed (the resident's view)",
    },
    MetricDef {
        name: "grid.closed_share",
        kind: MetricKind::Figure,
        about: "tasks closed / tasks created",
    },
    MetricDef {
        name: "grid.overdue_share",
        kind: MetricKind::Figure,
        about: "tasks closed late or open past their deadline / tasks with a deadline passed or closed",
    },
    MetricDef {
        name: "grid.escalated_share",
        kind: MetricKind::Figure,
        about: "tasks escalated / tasks created",
    },
    MetricDef {
        name: "grid.rework_share",
        kind: MetricKind::Figure,
        about: "verifications that failed / verifications",
    },
    MetricDef {
        name: "grid.hotline_first_share",
        kind: MetricKind::Figure,
        about: "reported items that a resident reported before the inspector did",
    },
    MetricDef {
        name: "grid.unreported_share",
        kind: MetricKind::Figure,
        about: "items that occurred and were not reported by the end of the run",
    },
    MetricDef {
        name: "grid.rejected",
        kind: MetricKind::Figure,
        about: "commands the stack refused",
    },
    MetricDef {
        name: "grid.backlog_open",
        kind: MetricKind::Series,
        about: "open tasks over time",
    },
    MetricDef {
        name: "command.call_to_dispatch_s",
        kind: MetricKind::Seconds,
        about: "call received -> first unit dispatched",
    },
    MetricDef {
        name: "command.call_answer_s",
        kind: MetricKind::Seconds,
        about: "a call is made -> a call-taker at the district centre answers it",
    },
    MetricDef {
        name: "command.call_to_entry_s",
        kind: MetricKind::Seconds,
        about: "first report (call or lookout) -> the lead centre's dispatcher has entered it",
    },
    MetricDef {
        name: "command.leader_wait_s",
        kind: MetricKind::Seconds,
        about: "a level I/II incident's department units held -> a duty leader takes command",
    },
    MetricDef {
        name: "command.dispatcher_wait_s",
        kind: MetricKind::Seconds,
        about: "a level III/IV incident's department units held -> the lead centre's dispatcher sends them",
    },
    MetricDef {
        name: "command.lookout_lead_s",
        kind: MetricKind::Seconds,
        about: "a lookout raised an incident -> the caller's call, for incidents a lookout saw first",
    },
    MetricDef {
        name: "command.from_occurrence.volunteer.arrival_s",
        kind: MetricKind::Seconds,
        about: "the emergency happens -> first volunteer on scene",
    },
    MetricDef {
        name: "command.from_occurrence.auxiliary_police.arrival_s",
        kind: MetricKind::Seconds,
        about: "the emergency happens -> first auxiliary police on scene",
    },
    MetricDef {
        name: "command.from_occurrence.police.arrival_s",
        kind: MetricKind::Seconds,
        about: "the emergency happens -> first police on scene",
    },
    MetricDef {
        name: "command.fire_first_response_s",
        kind: MetricKind::Seconds,
        about: "a fire happens -> the first unit of any class on scene",
    },
    MetricDef {
        name: "command.volunteer.arrival_s",
        kind: MetricKind::Seconds,
        about: "call -> first volunteer on scene",
    },
    MetricDef {
        name: "command.auxiliary_police.arrival_s",
        kind: MetricKind::Seconds,
        about: "call -> first auxiliary police on scene",
    },
    MetricDef {
        name: "command.police.arrival_s",
        kind: MetricKind::Seconds,
        about: "call -> first police on scene",
    },
    MetricDef {
        name: "command.fire.arrival_s",
        kind: MetricKind::Seconds,
        about: "call -> first fire crew on scene",
    },
    MetricDef {
        name: "command.medical.arrival_s",
        kind: MetricKind::Seconds,
        about: "call -> first ambulance on scene",
    },
    MetricDef {
        name: "command.volunteer.within_limit_share",
        kind: MetricKind::Figure,
        about: "incidents with a volunteer on scene within 1 minute of the call",
    },
    MetricDef {
        name: "command.auxiliary_police.within_limit_share",
        kind: MetricKind::Figure,
        about: "incidents with auxiliary police on scene within 3 minutes",
    },
    MetricDef {
        name: "command.police.within_limit_share",
        kind: MetricKind::Figure,
        about: "incidents with police on scene within 5 minutes",
    },
    MetricDef {
        name: "command.key_area.volunteer.within_limit_share",
        kind: MetricKind::Figure,
        about: "as above, incidents in key areas",
    },
    MetricDef {
        name: "command.key_area.auxiliary_police.within_limit_share",
        kind: MetricKind::Figure,
        about: "as above, incidents in key areas",
    },
    MetricDef {
        name: "command.key_area.police.within_limit_share",
        kind: MetricKind::Figure,
        about: "as above, incidents in key areas",
    },
    MetricDef {
        name: "command.from_occurrence.volunteer.within_limit_share",
        kind: MetricKind::Figure,
        about: "incidents with a volunteer on scene within the tier's limit of the moment it happened",
    },
    MetricDef {
        name: "command.from_occurrence.key_area.volunteer.within_limit_share",
        kind: MetricKind::Figure,
        about: "the same, at key areas",
    },
    MetricDef {
        name: "command.from_occurrence.auxiliary_police.within_limit_share",
        kind: MetricKind::Figure,
        about: "incidents with a auxiliary police on scene within the tier's limit of the moment it happened",
    },
    MetricDef {
        name: "command.from_occurrence.key_area.auxiliary_police.within_limit_share",
        kind: MetricKind::Figure,
        about: "the same, at key areas",
    },
    MetricDef {
        name: "command.from_occurrence.police.within_limit_share",
        kind: MetricKind::Figure,
        about: "incidents with a police on scene within the tier's limit of the moment it happened",
    },
    MetricDef {
        name: "command.from_occurrence.key_area.police.within_limit_share",
        kind: MetricKind::Figure,
        about: "the same, at key areas",
    },
    MetricDef {
        name: "command.lookout_first_share",
        kind: MetricKind::Figure,
        about: "of emergencies a lookout can see, the share a lookout raised before any caller",
    },
    MetricDef {
        name: "command.all_tiers_within_limit_share",
        kind: MetricKind::Figure,
        about: "incidents where all three tiers made the 1-3-5 limits",
    },
    MetricDef {
        name: "command.escalated_share",
        kind: MetricKind::Figure,
        about: "incidents escalated to a higher centre",
    },
    MetricDef {
        name: "command.waited_share",
        kind: MetricKind::Figure,
        about: "incidents that waited for a free unit",
    },
    MetricDef {
        name: "command.closed_share",
        kind: MetricKind::Figure,
        about: "incidents closed / incidents taken on",
    },
    MetricDef {
        name: "command.rejected",
        kind: MetricKind::Figure,
        about: "command-loop commands the stack refused",
    },
    MetricDef {
        name: "matcher.sighting_to_alert_s",
        kind: MetricKind::Seconds,
        about: "a face captured -> the stack's alert (capture pipeline and search)",
    },
    MetricDef {
        name: "matcher.review_wait_s",
        kind: MetricKind::Seconds,
        about: "an alert queued for review -> a reviewer takes it",
    },
    MetricDef {
        name: "matcher.alert_to_confirmed_s",
        kind: MetricKind::Seconds,
        about: "alert raised -> the last required reviewer confirms it",
    },
    MetricDef {
        name: "matcher.confirmed_to_arrival_s",
        kind: MetricKind::Seconds,
        about: "alert confirmed -> first police officer at the camera",
    },
    MetricDef {
        name: "matcher.alert_to_arrival_s",
        kind: MetricKind::Seconds,
        about: "alert raised -> first police officer at the camera",
    },
    MetricDef {
        name: "matcher.fpir",
        kind: MetricKind::Figure,
        about: "non-mated searches that raised an alert, at the operator's threshold",
    },
    MetricDef {
        name: "matcher.fnir",
        kind: MetricKind::Figure,
        about: "mated searches whose alert did not name the person, at the threshold",
    },
    MetricDef {
        name: "matcher.false_alerts_per_day",
        kind: MetricKind::Figure,
        about: "alerts on the wrong person a day at the district's full volume",
    },
    MetricDef {
        name: "blocks.arrival_to_view_s",
        kind: MetricKind::Seconds,
        about: "a department's record reached the platform -> it shows in the block view",
    },
    MetricDef {
        name: "blocks.conflict_to_resolved_s",
        kind: MetricKind::Seconds,
        about: "a conflict raised -> an inspector's finding resolved it (time to consistency)",
    },
    MetricDef {
        name: "blocks.person_f1",
        kind: MetricKind::Figure,
        about: "pairwise F1 of the platform's people against the truth",
    },
    MetricDef {
        name: "blocks.company_f1",
        kind: MetricKind::Figure,
        about: "pairwise F1 of the platform's companies against the truth",
    },
    MetricDef {
        name: "blocks.address_accuracy",
        kind: MetricKind::Figure,
        about: "records placed in a room that are placed in the right one",
    },
    MetricDef {
        name: "blocks.rejected",
        kind: MetricKind::Figure,
        about: "block-data commands the stack refused",
    },
    MetricDef {
        name: "matcher.rejected",
        kind: MetricKind::Figure,
        about: "matcher-loop commands the stack refused",
    },
    MetricDef {
        name: "cases.first_action_s",
        kind: MetricKind::Seconds,
        about: "a dispute case opened -> the first agency's action on it",
    },
    MetricDef {
        name: "cases.high_risk_on_time",
        kind: MetricKind::Figure,
        about: "share of high and acute cases (due in the run) with every required action on time",
    },
    MetricDef {
        name: "cases.escalations_occurred",
        kind: MetricKind::Figure,
        about: "disputes that turned violent during the run",
    },
    MetricDef {
        name: "cases.escalations_prevented",
        kind: MetricKind::Figure,
        about: "disputes that would have turned violent without the agencies' actions and did not",
    },
    MetricDef {
        name: "cases.credit_propagation_s",
        kind: MetricKind::Seconds,
        about: "a credit record made -> the last linked entity's last receiving body applied it",
    },
    MetricDef {
        name: "cases.registration_flag_precision",
        kind: MetricKind::Figure,
        about: "flagged registrations (by rule) that were false, shell or misused",
    },
    MetricDef {
        name: "cases.registration_flag_recall",
        kind: MetricKind::Figure,
        about: "false, shell and misused registrations that were flagged",
    },
    MetricDef {
        name: "cases.care_visits_on_time",
        kind: MetricKind::Figure,
        about: "share of care follow-up visits made by their due time",
    },
    MetricDef {
        name: "cases.rejected",
        kind: MetricKind::Figure,
        about: "cases-loop commands the stack refused",
    },
    MetricDef {
        name: "key_persons.on_time",
        kind: MetricKind::Figure,
        about: "share of key-person follow-ups made by their due date, of those done or fallen due in the run",
    },
    MetricDef {
        name: "key_persons.incidents_occurred",
        kind: MetricKind::Figure,
        about: "harm by key persons (肇事肇祸) that happened in the run",
    },
    MetricDef {
        name: "key_persons.prevented",
        kind: MetricKind::Figure,
        about: "harm that would have happened with nobody acting, on the same draws, and did not",
    },
    MetricDef {
        name: "key_persons.prevented_share",
        kind: MetricKind::Figure,
        about: "prevented / harm that would have happened with nobody acting",
    },
    MetricDef {
        name: "key_persons.onset_to_detection_s",
        kind: MetricKind::Seconds,
        about: "an episode began (warning signs) -> a follow-up found it",
    },
    MetricDef {
        name: "key_persons.handoff_police_s",
        kind: MetricKind::Seconds,
        about: "a key person's crisis occurred -> first police unit on scene",
    },
    MetricDef {
        name: "key_persons.utilisation",
        kind: MetricKind::Figure,
        about: "share of the doctors' and social workers' key-person time spent on visits",
    },
    MetricDef {
        name: "key_persons.probes_answered",
        kind: MetricKind::Figure,
        about: "out-of-team look-ups the stack answered (must be 0)",
    },
    MetricDef {
        name: "key_persons.rejected",
        kind: MetricKind::Figure,
        about: "key-persons commands the stack refused, out-of-team probes aside",
    },
    MetricDef {
        name: "faults.calls_held",
        kind: MetricKind::Figure,
        about: "calls the scenario's faults held back at least once",
    },
    MetricDef {
        name: "faults.pending_at_end",
        kind: MetricKind::Figure,
        about: "held calls still waiting when the run ended",
    },
    MetricDef {
        name: "faults.delay_max_s",
        kind: MetricKind::Figure,
        about: "the longest a held call waited before reaching the stack",
    },
];

pub fn metric(name: &str) -> Option<&'static MetricDef> {
    METRICS.iter().find(|m| m.name == name)
}

/// Statistics an SLO can take of a metric kind.
pub fn stats_for(kind: MetricKind) -> &'static [&'static str] {
    match kind {
        MetricKind::Seconds => &[
            "p50", "p90", "p95", "p99", "p999", "mean", "min", "max", "count",
        ],
        MetricKind::Figure => &["value"],
        MetricKind::Series => &["max", "mean", "last"],
    }
}
