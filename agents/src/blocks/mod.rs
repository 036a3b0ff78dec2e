//! The block-data loop's actors: the departments that feed the platform their records of people
//! and companies (with the faults real feeds have), and the grid inspectors who verify on site
//! what the platform flags. The twin knows who every record is about and where they really
//! live, so the report measures the platform's linkage exactly.

mod definition;
pub mod feeds;
mod record;

use std::collections::HashMap;

use baoan_api::blocks::{Feed, Finding, Record, RecordKey, VerificationTask};
use baoan_api::{Actor, Command, Envelope, PersonId, Role};
use baoan_scenarios::{BlocksLoop, Scenario};
use baoan_world::Twin;
use baoan_world::bridge::{StackDoor, ToStack};
use baoan_world::kernel::{Agenda, LoopSet, SimClock, SimSet, Streams};
use bevy_app::{App, Plugin, Startup, Update};
use bevy_ecs::prelude::*;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp};

pub use definition::{Definition, NAME};
pub use record::{BlocksLedger, BlocksOutcome, finish};

/// The block-data loop's systems in one stage of a tick, in the kernel's chain of loops.
fn step(stage: SimSet) -> LoopSet {
    LoopSet::new(NAME, stage)
}

use crate::inspector_time::InspectorTime;
use crate::staff;
use feeds::{Entity, Feeds};

/// Records a department sends in one call.
pub const BATCH: usize = 10_000;

/// client_ref tags of the block loop's commands.
pub const TAG_BATCH: u64 = crate::registry::tags::BLOCKS.tag(0);
pub const TAG_FINDING: u64 = crate::registry::tags::BLOCKS.tag(1);
/// The address library and the departments' exports before the run; the auditor's export after.
pub const TAG_SETUP: u64 = crate::registry::tags::BLOCKS.tag(2);

/// Mean time from a conflict to the inspector's visit, in working hours.
const VISIT_MEAN_MS: f64 = 3.0 * 3_600_000.0;

#[derive(Resource, Debug, Clone)]
pub struct BlocksConfig {
    pub loop_: BlocksLoop,
    pub end_ms: u64,
}

impl BlocksConfig {
    pub fn from_scenario(s: &Scenario) -> BlocksConfig {
        BlocksConfig {
            loop_: s.blocks.clone(),
            end_ms: s.duration.ms(),
        }
    }
}

/// The truth behind the feeds, kept for judging the platform.
#[derive(Resource, Default)]
pub struct FeedTruth {
    pub truth: feeds::TruthTable,
    pub fraud_rooms: Vec<u32>,
    pub counts: feeds::FeedCounts,
    /// Room → building, from the address library the twin published.
    pub building_of_room: Vec<u32>,
    /// Community → one of its grids, for tasks the platform could not place closer.
    pub grid_of_community: HashMap<u32, u32>,
}

impl FeedTruth {
    pub fn building_of_room(&self, room: u32) -> Option<u32> {
        self.building_of_room
            .get(room as usize)
            .copied()
            .filter(|&b| b != u32::MAX)
    }
}

#[derive(Debug, Clone)]
pub enum BlocksAction {
    /// Records a department sends now (visits made during the run).
    Send(Vec<Record>),
    /// An inspector reaches the place of a verification task.
    Verify(VerificationTask),
}

pub struct BlocksLoopPlugin {
    pub config: BlocksConfig,
}

impl Plugin for BlocksLoopPlugin {
    fn build(&self, app: &mut App) {
        app.insert_resource(self.config.clone())
            .init_resource::<FeedTruth>()
            .init_resource::<BlocksLedger>()
            .init_resource::<Agenda<BlocksAction>>()
            .add_systems(Startup, load_feeds)
            .add_systems(Update, act.in_set(step(SimSet::Agents)))
            .add_systems(Update, record::hear.in_set(step(SimSet::Record)));
    }
}

fn department(feed: Feed) -> Actor {
    let n = match feed {
        Feed::HouseholdRegistration => 1,
        Feed::RentalRegistration => 2,
        Feed::BusinessRegistry => 3,
        Feed::UtilityAccounts => 4,
        Feed::InspectorVisit => 5,
    };
    Actor {
        role: Role::Department,
        person: PersonId(9_000_000 + n),
    }
}

