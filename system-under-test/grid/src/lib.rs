//! The grid module of the district platform: it takes inspectors' and the hotline's reports of
//! the 153 item types, dispatches each task to a resolver of the responsible department for the
//! place, tracks accept and resolve, has an inspector other than the resolver verify the result,
//! closes or sends it back for rework, escalates what is overdue, and rates its people.
//!
//! It owns the tasks and the directory of who works where. It speaks only `baoan-api` types and
//! never reads a clock: time arrives with each command, so the same code serves virtual and real
//! time. It must not depend on anything in the harness.

mod assessment;
mod table;
pub use table::Table;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use baoan_api::catalogue::{self, Department};
use baoan_api::{
    Actor, ApiError, Backlog, Command, Directory, Envelope, EscalationLevel, Millis, Outcome,
    PersonId, ReportSource, TaskId,
};

/// How long an inspector has to verify a resolution before it counts as late in the assessment.
pub const VERIFY_WITHIN_MS: Millis = 24 * 3_600_000;
/// Bounds that turn a runaway client into an error instead of unbounded memory.
pub const MAX_TASKS: usize = 50_000_000;
pub const MAX_DIRECTORY_GRIDS: usize = 1_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TaskState {
    Unassigned,
    Dispatched,
    Accepted,
    AwaitingVerification,
    Closed,
}

#[derive(Debug, Clone)]
pub struct Task {
    pub id: TaskId,
    pub report_ref: u64,
    pub source: ReportSource,
    pub grid: u32,
    pub item_type: u16,
    pub reporter: PersonId,
    pub observed_at: Millis,
    pub reported_at: Millis,
    pub deadline_at: Millis,
    pub state: TaskState,
    pub resolver: Option<PersonId>,
    pub verifier: Option<PersonId>,
    pub resolved_on_spot: bool,
    pub verification_requested_at: Option<Millis>,
    pub closed_at: Option<Millis>,
    pub reworks: u32,
    pub escalation: Option<EscalationLevel>,
    pub unassigned_reason: Option<String>,
}

impl Task {
    pub fn is_open(&self) -> bool {
        self.state != TaskState::Closed
    }
}

struct Dir {
    raw: Directory,
    /// Resolver person → index into `raw.resolvers`.
    resolver_index: HashMap<PersonId, usize>,
    /// (department, community) → resolver indices sorted by person id.
    community_pool: HashMap<(Department, u32), Vec<usize>>,
    street_pool: HashMap<(Department, u32), Vec<usize>>,
}

/// Per-person tallies behind the assessment.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tally {
    pub handled: u32,
    pub on_time: u32,
    pub judged: u32,
    pub reworks: u32,
    pub misses: u32,
    pub verifications: u32,
    pub verifications_late: u32,
}

pub struct GridService {
    dir: Option<Dir>,
    tasks: Table<Task>,
    /// Report ref → its task (and whether it was merged into another's). A B-tree, not a hash
    /// map: a hash map rehashes every entry at once when it grows, a pause the served stack's
    /// callers would wait through.
    by_ref: BTreeMap<u64, (TaskId, bool)>,
    /// Open tasks by (grid, item type), oldest first: where a hotline report is merged.
    open_by_place: HashMap<(u32, u16), BTreeSet<TaskId>>,
    /// (when, task, level): the escalation clock.
    escalations: BTreeSet<(Millis, TaskId, EscalationLevel)>,
    resolver_load: Vec<u32>,
    pub(crate) tallies: HashMap<PersonId, Tally>,
    backlog: Backlog,
}

impl Default for GridService {
    fn default() -> Self {
        Self::new()
    }
}

impl GridService {
    pub fn new() -> Self {
        Self {
            dir: None,
            tasks: Table::default(),
            by_ref: BTreeMap::new(),
            open_by_place: HashMap::new(),
            escalations: BTreeSet::new(),
            resolver_load: Vec::new(),
            tallies: HashMap::new(),
            backlog: Backlog::default(),
        }
    }

    pub fn task(&self, id: TaskId) -> Option<&Task> {
        id.0.checked_sub(1).and_then(|i| self.tasks.get(i as usize))
    }

    pub fn tasks(&self) -> &Table<Task> {
        &self.tasks
    }

    pub fn backlog(&self) -> &Backlog {
        &self.backlog
    }

