//! The bridge between the twin's actors and a stack: it carries each tick's commands to the
//! stack in the order they were sent, and hands back outcomes and refusals as messages.
//!
//! The scenario's faults (`[[fault]]`) sit on this path: a call a fault catches does not reach
//! the stack when sent. A module down holds it until the window ends; an error share fails some
//! calls, which the actor's client tries again `ERROR_RETRY_MS` later; added latency delivers
//! it later. Held calls wait in one queue ordered by when they are due, so the stack sees them
//! in time order, and every held call is delivered or, at the end, reported as pending.

use std::collections::BTreeMap;

use std::time::Duration;

use baoan_api::faults::{FaultWindow, error_share_fails};
use baoan_api::http::split_to_fit;
use baoan_api::{
    Actor, ApiError, Command, Envelope, Millis, Module, Outcome, Restart, RestartError, Stack,
};
use baoan_scenarios::{Fault, FaultKind};
use bevy_app::{App, Plugin, Update};
use bevy_ecs::prelude::*;
use bevy_ecs::system::{SystemParam, SystemState};
use serde::Serialize;

use crate::kernel::{Journal, SimClock, SimSet};

/// A command an actor wants delivered; `client_ref` lets the sender match the reply.
#[derive(Message, Debug, Clone)]
pub struct ToStack {
    pub envelope: Envelope,
    pub client_ref: u64,
}

/// An outcome from the stack: the reply to a command (`client_ref` set) or time-driven work
/// such as an escalation.
#[derive(Message, Debug, Clone)]
pub struct FromStack {
    pub at: Millis,
    /// When the actor sent the command this answers: earlier than `at` when a fault on the path
    /// held it back (the same for time-driven work).
    pub sent_at: Millis,
    pub outcome: Outcome,
    pub client_ref: Option<u64>,
}

/// The stack refused a command.
#[derive(Message, Debug, Clone)]
pub struct Refused {
    pub envelope: Envelope,
    pub error: ApiError,
    pub client_ref: u64,
}

/// The stack under test, reachable only through this file: every call is journaled, counted and
/// passes the scenario's faults, whether an actor sends it during a tick (`ToStack`) or a loop
/// makes it before the first tick or after the last (`StackDoor::call`).
#[derive(Resource)]
pub struct StackBridge {
    stack: Box<dyn Stack>,
    sent: u64,
    refused: u64,
    outcomes: u64,
    /// A set-up call that cannot be made to fit the stack's body limit: the run stops on it.
    unfit: Option<String>,
}

impl StackBridge {
    pub fn new(stack: Box<dyn Stack>) -> Self {
        Self {
            stack,
            sent: 0,
            refused: 0,
            outcomes: 0,
            unfit: None,
        }
    }

    /// The first set-up call that could not be made to fit the stack's body limit (a row larger
    /// than it, or a command that cannot be split), named: the run cannot go on without it.
    pub fn unfit(&self) -> Option<&str> {
        self.unfit.as_deref()
    }

    /// The stack's short name, for the report (`in-process`, a URL).
    pub fn stack_name(&self) -> String {
        self.stack.name()
    }

    /// Calls carried to the stack so far.
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// Calls the stack refused so far.
    pub fn refused(&self) -> u64 {
        self.refused
    }

    /// Outcomes the stack returned so far (answers and time-driven work).
    pub fn outcomes(&self) -> u64 {
        self.outcomes
    }
}

/// The door to the stack for calls outside a tick's flow: a loop's set-up before the first tick
/// (directories, the address library, the watchlist) and the report's queries after the last.
#[derive(SystemParam)]
pub struct StackDoor<'w> {
    bridge: ResMut<'w, StackBridge>,
    journal: ResMut<'w, Journal>,
    faults: ResMut<'w, PathFaults>,
}

