//! The block-data loop's definition for the registry: departments' feeds linked onto the
//! address library, conflicts verified by inspectors' visits.

use baoan_api::Module;
use baoan_scenarios::{Problem, Scenario};
use bevy_app::App;
use bevy_ecs::world::World;

use super::{BlocksConfig, BlocksLoopPlugin};
use crate::LoopOutcome;
use crate::registry::{LoopContext, LoopDef, TagRange, tags};

pub const NAME: &str = "blocks";

pub struct Definition;

impl LoopDef for Definition {
    fn name(&self) -> &'static str {
        NAME
    }
    fn module(&self) -> Module {
        Module::Blocks
    }
    fn tags(&self) -> &'static [TagRange] {
        &[tags::BLOCKS]
    }
    fn enabled(&self, ctx: &LoopContext) -> bool {
        ctx.scenario.blocks.enabled
    }
    fn install(&self, app: &mut App, ctx: &LoopContext) -> Result<(), Vec<Problem>> {
        app.add_plugins(BlocksLoopPlugin {
            config: BlocksConfig::from_scenario(ctx.scenario),
        });
        Ok(())
    }
    fn finish(&self, world: &mut World, _: &Scenario) -> LoopOutcome {
        super::finish(world)
    }
}
