//! The command loop's definition for the registry: emergencies arise, callers and inspectors
//! report them, the stack dispatches volunteers, auxiliary police and police (the 1-3-5 rule).

use baoan_api::Module;
use baoan_scenarios::{Problem, Scenario};
use bevy_app::App;
use bevy_ecs::world::World;

use super::CommandLoopPlugin;
use crate::LoopOutcome;
use crate::registry::{LoopContext, LoopDef, TagRange, tags};

pub const NAME: &str = "command";

pub struct Definition;

impl LoopDef for Definition {
    fn name(&self) -> &'static str {
        NAME
    }
    fn module(&self) -> Module {
        Module::Command
    }
    fn tags(&self) -> &'static [TagRange] {
        &[tags::COMMAND]
    }
    fn enabled(&self, ctx: &LoopContext) -> bool {
        ctx.command.is_some_and(|c| c.enabled) && ctx.placement.is_some()
    }
    fn install(&self, app: &mut App, ctx: &LoopContext) -> Result<(), Vec<Problem>> {
        let (Some(config), Some(placement)) = (ctx.command, ctx.placement) else {
            unreachable!("installed only when enabled: settings and placement are given")
        };
        app.add_plugins(CommandLoopPlugin {
            config: config.clone(),
            placement: placement.clone(),
        });
        Ok(())
    }
    fn finish(&self, world: &mut World, _: &Scenario) -> LoopOutcome {
        super::finish(world)
    }
}