    /// Carry one command. A refused command changes nothing.
    pub fn handle(&mut self, env: &Envelope) -> Result<Vec<Outcome>, ApiError> {
        baoan_api::authorize(&env.actor, &env.command)?;
        let now = env.sent_at;
        match &env.command {
            Command::LoadDirectory { directory } => self.load_directory(directory),
            Command::SubmitReport {
                report_ref,
                source,
                grid,
                item_type,
                observed_at,
                resolved_on_spot,
            } => self.submit_report(
                env.actor,
                now,
                *report_ref,
                *source,
                *grid,
                *item_type,
                *observed_at,
                *resolved_on_spot,
            ),
            Command::AcceptTask { task } => self.accept(env.actor, *task),
            Command::ResolveTask { task } => self.resolve(env.actor, now, *task),
            Command::VerifyTask { task, passed } => self.verify(env.actor, now, *task, *passed),
            Command::ReassignTask { task } => self.reassign(*task),
            Command::QueryAssessment => Ok(vec![Outcome::Assessment {
                assessment: self.assessment(now),
            }]),
            Command::QueryBacklog => Ok(vec![Outcome::Backlog {
                backlog: self.backlog.clone(),
            }]),
            other => Err(invalid(
                "type",
                format!("{} is not a grid-module command", other.kind()),
            )),
        }
    }

    /// Escalate every task whose deadline (street) or 1.5 times its allowed time (district)
    /// passed by `now` without a resolution.
    /// The earliest time `advance` may have work (an escalation falling due), if any.
    pub fn next_due(&self) -> Option<Millis> {
        self.escalations.first().map(|&(at, _, _)| at)
    }

    pub fn advance(&mut self, now: Millis) -> Vec<Outcome> {
        let mut out = Vec::new();
        while let Some(&(at, task, level)) = self.escalations.first() {
            if at > now {
                break;
            }
            self.escalations.pop_first();
            let t = &mut self.tasks[(task.0 - 1) as usize];
            let unresolved = matches!(
                t.state,
                TaskState::Unassigned | TaskState::Dispatched | TaskState::Accepted
            );
            if unresolved && t.escalation < Some(level) {
                if t.escalation.is_none() {
                    self.backlog.escalated_open += 1;
                }
                t.escalation = Some(level);
                out.push(Outcome::TaskEscalated { task, level, at });
            }
        }
        out
    }

    fn dir(&self) -> Result<&Dir, ApiError> {
        self.dir.as_ref().ok_or_else(|| ApiError::Conflict {
            task: 0,
            problem: "no directory loaded yet: an admin must send load_directory first".into(),
        })
    }

    fn load_directory(&mut self, d: &Directory) -> Result<Vec<Outcome>, ApiError> {
        if !self.tasks.is_empty() {
            return Err(ApiError::Conflict {
                task: 0,
                problem: "the directory cannot be replaced once reports exist".into(),
            });
        }
        if d.grids.is_empty() || d.grids.len() > MAX_DIRECTORY_GRIDS {
            return Err(invalid(
                "directory.grids",
                format!(
                    "expected 1..={MAX_DIRECTORY_GRIDS} grids, got {}",
                    d.grids.len()
                ),
            ));
        }
        let n = d.grids.len() as u32;
        let mut inspector_grid = HashMap::new();
        for (i, g) in d.grids.iter().enumerate() {
            if g.grid != i as u32 {
                return Err(invalid(
                    format!("directory.grids[{i}].grid"),
                    format!("expected {i} (ids are dense and in order), got {}", g.grid),
                ));
            }
            if let Some(bad) = g.neighbours.iter().find(|&&nb| nb >= n || nb == g.grid) {
                return Err(invalid(
                    format!("directory.grids[{i}].neighbours"),
                    format!("{bad} is not another grid of 0..{n}"),
                ));
            }
            if inspector_grid.insert(g.inspector, g.grid).is_some() {
                return Err(invalid(
                    format!("directory.grids[{i}].inspector"),
                    format!("person {} already inspects another grid", g.inspector.0),
                ));
            }
        }
        let mut resolver_index = HashMap::new();
        let mut community_pool: HashMap<(Department, u32), Vec<usize>> = HashMap::new();
        let mut street_pool: HashMap<(Department, u32), Vec<usize>> = HashMap::new();
        for (i, r) in d.resolvers.iter().enumerate() {
            if resolver_index.insert(r.person, i).is_some()
                || inspector_grid.contains_key(&r.person)
            {
                return Err(invalid(
                    format!("directory.resolvers[{i}].person"),
                    format!("person {} is listed twice", r.person.0),
                ));
            }
            community_pool
                .entry((r.department, r.community))
                .or_default()
                .push(i);
            street_pool
                .entry((r.department, r.street))
                .or_default()
                .push(i);
        }
        for pool in community_pool.values_mut().chain(street_pool.values_mut()) {
            pool.sort_by_key(|&i| d.resolvers[i].person);
        }
        self.resolver_load = vec![0; d.resolvers.len()];
        self.dir = Some(Dir {
            raw: d.clone(),
            resolver_index,
            community_pool,
            street_pool,
        });
        Ok(vec![Outcome::DirectoryLoaded {
            grids: n,
            resolvers: d.resolvers.len() as u32,
        }])
    }

