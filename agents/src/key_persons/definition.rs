//! The key-persons loop's definition for the registry.

use baoan_api::Module;
use baoan_scenarios::{Problem, Scenario};
use bevy_app::App;
use bevy_ecs::world::World;

use super::{KeyPersonsConfig, KeyPersonsLoopPlugin};
use crate::LoopOutcome;
use crate::registry::{LoopContext, LoopDef, TagRange, tags};

pub const NAME: &str = "key_persons";

pub struct Definition;

impl LoopDef for Definition {
    fn name(&self) -> &'static str {
        NAME
    }
    fn module(&self) -> Module {
        Module::KeyPersons
    }
    fn tags(&self) -> &'static [TagRange] {
        &[tags::KEY_PERSONS]
    }
    fn enabled(&self, ctx: &LoopContext) -> bool {
        ctx.scenario.key_persons.enabled
    }
    fn install(&self, app: &mut App, ctx: &LoopContext) -> Result<(), Vec<Problem>> {
        app.add_plugins(KeyPersonsLoopPlugin {
            config: KeyPersonsConfig::from_scenario(ctx.scenario),
        });
        Ok(())
    }
    fn finish(&self, world: &mut World, _: &Scenario) -> LoopOutcome {
        super::record::finish(world)
    }
}