/// Build the feeds from the truth, publish the address library, and send the departments'
/// exports (everything recorded before the run) in batches; visits made during the run go on
/// the agenda.
fn load_feeds(
    twin: Res<Twin>,
    config: Res<BlocksConfig>,
    streams: Res<Streams>,
    mut truth: ResMut<FeedTruth>,
    mut ledger: ResMut<BlocksLedger>,
    mut door: StackDoor,
    mut agenda: ResMut<Agenda<BlocksAction>>,
    mut time: ResMut<InspectorTime>,
) {
    let Feeds {
        library,
        records,
        truth: t,
        fraud_rooms,
        counts,
    } = feeds::generate(&twin, &config.loop_, &streams.0, config.end_ms);
    let mut building_of_room = vec![u32::MAX; library.rooms.len()];
    for r in &library.rooms {
        if let Some(b) = building_of_room.get_mut(r.id as usize) {
            *b = r.building;
        }
    }
    let mut grid_of_community = HashMap::new();
    for g in &twin.district.grids {
        grid_of_community.entry(g.community).or_insert(g.id);
    }
    *truth = FeedTruth {
        truth: t,
        fraud_rooms,
        counts,
        building_of_room,
        grid_of_community,
    };
    crate::send_before_run(
        &mut door,
        TAG_SETUP,
        &mut *ledger,
        staff::ADMIN,
        Command::LoadAddressLibrary {
            library,
            more: false,
        },
    );
    // The departments' exports, feed by feed, in batches; visits wait for their time.
    let mut bulk: Vec<Record> = Vec::new();
    let mut visits: Vec<(u64, Record)> = Vec::new();
    for (at, r) in records {
        if at >= 0 {
            visits.push((at as u64, r));
            continue;
        }
        if bulk.len() == BATCH || bulk.first().is_some_and(|b| b.key().feed != r.key().feed) {
            send_bulk(&mut bulk, &mut door, &mut ledger);
        }
        bulk.push(r);
    }
    send_bulk(&mut bulk, &mut door, &mut ledger);
    // Visits: one batch per department per minute they fall in.
    let mut i = 0;
    while i < visits.len() {
        let minute = visits[i].0 / 60_000;
        let mut j = i;
        while j < visits.len() && visits[j].0 / 60_000 == minute {
            j += 1;
        }
        let at = visits[j - 1].0;
        if at < config.end_ms {
            agenda.schedule(
                at,
                BlocksAction::Send(visits[i..j].iter().map(|(_, r)| r.clone()).collect()),
            );
        }
        i = j;
    }
    door.record(
        0,
        "block_feeds_loaded",
        &serde_json::json!({"records": ledger.sent, "visits": visits.len()}),
    );
    let tasks = std::mem::take(&mut ledger.new_tasks);
    // The exports' conflicts: their visits are drawn from a stream of their own.
    schedule_visits(
        tasks,
        (&config, &truth),
        &mut streams.0.stream("blocks/inspectors/exports"),
        &mut ledger,
        &mut agenda,
        &mut time,
    );
}

fn send_bulk(bulk: &mut Vec<Record>, door: &mut StackDoor, ledger: &mut BlocksLedger) {
    if bulk.is_empty() {
        return;
    }
    let feed = bulk[0].key().feed;
    ledger.sending(bulk, 0);
    let batch = std::mem::take(bulk);
    if let Some(out) = crate::send_before_run(
        door,
        TAG_SETUP,
        ledger,
        department(feed),
        Command::IngestRecords { records: batch },
    ) {
        ledger.take(&out, 0);
    }
}

/// Inspectors reach each new task during working hours, a few hours after it was raised —
/// after their other visits, and on a later day when the day's visit time is spent.
fn schedule_visits(
    tasks: Vec<(u64, VerificationTask)>,
    (config, truth): (&BlocksConfig, &FeedTruth),
    rng: &mut ChaCha8Rng,
    ledger: &mut BlocksLedger,
    agenda: &mut Agenda<BlocksAction>,
    time: &mut InspectorTime,
) {
    let wait = Exp::new(1.0 / VISIT_MEAN_MS).expect("positive");
    for (raised, task) in tasks {
        let mut at = raised + wait.sample(rng) as u64;
        // Inspectors visit between 08:30 and 18:00.
        let day = at / 86_400_000 * 86_400_000;
        let t = at - day;
        if t < 8 * 3_600_000 + 1_800_000 {
            at = day + 8 * 3_600_000 + 1_800_000 + rng.random_range(0..3_600_000);
        } else if t >= 18 * 3_600_000 {
            at = day + 86_400_000 + 8 * 3_600_000 + 1_800_000 + rng.random_range(0..3_600_000);
        }
        if at >= config.end_ms {
            continue;
        }
        let at = time.book(visit_grid(&task, truth), at, "block_data", rng);
        if at < config.end_ms {
            ledger.visit_planned(task.conflict);
            agenda.schedule(at, BlocksAction::Verify(task));
        }
    }
}