    #[allow(clippy::too_many_arguments)]
    fn submit_report(
        &mut self,
        actor: Actor,
        now: Millis,
        report_ref: u64,
        source: ReportSource,
        grid: u32,
        item_type: u16,
        observed_at: Millis,
        on_spot: bool,
    ) -> Result<Vec<Outcome>, ApiError> {
        if let Some(&(task, merged)) = self.by_ref.get(&report_ref) {
            // At-least-once delivery: a repeated report answers what the first one got.
            return Ok(vec![if merged {
                Outcome::ReportMerged { report_ref, task }
            } else {
                Outcome::ReportAccepted { report_ref, task }
            }]);
        }
        let dir = self.dir()?;
        let Some(entry) = dir.raw.grids.get(grid as usize) else {
            return Err(ApiError::NotFound {
                what: "grid".into(),
                id: grid.to_string(),
            });
        };
        let Some(kind) = catalogue::item_type(item_type) else {
            return Err(invalid(
                "item_type",
                format!(
                    "expected an item type code 1..={}, got {item_type}",
                    catalogue::item_types().len()
                ),
            ));
        };
        if observed_at > now {
            return Err(invalid(
                "observed_at",
                format!("{observed_at} ms is after the report was sent ({now} ms)"),
            ));
        }
        if source == ReportSource::Inspector && entry.inspector != actor.person {
            return Err(ApiError::Forbidden {
                role: "inspector".into(),
                command: format!("submit_report for grid {grid}"),
                allowed: format!("the grid's own inspector (person {})", entry.inspector.0),
            });
        }
        if on_spot && (!kind.on_spot || source != ReportSource::Inspector) {
            return Err(invalid(
                "resolved_on_spot",
                format!(
                    "item type {item_type} ({}) may not be resolved on the spot by {source:?}",
                    kind.name_en
                ),
            ));
        }
        if self.tasks.len() >= MAX_TASKS {
            return Err(ApiError::Conflict {
                task: 0,
                problem: format!("task store full ({MAX_TASKS})"),
            });
        }
        if source != ReportSource::Inspector
            && let Some(&task) = self
                .open_by_place
                .get(&(grid, item_type))
                .and_then(|s| s.first())
        {
            if self.by_ref.len() >= 2 * MAX_TASKS {
                return Err(ApiError::Conflict {
                    task: 0,
                    problem: format!("report store full ({} reports)", 2 * MAX_TASKS),
                });
            }
            self.by_ref.insert(report_ref, (task, true));
            return Ok(vec![Outcome::ReportMerged { report_ref, task }]);
        }
        let (community, street, inspector) = (entry.community, entry.street, entry.inspector);
        let id = TaskId(self.tasks.len() as u64 + 1);
        let allowed_ms = kind.deadline_h as u64 * 3_600_000;
        let department = kind.department;
        self.tasks.push(Task {
            id,
            report_ref,
            source,
            grid,
            item_type,
            reporter: actor.person,
            observed_at,
            reported_at: now,
            deadline_at: now.saturating_add(allowed_ms),
            state: TaskState::Unassigned,
            resolver: None,
            verifier: None,
            resolved_on_spot: on_spot,
            verification_requested_at: None,
            closed_at: None,
            reworks: 0,
            escalation: None,
            unassigned_reason: None,
        });
        self.by_ref.insert(report_ref, (id, false));
        self.open_by_place
            .entry((grid, item_type))
            .or_default()
            .insert(id);
        self.escalations
            .insert((now.saturating_add(allowed_ms), id, EscalationLevel::Street));
        self.escalations.insert((
            now.saturating_add(allowed_ms * 3 / 2),
            id,
            EscalationLevel::District,
        ));
        let tally = self.tallies.entry(actor.person).or_default();
        if source == ReportSource::Inspector {
            tally.handled += 1;
        } else {
            // A resident reached the platform before the grid's inspector did.
            self.tallies.entry(inspector).or_default().misses += 1;
        }
        let mut out = vec![Outcome::ReportAccepted {
            report_ref,
            task: id,
        }];
        if on_spot {
            let t = &mut self.tasks[(id.0 - 1) as usize];
            t.resolver = Some(actor.person);
            t.state = TaskState::Dispatched; // passes through so the backlog counts stay balanced
            self.backlog.dispatched += 1;
            self.move_state(id, TaskState::AwaitingVerification);
            out.extend(self.request_verification(id, now));
        } else {
            self.backlog.unassigned += 1;
            out.push(self.dispatch(id, department, community, street));
        }
        Ok(out)
    }

