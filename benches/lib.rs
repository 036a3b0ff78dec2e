//! Criterion benches of the twin's hot paths (`cargo bench -p baoan-benches`); the code under
//! test lives in the other crates.