impl StackDoor<'_> {
    /// Carries one set-up call made at `at` (before the first tick), as an actor's call would
    /// be: journaled with its answer, counted, and subject to the scenario's faults. The run
    /// cannot start without its answer, so a call a fault window would hold is refused instead
    /// (and counted as refused); added latency is counted and the call delivered.
    pub fn call(
        &mut self,
        at: Millis,
        actor: Actor,
        command: Command,
        client_ref: u64,
    ) -> Result<Vec<Outcome>, ApiError> {
        self.carry(Outside::BeforeRun, at, actor, command, client_ref)
    }

    /// A set-up call larger than the stack's body limit goes in parts that fit, each carried
    /// as a call; the answer is every part's outcomes in order, or the first refusal.
    fn carry(
        &mut self,
        when: Outside,
        at: Millis,
        actor: Actor,
        command: Command,
        client_ref: u64,
    ) -> Result<Vec<Outcome>, ApiError> {
        if when == Outside::BeforeRun {
            match split_to_fit(&command, self.bridge.stack.body_limit()) {
                Ok(None) => {}
                Ok(Some(parts)) => {
                    let mut answer = Vec::new();
                    for part in parts {
                        answer.extend(self.carry_one(when, at, actor, part, client_ref)?);
                    }
                    return Ok(answer);
                }
                Err(too_large) => {
                    let problem = too_large.to_string();
                    self.bridge.unfit.get_or_insert_with(|| problem.clone());
                    return Err(ApiError::Refused {
                        what: "call".into(),
                        id: command.kind().into(),
                        problem,
                    });
                }
            }
        }
        self.carry_one(when, at, actor, command, client_ref)
    }

    fn carry_one(
        &mut self,
        when: Outside,
        at: Millis,
        actor: Actor,
        command: Command,
        client_ref: u64,
    ) -> Result<Vec<Outcome>, ApiError> {
        let call = ToStack {
            envelope: Envelope {
                actor,
                sent_at: at,
                command,
            },
            client_ref,
        };
        call_outside_ticks(
            &mut self.bridge,
            &mut self.journal,
            &mut self.faults,
            when,
            call,
        )
    }

    /// Writes a line to the run's journal (what a set-up call summarised, for one).
    pub fn record<T: Serialize>(&mut self, at: Millis, kind: &str, data: &T) {
        self.journal.record(at, kind, data);
    }

    /// One of the report's queries after the last tick, made at `at`: journaled, counted and
    /// faulted like any call. Nothing else waits for it, so it waits out a fault window as a
    /// held call would: delivered when a module down is back, tried again after an error,
    /// delivered late under added latency.
    pub fn call_after_run(
        world: &mut World,
        at: Millis,
        actor: Actor,
        command: Command,
        client_ref: u64,
    ) -> Result<Vec<Outcome>, ApiError> {
        let mut state: SystemState<StackDoor> = SystemState::new(world);
        let mut door = state
            .get_mut(world)
            .expect("a run's world holds the bridge, the journal and the faults");
        door.carry(Outside::AfterRun, at, actor, command, client_ref)
    }
}

/// Where a call outside the ticks is made: before the first (a loop's set-up, which the run
/// cannot start without) or after the last (the report's queries, which may wait).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outside {
    BeforeRun,
    AfterRun,
}

/// The most times one call outside the ticks may be held: a bound, not a hang (a window ends
/// within a year; an error share below one lets a call through).
const MAX_HOLDS: u32 = 4_000_000;

fn call_outside_ticks(
    bridge: &mut StackBridge,
    journal: &mut Journal,
    faults: &mut PathFaults,
    when: Outside,
    mut call: ToStack,
) -> Result<Vec<Outcome>, ApiError> {
    let module = call.envelope.command.module();
    let first_at = call.envelope.sent_at;
    let mut at = first_at;
    let mut delayed = false;
    for holds in 0.. {
        assert!(
            holds < MAX_HOLDS,
            "a call after the run held {MAX_HOLDS} times by the scenario's faults"
        );
        let (until, refused) = match faults.decide(module, at, delayed) {
            Verdict::Pass => break,
            Verdict::Hold { refused: false, .. } if when == Outside::BeforeRun => break,
            Verdict::Hold { until, refused } => (until, refused),
        };
        if when == Outside::BeforeRun {
            return Err(refuse_before_run(bridge, journal, &call, until));
        }
        journal.record(
            at,
            "held",
            &serde_json::json!({ "client_ref": call.client_ref, "until": until, "refused": refused }),
        );
        if holds == 0 {
            faults.calls_held += 1;
        }
        delayed |= !refused;
        at = until;
    }
    if at > first_at {
        faults.delay_total_ms += at - first_at;
        faults.delay_max_ms = faults.delay_max_ms.max(at - first_at);
    }
    call.envelope.sent_at = at;
    let mut answered = Ok(Vec::new());
    let mut refusals = Vec::new();
    Carry {
        bridge,
        journal,
        outcomes: &mut |o: FromStack| {
            if let Ok(list) = &mut answered {
                list.push(o.outcome);
            }
        },
        refusals: &mut |r: Refused| refusals.push(r.error),
    }
    .deliver(&call, first_at);
    match refusals.pop() {
        Some(error) => Err(error),
        None => answered,
    }
}

