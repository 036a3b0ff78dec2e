//! Disputes: intake and risk assessment, the agencies' required actions with joint household
//! visits, reassessment after a visit, overdue escalation and closing.

use std::collections::{BTreeMap, BTreeSet};

use baoan_api::cases::{
    Agency, CaseEvaluation, CaseSource, CaseTask, CaseTaskView, CaseView, DisputeFeatures,
    DisputeKind, RiskLevel,
};
use baoan_api::{Actor, ApiError, EscalationLevel, Millis, Outcome, PersonId, Role};

use crate::{CasesService, Escalation, HOUR_MS, forbidden, invalid, not_found, refused, slot};

/// What `OpenCase` carries.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Intake {
    pub case_ref: u64,
    pub source: CaseSource,
    pub kind: DisputeKind,
    pub grid: u32,
    pub street: u32,
    pub x_m: f64,
    pub y_m: f64,
    pub features: DisputeFeatures,
    pub observed_at: Millis,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Case {
    pub intake: Intake,
    pub id: u64,
    pub score: u32,
    pub level: RiskLevel,
    pub opened_at: Millis,
    /// Task ids, in the order issued.
    pub tasks: Vec<u64>,
    pub escalation_queued: bool,
    pub escalated_incident: Option<u64>,
    pub closed_at: Option<Millis>,
    pub evaluation: Option<CaseEvaluation>,
    /// What the first `OpenCase` answered, for repeats.
    pub answer: Outcome,
}

