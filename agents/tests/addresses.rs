//! The twin's addresses and the platform's address library agree: written out in full, every
//! address a department holds leads the stack back to its own room. (A community once had two
//! roads of one name, and such addresses could only be ambiguous.)

use baoan_agents::blocks::feeds;
use baoan_api::blocks::Record;
use baoan_api::{Actor, Command, Envelope, PersonId, Role, Stack};

#[test]
fn every_standard_address_leads_back_to_its_room() {
    let (twin, _) = baoan_world::Twin::build(0.05, 20201);
    let streams = baoan_world::RngStreams::new(20201);
    let clean = baoan_scenarios::BlocksLoop {
        address_abbreviated: 0.0,
        address_missing_level: 0.0,
        address_wrong_building: 0.0,
        address_old_road_name: 0.0,
        address_full_width: 0.0,
        address_typo: 0.0,
        stale_moved: 0.0,
        fictitious_addresses: 0,
        ..Default::default()
    };
    let f = feeds::generate(&twin, &clean, &streams, 86_400_000);
    let mut stack = baoan_stack::InProcessStack::new();
    let send = |s: &mut baoan_stack::InProcessStack, role, command| {
        s.send(&Envelope {
            actor: Actor {
                role,
                person: PersonId(1),
            },
            sent_at: 0,
            command,
        })
    };
    send(
        &mut stack,
        Role::Admin,
        Command::LoadAddressLibrary {
            library: f.library.clone(),
            more: false,
        },
    )
    .unwrap();
    let mut checked = 0;
    for (_, r) in f.records.iter().step_by(7).take(20_000) {
        let text = match r {
            Record::Person(p) => p.address.clone(),
            Record::Company(c) => c.registered_address.clone(),
        };
        let Some(room) = f.truth.get(&r.key()).and_then(|t| t.room) else {
            continue;
        };
        let lib = stack.blocks.block_data().expect("loaded").library();
        let m = lib.locate(&text);
        assert_eq!(m.place.room, Some(room), "{text}: {:?}", m.failure);
        checked += 1;
    }
    assert!(checked > 5_000, "only {checked} addresses checked");
}
