//! The loop registry: every closed loop the twin runs, defined once (its name, the stack module
//! it drives, the `client_ref` tags it may use, its plugin, its end-of-run report), in the
//! order the kernel runs their systems in every stage of a tick and the report lists them.
//!
//! Adding a loop is: a folder under `agents/src/` with its plugin and its `finish`, one
//! `LoopDef` for it, a line in `LOOPS` and a tag range in `TAGS` (see ARCHITECTURE.md).

use baoan_api::Module;
use baoan_scenarios::{Problem, Scenario};
use baoan_world::Twin;
use bevy_app::App;
use bevy_ecs::world::World;

use crate::LoopOutcome;
use crate::command::{CommandConfig, Placement};

/// What a loop's plugin is built from: the scenario, the district, and the inputs the run
/// prepared before the app (the command loop's settings with a planner's posts, and where the
/// posts, stations and key areas are — other loops site their cameras by them).
#[derive(Clone, Copy)]
pub struct LoopContext<'a> {
    pub scenario: &'a Scenario,
    pub twin: &'a Twin,
    /// The command loop's settings, checked; `None` when the scenario turns command off.
    pub command: Option<&'a CommandConfig>,
    /// Where the posts, stations and key areas are; `None` when command is off.
    pub placement: Option<&'a Placement>,
}

/// One closed loop of the twin.
pub trait LoopDef: Sync {
    /// The loop's name: its report section, its system sets in the kernel, its journal.
    fn name(&self) -> &'static str;
    /// The stack module the loop's commands go to.
    fn module(&self) -> Module;
    /// The `client_ref` tags its calls carry (the top byte), handed out in `TAGS`.
    fn tags(&self) -> &'static [TagRange];
    /// Whether the scenario runs the loop.
    fn enabled(&self, ctx: &LoopContext) -> bool;
    /// Adds the loop's plugin to the app, with its systems in its own `LoopSet`s.
    fn install(&self, app: &mut App, ctx: &LoopContext) -> Result<(), Vec<Problem>>;
    /// After the run: the loop's report section, its part of index.html, its invariants and its
    /// metrics. Reads only the loop's own resources.
    fn finish(&self, world: &mut World, scenario: &Scenario) -> LoopOutcome;
}

/// Every loop, in the order its systems run within each stage of a tick and its section is
/// listed in the report. The grid loop runs in every scenario; the others when enabled.
pub static LOOPS: [&dyn LoopDef; 6] = [
    &crate::grid::Definition,
    &crate::command::Definition,
    &crate::cameras::Definition,
    &crate::blocks::Definition,
    &crate::cases::Definition,
    &crate::key_persons::Definition,
];

/// The loops' names in kernel order, for `KernelPlugin::loops`.
pub fn loop_names() -> Vec<&'static str> {
    LOOPS.iter().map(|l| l.name()).collect()
}

/// The registered loop named `name`.
pub fn find(name: &str) -> Option<&'static dyn LoopDef> {
    LOOPS.iter().copied().find(|l| l.name() == name)
}

/// Bits of a `client_ref` that say which loop (and which kind of its calls) it belongs to: the
/// top byte. The rest is the loop's own reference (an item, a sighting, a case).
pub const TAG_SHIFT: u32 = 56;
pub const TAG_MASK: u64 = 0xFF << TAG_SHIFT;

/// A run of top-byte values a loop may use for its `client_ref`s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TagRange {
    pub first: u8,
    pub count: u8,
}

impl TagRange {
    /// The loop's `k`-th tag, as the top byte of a `client_ref`; out of the range fails to
    /// compile where used in a constant.
    pub const fn tag(self, k: u8) -> u64 {
        assert!(k < self.count, "tag outside the loop's range");
        ((self.first + k) as u64) << TAG_SHIFT
    }

    /// Whether `client_ref` carries one of this range's tags.
    pub const fn holds(self, client_ref: u64) -> bool {
        let top = (client_ref >> TAG_SHIFT) as u8;
        top >= self.first && top - self.first < self.count
    }
}

/// The tag of a `client_ref` (its top byte, in place).
pub const fn tag_of(client_ref: u64) -> u64 {
    client_ref & TAG_MASK
}

/// The tag ranges, handed out here and only here: a new loop takes a free range. Their values
/// are in every journal (`client_ref`), so a range once given keeps its place.
pub mod tags {
    use super::TagRange;

