//! The loops as the district runs them, end to end on the in-process stack: video channels and
//! lookouts that detect, centres whose people take calls and send department units, duty
//! leaders, 1-3-5 timed from the moment an emergency happens, supervisors who act on escalated
//! tasks, and inspectors whose visits cost patrol time. Each is checked against its switched-off
//! twin: the behaviour must change what is measured.

use baoan_scenarios::Scenario;
use serde_json::Value;

mod common;
use common::{assert_invariants_hold, f, report_of};

/// A twentieth of the district for `duration`, grid and command (and the block data's visits)
/// only, with `extra` TOML appended.
fn scenario(duration: &str, extra: &str) -> Scenario {
    let text = format!(
        "name = \"practice-test\"\nseed = 7\nduration = \"{duration}\"\ntick = \"1s\"\nscale = 0.05\n\
         [matcher]\nenabled = false\n[cases]\nenabled = false\n[blocks]\ncoverage = 0.2\n{extra}"
    );
    Scenario::parse("practice-test.toml", &text).expect("a valid scenario")
}

fn run(duration: &str, extra: &str) -> Value {
    let report = report_of(scenario(duration, extra), "practice");
    assert_invariants_hold(&report);
    report
}

#[test]
fn video_finds_items_sooner_and_lookouts_see_fires_before_callers() {
    let on = run("24h", "[command]\nincidents_per_day = 4000.0\n");
    let off = run(
        "24h",
        "[command]\nincidents_per_day = 4000.0\n[video]\nenabled = false\n",
    );
    let (g_on, g_off) = (&on["sections"]["grid"], &off["sections"]["grid"]);
    let video = &g_on["by_source"]["video"];
    assert!(f(video, "/first_reports") > 10.0, "{video}");
    assert!(f(video, "/items_in_view") >= f(video, "/reports_sent"));
    assert!(f(video, "/detection_s/p50_s") < f(g_on, "/by_source/inspector/detection_s/p50_s"));
    assert!(
        f(video, "/gain_s/count") + f(video, "/found_only_by_video") >= f(video, "/first_reports")
    );
    assert_eq!(f(g_off, "/by_source/video/first_reports"), 0.0);
    assert_eq!(f(g_off, "/by_source/video/items_in_view"), 0.0);
    // What video adds: fewer items never reported, found sooner.
    assert!(f(g_on, "/figures/grid.unreported_share") < f(g_off, "/figures/grid.unreported_share"));
    assert!(
        f(g_on, "/latency/grid.detection_s/mean_s") < f(g_off, "/latency/grid.detection_s/mean_s")
    );
    let look = &on["sections"]["command"]["lookouts"];
    assert!(f(look, "/in_view") > 0.0, "{look}");
    assert!(f(look, "/first_seen_by_lookout") <= f(look, "/in_view"));
    assert_eq!(
        f(look, "/lookout_lead_s/count"),
        f(look, "/calls_after_lookout")
    );
    assert_eq!(
        f(
            &off["sections"]["command"],
            "/lookouts/first_seen_by_lookout"
        ),
        0.0
    );
}