/// A set-up call a fault window would hold: refused, counted and journaled.
fn refuse_before_run(
    bridge: &mut StackBridge,
    journal: &mut Journal,
    call: &ToStack,
    until: Millis,
) -> ApiError {
    let module = call.envelope.command.module();
    let at = call.envelope.sent_at;
    {
        let error = ApiError::Refused {
            what: "call".into(),
            id: call.envelope.command.kind().into(),
            problem: format!(
                "held by the scenario's fault window on {} until {until} ms; a call outside \
                 the run's ticks cannot wait",
                module.as_str()
            ),
        };
        bridge.sent += 1;
        bridge.refused += 1;
        journal.record(
            at,
            "refused",
            &Refusal {
                client_ref: call.client_ref,
                error: &error,
            },
        );
        error
    }
}

pub struct BridgePlugin;

impl Plugin for BridgePlugin {
    fn build(&self, app: &mut App) {
        app.add_message::<ToStack>()
            .add_message::<FromStack>()
            .add_message::<Refused>()
            .init_resource::<PathFaults>()
            .add_systems(Update, carry_commands.in_set(SimSet::Bridge));
    }
}

/// How long a client waits before trying a failed call again (simulated milliseconds).
pub const ERROR_RETRY_MS: Millis = 10_000;

/// The most calls that may wait at once; more is an error in the scenario (a bound, not a hang).
pub const MAX_HELD: usize = 10_000_000;

/// One `[[fault]]` window, with what it did.
#[derive(Debug, Clone)]
struct Window {
    /// In simulated time from the run's start, in whole milliseconds.
    window: FaultWindow,
    /// Calls that fell in an errors window, for spreading its share evenly.
    seen: u64,
    refused: u64,
    delayed: u64,
    /// A restart window: what the stack said when asked to restart (once, at the start).
    restart: Option<Result<Restart, RestartError>>,
}

impl Window {
    fn start_ms(&self) -> Millis {
        self.window.start.as_millis() as Millis
    }

    fn end_ms(&self) -> Millis {
        self.window.end.as_millis() as Millis
    }
}

/// A call held back by a fault.
#[derive(Debug, Clone)]
struct Held {
    command: ToStack,
    /// When the actor sent it.
    first_at: Millis,
    /// A latency window has delayed it already (it is not delayed twice).
    delayed: bool,
    /// It was held at least once (counted once in `calls_held`).
    counted: bool,
}

/// The scenario's faults on the path to the stack, and the calls they hold.
#[derive(Resource, Debug, Default)]
pub struct PathFaults {
    windows: Vec<Window>,
    /// Held calls by (due time, arrival order).
    queue: BTreeMap<(Millis, u64), Held>,
    next: u64,
    calls_held: u64,
    delay_total_ms: u64,
    delay_max_ms: u64,
}

/// What the faults did, for the report.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FaultsSummary {
    pub windows: Vec<WindowSummary>,
    /// Calls held back at least once.
    pub calls_held: u64,
    /// How much later than sent the held calls that were delivered reached the stack.
    pub delay_mean_s: f64,
    pub delay_max_s: f64,
    /// Held calls still waiting when the run ended (not lost: never delivered).
    pub pending_at_end: u64,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct WindowSummary {
    pub start_s: f64,
    pub end_s: f64,
    pub module: String,
    pub kind: &'static str,
    /// Calls it refused (down, errors): each waited and was tried again.
    refused: u64,
    /// Calls it delayed (latency).
    pub delayed: u64,
    /// A restart window: `restarted`, `nothing to restart` (a stack in the harness's memory),
    /// `refused: …`, or `not reached` (the run ended first).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restart: Option<String>,
}

/// What a fault does to a call now.
enum Verdict {
    Pass,
    Hold { until: Millis, refused: bool },
}

impl PathFaults {
    /// The faults of a checked scenario (which names only the stack's modules, or `"*"`).
    pub fn new(faults: &[Fault]) -> PathFaults {
        PathFaults {
            windows: faults
                .iter()
                .enumerate()
                .map(|(i, f)| Window {
                    window: f.window().unwrap_or_else(|e| {
                        panic!("fault[{i}].module: {e} (the scenario was not checked)")
                    }),
                    seen: 0,
                    refused: 0,
                    delayed: 0,
                    restart: None,
                })
                .collect(),
            ..PathFaults::default()
        }
    }

