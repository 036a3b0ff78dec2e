//! The matcher loop's definition for the registry: face-capture points send sightings, the
//! stack matches them against the watchlist, reviewers confirm alerts, police follow leads.

use baoan_api::Module;
use baoan_scenarios::{Problem, Scenario};
use bevy_app::App;
use bevy_ecs::world::World;

use super::{MatcherConfig, MatcherLoopPlugin};
use crate::LoopOutcome;
use crate::registry::{LoopContext, LoopDef, TagRange, tags};

pub const NAME: &str = "matcher";

pub struct Definition;

impl LoopDef for Definition {
    fn name(&self) -> &'static str {
        NAME
    }
    fn module(&self) -> Module {
        Module::Matcher
    }
    fn tags(&self) -> &'static [TagRange] {
        &[tags::MATCHER]
    }
    fn enabled(&self, ctx: &LoopContext) -> bool {
        ctx.scenario.matcher.enabled
    }
    fn install(&self, app: &mut App, ctx: &LoopContext) -> Result<(), Vec<Problem>> {
        let mut config = MatcherConfig::from_scenario(ctx.scenario);
        config.key_area_grid = ctx.placement.map(|p| p.key_area_grid.clone());
        app.add_plugins(MatcherLoopPlugin { config });
        Ok(())
    }
    fn finish(&self, world: &mut World, _: &Scenario) -> LoopOutcome {
        super::finish(world)
    }
}
