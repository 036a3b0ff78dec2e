//! The district's figures (`twin district`, and the report's district section).

use baoan_reports::html::{Section, Table};
use baoan_reports::round3;
use baoan_world::Twin;
use baoan_world::data::facts;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct StreetFigures {
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    pub communities: usize,
    pub grids: usize,
    pub area_km2: f64,
    pub residents: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Figures {
    /// The district's name (the pack's title).
    pub title: String,
    pub scale: f64,
    pub seed: u64,
    pub streets: usize,
    pub communities: usize,
    pub grids: usize,
    pub area_km2: f64,
    pub mean_grid_area_km2: f64,
    pub residents: usize,
    pub households: usize,
    pub registered_share: f64,
    pub buildings: usize,
    pub roads: usize,
    /// Standard addresses in the address library: buildings and rooms.
    pub addresses: u64,
    pub companies: usize,
    pub road_network_links: usize,
    /// What travel times come from: "roads" (the pack's road graph) or "neighbour network".
    pub travel: String,
    pub item_types: usize,
    /// The pack's name and content hash.
    pub pack: baoan_world::pack::PackId,
    /// Coordinates: every lon/lat the twin writes is WGS-84; the local frame's origin.
    pub datum: &'static str,
    pub frame_origin: [f64; 2],
    /// Where the population total comes from.
    pub population_source: String,
    /// What is real and what is synthesised.
    pub provenance: String,
    /// What the twin generated rather than read, level by level.
    pub generated: Vec<String>,
    pub by_street: Vec<StreetFigures>,
}

/// What every district's twin synthesises, whatever its pack.
pub const SYNTHETIC: &str = "Buildings, the address library, residents and companies are \
synthesised deterministically from the seed; no real person or record is in the twin.";

impl Figures {
    pub fn of(twin: &Twin) -> Figures {
        let d = &twin.district;
        let p = &twin.population;
        let by_street = d
            .streets
            .iter()
            .map(|s| StreetFigures {
                code: s.code.clone(),
                name_zh: s.name_zh.clone(),
                name_en: s.name_en.clone(),
                communities: s.communities.len(),
                grids: s.grids.len(),
                area_km2: round3(s.area_m2 / 1e6),
                residents: s
                    .grids
                    .clone()
                    .map(|g| p.residents_of_grid(g).len() as u64)
                    .sum(),
            })
            .collect();
        Figures {
            title: d.title.clone(),
            scale: d.scale,
            seed: d.seed,
            streets: d.streets.len(),
            communities: d.communities.len(),
            grids: d.grids.len(),
            area_km2: round3(d.outline_area_m2 / 1e6),
            mean_grid_area_km2: round3(d.outline_area_m2 / 1e6 / d.grids.len() as f64),
            residents: p.residents(),
            households: p.households(),
            registered_share: round3(p.registered() as f64 / p.residents().max(1) as f64),
            buildings: p.buildings.len(),
            roads: p.roads.len(),
            addresses: p.buildings.len() as u64 + p.rooms(),
            companies: p.companies.len(),
            road_network_links: twin.travel.links,
            travel: twin.travel.source_name().into(),
            item_types: baoan_api::catalogue::item_types().len(),
            pack: d.pack.clone(),
            datum: "wgs84",
            frame_origin: [d.frame.origin_lon, d.frame.origin_lat],
            population_source: d.population_source.clone(),
            provenance: format!("pack {}: {} {SYNTHETIC}", d.pack.name, d.notes),
            generated: d.generated.clone(),
            by_street,
        }
    }

    /// Published figures next to the twin's, for the default district.
    pub fn against_facts(&self) -> Vec<(&'static str, String, String)> {
        vec![
            (
                "streets",
                facts::STREETS.to_string(),
                self.streets.to_string(),
            ),
            (
                "communities",
                facts::COMMUNITIES.to_string(),
                self.communities.to_string(),
            ),
            ("grids", facts::GRIDS.to_string(), self.grids.to_string()),
            (
                "residents",
                facts::POPULATION.to_string(),
                self.residents.to_string(),
            ),
            (
                "item types",
                facts::ITEM_TYPES.to_string(),
                self.item_types.to_string(),
            ),
        ]
    }

    pub fn text(&self) -> String {
        let mut s = format!(
            "{} (twin of pack {}), scale {} seed {}\n{:.1} km², {} streets, {} communities, {} grids (mean {:.3} km²)\n\
{} residents in {} households ({:.1}% registered), {} buildings on {} roads, {} standard addresses, {} companies\n\n",
            self.title,
            self.pack.name,
            self.scale,
            self.seed,
            self.area_km2,
            self.streets,
            self.communities,
            self.grids,
            self.mean_grid_area_km2,
            self.residents,
            self.households,
            self.registered_share * 100.0,
            self.buildings,
            self.roads,
            self.addresses,
            self.companies
        );
        s += &format!(
            "{:<10} {:<14} {:<10} {:>11} {:>6} {:>9} {:>10}\n",
            "code", "street", "", "communities", "grids", "km²", "residents"
        );
        for st in &self.by_street {
            s += &format!(
                "{:<10} {:<10} {:<10} {:>11} {:>6} {:>9.1} {:>10}\n",
                st.code,
                st.name_zh,
                st.name_en,
                st.communities,
                st.grids,
                st.area_km2,
                st.residents
            );
        }
        if self.pack.name == "baoan" {
            s += "\npublished figure vs twin:\n";
            for (what, published, twin) in self.against_facts() {
                s += &format!("  {what:<12} {published:>10} {twin:>10}\n");
            }
        }
        s += &format!("\n{}\n", self.provenance);
        s
    }

    pub fn html_section(&self) -> Section {
        Section {
            title: "District".into(),
            intro: format!(
                "{} streets, {} communities, {} grids, {} residents, {} companies at scale {}. {}",
                self.streets,
                self.communities,
                self.grids,
                self.residents,
                self.companies,
                self.scale,
                self.provenance
            ),
            tables: vec![Table {
                caption: "Streets".into(),
                header: ["code", "street", "communities", "grids", "km²", "residents"]
                    .map(String::from)
                    .to_vec(),
                rows: self
                    .by_street
                    .iter()
                    .map(|s| {
                        vec![
                            s.code.clone(),
                            format!("{} {}", s.name_zh, s.name_en),
                            s.communities.to_string(),
                            s.grids.to_string(),
                            format!("{:.1}", s.area_km2),
                            s.residents.to_string(),
                        ]
                    })
                    .collect(),
            }],
            figures: vec![],
        }
    }
}