#[test]
fn centres_take_time_to_enter_calls_and_one_to_five_is_later_from_the_occurrence() {
    let on = run("12h", "[command]\nincidents_per_day = 4000.0\n");
    let off = run(
        "12h",
        "[command]\nincidents_per_day = 4000.0\n[command.centres]\nenabled = false\n",
    );
    let (c_on, c_off) = (&on["sections"]["command"], &off["sections"]["command"]);
    let c2d = "/latency/command.call_to_dispatch_s";
    assert!(
        f(c_on, &format!("{c2d}/p50_s")) > 10.0,
        "{}",
        c_on["latency"]
    );
    assert_eq!(f(c_off, &format!("{c2d}/max_s")), 0.0);
    assert!(f(c_on, "/latency/command.dispatcher_wait_s/count") > 0.0);
    assert_eq!(f(c_off, "/latency/command.dispatcher_wait_s/count"), 0.0);
    for (i, tier) in c_on["tiers"].as_array().expect("tiers").iter().enumerate() {
        let from_call = f(tier, "/p50_s");
        let from_occurrence = f(tier, "/from_occurrence/p50_s");
        assert!(from_occurrence >= from_call, "tier {i}: {tier}");
        assert!(
            f(tier, "/from_occurrence/within_limit_share") <= f(tier, "/within_limit_share"),
            "tier {i}: {tier}"
        );
    }
    // Taking the call costs the one-minute tier.
    assert!(
        f(c_on, "/tiers/0/within_limit_share") < f(c_off, "/tiers/0/within_limit_share"),
        "on {} off {}",
        c_on["tiers"][0],
        c_off["tiers"][0]
    );
    assert_eq!(
        c_on["by_hour_from_occurrence"].as_array().map(Vec::len),
        Some(24)
    );
}

#[test]
fn a_call_surge_makes_a_queue_at_the_call_takers() {
    let calm = run("6h", "[command]\nincidents_per_day = 2000.0\n");
    let surge = run(
        "6h",
        "[command]\nincidents_per_day = 2000.0\n\
         [[surge]]\nloop = \"command\"\nstart = \"01:00\"\nend = \"05:00\"\nmultiplier = 30.0\n",
    );
    let answer = "/sections/command/latency/command.call_answer_s/p90_s";
    assert!(
        f(&surge, answer) > f(&calm, answer) + 10.0,
        "calm {} surge {}",
        f(&calm, answer),
        f(&surge, answer)
    );
}

#[test]
fn supervisors_move_escalated_tasks_and_visits_cost_the_patrol() {
    // Few resolvers, so tasks run past their deadlines and escalate.
    let stressed = "[grid]\nresolver_staffing = 0.3\nitems_per_grid_per_day = 12.0\n";
    let on = run("72h", stressed);
    let off = run(
        "72h",
        &format!(
            "{stressed}[grid.supervision]\nenabled = false\n[grid.patrol]\nvisits_take_patrol = false\n"
        ),
    );
    let (g_on, g_off) = (&on["sections"]["grid"], &off["sections"]["grid"]);
    let acted = f(g_on, "/supervision/reassigned") + f(g_on, "/supervision/kept_with_resolver");
    assert!(
        acted > 0.0 && f(g_on, "/supervision/reassigned") > 0.0,
        "{}",
        g_on["supervision"]
    );
    assert_eq!(
        f(g_off, "/supervision/reassigned") + f(g_off, "/supervision/kept_with_resolver"),
        0.0
    );
    let ins = &g_on["inspectors"];
    assert!(f(ins, "/sweeps_lost_to_visits") > 0.0, "{ins}");
    assert!(f(ins, "/visit_share_of_shift") > 0.0 && f(ins, "/visit_share_of_shift") < 1.0);
    assert!(f(ins, "/visits/grid_verification") > 0.0 && f(ins, "/visits/block_data") > 0.0);
    assert_eq!(f(g_off, "/inspectors/sweeps_lost_to_visits"), 0.0);
    // Patrol time lost to visits is detection lost.
    assert!(
        f(g_on, "/figures/grid.unreported_share") > f(g_off, "/figures/grid.unreported_share"),
        "on {} off {}",
        g_on["figures"],
        g_off["figures"]
    );
}

#[test]
fn a_bad_new_field_is_named_with_its_place() {
    let text = "name = \"t\"\nduration = \"1h\"\n[video]\nautomated_share = 1.5\n\
                [command.centres]\ncall_takers_day = 0\n";
    let err = Scenario::parse("bad.toml", text)
        .expect_err("out of range")
        .to_string();
    assert!(
        err.contains("bad.toml:4:") && err.contains("video.automated_share"),
        "{err}"
    );
    assert!(
        err.contains("bad.toml:6:") && err.contains("command.centres.call_takers_day"),
        "{err}"
    );
}
