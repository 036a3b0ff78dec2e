//! The district's video network as a detector, shared by the loops that watch through it: the
//! 42,000 channels sited by place type (the seed's list: schools, hospitals, parks, malls, bus
//! stations, metro entrances, key areas — and roads and building entrances), each covering part
//! of its grid, and the 57 high-altitude lookouts with their view radius. The grid loop finds
//! camera-visible items through the channels; the command loop sees smoke, fire and crowds from
//! the lookouts; the matcher loop reports the inventory.

use std::collections::BTreeMap;

use baoan_api::emergency;
use baoan_scenarios::Video;
use baoan_world::geography::apportion;
use baoan_world::layers::PlaceKind;
use baoan_world::population::BuildingKind;
use baoan_world::{RngStreams, Twin};
use bevy_ecs::prelude::*;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Grid item types a camera can see from a pole (catalogue codes), by their names: fire lanes,
/// smoke, vending, goods and refuse in public space, fights and crowds, parking, abandoned
/// vehicles, muck trucks, waterlogging, fallen trees. Assumed from the item names; the seed
/// names illegal parking, street vending, refuse and blocked fire lanes.
pub const VISIBLE_ITEM_TYPES: [u16; 22] = [
    1, 12, 37, 38, 39, 43, 45, 47, 48, 54, 65, 69, 93, 100, 108, 109, 114, 118, 122, 124, 126, 140,
];

/// Whether a lookout sees an emergency of this type from the rooftops: fires (smoke and flame)
/// and crowd build-up.
pub fn seen_from_a_lookout(kind: u16) -> bool {
    emergency::FIRE_TYPES.contains(&kind) || emergency::CROWD_TYPES.contains(&kind)
}

pub fn visible(item_type: u16) -> bool {
    VISIBLE_ITEM_TYPES.contains(&item_type)
}

/// Channel place types and their shares of the channels (assumed: road and entrance cameras are
/// most of any city's network; the public places are the seed's list).
const CHANNEL_KINDS: [(&str, f64, Weigh); 9] = [
    ("road", 0.35, Weigh::Residents),
    ("building_entrance", 0.25, Weigh::Residents),
    ("school", 0.06, Weigh::Place(PlaceKind::School)),
    ("hospital", 0.03, Weigh::Place(PlaceKind::Hospital)),
    ("park", 0.05, Weigh::Place(PlaceKind::Park)),
    ("mall", 0.08, Weigh::Place(PlaceKind::Mall)),
    ("bus_station", 0.06, Weigh::Place(PlaceKind::BusStation)),
    (
        "metro_entrance",
        0.05,
        Weigh::Place(PlaceKind::MetroEntrance),
    ),
    ("urban_village", 0.07, Weigh::Place(PlaceKind::UrbanVillage)),
];

#[derive(Clone, Copy)]
enum Weigh {
    Residents,
    /// The pack's places of this kind, else the grids where the twin's buildings say such a
    /// place would be (commerce for malls, urban-village buildings, else residents).
    Place(PlaceKind),
}

#[derive(Debug, Clone)]
pub struct Lookout {
    pub x: f64,
    pub y: f64,
    pub grid: u32,
    pub street: u32,
}

/// Where the channels and lookouts are, and the scenario's detection settings.
#[derive(Resource, Debug, Clone)]
pub struct VideoNetwork {
    pub settings: Video,
    pub channels_per_grid: Vec<u32>,
    pub by_kind: BTreeMap<&'static str, usize>,
    pub by_street: Vec<usize>,
    pub lookouts: Vec<Lookout>,
}

