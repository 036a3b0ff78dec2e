//! The simulation kernel: the virtual clock, the ordered sets every plugin's systems run in, the
//! agenda that holds each actor family's future actions, and the event journal.
//!
//! Nothing here reads the wall clock. One `App::update` is one tick of simulated time; events carry
//! millisecond timestamps inside their tick.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use bevy_app::{App, Plugin, Update};
use bevy_ecs::prelude::*;
use serde::Serialize;

use crate::rng::RngStreams;

/// Simulated time. `now_ms` is the start of the tick being run; the tick covers
/// `[now_ms, now_ms + tick_ms)`.
#[derive(Resource, Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimClock {
    pub now_ms: u64,
    pub tick_ms: u64,
    pub end_ms: u64,
    pub ticks: u64,
}

impl SimClock {
    pub fn new(tick_ms: u64, end_ms: u64) -> Self {
        assert!(tick_ms > 0, "a tick must be longer than zero");
        Self {
            now_ms: 0,
            tick_ms,
            end_ms,
            ticks: 0,
        }
    }
    /// First millisecond after the current tick.
    pub fn tick_end(&self) -> u64 {
        self.now_ms + self.tick_ms
    }
    pub fn hour_of_day(&self) -> usize {
        hour_of_day(self.now_ms)
    }
    pub fn finished(&self) -> bool {
        self.now_ms >= self.end_ms
    }
}

pub fn hour_of_day(ms: u64) -> usize {
    ((ms / 3_600_000) % 24) as usize
}

/// The order every tick runs in: what arrived (outcomes, due actions) → what actors do → the
/// bridge carries their commands to the stack → the loops hear the answers to them and hand work
/// to other loops → ledgers fold in answers and hand-offs → the clock moves on.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SimSet {
    Inputs,
    Agents,
    Bridge,
    Hear,
    Record,
    Advance,
}

impl SimSet {
    /// The stages in which loops run systems, each holding one `LoopSet` per loop in the chain.
    pub const LOOP_STAGES: [SimSet; 4] =
        [SimSet::Inputs, SimSet::Agents, SimSet::Hear, SimSet::Record];
}

/// One loop's systems in one stage. The kernel chains the loops' sets in every stage in the
/// order the loop registry gives (`KernelPlugin::loops`), so no plugin orders itself against
/// another loop's systems: a loop names only its own set, `LoopSet::new(NAME, stage)`.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LoopSet {
    pub loop_name: &'static str,
    pub stage: SimSet,
}

impl LoopSet {
    pub const fn new(loop_name: &'static str, stage: SimSet) -> LoopSet {
        LoopSet { loop_name, stage }
    }
}

/// The loops the kernel chains, by name, in their fixed order.
#[derive(Resource, Debug, Clone, Default)]
pub struct LoopOrder(pub Vec<&'static str>);

/// The run's named random streams, as a resource.
#[derive(Resource, Debug, Clone, Copy)]
pub struct Streams(pub RngStreams);

/// Future actions of one actor family, in time order; equal times keep the order they were
/// scheduled in, so a run never depends on heap internals.
#[derive(Resource)]
pub struct Agenda<T: Send + Sync + 'static> {
    heap: BinaryHeap<Due<T>>,
    next_seq: u64,
    limit: usize,
}

struct Due<T> {
    at: u64,
    seq: u64,
    item: T,
}

impl<T> PartialEq for Due<T> {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl<T> Eq for Due<T> {}
impl<T> PartialOrd for Due<T> {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl<T> Ord for Due<T> {
    fn cmp(&self, o: &Self) -> Ordering {
        // Reversed: BinaryHeap is a max-heap and we want the earliest first.
        (o.at, o.seq).cmp(&(self.at, self.seq))
    }
}

/// Most actions an agenda may hold: a bound, so that a runaway feedback loop is an error rather
/// than a machine out of memory.
pub const AGENDA_LIMIT: usize = 50_000_000;

impl<T: Send + Sync + 'static> Default for Agenda<T> {
    fn default() -> Self {
        Self {
            heap: BinaryHeap::new(),
            next_seq: 0,
            limit: AGENDA_LIMIT,
        }
    }
}

impl<T: Send + Sync + 'static> Agenda<T> {
    pub fn with_limit(limit: usize) -> Self {
        Self {
            limit,
            ..Self::default()
        }
    }

    pub fn schedule(&mut self, at: u64, item: T) {
        assert!(
            self.heap.len() < self.limit,
            "agenda of {} is full ({} actions): the scenario generates more work than the bound allows",
            std::any::type_name::<T>(),
            self.limit
        );
        self.heap.push(Due {
            at,
            seq: self.next_seq,
            item,
        });
        self.next_seq += 1;
    }

    /// The next action due before `end`, if any.
    pub fn pop_before(&mut self, end: u64) -> Option<(u64, T)> {
        if self.heap.peek().is_some_and(|d| d.at < end) {
            self.heap.pop().map(|d| (d.at, d.item))
        } else {
            None
        }
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

/// The event journal: every command, outcome and truth event as one JSON line, written only when
/// asked for (`--journal`); always counted, for the events/s figure.
#[derive(Resource, Default)]
pub struct Journal {
    out: Option<BufWriter<File>>,
    pub events: u64,
    pub error: Option<String>,
}

#[derive(Serialize)]
struct Line<'a, T: Serialize> {
    t: u64,
    kind: &'a str,
    data: &'a T,
}

impl Journal {
    pub fn to_file(path: &Path) -> std::io::Result<Journal> {
        Ok(Journal {
            out: Some(BufWriter::with_capacity(1 << 20, File::create(path)?)),
            events: 0,
            error: None,
        })
    }

