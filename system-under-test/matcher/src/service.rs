//! The matcher as a service of the stack: the versioned watchlist and match policy, the 1:N
//! search of each sighting, alerts and their review — with the safeguards built in:
//!
//! - a sighting that matches nothing is answered and forgotten: nothing of it is stored;
//! - expired or removed entries never match (they are switched off in the index and filtered
//!   again at search time);
//! - an alert is a lead: it is confirmed only when the policy's number of distinct reviewers
//!   have confirmed it, and any rejection ends it (its sighting's embedding is then deleted);
//! - every alert records the watchlist and policy versions that produced it;
//! - role checks and the audit log are the stack's, on every call.

use std::collections::BTreeMap;

use baoan_api::{
    AlertCandidate, AlertId, AlertReview, ApiError, AuditedAlert, Command, Envelope, ListKind,
    MatchPolicy, MatcherAudit, Millis, Outcome, PersonId, Sighting, WatchlistEntry,
};

use crate::ExactIndex;

/// The matcher's embedding dimension unless configured otherwise.
pub const DEFAULT_DIM: usize = 512;

#[derive(Debug, Clone)]
struct EntryMeta {
    entry_ref: u64,
    list: ListKind,
    legal_basis: String,
    owner: String,
    expires_at: Millis,
    active: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertState {
    Pending,
    Confirmed,
    Rejected,
}

/// An alert and the sighting it keeps (the only sightings the matcher keeps).
#[derive(Debug, Clone)]
pub struct Alert {
    pub id: AlertId,
    /// Kept while the alert is pending or confirmed; `None` once rejected.
    pub sighting: Option<Sighting>,
    pub sighting_ref: u64,
    pub camera: u32,
    pub raised_at: Millis,
    pub candidates: Vec<AlertCandidate>,
    pub watchlist_version: u32,
    pub policy_version: u32,
    pub reviewers_required: u8,
    /// Who reviewed it, what they said and when.
    pub reviews: Vec<AlertReview>,
    pub state: AlertState,
}

/// Counts for reports and properties.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MatcherStats {
    pub searches: u64,
    pub discarded: u64,
    pub alerts: u64,
    pub confirmed: u64,
    pub rejected: u64,
}

pub struct MatcherService {
    dim: usize,
    index: ExactIndex,
    entries: Vec<EntryMeta>,
    by_ref: BTreeMap<u64, u32>,
    watchlist_version: u32,
    policy: MatchPolicy,
    policy_version: u32,
    alerts: BTreeMap<AlertId, Alert>,
    alert_of_sighting: BTreeMap<u64, AlertId>,
    stats: MatcherStats,
    /// The first and last search: the period of use, for the audit.
    searched: Option<(Millis, Millis)>,
    /// No active entry expires before this: exact after `advance`, and lowered as entries are
    /// added (an entry taken off only makes the true time later, so this is never late).
    next_expiry: Option<Millis>,
}

impl Default for MatcherService {
    fn default() -> Self {
        MatcherService::new(DEFAULT_DIM)
    }
}

fn invalid(field: &str, problem: impl Into<String>) -> ApiError {
    ApiError::Invalid {
        field: field.into(),
        problem: problem.into(),
    }
}

impl MatcherService {
    pub fn new(dim: usize) -> MatcherService {
        MatcherService {
            dim,
            index: ExactIndex::new(dim).expect("a positive dimension"),
            entries: Vec::new(),
            by_ref: BTreeMap::new(),
            watchlist_version: 0,
            policy: MatchPolicy::default(),
            policy_version: 0,
            alerts: BTreeMap::new(),
            alert_of_sighting: BTreeMap::new(),
            stats: MatcherStats::default(),
            searched: None,
            next_expiry: None,
        }
    }