    /// Held calls still waiting (the run ended first) whose command `matches`.
    pub fn held_at_end(&self, matches: impl Fn(&baoan_api::Command) -> bool) -> u64 {
        self.queue
            .values()
            .filter(|h| matches(&h.command.envelope.command))
            .count() as u64
    }

    /// Nothing held and no window open between `from` and `until`: calls go straight through.
    fn quiet(&self, from: Millis, until: Millis) -> bool {
        self.queue.is_empty()
            && self
                .windows
                .iter()
                .all(|w| w.end_ms() <= from || w.start_ms() >= until)
    }

    /// Asks the stack to restart for each restart window that starts before `tick_end`.
    fn restart_due(&mut self, stack: &mut dyn Stack, journal: &mut Journal, tick_end: Millis) {
        for w in &mut self.windows {
            let (start_ms, end_ms) = (w.start_ms(), w.end_ms());
            if w.window.kind == FaultKind::Restart && w.restart.is_none() && start_ms < tick_end {
                let answer = stack.restart(start_ms, end_ms - start_ms);
                journal.record(
                    start_ms,
                    "restart",
                    &serde_json::json!({ "until": end_ms, "answer": restart_answer(&answer) }),
                );
                w.restart = Some(answer);
            }
        }
    }

    fn push(&mut self, due: Millis, held: Held) {
        assert!(
            self.queue.len() < MAX_HELD,
            "more than {MAX_HELD} calls held by the scenario's faults at once"
        );
        self.queue.insert((due, self.next), held);
        self.next += 1;
    }

    /// The first held call due before `end`, with its due time.
    fn pop_before(&mut self, end: Millis) -> Option<(Millis, Held)> {
        let (&(due, _), _) = self.queue.first_key_value()?;
        if due >= end {
            return None;
        }
        self.queue.pop_first().map(|((due, _), h)| (due, h))
    }

    /// What the windows open at `at` do to a call to `module`: a refusal wins over a delay.
    fn decide(&mut self, module: Module, at: Millis, delayed_already: bool) -> Verdict {
        let mut delay = 0;
        for w in &mut self.windows {
            if !w.window.catches(module, Duration::from_millis(at)) {
                continue;
            }
            match w.window.kind {
                FaultKind::Down | FaultKind::Restart => {
                    w.refused += 1;
                    return Verdict::Hold {
                        until: w.end_ms(),
                        refused: true,
                    };
                }
                FaultKind::Errors => {
                    // The rule the server's fault plan follows too: evenly, by a counter.
                    let n = w.seen;
                    w.seen += 1;
                    if error_share_fails(n, w.window.share) {
                        w.refused += 1;
                        return Verdict::Hold {
                            until: at + ERROR_RETRY_MS,
                            refused: true,
                        };
                    }
                }
                FaultKind::Latency if !delayed_already => {
                    w.delayed += 1;
                    delay += w.window.latency.as_millis() as Millis;
                }
                FaultKind::Latency => {}
            }
        }
        if delay > 0 {
            Verdict::Hold {
                until: at + delay,
                refused: false,
            }
        } else {
            Verdict::Pass
        }
    }

    pub fn summary(&self) -> FaultsSummary {
        let delivered_held = self
            .calls_held
            .saturating_sub(self.queue.values().filter(|h| h.counted).count() as u64);
        FaultsSummary {
            windows: self
                .windows
                .iter()
                .map(|w| WindowSummary {
                    start_s: w.start_ms() as f64 / 1000.0,
                    end_s: w.end_ms() as f64 / 1000.0,
                    module: w.window.module_name().to_string(),
                    kind: w.window.kind.as_str(),
                    refused: w.refused,
                    delayed: w.delayed,
                    restart: (w.window.kind == FaultKind::Restart).then(|| match &w.restart {
                        None => "not reached".to_string(),
                        Some(answer) => restart_answer(answer),
                    }),
                })
                .collect(),
            calls_held: self.calls_held,
            delay_mean_s: if delivered_held == 0 {
                0.0
            } else {
                self.delay_total_ms as f64 / delivered_held as f64 / 1000.0
            },
            delay_max_s: self.delay_max_ms as f64 / 1000.0,
            pending_at_end: self.queue.len() as u64,
        }
    }
}

/// A restart's answer as the report and the journal give it: `restarted`, `nothing to restart`
/// (a stack in the harness's memory), or `refused: …`.
fn restart_answer(answer: &Result<Restart, RestartError>) -> String {
    match answer {
        Ok(r) => r.as_str().to_string(),
        Err(e) => format!("refused: {e}"),
    }
}

