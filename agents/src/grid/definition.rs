//! The grid loop's definition for the registry: inspectors and residents report items, the
//! stack dispatches them to resolvers, inspectors verify.

use baoan_api::Module;
use baoan_scenarios::{Problem, Scenario};
use bevy_app::App;
use bevy_ecs::world::World;

use super::{GridConfig, GridLoopPlugin};
use crate::LoopOutcome;
use crate::registry::{LoopContext, LoopDef, TagRange, tags};

pub const NAME: &str = "grid";

pub struct Definition;

impl LoopDef for Definition {
    fn name(&self) -> &'static str {
        NAME
    }
    fn module(&self) -> Module {
        Module::Grid
    }
    fn tags(&self) -> &'static [TagRange] {
        &[tags::GRID, tags::GRID_MORE]
    }
    /// Every run has the grid loop; `grid.enabled = false` only stops items occurring.
    fn enabled(&self, _: &LoopContext) -> bool {
        true
    }
    fn install(&self, app: &mut App, ctx: &LoopContext) -> Result<(), Vec<Problem>> {
        let config = GridConfig::from_scenario(ctx.scenario, &ctx.twin.district)?;
        app.add_plugins(GridLoopPlugin { config });
        Ok(())
    }
    fn finish(&self, world: &mut World, scenario: &Scenario) -> LoopOutcome {
        super::finish(world, &scenario.output.map_metric)
    }
}
