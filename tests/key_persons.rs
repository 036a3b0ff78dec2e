//! The key-persons loop end to end on the in-process stack: the report's section has the
//! figures its users read (`on_time`, `prevented`), its invariants hold, and the teams' time
//! changes the outcome — a team with almost no time for key persons falls behind.

use baoan_scenarios::Scenario;
use serde_json::Value;

mod common;
use common::{assert_invariants_hold, f, report_of};

/// A twentieth of the district for two weeks, key persons and command only.
fn scenario(doctor_time_share: f64) -> Scenario {
    let text = format!(
        "name = \"kp-test\"\nseed = 31\nduration = \"14d\"\ntick = \"10s\"\nscale = 0.05\n\
         [grid]\nenabled = false\n[matcher]\nenabled = false\n[blocks]\nenabled = false\n\
         [cases]\nenabled = false\n[key_persons]\nenabled = true\ndoctor_time_share = {doctor_time_share}\n"
    );
    Scenario::parse("kp-test.toml", &text).expect("a valid scenario")
}

fn run(doctor_time_share: f64) -> Value {
    report_of(scenario(doctor_time_share), "kp")
}

#[test]
fn the_section_reports_follow_ups_and_harm_prevented_and_its_invariants_hold() {
    let report = run(0.8);
    let s = &report["sections"]["key_persons"];
    let on_time = f(s, "/follow_ups/on_time");
    assert!(on_time > 0.5 && on_time <= 1.0, "{on_time}");
    assert!(f(s, "/follow_ups/done") > 100.0);
    let (occurred, counterfactual, prevented) = (
        f(s, "/incidents/occurred"),
        f(s, "/incidents/counterfactual"),
        f(s, "/incidents/prevented"),
    );
    assert!(counterfactual > 0.0, "the draws hold some harm");
    assert!(prevented <= counterfactual && occurred <= counterfactual + 1.0);
    assert!(f(s, "/access/probes/sent") > 0.0);
    assert_eq!(f(s, "/access/probes/answered"), 0.0);
    assert!(s["assumptions"].as_array().is_some_and(|a| a.len() >= 15));
    for tier in ["volunteer", "auxiliary_police", "police"] {
        assert!(s["acute_handoffs"]["from_occurrence"][tier]["share"].is_number());
    }
    assert_invariants_hold(&report);
}

#[test]
fn a_team_with_no_time_falls_behind() {
    let ample = f(&run(0.8)["sections"]["key_persons"], "/follow_ups/on_time");
    let starved = f(&run(0.05)["sections"]["key_persons"], "/follow_ups/on_time");
    assert!(
        starved < ample - 0.2,
        "doctors with 5% of their time: {starved}, with 80%: {ample}"
    );
}
