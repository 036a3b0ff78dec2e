//! The default district's published figures (`data/baoan/facts.toml`; see
//! `data/baoan/PROVENANCE.md`). Its files themselves are read as the built-in district pack
//! (`pack::Pack::baoan`).

/// The district's published figures that the default twin reproduces.
pub mod facts {
    pub const STREETS: usize = 10;
    pub const COMMUNITIES: usize = 124;
    pub const GRIDS: usize = 4866;
    pub const POPULATION: u64 = 4_476_554;
    pub const ITEM_TYPES: usize = 153;
}
