//! The cases loops' definition for the registry: family disputes worked by five agencies,
//! credit records, business oversight and residents in care.

use baoan_api::Module;
use baoan_scenarios::{Problem, Scenario};
use bevy_app::App;
use bevy_ecs::world::World;

use super::{CasesConfig, CasesLoopPlugin};
use crate::LoopOutcome;
use crate::registry::{LoopContext, LoopDef, TagRange, tags};

pub const NAME: &str = "cases";

pub struct Definition;

impl LoopDef for Definition {
    fn name(&self) -> &'static str {
        NAME
    }
    fn module(&self) -> Module {
        Module::Cases
    }
    fn tags(&self) -> &'static [TagRange] {
        &[tags::CASES]
    }
    fn enabled(&self, ctx: &LoopContext) -> bool {
        ctx.scenario.cases.enabled
    }
    fn install(&self, app: &mut App, ctx: &LoopContext) -> Result<(), Vec<Problem>> {
        app.add_plugins(CasesLoopPlugin {
            config: CasesConfig::from_scenario(ctx.scenario),
        });
        Ok(())
    }
    fn finish(&self, world: &mut World, _: &Scenario) -> LoopOutcome {
        super::finish(world)
    }
}