    /// Least-loaded resolver of the department in the community, else in the street; ties go to
    /// the lowest person id so that dispatch is deterministic.
    fn dispatch(
        &mut self,
        id: TaskId,
        department: Department,
        community: u32,
        street: u32,
    ) -> Outcome {
        let dir = self.dir.as_ref().expect("dispatch needs a directory");
        let pick = |pool: Option<&Vec<usize>>| {
            least_loaded(
                &self.resolver_load,
                dir,
                pool.into_iter().flatten().copied(),
            )
        };
        let chosen = pick(dir.community_pool.get(&(department, community)))
            .or_else(|| pick(dir.street_pool.get(&(department, street))));
        let Some(index) = chosen else {
            let reason = format!(
                "no {} resolver in community {community} or street {street}",
                department.as_str()
            );
            self.tasks[(id.0 - 1) as usize].unassigned_reason = Some(reason.clone());
            return Outcome::TaskUnassigned { task: id, reason };
        };
        let person = dir.raw.resolvers[index].person;
        self.resolver_load[index] += 1;
        let t = &mut self.tasks[(id.0 - 1) as usize];
        t.resolver = Some(person);
        t.unassigned_reason = None;
        let deadline_at = t.deadline_at;
        self.move_state(id, TaskState::Dispatched);
        Outcome::TaskDispatched {
            task: id,
            resolver: person,
            deadline_at,
        }
    }

    /// A supervisor at the task's escalation level: to the least-loaded resolver of its
    /// department at that level (its street, or the whole district) when that one would still
    /// have less work than its resolver has now; an unassigned task to whoever there is.
    fn reassign(&mut self, id: TaskId) -> Result<Vec<Outcome>, ApiError> {
        let t = self.task(id).ok_or_else(|| ApiError::NotFound {
            what: "task".into(),
            id: id.0.to_string(),
        })?;
        let Some(level) = t.escalation else {
            return Err(conflict(id, "only an escalated task is reassigned".into()));
        };
        if t.state == TaskState::Closed {
            return Err(conflict(id, "already closed".into()));
        }
        if !matches!(t.state, TaskState::Unassigned | TaskState::Dispatched) {
            // The resolver is on it (or it awaits verification): nothing to move.
            return Ok(match t.resolver {
                Some(resolver) => vec![Outcome::TaskKept { task: id, resolver }],
                None => vec![],
            });
        }
        let dir = self.dir()?;
        let kind = catalogue::item_type(t.item_type).expect("checked on report");
        let street = dir.raw.grids[t.grid as usize].street;
        let current = t.resolver.and_then(|p| dir.resolver_index.get(&p).copied());
        let other = |i: &usize| Some(*i) != current;
        let load = &self.resolver_load;
        let best = match level {
            EscalationLevel::Street => least_loaded(
                load,
                dir,
                dir.street_pool
                    .get(&(kind.department, street))
                    .into_iter()
                    .flatten()
                    .copied()
                    .filter(other),
            ),
            EscalationLevel::District => least_loaded(
                load,
                dir,
                (0..dir.raw.resolvers.len())
                    .filter(|&i| dir.raw.resolvers[i].department == kind.department)
                    .filter(other),
            ),
        };
        let better = match (best, current) {
            (Some(b), Some(c)) => self.resolver_load[b] + 1 < self.resolver_load[c],
            (Some(_), None) => true,
            (None, _) => false,
        };
        let Some(to) = best.filter(|_| better) else {
            return Ok(match t.resolver {
                Some(resolver) => vec![Outcome::TaskKept { task: id, resolver }],
                None => vec![],
            });
        };
        let to_person = dir.raw.resolvers[to].person;
        let was_unassigned = t.state == TaskState::Unassigned;
        let from = t.resolver;
        if let Some(c) = current {
            self.resolver_load[c] -= 1;
        }
        self.resolver_load[to] += 1;
        let t = &mut self.tasks[(id.0 - 1) as usize];
        t.resolver = Some(to_person);
        t.unassigned_reason = None;
        let deadline_at = t.deadline_at;
        if was_unassigned {
            self.move_state(id, TaskState::Dispatched);
            return Ok(vec![Outcome::TaskDispatched {
                task: id,
                resolver: to_person,
                deadline_at,
            }]);
        }
        Ok(vec![Outcome::TaskReassigned {
            task: id,
            from: from.expect("a dispatched task has a resolver"),
            to: to_person,
            deadline_at,
        }])
    }