impl VideoNetwork {
    /// Site `channels` and `lookouts` over the district from the run's own stream.
    pub fn site(
        twin: &Twin,
        settings: &Video,
        channels: usize,
        lookouts: usize,
        streams: &RngStreams,
    ) -> VideoNetwork {
        let d = &twin.district;
        let mut rng = streams.stream("video/siting");
        let n = d.grids.len();
        let residents: Vec<f64> = d
            .grids
            .iter()
            .map(|g| twin.population.residents_of_grid(g.id).len() as f64 + 1.0)
            .collect();
        let mut commerce = vec![1.0; n];
        let mut village = vec![0.0; n];
        for b in &twin.population.buildings {
            match b.kind {
                BuildingKind::Commercial => commerce[b.grid as usize] += 1.0,
                BuildingKind::UrbanVillage => village[b.grid as usize] += 1.0,
                _ => {}
            }
        }
        let weights = |w: Weigh| -> Vec<f64> {
            match w {
                Weigh::Residents => residents.clone(),
                Weigh::Place(kind) => {
                    let mut from_pack = vec![0.0; n];
                    for p in d.places.iter().filter(|p| p.kind == kind) {
                        if let Some(g) = p.grid {
                            from_pack[g as usize] += 1.0;
                        }
                    }
                    if from_pack.iter().sum::<f64>() > 0.0 {
                        from_pack
                    } else if kind == PlaceKind::Mall {
                        commerce.clone()
                    } else if kind == PlaceKind::UrbanVillage && village.iter().sum::<f64>() > 0.0 {
                        village.clone()
                    } else {
                        residents.clone()
                    }
                }
            }
        };
        let mut channels_per_grid = vec![0u32; n];
        let mut by_kind = BTreeMap::new();
        let mut by_street = vec![0usize; d.streets.len()];
        let counts = apportion(channels, &CHANNEL_KINDS.map(|k| k.1), 0);
        for ((name, _, weigh), count) in CHANNEL_KINDS.iter().zip(counts) {
            let cumulative = cumulate(&weights(*weigh));
            for _ in 0..count {
                let g = pick(&cumulative, &mut rng);
                channels_per_grid[g as usize] += 1;
                by_street[d.grids[g as usize].street as usize] += 1;
            }
            by_kind.insert(*name, count);
        }
        let by_residents = cumulate(&residents);
        let mut sited = Vec::with_capacity(lookouts);
        for i in 0..lookouts {
            // At least one on each street's tallest ground, the rest where people are.
            let grid = if i < d.streets.len() {
                let s = &d.streets[i];
                s.grids.start + rng.random_range(0..s.grids.len() as u32)
            } else {
                pick(&by_residents, &mut rng)
            };
            let g = &d.grids[grid as usize];
            sited.push(Lookout {
                x: g.site.x,
                y: g.site.y,
                grid,
                street: g.street,
            });
        }
        VideoNetwork {
            settings: settings.clone(),
            channels_per_grid,
            by_kind,
            by_street,
            lookouts: sited,
        }
    }

    /// Share of a grid's street space its channels see: each sees `view_share_per_channel`,
    /// overlapping at random.
    pub fn coverage(&self, grid: u32) -> f64 {
        let n = self
            .channels_per_grid
            .get(grid as usize)
            .copied()
            .unwrap_or(0);
        1.0 - (1.0 - self.settings.view_share_per_channel).powi(n as i32)
    }

    /// Grids with at least one channel.
    pub fn covered_grids(&self) -> usize {
        self.channels_per_grid.iter().filter(|c| **c > 0).count()
    }

    /// The nearest lookout within its radius of a point, and the distance.
    pub fn lookout_in_range(&self, x: f64, y: f64) -> Option<(usize, f64)> {
        let r = self.settings.lookout_radius_m;
        self.lookouts
            .iter()
            .enumerate()
            .map(|(i, l)| (i, ((l.x - x).powi(2) + (l.y - y).powi(2)).sqrt()))
            .filter(|(_, dist)| *dist <= r)
            .min_by(|a, b| a.1.total_cmp(&b.1))
    }
}

/// Running sums of weights, to draw from with `pick`.
pub(crate) fn cumulate(w: &[f64]) -> Vec<f64> {
    let mut acc = 0.0;
    w.iter()
        .map(|x| {
            acc += x;
            acc
        })
        .collect()
}

/// An index drawn in proportion to the weights behind `cumulative`.
pub(crate) fn pick(cumulative: &[f64], rng: &mut ChaCha8Rng) -> u32 {
    let u = rng.random::<f64>() * cumulative.last().copied().unwrap_or(0.0);
    cumulative
        .partition_point(|&x| x <= u)
        .min(cumulative.len() - 1) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_split_exactly_and_visible_types_are_in_the_catalogue() {
        let split = apportion(42_000, &CHANNEL_KINDS.map(|k| k.1), 0);
        assert_eq!(split.iter().sum::<usize>(), 42_000);
        assert_eq!(split[0], 14_700);
        for code in VISIBLE_ITEM_TYPES {
            assert!(baoan_api::catalogue::item_type(code).is_some(), "{code}");
        }
    }
}