    /// Inspectors' reports and the grid's task calls carry the item or task id untagged.
    pub const GRID: TagRange = TagRange { first: 0, count: 1 };
    pub const COMMAND: TagRange = TagRange {
        first: 1,
        count: 15,
    };
    pub const MATCHER: TagRange = TagRange {
        first: 16,
        count: 16,
    };
    pub const BLOCKS: TagRange = TagRange {
        first: 32,
        count: 8,
    };
    pub const CASES: TagRange = TagRange {
        first: 40,
        count: 8,
    };
    pub const KEY_PERSONS: TagRange = TagRange {
        first: 48,
        count: 10,
    };
    /// 64: residents' hotline calls about a grid item (`HOTLINE_REF`, bit 62); 65: the grid
    /// loop's set-up and the report's queries; 66: video reports (`VIDEO_REF`); 67: supervisors'
    /// reassignments.
    pub const GRID_MORE: TagRange = TagRange {
        first: 64,
        count: 4,
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loops_have_distinct_names_and_modules_and_disjoint_tag_ranges() {
        let mut names: Vec<_> = LOOPS.iter().map(|l| l.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), LOOPS.len(), "two loops share a name");
        let mut modules: Vec<_> = LOOPS.iter().map(|l| l.module()).collect();
        modules.sort();
        modules.dedup();
        assert_eq!(modules.len(), LOOPS.len(), "two loops drive one module");
        let ranges: Vec<(&str, TagRange)> = LOOPS
            .iter()
            .flat_map(|l| l.tags().iter().map(move |r| (l.name(), *r)))
            .collect();
        for (i, (a, ra)) in ranges.iter().enumerate() {
            assert!(
                ra.count > 0 && ra.first as u16 + ra.count as u16 <= 256,
                "{a}: {ra:?}"
            );
            for (b, rb) in &ranges[i + 1..] {
                let apart = ra.first + ra.count <= rb.first || rb.first + rb.count <= ra.first;
                assert!(apart, "{a} {ra:?} overlaps {b} {rb:?}");
            }
        }
    }

    #[test]
    fn every_loops_tags_lie_in_its_ranges_and_no_other() {
        let claimed: &[(&str, u64)] = &[
            ("command", crate::command::TAG_REPORT),
            ("command", crate::command::TAG_DECLINE),
            ("command", crate::command::TAG_AVAILABLE),
            ("command", crate::command::TAG_OTHER),
            ("matcher", crate::cameras::TAG_SIGHTING),
            ("matcher", crate::cameras::TAG_REVIEW),
            ("matcher", crate::cameras::TAG_SETUP),
            ("blocks", crate::blocks::TAG_BATCH),
            ("blocks", crate::blocks::TAG_FINDING),
            ("cases", crate::cases::TAG_CASE),
            ("cases", crate::cases::TAG_ACTION),
            ("cases", crate::cases::TAG_CREDIT),
            ("cases", crate::cases::TAG_REGISTRATION),
            ("cases", crate::cases::TAG_CARE),
            ("cases", crate::cases::TAG_OTHER),
            ("grid", crate::grid::HOTLINE_REF),
            ("grid", crate::grid::TAG_SETUP),
            ("command", crate::command::TAG_SETUP),
            ("blocks", crate::blocks::TAG_SETUP),
            ("cases", crate::cases::TAG_SETUP),
            ("key_persons", crate::key_persons::TAG_REGISTER),
            ("key_persons", crate::key_persons::TAG_PROBE),
            ("key_persons", crate::key_persons::TAG_SETUP),
            ("key_persons", crate::key_persons::TAG_SIGHTING),
            ("key_persons", crate::key_persons::TAG_REVIEW),
        ];
        for &(owner, tag) in claimed {
            for l in LOOPS {
                let held = l.tags().iter().any(|r| r.holds(tag));
                assert_eq!(
                    held,
                    l.name() == owner,
                    "tag {:#x} and loop {}",
                    tag,
                    l.name()
                );
            }
        }
    }

    #[test]
    fn a_tag_is_told_apart_from_its_neighbours_by_the_whole_mask() {
        // A matcher review (17) or set-up call (18) is not a sighting (16), though its bits
        // contain the sighting's.
        for other in [crate::cameras::TAG_REVIEW, crate::cameras::TAG_SETUP] {
            assert_ne!(tag_of(other | 42), crate::cameras::TAG_SIGHTING);
        }
        assert_eq!(
            tag_of(crate::cameras::TAG_SIGHTING | 42),
            crate::cameras::TAG_SIGHTING
        );
        assert!(!tags::MATCHER.holds(crate::cases::TAG_CASE));
    }

    #[test]
    fn the_kernel_order_is_the_registry_order() {
        assert_eq!(
            loop_names(),
            [
                "grid",
                "command",
                "matcher",
                "blocks",
                "cases",
                "key_persons"
            ]
        );
        assert!(find("matcher").is_some());
        assert!(find("firesafety").is_none());
    }
}