impl PartialEq for Intake {
    fn eq(&self, o: &Self) -> bool {
        self.case_ref == o.case_ref
            && self.source == o.source
            && self.kind == o.kind
            && self.grid == o.grid
            && self.street == o.street
            && self.x_m.to_bits() == o.x_m.to_bits()
            && self.y_m.to_bits() == o.y_m.to_bits()
            && self.features == o.features
            && self.observed_at == o.observed_at
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Task {
    pub task: CaseTask,
    /// When the current deadline was set (issue, or a reassessment that moved it).
    pub issued_at: Millis,
    pub done_at: Option<Millis>,
    pub by: Option<PersonId>,
    pub escalation: Option<EscalationLevel>,
}

impl Task {
    /// The overdue clock's entries: street just past the deadline, district just past 1.5 times
    /// the allowed time.
    fn clock(&self) -> [(Millis, u64, EscalationLevel); 2] {
        let due = self.task.due_at;
        let allowed = due.saturating_sub(self.issued_at);
        [
            (
                due.saturating_add(1),
                self.task.task,
                EscalationLevel::Street,
            ),
            (
                due.saturating_add(allowed / 2).saturating_add(1),
                self.task.task,
                EscalationLevel::District,
            ),
        ]
    }
}

fn agency_list(agencies: impl IntoIterator<Item = Agency>) -> String {
    agencies
        .into_iter()
        .map(Agency::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

impl CasesService {
    fn case_slot(&self, case: u64) -> Result<usize, ApiError> {
        slot(case, self.cases.len()).ok_or_else(|| not_found("case", case))
    }

    pub(crate) fn open_case(&mut self, now: Millis, i: Intake) -> Result<Vec<Outcome>, ApiError> {
        if let Some(&id) = self.case_by_ref.get(&i.case_ref) {
            // At-least-once transports: a repeat answers what the first one got.
            return Ok(vec![self.cases[(id - 1) as usize].answer.clone()]);
        }
        for (field, v) in [("x_m", i.x_m), ("y_m", i.y_m)] {
            if !v.is_finite() {
                return Err(invalid(
                    field,
                    format!("expected a finite position in metres, got {v}"),
                ));
            }
        }
        if i.observed_at > now {
            return Err(invalid(
                "observed_at",
                format!(
                    "expected a time no later than the command ({now} ms), got {} ms",
                    i.observed_at
                ),
            ));
        }
        let (score, level) = self.config.assess(&i.features);
        let id = self.cases.len() as u64 + 1;
        let required = self.config.required(level, i.kind);
        let tasks = self.issue_tasks(id, now, &required);
        let answer = Outcome::CaseOpened {
            case: id,
            case_ref: i.case_ref,
            score,
            level,
            tasks: tasks.clone(),
        };
        self.cases.push(Case {
            intake: i,
            id,
            score,
            level,
            opened_at: now,
            tasks: tasks.iter().map(|t| t.task).collect(),
            escalation_queued: false,
            escalated_incident: None,
            closed_at: None,
            evaluation: None,
            answer: answer.clone(),
        });
        self.case_by_ref.insert(i.case_ref, id);
        self.stats.cases_opened += 1;
        self.stats.cases_opened_by_level[level as usize] += 1;
        if level == RiskLevel::Acute {
            self.queue_escalation(id, now);
        }
        Ok(vec![answer])
    }

    /// Issue tasks for the agencies with their deadlines (hours from now); the household visits
    /// among them, if two or more, become one joint visit due at the earliest of their deadlines.
    fn issue_tasks(&mut self, case: u64, now: Millis, required: &[(Agency, u32)]) -> Vec<CaseTask> {
        let due = |hours: u32| now.saturating_add(u64::from(hours) * HOUR_MS);
        let visits: Vec<u32> = required
            .iter()
            .filter(|(a, _)| a.visits())
            .map(|&(_, h)| h)
            .collect();
        let joint = if visits.len() >= 2 {
            self.joint_visits += 1;
            visits
                .iter()
                .map(|&h| due(h))
                .min()
                .map(|d| (self.joint_visits, d))
        } else {
            None
        };
        let mut out = Vec::with_capacity(required.len());
        for &(agency, hours) in required {
            let (due_at, joint_visit) = match joint {
                Some((j, d)) if agency.visits() => (d, Some(j)),
                _ => (due(hours), None),
            };
            let task = CaseTask {
                task: self.tasks.len() as u64 + 1,
                case,
                agency,
                due_at,
                joint_visit,
            };
            let t = Task {
                task: task.clone(),
                issued_at: now,
                done_at: None,
                by: None,
                escalation: None,
            };
            self.task_clock.extend(t.clock());
            self.tasks.push(t);
            out.push(task);
        }
        self.stats.case_tasks_issued += out.len() as u64;
        out
    }

    fn queue_escalation(&mut self, case: u64, now: Millis) {
        let c = &mut self.cases[(case - 1) as usize];
        if c.escalation_queued {
            return;
        }
        c.escalation_queued = true;
        self.escalations.push(Escalation {
            case,
            grid: c.intake.grid,
            x_m: c.intake.x_m,
            y_m: c.intake.y_m,
            at: now,
        });
        self.stats.cases_escalated += 1;
    }

    pub(crate) fn record_action(
        &mut self,
        actor: Actor,
        now: Millis,
        task: u64,
        findings: Option<&DisputeFeatures>,
    ) -> Result<Vec<Outcome>, ApiError> {
        let ti = slot(task, self.tasks.len()).ok_or_else(|| not_found("case task", task))?;
        let t = &self.tasks[ti];
        let (agency, case, due_at) = (t.task.agency, t.task.case, t.task.due_at);
        let ci = (case - 1) as usize;
        let street = self.cases[ci].intake.street;
        if !self.dir()?.serves(actor.person, agency, street) {
            return Err(forbidden(
                actor,
                format!("record_case_action on task {task}"),
                format!(
                    "a {} caseworker serving street {street} (or the whole district)",
                    agency.as_str()
                ),
            ));
        }
        if let (Some(at), Some(by)) = (t.done_at, t.by) {
            return Err(refused(
                "case task",
                task,
                format!("already done at {at} ms by person {}", by.0),
            ));
        }
        // Valid: from here on nothing can fail.
        let on_time = now <= due_at;
        let t = &mut self.tasks[ti];
        t.done_at = Some(now);
        t.by = Some(actor.person);
        self.stats.case_tasks_done += 1;
        self.stats.case_tasks_on_time += u64::from(on_time);
        let mut out = vec![Outcome::CaseActionRecorded {
            task,
            case,
            agency,
            on_time,
        }];
        if let Some(f) = findings {
            let (score, level) = self.config.assess(f);
            let c = &mut self.cases[ci];
            c.score = c.score.max(score);
            if level > c.level {
                c.level = level;
                out.push(self.reassess(ci, now));
            }
        }
        Ok(out)
    }

    /// The case's level rose: issue the new level's actions the case lacks and move open
    /// deadlines earlier where the new level's (from now) are earlier. Open members of a joint
    /// visit keep sharing the earliest deadline among them.
    fn reassess(&mut self, ci: usize, now: Millis) -> Outcome {
        let (case, kind, level, score) = {
            let c = &self.cases[ci];
            (c.id, c.intake.kind, c.level, c.score)
        };
        let required = self.config.required(level, kind);
        let task_ids = self.cases[ci].tasks.clone();
        let mut proposed: BTreeMap<u64, Millis> = BTreeMap::new();
        for &id in &task_ids {
            let t = &self.tasks[(id - 1) as usize];
            if t.done_at.is_some() {
                continue;
            }
            let mut due = t.task.due_at;
            if let Some(&(_, h)) = required.iter().find(|(a, _)| *a == t.task.agency) {
                due = due.min(now.saturating_add(u64::from(h) * HOUR_MS));
            }
            proposed.insert(id, due);
        }
        let mut joint_min: BTreeMap<u64, Millis> = BTreeMap::new();
        for (&id, &due) in &proposed {
            if let Some(j) = self.tasks[(id - 1) as usize].task.joint_visit {
                let m = joint_min.entry(j).or_insert(due);
                *m = (*m).min(due);
            }
        }
        let mut changed = Vec::new();
        for (id, mut due) in proposed {
            let t = &mut self.tasks[(id - 1) as usize];
            if let Some(j) = t.task.joint_visit {
                due = due.min(joint_min[&j]);
            }
            if due < t.task.due_at {
                for e in t.clock() {
                    self.task_clock.remove(&e);
                }
                t.task.due_at = due;
                t.issued_at = now;
                self.task_clock.extend(t.clock());
                changed.push(t.task.clone());
            }
        }
        self.stats.case_tasks_moved += changed.len() as u64;
        let have: BTreeSet<Agency> = task_ids
            .iter()
            .map(|&id| self.tasks[(id - 1) as usize].task.agency)
            .collect();
        let missing: Vec<(Agency, u32)> = required
            .into_iter()
            .filter(|(a, _)| !have.contains(a))
            .collect();
        let new = self.issue_tasks(case, now, &missing);
        self.cases[ci].tasks.extend(new.iter().map(|t| t.task));
        changed.extend(new);
        changed.sort_by_key(|t| t.task);
        self.stats.cases_reassessed += 1;
        if level == RiskLevel::Acute {
            self.queue_escalation(case, now);
        }
        Outcome::CaseReassessed {
            case,
            score,
            level,
            tasks: changed,
        }
    }

    pub(crate) fn close_case(
        &mut self,
        actor: Actor,
        now: Millis,
        case: u64,
        evaluation: &CaseEvaluation,
    ) -> Result<Vec<Outcome>, ApiError> {
        let ci = self.case_slot(case)?;
        let c = &self.cases[ci];
        let street = c.intake.street;
        if !self.dir()?.serves(actor.person, Agency::Community, street) {
            return Err(forbidden(
                actor,
                format!("close_case on case {case}"),
                format!("a community caseworker serving street {street} (or the whole district)"),
            ));
        }
        if let Some(at) = c.closed_at {
            return Err(refused("case", case, format!("already closed at {at} ms")));
        }
        if !(1..=5).contains(&evaluation.satisfaction) {
            return Err(invalid(
                "evaluation.satisfaction",
                format!(
                    "expected a satisfaction score 1..=5, got {}",
                    evaluation.satisfaction
                ),
            ));
        }
        let missing: Vec<&Task> = c
            .tasks
            .iter()
            .map(|&id| &self.tasks[(id - 1) as usize])
            .filter(|t| t.done_at.is_none())
            .collect();
        if !missing.is_empty() {
            let list = missing
                .iter()
                .map(|t| format!("{} (task {})", t.task.agency.as_str(), t.task.task))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(refused(
                "case",
                case,
                format!("required actions not done yet: {list}"),
            ));
        }
        let c = &mut self.cases[ci];
        c.closed_at = Some(now);
        c.evaluation = Some(*evaluation);
        self.stats.cases_closed += 1;
        self.stats.cases_settled += u64::from(evaluation.settled);
        self.stats.satisfaction_sum += u64::from(evaluation.satisfaction);
        Ok(vec![Outcome::CaseClosed { case, at: now }])
    }

    pub(crate) fn query_case(&self, actor: Actor, case: u64) -> Result<Vec<Outcome>, ApiError> {
        let ci = self.case_slot(case)?;
        let c = &self.cases[ci];
        let on_case: BTreeSet<Agency> = c
            .tasks
            .iter()
            .map(|&id| self.tasks[(id - 1) as usize].task.agency)
            .collect();
        if actor.role != Role::Auditor {
            let mine = self.dir()?.agencies_in(actor.person, c.intake.street);
            if mine.is_disjoint(&on_case) {
                return Err(forbidden(
                    actor,
                    format!("query_case on case {case}"),
                    format!(
                        "auditors, or caseworkers of {} serving street {}",
                        agency_list(on_case),
                        c.intake.street
                    ),
                ));
            }
        }
        Ok(vec![Outcome::CaseAnswered {
            view: self.case_view(ci),
        }])
    }

    pub(crate) fn case_view(&self, ci: usize) -> CaseView {
        let c = &self.cases[ci];
        let mut tasks: Vec<CaseTaskView> = c
            .tasks
            .iter()
            .map(|&id| {
                let t = &self.tasks[(id - 1) as usize];
                CaseTaskView {
                    task: t.task.clone(),
                    done_at: t.done_at,
                    by: t.by,
                }
            })
            .collect();
        tasks.sort_by_key(|t| t.task.task);
        CaseView {
            case: c.id,
            case_ref: c.intake.case_ref,
            kind: c.intake.kind,
            source: c.intake.source,
            grid: c.intake.grid,
            street: c.intake.street,
            score: c.score,
            level: c.level,
            opened_at: c.opened_at,
            tasks,
            escalated_incident: c.escalated_incident,
            closed_at: c.closed_at,
        }
    }

    /// Overdue case tasks, each level once, in task order.
    pub(crate) fn advance_tasks(&mut self, now: Millis) -> Vec<Outcome> {
        let mut fired = Vec::new();
        while let Some(&(at, id, level)) = self.task_clock.first() {
            if at > now {
                break;
            }
            self.task_clock.pop_first();
            let t = &mut self.tasks[(id - 1) as usize];
            if t.done_at.is_none() && t.escalation < Some(level) {
                t.escalation = Some(level);
                fired.push((id, level, t.task.case, t.task.agency));
                match level {
                    EscalationLevel::Street => self.stats.case_tasks_overdue_street += 1,
                    EscalationLevel::District => self.stats.case_tasks_overdue_district += 1,
                }
            }
        }
        fired.sort_unstable();
        fired
            .into_iter()
            .map(|(task, level, case, agency)| Outcome::CaseTaskOverdue {
                task,
                case,
                agency,
                level,
            })
            .collect()
    }
}