    pub fn is_writing(&self) -> bool {
        self.out.is_some()
    }

    pub fn record<T: Serialize>(&mut self, t: u64, kind: &str, data: &T) {
        self.events += 1;
        if let Some(out) = &mut self.out {
            let result = serde_json::to_writer(&mut *out, &Line { t, kind, data })
                .map_err(|e| e.to_string())
                .and_then(|_| out.write_all(b"\n").map_err(|e| e.to_string()));
            if let Err(e) = result {
                self.error
                    .get_or_insert(format!("writing the journal: {e}"));
                self.out = None;
            }
        }
    }

    pub fn finish(&mut self) -> Result<(), String> {
        if let Some(out) = &mut self.out
            && let Err(e) = out.flush()
        {
            self.error
                .get_or_insert(format!("writing the journal: {e}"));
        }
        self.out = None;
        match &self.error {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }
}

/// Installs the clock, the streams, the journal and the ordered sets. Every domain plugin puts
/// its systems in one of the `SimSet`s.
pub struct KernelPlugin {
    pub tick_ms: u64,
    pub end_ms: u64,
    pub seed: u64,
    /// The loops' names in the order their systems run within each stage.
    pub loops: Vec<&'static str>,
}

impl Plugin for KernelPlugin {
    fn build(&self, app: &mut App) {
        app.insert_resource(SimClock::new(self.tick_ms, self.end_ms))
            .insert_resource(Streams(RngStreams::new(self.seed)))
            .init_resource::<Journal>()
            .configure_sets(
                Update,
                (
                    SimSet::Inputs,
                    SimSet::Agents,
                    SimSet::Bridge,
                    SimSet::Hear,
                    SimSet::Record,
                    SimSet::Advance,
                )
                    .chain(),
            )
            .insert_resource(LoopOrder(self.loops.clone()))
            .add_systems(Update, advance_clock.in_set(SimSet::Advance));
        for stage in SimSet::LOOP_STAGES {
            for name in &self.loops {
                app.configure_sets(Update, LoopSet::new(name, stage).in_set(stage));
            }
            for pair in self.loops.windows(2) {
                app.configure_sets(
                    Update,
                    LoopSet::new(pair[0], stage).before(LoopSet::new(pair[1], stage)),
                );
            }
        }
    }
}

fn advance_clock(mut clock: ResMut<SimClock>) {
    clock.now_ms += clock.tick_ms;
    clock.ticks += 1;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agenda_pops_in_time_order_and_keeps_scheduling_order_for_ties() {
        let mut a = Agenda::default();
        a.schedule(20, "c");
        a.schedule(10, "a");
        a.schedule(10, "b");
        a.schedule(30, "d");
        assert_eq!(a.pop_before(25), Some((10, "a")));
        assert_eq!(a.pop_before(25), Some((10, "b")));
        assert_eq!(a.pop_before(25), Some((20, "c")));
        assert_eq!(a.pop_before(25), None);
        assert_eq!(a.len(), 1);
    }

    #[test]
    #[should_panic(expected = "is full")]
    fn a_full_agenda_is_an_error_not_a_hang() {
        let mut a = Agenda::with_limit(2);
        for t in 0..3 {
            a.schedule(t, ());
        }
    }

    #[derive(Resource, Default)]
    struct Ran(Vec<&'static str>);

    #[test]
    fn loops_run_in_the_kernels_order_in_every_stage_whatever_order_they_were_added_in() {
        let mut app = App::new();
        app.add_plugins(KernelPlugin {
            tick_ms: 1000,
            end_ms: 2000,
            seed: 1,
            loops: vec!["first", "second"],
        })
        .init_resource::<Ran>();
        // Added second-first and record-first: the kernel's sets decide, not registration.
        app.add_systems(
            Update,
            (|mut r: ResMut<Ran>| r.0.push("second/record"))
                .in_set(LoopSet::new("second", SimSet::Record)),
        )
        .add_systems(
            Update,
            (|mut r: ResMut<Ran>| r.0.push("first/record"))
                .in_set(LoopSet::new("first", SimSet::Record)),
        )
        .add_systems(
            Update,
            (|mut r: ResMut<Ran>| r.0.push("second/agents"))
                .in_set(LoopSet::new("second", SimSet::Agents)),
        )
        .add_systems(
            Update,
            (|mut r: ResMut<Ran>| r.0.push("first/agents"))
                .in_set(LoopSet::new("first", SimSet::Agents)),
        );
        app.update();
        assert_eq!(
            app.world().resource::<Ran>().0,
            [
                "first/agents",
                "second/agents",
                "first/record",
                "second/record"
            ]
        );
    }

    #[test]
    fn a_simulated_day_at_one_second_ticks_is_86_400_updates_and_one_day() {
        let mut app = App::new();
        app.add_plugins(KernelPlugin {
            tick_ms: 1000,
            end_ms: 86_400_000,
            seed: 1,
            loops: Vec::new(),
        });
        let mut updates = 0;
        while !app.world().resource::<SimClock>().finished() {
            app.update();
            updates += 1;
        }
        let clock = *app.world().resource::<SimClock>();
        assert_eq!(updates, 86_400);
        assert_eq!(clock.now_ms, 86_400_000);
        assert_eq!(clock.ticks, 86_400);
    }
}
