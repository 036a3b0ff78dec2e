//! The bridge between the twin's actors and a stack: it carries each tick's commands to the
//! stack in the order they were sent, and hands back outcomes and refusals as messages.

use baoan_api::{ApiError, Envelope, Millis, Outcome, Stack};
use bevy_app::{App, Plugin, Update};
use bevy_ecs::prelude::*;
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

/// The stack under test.
#[derive(Resource)]
pub struct StackBridge {
    pub stack: Box<dyn Stack>,
    pub sent: u64,
    pub refused: u64,
    pub outcomes: u64,
}

impl StackBridge {
    pub fn new(stack: Box<dyn Stack>) -> Self {
        Self {
            stack,
            sent: 0,
            refused: 0,
            outcomes: 0,
        }
    }
}

pub struct BridgePlugin;

impl Plugin for BridgePlugin {
    fn build(&self, app: &mut App) {
        app.add_message::<ToStack>()
            .add_message::<FromStack>()
            .add_message::<Refused>()
            .add_systems(Update, carry_commands.in_set(SimSet::Bridge));
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
    mut journal: ResMut<Journal>,
    mut incoming: MessageReader<ToStack>,
    mut outcomes: MessageWriter<FromStack>,
    mut refusals: MessageWriter<Refused>,
) {
    let mut batch: Vec<&ToStack> = incoming.read().collect();
    // Stable: commands sent at the same millisecond keep the order the actors wrote them in.
    batch.sort_by_key(|c| c.envelope.sent_at);
    for cmd in batch {
        bridge.sent += 1;
        journal.record(
            cmd.envelope.sent_at,
            "command",
            &Sent {
                client_ref: cmd.client_ref,
                envelope: &cmd.envelope,
            },
        );
        match bridge.stack.send(&cmd.envelope) {
            Ok(list) => {
                for outcome in list {
                    bridge.outcomes += 1;
                    journal.record(
                        cmd.envelope.sent_at,
                        "outcome",
                        &Answer {
                            client_ref: Some(cmd.client_ref),
                            outcome: &outcome,
                        },
                    );
                    outcomes.write(FromStack {
                        at: cmd.envelope.sent_at,
                        outcome,
                        client_ref: Some(cmd.client_ref),
                    });
                }
            }
            Err(error) => {
                bridge.refused += 1;
                journal.record(
                    cmd.envelope.sent_at,
                    "refused",
                    &Refusal {
                        client_ref: cmd.client_ref,
                        error: &error,
                    },
                );
                refusals.write(Refused {
                    envelope: cmd.envelope.clone(),
                    error,
                    client_ref: cmd.client_ref,
                });
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
            outcome,
            client_ref: None,
        });
    }
}
