//! Where people live: a district's land-use patches in local metres, looked up by point.
//!
//! Land no patch covers is ordinary built-up land (weight 1). A point inside a patch where nobody
//! lives (airport, water, forest, park) weighs 0 even if another patch overlaps it; otherwise it
//! takes the largest weight of the patches that cover it (`LandClass::residents_weight`).

use geo::{BoundingRect, Contains, Coord, MultiPolygon, Point};
use rstar::RTree;
use rstar::primitives::{GeomWithData, Rectangle};

use crate::layers::LandClass;

pub struct LandMask {
    patches: Vec<(LandClass, MultiPolygon<f64>)>,
    index: RTree<GeomWithData<Rectangle<[f64; 2]>, u32>>,
    max_weight: f64,
}

impl LandMask {
    /// Patches in local metres.
    pub fn new(patches: Vec<(LandClass, MultiPolygon<f64>)>) -> LandMask {
        let index = RTree::bulk_load(
            patches
                .iter()
                .enumerate()
                .filter_map(|(i, (_, shape))| {
                    let b = shape.bounding_rect()?;
                    Some(GeomWithData::new(
                        Rectangle::from_corners([b.min().x, b.min().y], [b.max().x, b.max().y]),
                        i as u32,
                    ))
                })
                .collect(),
        );
        let max_weight = patches
            .iter()
            .map(|(c, _)| c.residents_weight())
            .fold(1.0, f64::max);
        LandMask {
            patches,
            index,
            max_weight,
        }
    }

    pub fn empty() -> LandMask {
        LandMask::new(Vec::new())
    }

    pub fn patches(&self) -> &[(LandClass, MultiPolygon<f64>)] {
        &self.patches
    }

    /// The largest weight any point can have (at least 1).
    pub fn max_weight(&self) -> f64 {
        self.max_weight
    }

    /// Residents per unit area at a point, relative to ordinary built-up land.
    pub fn weight_at(&self, p: Coord<f64>) -> f64 {
        let mut best: Option<f64> = None;
        for hit in self.index.locate_all_at_point(&[p.x, p.y]) {
            let (class, shape) = &self.patches[hit.data as usize];
            if !shape.contains(&Point(p)) {
                continue;
            }
            let w = class.residents_weight();
            if w == 0.0 {
                return 0.0;
            }
            best = Some(best.map_or(w, |b: f64| b.max(w)));
        }
        best.unwrap_or(1.0)
    }

    /// Whether people can live at a point.
    pub fn habitable(&self, p: Coord<f64>) -> bool {
        self.weight_at(p) > 0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{LineString, Polygon};

    fn square(x0: f64, y0: f64, side: f64) -> MultiPolygon<f64> {
        MultiPolygon(vec![Polygon::new(
            LineString::from(vec![
                (x0, y0),
                (x0 + side, y0),
                (x0 + side, y0 + side),
                (x0, y0 + side),
                (x0, y0),
            ]),
            vec![],
        )])
    }

    #[test]
    fn nobody_lives_on_water_even_inside_a_residential_patch() {
        let mask = LandMask::new(vec![
            (LandClass::Residential, square(0.0, 0.0, 100.0)),
            (LandClass::Water, square(40.0, 40.0, 20.0)),
        ]);
        assert_eq!(mask.weight_at(Coord { x: 10.0, y: 10.0 }), 2.0);
        assert_eq!(mask.weight_at(Coord { x: 50.0, y: 50.0 }), 0.0);
        assert_eq!(mask.weight_at(Coord { x: 500.0, y: 50.0 }), 1.0);
        assert!(!mask.habitable(Coord { x: 45.0, y: 45.0 }));
        assert_eq!(mask.max_weight(), 2.0);
    }
}