    /// The earliest time `advance` may have work (an entry expiring), if any.
    pub fn next_due(&self) -> Option<Millis> {
        self.next_expiry
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn stats(&self) -> MatcherStats {
        self.stats
    }

    pub fn policy(&self) -> (MatchPolicy, u32) {
        (self.policy, self.policy_version)
    }

    pub fn alerts(&self) -> impl Iterator<Item = &Alert> {
        self.alerts.values()
    }

    /// Sightings the matcher holds: only those behind pending or confirmed alerts.
    pub fn sightings_retained(&self) -> usize {
        self.alerts
            .values()
            .filter(|a| a.sighting.is_some())
            .count()
    }

    /// The use log an auditor exports (the stack adds its look-ups of personal data).
    pub fn audit(&self) -> MatcherAudit {
        let held = |a: &Alert| a.sighting.is_some();
        MatcherAudit {
            first_search_at: self.searched.map(|s| s.0),
            last_search_at: self.searched.map(|s| s.1),
            searches: self.stats.searches,
            no_match: self.stats.discarded,
            sightings_held: self.alerts.values().filter(|a| held(a)).count() as u64,
            non_matching_retained: self
                .alerts
                .values()
                .filter(|a| held(a) && a.state == AlertState::Rejected)
                .count() as u64,
            watchlist_version: self.watchlist_version,
            policy_version: self.policy_version,
            alerts: self
                .alerts
                .values()
                .map(|a| AuditedAlert {
                    alert: a.id,
                    sighting_ref: a.sighting_ref,
                    camera: a.camera,
                    raised_at: a.raised_at,
                    entry_refs: a.candidates.iter().map(|c| c.entry_ref).collect(),
                    watchlist_version: a.watchlist_version,
                    policy_version: a.policy_version,
                    reviewers_required: a.reviewers_required,
                    reviews: a.reviews.clone(),
                    state: match a.state {
                        AlertState::Pending => "pending",
                        AlertState::Confirmed => "confirmed",
                        AlertState::Rejected => "rejected",
                    }
                    .into(),
                    sighting_held: held(a),
                })
                .collect(),
            lookups: Vec::new(),
        }
    }

    pub fn active_entries(&self) -> usize {
        self.entries.iter().filter(|e| e.active).count()
    }

    pub fn handle(&mut self, env: &Envelope) -> Result<Vec<Outcome>, ApiError> {
        baoan_api::authorize(&env.actor, &env.command)?;
        match &env.command {
            Command::UpsertWatchlist { entries } => self.upsert(env.sent_at, entries),
            Command::RemoveWatchlistEntry { entry_ref, reason } => self.remove(*entry_ref, reason),
            Command::SetMatchPolicy { policy } => self.set_policy(*policy),
            Command::SubmitSighting { sighting } => self.search(env.sent_at, sighting),
            Command::ReviewAlert { alert, confirm } => {
                self.review(*alert, env.actor.person, *confirm, env.sent_at)
            }
            Command::ExportMatcherAudit => Ok(vec![Outcome::MatcherAuditExported {
                audit: self.audit(),
            }]),
            other => Err(invalid(
                "command",
                format!("{} is not a matcher command", other.kind()),
            )),
        }
    }

    /// Switch off entries whose expiry has passed; a new watchlist version if any did.
    pub fn advance(&mut self, now: Millis) -> Vec<Outcome> {
        let mut changed = false;
        let mut next = None::<Millis>;
        for (k, e) in self.entries.iter_mut().enumerate() {
            if e.active && e.expires_at <= now {
                e.active = false;
                self.index.set_active(k as u32, false);
                changed = true;
            } else if e.active {
                next = Some(next.map_or(e.expires_at, |t| t.min(e.expires_at)));
            }
        }
        self.next_expiry = next;
        if !changed {
            return Vec::new();
        }
        self.watchlist_version += 1;
        vec![Outcome::WatchlistUpdated {
            version: self.watchlist_version,
            active: self.active_entries() as u32,
        }]
    }

    fn check_embedding(&self, field: &str, v: &[f32]) -> Result<(), ApiError> {
        if v.len() != self.dim {
            return Err(invalid(
                field,
                format!("expected {} numbers, found {}", self.dim, v.len()),
            ));
        }
        if let Some(k) = v.iter().position(|x| !x.is_finite()) {
            return Err(invalid(
                field,
                format!("element {k} is not a finite number"),
            ));
        }
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        if (norm - 1.0).abs() > 1e-3 {
            return Err(invalid(
                field,
                format!("expected a unit vector, found length {norm}"),
            ));
        }
        Ok(())
    }

    fn upsert(
        &mut self,
        now: Millis,
        entries: &[WatchlistEntry],
    ) -> Result<Vec<Outcome>, ApiError> {
        // Check the whole batch first: a refused batch changes nothing.
        let mut refs = std::collections::BTreeSet::new();
        for (k, e) in entries.iter().enumerate() {
            let field = |f: &str| format!("entries[{k}].{f}");
            if !refs.insert(e.entry_ref) {
                return Err(invalid(
                    &field("entry_ref"),
                    format!("{} appears twice in the batch", e.entry_ref),
                ));
            }
            if e.legal_basis.trim().is_empty() {
                return Err(invalid(
                    &field("legal_basis"),
                    "an entry needs a legal basis",
                ));
            }
            if e.owner.trim().is_empty() {
                return Err(invalid(&field("owner"), "an entry needs an owner"));
            }
            if e.expires_at <= now {
                return Err(invalid(
                    &field("expires_at"),
                    format!("{} is not after the time sent ({now})", e.expires_at),
                ));
            }
            self.check_embedding(&field("embedding"), &e.embedding)?;
        }
        for e in entries {
            if let Some(&old) = self.by_ref.get(&e.entry_ref) {
                self.entries[old as usize].active = false;
                self.index.set_active(old, false);
            }
            let k = self
                .index
                .add(&e.embedding)
                .map_err(|err| invalid("embedding", err.to_string()))?;
            self.next_expiry = Some(
                self.next_expiry
                    .map_or(e.expires_at, |t| t.min(e.expires_at)),
            );
            self.entries.push(EntryMeta {
                entry_ref: e.entry_ref,
                list: e.list,
                legal_basis: e.legal_basis.clone(),
                owner: e.owner.clone(),
                expires_at: e.expires_at,
                active: true,
            });
            self.by_ref.insert(e.entry_ref, k);
        }
        self.watchlist_version += 1;
        Ok(vec![Outcome::WatchlistUpdated {
            version: self.watchlist_version,
            active: self.active_entries() as u32,
        }])
    }

    fn remove(&mut self, entry_ref: u64, reason: &str) -> Result<Vec<Outcome>, ApiError> {
        if reason.trim().is_empty() {
            return Err(invalid("reason", "a removal needs a reason"));
        }
        let k = *self
            .by_ref
            .get(&entry_ref)
            .filter(|&&k| self.entries[k as usize].active)
            .ok_or_else(|| ApiError::NotFound {
                what: "watchlist entry".into(),
                id: entry_ref.to_string(),
            })?;
        self.entries[k as usize].active = false;
        self.index.set_active(k, false);
        self.watchlist_version += 1;
        Ok(vec![Outcome::WatchlistUpdated {
            version: self.watchlist_version,
            active: self.active_entries() as u32,
        }])
    }

    fn set_policy(&mut self, p: MatchPolicy) -> Result<Vec<Outcome>, ApiError> {
        if !(p.threshold.is_finite() && p.threshold > -1.0 && p.threshold <= 1.0) {
            return Err(invalid(
                "policy.threshold",
                format!("expected a score in (-1, 1], found {}", p.threshold),
            ));
        }
        if !(1..=100).contains(&p.top_k) {
            return Err(invalid(
                "policy.top_k",
                format!("expected 1 to 100 candidates, found {}", p.top_k),
            ));
        }
        if !(1..=5).contains(&p.reviewers_required) {
            return Err(invalid(
                "policy.reviewers_required",
                format!("expected 1 to 5 reviewers, found {}", p.reviewers_required),
            ));
        }
        self.policy = p;
        self.policy_version += 1;
        Ok(vec![Outcome::MatchPolicySet {
            version: self.policy_version,
        }])
    }

    fn search(&mut self, now: Millis, s: &Sighting) -> Result<Vec<Outcome>, ApiError> {
        if !(0.0..=1.0).contains(&s.quality) {
            return Err(invalid(
                "sighting.quality",
                format!("expected 0 to 1, found {}", s.quality),
            ));
        }
        self.check_embedding("sighting.embedding", &s.embedding)?;
        if let Some(id) = self.alert_of_sighting.get(&s.sighting_ref) {
            // At-least-once transports: the same sighting gets the same alert.
            return Ok(vec![self.raised(&self.alerts[id])]);
        }
        self.stats.searches += 1;
        self.searched = Some(self.searched.map_or((now, now), |(first, _)| (first, now)));
        let k = self.policy.top_k as usize;
        // Entries past their expiry that `advance` has not switched off yet are skipped here:
        // ask for enough extra hits that they cannot crowd out live ones.
        let stale = self
            .entries
            .iter()
            .filter(|e| e.active && e.expires_at <= now)
            .count();
        let candidates: Vec<AlertCandidate> = self
            .index
            .search(&s.embedding, k + stale, self.policy.threshold)
            .into_iter()
            .filter_map(|h| {
                let e = &self.entries[h.entry as usize];
                (e.active && e.expires_at > now).then(|| AlertCandidate {
                    entry_ref: e.entry_ref,
                    list: e.list,
                    score: h.score,
                    legal_basis: e.legal_basis.clone(),
                    owner: e.owner.clone(),
                })
            })
            .take(k)
            .collect();
        if candidates.is_empty() {
            self.stats.discarded += 1;
            return Ok(vec![Outcome::SightingDiscarded {
                sighting_ref: s.sighting_ref,
            }]);
        }
        let id = AlertId(self.stats.alerts + 1);
        self.stats.alerts += 1;
        let alert = Alert {
            id,
            sighting: Some(s.clone()),
            sighting_ref: s.sighting_ref,
            camera: s.camera,
            raised_at: now,
            candidates,
            watchlist_version: self.watchlist_version,
            policy_version: self.policy_version,
            reviewers_required: self.policy.reviewers_required,
            reviews: Vec::new(),
            state: AlertState::Pending,
        };
        let out = self.raised(&alert);
        self.alert_of_sighting.insert(s.sighting_ref, id);
        self.alerts.insert(id, alert);
        Ok(vec![out])
    }

    fn raised(&self, a: &Alert) -> Outcome {
        Outcome::AlertRaised {
            alert: a.id,
            sighting_ref: a.sighting_ref,
            camera: a.camera,
            candidates: a.candidates.clone(),
            watchlist_version: a.watchlist_version,
            policy_version: a.policy_version,
            reviewers_required: a.reviewers_required,
        }
    }

    fn review(
        &mut self,
        id: AlertId,
        reviewer: PersonId,
        confirm: bool,
        at: Millis,
    ) -> Result<Vec<Outcome>, ApiError> {
        let refused = |problem: &str| ApiError::Refused {
            what: "alert".into(),
            id: id.0.to_string(),
            problem: problem.into(),
        };
        let alert = self.alerts.get_mut(&id).ok_or_else(|| ApiError::NotFound {
            what: "alert".into(),
            id: id.0.to_string(),
        })?;
        if alert.state != AlertState::Pending {
            return Err(refused("already decided"));
        }
        if alert.reviews.iter().any(|r| r.reviewer == reviewer) {
            return Err(refused(
                "this reviewer has already reviewed it; another person must",
            ));
        }
        alert.reviews.push(AlertReview {
            reviewer,
            confirm,
            at,
        });
        let confirmations = alert.reviews.iter().filter(|r| r.confirm).count() as u8;
        let mut out = vec![Outcome::AlertReviewed {
            alert: id,
            reviewer,
            confirm,
            confirmations,
        }];
        if !confirm {
            alert.state = AlertState::Rejected;
            alert.sighting = None;
            self.stats.rejected += 1;
            out.push(Outcome::AlertRejected { alert: id });
        } else if confirmations >= alert.reviewers_required {
            alert.state = AlertState::Confirmed;
            self.stats.confirmed += 1;
            out.push(Outcome::AlertConfirmed {
                alert: id,
                entry_ref: alert.candidates[0].entry_ref,
            });
        }
        Ok(out)
    }

    /// The sighting behind a confirmed alert, for command to act on.
    pub fn confirmed_sighting(&self, id: AlertId) -> Option<&Sighting> {
        self.alerts
            .get(&id)
            .filter(|a| a.state == AlertState::Confirmed)
            .and_then(|a| a.sighting.as_ref())
    }
}