/// Where a delivered call's answer goes: the actors' messages during a tick, the caller outside.
struct Carry<'a> {
    bridge: &'a mut StackBridge,
    journal: &'a mut Journal,
    outcomes: &'a mut dyn FnMut(FromStack),
    refusals: &'a mut dyn FnMut(Refused),
}

impl Carry<'_> {
    /// Sends one call, sent by its actor at `sent_at`, to the stack and hands back its outcomes
    /// or its refusal.
    fn deliver(&mut self, cmd: &ToStack, sent_at: Millis) {
        let answer = self.bridge.stack.send(&cmd.envelope);
        self.settle(cmd, sent_at, answer);
    }

    /// Sends a tick's calls together (a transport may have several in flight) and hands back
    /// each one's answer in the order sent, as `deliver` would one by one.
    fn deliver_all(&mut self, batch: &[&ToStack]) {
        let envelopes: Vec<&Envelope> = batch.iter().map(|c| &c.envelope).collect();
        let answers = self.bridge.stack.send_all(&envelopes);
        for (cmd, answer) in batch.iter().zip(answers) {
            self.settle(cmd, cmd.envelope.sent_at, answer);
        }
    }

    /// Counts and journals a call that reached the stack, with its answer.
    fn settle(&mut self, cmd: &ToStack, sent_at: Millis, answer: Result<Vec<Outcome>, ApiError>) {
        self.bridge.sent += 1;
        self.journal.record(
            cmd.envelope.sent_at,
            "command",
            &Sent {
                client_ref: cmd.client_ref,
                envelope: &cmd.envelope,
            },
        );
        match answer {
            Ok(list) => {
                for outcome in list {
                    self.bridge.outcomes += 1;
                    self.journal.record(
                        cmd.envelope.sent_at,
                        "outcome",
                        &Answer {
                            client_ref: Some(cmd.client_ref),
                            outcome: &outcome,
                        },
                    );
                    (self.outcomes)(FromStack {
                        at: cmd.envelope.sent_at,
                        sent_at,
                        outcome,
                        client_ref: Some(cmd.client_ref),
                    });
                }
            }
            Err(error) => {
                self.bridge.refused += 1;
                self.journal.record(
                    cmd.envelope.sent_at,
                    "refused",
                    &Refusal {
                        client_ref: cmd.client_ref,
                        error: &error,
                    },
                );
                (self.refusals)(Refused {
                    envelope: cmd.envelope.clone(),
                    error,
                    client_ref: cmd.client_ref,
                });
            }
        }
    }
}

#[derive(Serialize)]
struct Sent<'a> {
    client_ref: u64,
    envelope: &'a Envelope,
}

#[derive(Serialize)]
struct Answer<'a> {
    client_ref: Option<u64>,
    outcome: &'a Outcome,
}

#[derive(Serialize)]
struct Refusal<'a> {
    client_ref: u64,
    error: &'a ApiError,
}

