//! Automatic assessment and rating of inspectors and resolvers from what the platform knows.

use baoan_api::{Assessment, Millis, PersonId, Rating};

use crate::{GridService, Tally};

fn grade(score: f64) -> char {
    match score {
        s if s >= 90.0 => 'A',
        s if s >= 75.0 => 'B',
        s if s >= 60.0 => 'C',
        _ => 'D',
    }
}

fn share(part: u32, whole: u32) -> f64 {
    if whole == 0 {
        1.0
    } else {
        part as f64 / whole as f64
    }
}

impl GridService {
    /// Inspectors are judged on timely verification and on how much of their grid they found
    /// before residents had to call; resolvers on timeliness and on how often their work was
    /// sent back. Both are scored 0-100 and graded A-D.
    pub fn assessment(&self, _now: Millis) -> Assessment {
        let Some(dir) = &self.dir else {
            return Assessment::default();
        };
        let empty = Tally::default();
        let tally = |p: &PersonId| self.tallies.get(p).unwrap_or(&empty);
        let mut inspectors: Vec<Rating> = dir
            .raw
            .grids
            .iter()
            .map(|g| {
                let t = tally(&g.inspector);
                let verified_on_time =
                    share(t.verifications - t.verifications_late, t.verifications);
                let found_first = share(t.handled, t.handled + t.misses);
                // Of the inspector's own on-spot fixes judged, the share sent back.
                let rework = rework_of(t);
                let score = 100.0 * (0.5 * verified_on_time + 0.5 * found_first);
                Rating {
                    person: g.inspector,
                    score,
                    grade: grade(score),
                    handled: t.handled,
                    on_time_share: verified_on_time,
                    rework_share: rework,
                    misses: t.misses,
                }
            })
            .collect();
        let mut resolvers: Vec<Rating> = dir
            .raw
            .resolvers
            .iter()
            .map(|r| {
                let t = tally(&r.person);
                let on_time = share(t.on_time, t.judged);
                let rework = rework_of(t);
                let score = 100.0 * (0.6 * on_time + 0.4 * (1.0 - rework));
                Rating {
                    person: r.person,
                    score,
                    grade: grade(score),
                    handled: t.handled,
                    on_time_share: on_time,
                    rework_share: rework,
                    misses: 0,
                }
            })
            .collect();
        inspectors.sort_by_key(|r| r.person);
        resolvers.sort_by_key(|r| r.person);
        Assessment {
            inspectors,
            resolvers,
        }
    }
}

/// Of a person's fixes judged at verification, the share that failed and went back for rework.
fn rework_of(t: &Tally) -> f64 {
    if t.judged + t.reworks == 0 {
        0.0
    } else {
        t.reworks as f64 / (t.judged + t.reworks) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grades_follow_the_score_bands() {
        assert_eq!(grade(95.0), 'A');
        assert_eq!(grade(75.0), 'B');
        assert_eq!(grade(74.9), 'C');
        assert_eq!(grade(10.0), 'D');
    }

    #[test]
    fn rework_is_the_share_of_fixes_sent_back_not_of_verifications_late() {
        // An inspector who verified everything late but whose own fixes all held.
        let late = Tally {
            verifications: 4,
            verifications_late: 4,
            judged: 2,
            ..Tally::default()
        };
        assert_eq!(rework_of(&late), 0.0);
        let sent_back = Tally {
            judged: 3,
            reworks: 1,
            ..Tally::default()
        };
        assert_eq!(rework_of(&sent_back), 0.25);
    }

    #[test]
    fn nothing_to_judge_counts_as_full_marks() {
        assert_eq!(share(0, 0), 1.0);
        assert_eq!(share(1, 4), 0.25);
    }
}
