//! The work rules: how often a person is followed up, when a case is escalated, how long a drug
//! term runs. Each number says where it comes from; "assumed" where no text fixes it.

use baoan_api::key_persons::Category;
use baoan_api::{EscalationLevel, Millis};

pub const HOUR_MS: Millis = 3_600_000;
pub const DAY_MS: Millis = 24 * HOUR_MS;

/// Grades 1–5 are followed up within two weeks (规范 2018, 分类干预: "2周内随访" for the
/// unstable, grades 3–5; "2周时随访" for the basically stable, grades 1–2).
pub const UNSTABLE_FOLLOW_UP_DAYS: u64 = 14;
/// Grade 0, stable: "3个月时随访" (规范 2018).
pub const STABLE_FOLLOW_UP_DAYS: u64 = 90;
/// Drug treatment and rehabilitation: a urine test every month in the first year, every two
/// months in the second, every three in the third. Source: one county's published practice
/// (Xianyou, Fujian, 2012); national practice varies by province — an assumption here.
pub const DRUG_TEST_DAYS_BY_YEAR: [u64; 3] = [30, 60, 90];
/// Community drug treatment lasts three years (《禁毒法》 art. 33); community rehabilitation at
/// most three (《戒毒条例》 art. 37) — the twin gives both the full three.
pub const DRUG_TERM_DAYS: u64 = 3 * 365;
/// Evading or refusing tests this many times is a serious breach (《戒毒条例》 art. 19).
pub const REFUSED_TESTS_BREACH: u8 = 3;
/// A warning sign brings the next follow-up forward to within this many days. Assumed: the
/// specification asks for a prompt visit without fixing a time.
pub const WARNING_FOLLOW_UP_DAYS: u64 = 2;
/// A care lead from a sighting brings the next follow-up forward from this grade; at grade 0
/// (stable) it is noted for the team only — being seen in public is no warning sign. Assumed.
pub const LEAD_FORWARD_FROM_RISK: u8 = 1;
/// After a crisis the person is followed up within two weeks (as for grades 3–5).
pub const AFTER_CRISIS_DAYS: u64 = UNSTABLE_FOLLOW_UP_DAYS;
/// An overdue follow-up goes to the street at once, and to the district a week later. Assumed
/// (the specification sets no supervision clock).
pub const DISTRICT_AFTER_OVERDUE_DAYS: u64 = 7;
/// From this grade the police are told and join the follow-ups (规范 2018: "必要时报告当地公安部门
/// … 在精神专科医师、居委会人员、民警的共同协助下" for grades 3–5).
pub const POLICE_FROM_RISK: u8 = 3;

/// A follow-up due `days` after `now` is due by the end of that day (a due date, not a moment).
pub fn due_after(now: Millis, days: u64) -> Millis {
    (now / DAY_MS + days + 1) * DAY_MS - 1
}

/// Days to the next follow-up for a person of `category` at grade `risk`, `months_in` months
/// into management.
pub fn follow_up_days(category: Category, risk: u8, months_in: u32) -> u64 {
    if category.drugs() {
        if risk >= POLICE_FROM_RISK {
            return UNSTABLE_FOLLOW_UP_DAYS;
        }
        let year = (months_in / 12).min(2) as usize;
        return DRUG_TEST_DAYS_BY_YEAR[year];
    }
    if risk == 0 {
        STABLE_FOLLOW_UP_DAYS
    } else {
        UNSTABLE_FOLLOW_UP_DAYS
    }
}

/// The supervision a grade calls for: the street for 3–4, the district for 5 (assumed, after the
/// cases module's levels: the worse the risk, the higher the supervisor).
pub fn supervision(risk: u8) -> Option<EscalationLevel> {
    match risk {
        0..=2 => None,
        3 | 4 => Some(EscalationLevel::Street),
        _ => Some(EscalationLevel::District),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_follow_the_specification_and_the_drug_years() {
        let m = Category::SevereMentalDisorder;
        assert_eq!(follow_up_days(m, 0, 0), 90);
        assert_eq!(follow_up_days(m, 2, 0), 14);
        assert_eq!(follow_up_days(m, 5, 0), 14);
        let d = Category::CommunityDrugTreatment;
        assert_eq!(follow_up_days(d, 0, 0), 30);
        assert_eq!(follow_up_days(d, 0, 13), 60);
        assert_eq!(follow_up_days(d, 0, 30), 90);
        assert_eq!(follow_up_days(d, 0, 99), 90);
        assert_eq!(follow_up_days(d, 3, 30), 14);
        assert_eq!(due_after(DAY_MS + 5, 14), 16 * DAY_MS - 1);
        assert_eq!(supervision(2), None);
        assert_eq!(supervision(4), Some(EscalationLevel::Street));
        assert_eq!(supervision(5), Some(EscalationLevel::District));
    }
}
