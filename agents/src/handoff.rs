//! Work one loop hands another, as messages: a loop never reaches into another loop's resources
//! or orders itself against its systems. Each plugin that writes or reads one registers it.

use bevy_ecs::prelude::*;

/// Police are needed where the stack will open an incident under `key` by itself: a confirmed
/// watchlist alert's lead (the matcher loop), an acute dispute case (the cases loops), a key
/// person in crisis (the key-persons loop). Command's
/// actors need to know where to go; the stack, as in life, tells them only the incident.
#[derive(Message, Debug, Clone, PartialEq)]
pub enum PoliceLead {
    Expected {
        key: u64,
        grid: u32,
        x: f64,
        y: f64,
        occurred_at: u64,
    },
    /// The alert behind `key` was rejected: no incident will come.
    Withdrawn { key: u64 },
}

/// How far command has got with a lead (`key`): when units were first sent, when the first
/// police unit arrived, and the first arrival of each unit class (the 1-3-5 tiers and the
/// ambulance of a key person's crisis). Sent whenever one of them changes; each message carries
/// them all.
#[derive(Message, Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeadProgress {
    pub key: u64,
    pub dispatched_at: Option<u64>,
    pub police_arrived_at: Option<u64>,
    /// First arrival of each class, in the order of `UnitClass::ALL`.
    pub first_arrival: [Option<u64>; 7],
}