fn carry_commands(
    clock: Res<SimClock>,
    mut bridge: ResMut<StackBridge>,
    mut faults: ResMut<PathFaults>,
    mut journal: ResMut<Journal>,
    mut incoming: MessageReader<ToStack>,
    mut outcomes: MessageWriter<FromStack>,
    mut refusals: MessageWriter<Refused>,
) {
    let mut batch: Vec<&ToStack> = incoming.read().collect();
    // Stable: commands sent at the same millisecond keep the order the actors wrote them in.
    batch.sort_by_key(|c| c.envelope.sent_at);
    {
        let mut to_actors = |o| {
            outcomes.write(o);
        };
        let mut refused_to_actors = |r| {
            refusals.write(r);
        };
        let mut out = Carry {
            bridge: &mut bridge,
            journal: &mut journal,
            outcomes: &mut to_actors,
            refusals: &mut refused_to_actors,
        };
        if faults.quiet(clock.now_ms, clock.tick_end()) {
            out.deliver_all(&batch);
        } else {
            faults.restart_due(&mut *out.bridge.stack, out.journal, clock.tick_end());
            // Every call goes through the queue, so held and new calls reach the stack in the
            // order of the time they are due.
            for cmd in batch {
                let at = cmd.envelope.sent_at;
                faults.push(
                    at,
                    Held {
                        command: cmd.clone(),
                        first_at: at,
                        delayed: false,
                        counted: false,
                    },
                );
            }
            while let Some((due, mut held)) = faults.pop_before(clock.tick_end()) {
                let at = due.max(held.command.envelope.sent_at);
                held.command.envelope.sent_at = at;
                let module = held.command.envelope.command.module();
                match faults.decide(module, at, held.delayed) {
                    Verdict::Pass => {
                        if held.counted {
                            let waited = at - held.first_at;
                            faults.delay_total_ms += waited;
                            faults.delay_max_ms = faults.delay_max_ms.max(waited);
                        }
                        out.deliver(&held.command, held.first_at);
                    }
                    Verdict::Hold { until, refused } => {
                        out.journal.record(
                            at,
                            "held",
                            &serde_json::json!({
                                "client_ref": held.command.client_ref,
                                "until": until,
                                "refused": refused,
                            }),
                        );
                        if !held.counted {
                            held.counted = true;
                            faults.calls_held += 1;
                        }
                        held.delayed |= !refused;
                        faults.push(until, held);
                    }
                }
            }
        }
    }
    let last_ms = clock.tick_end() - 1;
    for outcome in bridge.stack.advance(last_ms) {
        bridge.outcomes += 1;
        let at = match &outcome {
            Outcome::TaskEscalated { at, .. } => *at,
            _ => last_ms,
        };
        journal.record(
            at,
            "outcome",
            &Answer {
                client_ref: None,
                outcome: &outcome,
            },
        );
        outcomes.write(FromStack {
            at,
            sent_at: at,
            outcome,
            client_ref: None,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use baoan_api::{PersonId, Role};
    use baoan_scenarios::Dur;

    use std::sync::atomic::{AtomicU64, Ordering};

    /// A stack that answers every call with nothing and counts what reached it.
    struct Counting(std::sync::Arc<AtomicU64>);

    impl Stack for Counting {
        fn send(&mut self, _: &Envelope) -> Result<Vec<Outcome>, ApiError> {
            self.0.fetch_add(1, Ordering::Relaxed);
            Ok(Vec::new())
        }
        fn advance(&mut self, _: Millis) -> Vec<Outcome> {
            Vec::new()
        }
        fn name(&self) -> String {
            "counting".into()
        }
    }

    fn world_with_grid_down_until(end: u64) -> (World, std::sync::Arc<AtomicU64>) {
        let reached = std::sync::Arc::default();
        let mut world = World::new();
        world.insert_resource(StackBridge::new(Box::new(Counting(std::sync::Arc::clone(
            &reached,
        )))));
        world.insert_resource(Journal::default());
        world.insert_resource(PathFaults::new(&[Fault {
            start: Dur(0),
            end: Dur(end),
            module: "grid".into(),
            kind: FaultKind::Down,
            share: None,
            delay: None,
        }]));
        (world, reached)
    }

    const ADMIN: Actor = Actor {
        role: Role::Admin,
        person: PersonId(1),
    };

    #[test]
    fn a_set_up_call_is_counted_and_journaled_and_a_fault_window_refuses_what_it_would_hold() {
        let (mut world, reached) = world_with_grid_down_until(60_000);
        let mut state: SystemState<StackDoor> = SystemState::new(&mut world);
        let mut door = state.get_mut(&mut world).unwrap();
        // The grid is down at the start: its set-up call cannot wait, so it is refused.
        let down = door.call(0, ADMIN, Command::QueryBacklog, 7);
        assert!(down.unwrap_err().to_string().contains("fault window"));
        // Another module goes through.
        assert!(door.call(0, ADMIN, Command::QueryCareStats, 8).is_ok());
        let bridge = world.resource::<StackBridge>();
        assert_eq!((bridge.sent(), bridge.refused()), (2, 1));
        assert_eq!(reached.load(Ordering::Relaxed), 1);
        // The refusal and the call are in the journal, like calls during a tick.
        assert_eq!(world.resource::<Journal>().events, 2);
        assert_eq!(
            world.resource::<PathFaults>().summary().windows[0].refused,
            1
        );
    }

    #[test]
    fn a_query_after_the_run_waits_out_a_window_that_outlasts_the_run() {
        let (mut world, reached) = world_with_grid_down_until(90_000);
        let answer = StackDoor::call_after_run(&mut world, 60_000, ADMIN, Command::QueryBacklog, 9);
        assert!(answer.is_ok(), "{answer:?}");
        assert_eq!(reached.load(Ordering::Relaxed), 1);
        let summary = world.resource::<PathFaults>().summary();
        assert_eq!((summary.calls_held, summary.delay_max_s), (1, 30.0));
        // Held, then carried: both in the journal.
        assert_eq!(world.resource::<Journal>().events, 2);
    }
}
