//! `baoan-faces`: the twin's synthetic faces and the evaluator's 1:N arithmetic.
//!
//! * [`noise`] — synthetic identities (a random unit vector per person), the capture noise
//!   model (noise grows as quality falls), the exact non-mate score law and the analytic FPIR.
//! * [`eval`] — NIST-style 1:N metrics (FPIR, FNIR, rank-1 miss, DET, thresholds at a target
//!   FPIR) with their standard errors.
//! * [`score`] — the evaluator's own reference scoring (plain inner products), so the harness
//!   can judge a stack without using the stack's code.
//!
//! The harness (cameras, reviewers, the report) and the matcher's benches and tests use it;
//! the stack itself never does — it is not part of the service. It depends on no other crate
//! of the project.

pub mod eval;
pub mod noise;
pub mod score;