    fn task_for(&self, actor: Actor, id: TaskId) -> Result<&Task, ApiError> {
        let t = self.task(id).ok_or_else(|| ApiError::NotFound {
            what: "task".into(),
            id: id.0.to_string(),
        })?;
        if t.resolver != Some(actor.person) && t.verifier != Some(actor.person) {
            return Err(ApiError::Forbidden {
                role: actor.role.as_str().into(),
                command: format!("task {} (person {})", id.0, actor.person.0),
                allowed: "the task's assigned resolver or verifier".into(),
            });
        }
        Ok(t)
    }

    fn accept(&mut self, actor: Actor, id: TaskId) -> Result<Vec<Outcome>, ApiError> {
        let t = self.task_for(actor, id)?;
        if t.resolver != Some(actor.person) || t.state != TaskState::Dispatched {
            return Err(conflict(
                id,
                format!("cannot accept in state {:?}", t.state),
            ));
        }
        self.move_state(id, TaskState::Accepted);
        Ok(vec![Outcome::TaskAccepted { task: id }])
    }

    fn resolve(&mut self, actor: Actor, now: Millis, id: TaskId) -> Result<Vec<Outcome>, ApiError> {
        let t = self.task_for(actor, id)?;
        if t.resolver != Some(actor.person) || t.state != TaskState::Accepted {
            return Err(conflict(
                id,
                format!("cannot resolve in state {:?} (accept it first)", t.state),
            ));
        }
        self.move_state(id, TaskState::AwaitingVerification);
        Ok(self.request_verification(id, now))
    }

    /// The grid's inspector verifies, unless they resolved it themselves: then the nearest
    /// neighbour's inspector, so that nobody ever verifies their own work.
    fn request_verification(&mut self, id: TaskId, now: Millis) -> Vec<Outcome> {
        let dir = self.dir.as_ref().expect("verification needs a directory");
        let t = &self.tasks[(id.0 - 1) as usize];
        let resolver = t.resolver.expect("a resolved task has a resolver");
        let entry = &dir.raw.grids[t.grid as usize];
        let verifier = std::iter::once(entry.inspector)
            .chain(
                entry
                    .neighbours
                    .iter()
                    .map(|&g| dir.raw.grids[g as usize].inspector),
            )
            .chain(dir.raw.grids.iter().map(|g| g.inspector))
            .find(|&p| p != resolver);
        let t = &mut self.tasks[(id.0 - 1) as usize];
        match verifier {
            Some(v) => {
                t.verifier = Some(v);
                t.verification_requested_at = Some(now);
                vec![Outcome::VerificationRequested {
                    task: id,
                    verifier: v,
                    resolver,
                }]
            }
            None => {
                let reason = "no inspector other than the resolver can verify".to_string();
                t.unassigned_reason = Some(reason.clone());
                vec![Outcome::TaskUnassigned { task: id, reason }]
            }
        }
    }