/// Send the visits' records when made; inspectors report what they find at tasks' places.
pub(crate) fn act(
    clock: Res<SimClock>,
    config: Res<BlocksConfig>,
    truth: Res<FeedTruth>,
    streams: Res<Streams>,
    mut time: ResMut<InspectorTime>,
    mut visit_rng: Local<Option<ChaCha8Rng>>,
    mut rng: Local<Option<ChaCha8Rng>>,
    mut ledger: ResMut<BlocksLedger>,
    mut agenda: ResMut<Agenda<BlocksAction>>,
    mut out: MessageWriter<ToStack>,
) {
    let rng = rng.get_or_insert_with(|| streams.0.stream("blocks/inspectors"));
    let tasks = std::mem::take(&mut ledger.new_tasks);
    schedule_visits(
        tasks,
        (&config, &truth),
        rng,
        &mut ledger,
        &mut agenda,
        &mut time,
    );
    while let Some((at, action)) = agenda.pop_before(clock.tick_end()) {
        match action {
            BlocksAction::Send(records) => {
                let feed = records[0].key().feed;
                ledger.sending(&records, at);
                out.write(ToStack {
                    envelope: Envelope {
                        actor: department(feed),
                        sent_at: at,
                        command: Command::IngestRecords { records },
                    },
                    client_ref: TAG_BATCH | at,
                });
            }
            BlocksAction::Verify(task) => {
                let grid = visit_grid(&task, &truth);
                // The finding may be wrong.
                let vr = visit_rng.get_or_insert_with(|| streams.0.stream("blocks/visits"));
                let finding = if time.finding("block_data", vr) {
                    find_on_site(&task, &truth)
                } else if let Some(wrong) = wrong_finding(&task, &truth) {
                    wrong
                } else {
                    // No wrong finding the platform would take: the visit got it right.
                    time.right_after_all("block_data");
                    find_on_site(&task, &truth)
                };
                out.write(ToStack {
                    envelope: Envelope {
                        actor: Actor {
                            role: Role::Inspector,
                            person: staff::inspector(grid),
                        },
                        sent_at: at,
                        command: Command::ResolveConflict {
                            conflict: task.conflict,
                            finding,
                        },
                    },
                    client_ref: TAG_FINDING | task.conflict,
                });
            }
        }
    }
}

/// The grid whose inspector visits a task's place.
fn visit_grid(task: &VerificationTask, truth: &FeedTruth) -> u32 {
    task.grid
        .or_else(|| {
            task.community
                .and_then(|c| truth.grid_of_community.get(&c).copied())
        })
        .unwrap_or(0)
}

/// What the inspector finds on site: the truth.
fn find_on_site(task: &VerificationTask, truth: &FeedTruth) -> Finding {
    let t = |k: &RecordKey| truth.truth.get(k);
    match task.kind.as_str() {
        "address_disagreement" => {
            // Where the person really lives now.
            let room = task
                .records
                .iter()
                .find_map(|k| t(k).and_then(|t| t.current_room.or(t.room)));
            match room {
                Some(room) => Finding::PersonLivesAt { room },
                None => Finding::AddressDoesNotExist,
            }
        }
        "crowded_room" => Finding::CompaniesPresent {
            companies: task
                .records
                .iter()
                .filter(|k| {
                    t(k).is_some_and(|t| {
                        t.room == task.room && !t.faults.contains(feeds::Faults::FRAUD_ROOM)
                    })
                })
                .copied()
                .collect(),
        },
        _ => match task.records.first().and_then(t).and_then(|t| t.room) {
            Some(room) => Finding::AddressIs { room },
            None => Finding::AddressDoesNotExist,
        },
    }
}

/// A wrong finding the platform would take: the person placed at a room the records give
/// rather than where they live; a company missed in a crowded room; an address not found.
fn wrong_finding(task: &VerificationTask, truth: &FeedTruth) -> Option<Finding> {
    let t = |k: &RecordKey| truth.truth.get(k);
    match (task.kind.as_str(), find_on_site(task, truth)) {
        ("address_disagreement", Finding::PersonLivesAt { room }) => task
            .records
            .iter()
            .filter_map(|k| t(k).and_then(|t| t.room))
            .find(|r| *r != room)
            .map(|room| Finding::PersonLivesAt { room }),
        ("address_disagreement", _) => None,
        (_, Finding::CompaniesPresent { mut companies }) => {
            companies.pop();
            Some(Finding::CompaniesPresent { companies })
        }
        _ => Some(Finding::AddressDoesNotExist),
    }
}

/// Entity of a record in the truth, as a number for the contingency tables.
pub(crate) fn entity_id(e: Entity) -> u64 {
    match e {
        Entity::Person(p) => p as u64,
        Entity::Company(c) => (1 << 40) | c as u64,
    }
}