    fn verify(
        &mut self,
        actor: Actor,
        now: Millis,
        id: TaskId,
        passed: bool,
    ) -> Result<Vec<Outcome>, ApiError> {
        let t = self.task_for(actor, id)?;
        if t.verifier != Some(actor.person) || t.state != TaskState::AwaitingVerification {
            return Err(conflict(
                id,
                format!(
                    "cannot verify in state {:?} as person {}",
                    t.state, actor.person.0
                ),
            ));
        }
        let (resolver, requested, deadline, on_spot) = (
            t.resolver.expect("resolver"),
            t.verification_requested_at.unwrap_or(now),
            t.deadline_at,
            t.resolved_on_spot,
        );
        let verifier_tally = self.tallies.entry(actor.person).or_default();
        verifier_tally.verifications += 1;
        if now.saturating_sub(requested) > VERIFY_WITHIN_MS {
            verifier_tally.verifications_late += 1;
        }
        let resolver_tally = self.tallies.entry(resolver).or_default();
        if passed {
            resolver_tally.judged += 1;
            let overdue = now > deadline;
            if !overdue {
                resolver_tally.on_time += 1;
            }
            if !on_spot {
                resolver_tally.handled += 1;
            }
            self.move_state(id, TaskState::Closed);
            let t = &mut self.tasks[(id.0 - 1) as usize];
            t.closed_at = Some(now);
            let (grid, item) = (t.grid, t.item_type);
            if let Some(set) = self.open_by_place.get_mut(&(grid, item)) {
                set.remove(&id);
                if set.is_empty() {
                    self.open_by_place.remove(&(grid, item));
                }
            }
            if let Some(i) = self
                .dir
                .as_ref()
                .and_then(|d| d.resolver_index.get(&resolver).copied())
            {
                self.resolver_load[i] -= 1;
            }
            Ok(vec![Outcome::TaskClosed {
                task: id,
                at: now,
                overdue,
            }])
        } else {
            resolver_tally.reworks += 1;
            let t = &mut self.tasks[(id.0 - 1) as usize];
            t.reworks += 1;
            // Escalation times that passed while it awaited verification were let go then (it
            // looked resolved); back in the resolvers' hands, they apply again at once.
            let allowed = t.deadline_at.saturating_sub(t.reported_at);
            for (at, level) in [
                (t.deadline_at, EscalationLevel::Street),
                (
                    t.reported_at.saturating_add(allowed * 3 / 2),
                    EscalationLevel::District,
                ),
            ] {
                if at <= now && t.escalation < Some(level) {
                    self.escalations.insert((now, id, level));
                }
            }
            let t = &mut self.tasks[(id.0 - 1) as usize];
            t.verifier = None;
            t.verification_requested_at = None;
            if on_spot {
                // The inspector's own fix did not hold: it goes to the department like any report.
                t.resolved_on_spot = false;
                t.resolver = None;
                let (grid, item) = (t.grid, t.item_type);
                let dir = self.dir.as_ref().expect("directory");
                let entry = &dir.raw.grids[grid as usize];
                let (community, street) = (entry.community, entry.street);
                let department = catalogue::item_type(item).expect("known type").department;
                self.move_state(id, TaskState::Unassigned);
                Ok(vec![self.dispatch(id, department, community, street)])
            } else {
                self.move_state(id, TaskState::Dispatched);
                Ok(vec![Outcome::TaskReworked { task: id, resolver }])
            }
        }
    }

    fn move_state(&mut self, id: TaskId, to: TaskState) {
        let t = &mut self.tasks[(id.0 - 1) as usize];
        let from = t.state;
        t.state = to;
        *state_count(&mut self.backlog, from) -= 1;
        *state_count(&mut self.backlog, to) += 1;
        if to == TaskState::Closed && t.escalation.is_some() {
            self.backlog.escalated_open -= 1;
        }
    }
}

/// Of the resolvers `pool` (indices into the directory), the one with the fewest open tasks;
/// ties go to the lowest person id, so that dispatch is deterministic.
fn least_loaded(load: &[u32], dir: &Dir, pool: impl Iterator<Item = usize>) -> Option<usize> {
    pool.min_by_key(|&i| (load[i], dir.raw.resolvers[i].person))
}

fn invalid(field: impl Into<String>, problem: impl Into<String>) -> ApiError {
    ApiError::Invalid {
        field: field.into(),
        problem: problem.into(),
    }
}

fn conflict(id: TaskId, problem: String) -> ApiError {
    ApiError::Conflict {
        task: id.0,
        problem,
    }
}

fn state_count(b: &mut Backlog, s: TaskState) -> &mut u64 {
    match s {
        TaskState::Unassigned => &mut b.unassigned,
        TaskState::Dispatched => &mut b.dispatched,
        TaskState::Accepted => &mut b.accepted,
        TaskState::AwaitingVerification => &mut b.awaiting_verification,
        TaskState::Closed => &mut b.closed,
    }
}
