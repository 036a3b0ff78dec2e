//! Exact (flat) f32 inner-product index.
//!
//! ## Identical results on every path
//! The fast kernels (AVX2+FMA single-query, AVX2+FMA blocked batch, portable)
//! sum in different orders, so their scores can differ in the last bits.
//! Reported scores are therefore always the *canonical* score,
//! [`canonical_dot`](crate::canonical_dot) (fixed order, plain IEEE ops, the
//! same on every platform). For any summation order and with or without FMA,
//! `|fl(q·e) − q·e| ≤ γ_d Σ|q_i e_i| ≤ γ_d ‖q‖‖e‖ =: b`, with
//! `γ_d = d·u / (1 − d·u)`, `u = 2⁻²⁴`; so fast and canonical scores differ by
//! at most `2b`. During the scan the collector keeps every entry with fast
//! score `≥ threshold − 2b` and `≥ K_f − 4b` (`K_f` = k-th best fast score).
//! Every member of the canonical top-k passes both tests (if `s_c ≥ K_c` then
//! `s_f ≥ K_c − 2b ≥ K_f − 4b`, since the k fast-best entries all have
//! `s_c ≥ K_f − 2b`). The survivors (typically k or a few more) are
//! re-scored canonically, filtered at the threshold, sorted by score desc then
//! entry asc and truncated to k. The result is the same whatever the kernel
//! and whatever the thread count. At d = 512 the slack `4b` is ~1.2e-4.

use crate::kernel::{self, dot_portable};
use crate::topk::Collector;
use crate::{Hit, Kernel, MatcherError, batch, sort_hits};

/// Largest supported dimension (keeps the error bound `d·u` well below 1).
pub const MAX_DIM: usize = 1 << 20;

/// Entries per tile in the batch kernel (bounds the score buffer).
const ENTRY_TILE: usize = 192;

/// Flat exact index: entries stored row-major and contiguous.
#[derive(Debug, Clone)]
pub struct ExactIndex {
    dim: usize,
    data: Vec<f32>,
    max_norm: f32,
    kernel: Kernel,
    active: Vec<bool>,
    inactive: usize,
}

impl ExactIndex {
    /// Empty index of dimension `dim`, fastest kernel for this CPU.
    pub fn new(dim: usize) -> Result<Self, MatcherError> {
        Self::with_kernel(dim, Kernel::Auto)
    }

    /// Empty index forcing a kernel (`Kernel::Avx2` fails where the CPU lacks
    /// AVX2+FMA; `Kernel::AvxVnni` is an int8 kernel and resolves to AVX2).
    pub fn with_kernel(dim: usize, kernel: Kernel) -> Result<Self, MatcherError> {
        if dim == 0 || dim > MAX_DIM {
            return Err(MatcherError::BadDim { max: MAX_DIM });
        }
        let kernel = kernel.resolve_f32()?;
        Ok(ExactIndex {
            dim,
            data: Vec::new(),
            max_norm: 0.0,
            kernel,
            active: Vec::new(),
            inactive: 0,
        })
    }

    /// Build from `rows` (row-major, `rows.len()` a multiple of `dim`).
    pub fn from_rows(dim: usize, rows: &[f32]) -> Result<Self, MatcherError> {
        let mut idx = Self::new(dim)?;
        idx.extend_from_rows(rows)?;
        Ok(idx)
    }

    /// Append one entry; returns its id.
    pub fn add(&mut self, v: &[f32]) -> Result<u32, MatcherError> {
        if v.len() != self.dim {
            return Err(MatcherError::DimMismatch {
                expected: self.dim,
                got: v.len(),
            });
        }
        if !v.iter().all(|x| x.is_finite()) {
            return Err(MatcherError::NonFinite);
        }
        let id = u32::try_from(self.len()).map_err(|_| MatcherError::Full)?;
        let norm = dot_portable(v, v).sqrt();
        if !norm.is_finite() {
            return Err(MatcherError::NonFinite);
        }
        self.max_norm = self.max_norm.max(norm);
        self.data.extend_from_slice(v);
        self.active.push(true);
        Ok(id)
    }

    /// Append many entries (row-major). All-or-nothing.
    pub fn extend_from_rows(&mut self, rows: &[f32]) -> Result<(), MatcherError> {
        if !rows.len().is_multiple_of(self.dim) {
            return Err(MatcherError::DimMismatch {
                expected: self.dim,
                got: rows.len() % self.dim,
            });
        }
        let before = self.len();
        for row in rows.chunks_exact(self.dim) {
            if let Err(e) = self.add(row) {
                self.truncate(before);
                return Err(e);
            }
        }
        Ok(())
    }

    fn truncate(&mut self, n: usize) {
        self.data.truncate(n * self.dim);
        self.inactive -= self.active[n..].iter().filter(|a| !**a).count();
        self.active.truncate(n);
        self.max_norm = self
            .data
            .chunks_exact(self.dim)
            .map(|r| dot_portable(r, r).sqrt())
            .fold(0.0, f32::max);
    }

    /// Number of entries (active or not).
    pub fn len(&self) -> usize {
        self.active.len()
    }

    pub fn is_empty(&self) -> bool {
        self.active.is_empty()
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The kernel actually in use (`Auto` resolved).
    pub fn kernel(&self) -> Kernel {
        self.kernel
    }

    /// The stored vector of `entry`.
    pub fn row(&self, entry: u32) -> &[f32] {
        let i = entry as usize * self.dim;
        &self.data[i..i + self.dim]
    }

    /// Mark an entry active or inactive (inactive entries are never
    /// returned). Returns false if `entry` does not exist.
    pub fn set_active(&mut self, entry: u32, active: bool) -> bool {
        let Some(a) = self.active.get_mut(entry as usize) else {
            return false;
        };
        if *a != active {
            *a = active;
            if active {
                self.inactive -= 1;
            } else {
                self.inactive += 1;
            }
        }
        true
    }

    pub fn is_active(&self, entry: u32) -> bool {
        self.active.get(entry as usize).copied().unwrap_or(false)
    }

    /// Canonical score of `query` against `entry` (what hits report).
    pub fn score(&self, query: &[f32], entry: u32) -> f32 {
        dot_portable(query, self.row(entry))
    }

    /// Top-`k` active entries with score `>= threshold`, sorted by score
    /// descending then entry ascending. A query containing a non-finite
    /// value returns no hits.
    ///
    /// # Panics
    /// If `query.len() != self.dim()`.
    pub fn search(&self, query: &[f32], k: usize, threshold: f32) -> Vec<Hit> {
        assert_eq!(query.len(), self.dim, "query dimension");
        let Some(mut col) = self.collector(query, k, threshold) else {
            return Vec::new();
        };
        let dot: fn(&[f32], &[f32]) -> f32 = match self.kernel {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: Kernel::Avx2 is only ever stored after
            // `Kernel::resolve` detected AVX2 and FMA on this CPU.
            Kernel::Avx2 => |a, b| unsafe { kernel::avx2::dot(a, b) },
            _ => dot_portable,
        };
        for (e, row) in self.data.chunks_exact(self.dim).enumerate() {
            if self.inactive == 0 || self.active[e] {
                col.push(dot(query, row), e as u32);
            }
        }
        self.finish(query, col, k, threshold)
    }

    /// Search many queries (row-major in `queries`, a multiple of `dim`
    /// long) on a rayon pool of `threads` threads (`<= 1`: the caller's
    /// thread). Result `i` is exactly `self.search(query i, k, threshold)`.
    ///
    /// # Panics
    /// If `queries.len()` is not a multiple of `self.dim()`.
    pub fn search_batch(
        &self,
        queries: &[f32],
        k: usize,
        threshold: f32,
        threads: usize,
    ) -> Vec<Vec<Hit>> {
        batch(self.dim, queries, threads, |qs| {
            self.search_block(qs, k, threshold)
        })
    }

    fn search_block(&self, qs: &[f32], k: usize, threshold: f32) -> Vec<Vec<Hit>> {
        let dim = self.dim;
        let nq = qs.len() / dim;
        let mut cols: Vec<Option<Collector>> = qs
            .chunks_exact(dim)
            .map(|q| self.collector(q, k, threshold))
            .collect();
        if cols.iter().any(Option::is_some) {
            let mut out = vec![0.0f32; nq * ENTRY_TILE];
            let n = self.len();
            let mut t0 = 0;
            while t0 < n {
                let t1 = (t0 + ENTRY_TILE).min(n);
                let m = t1 - t0;
                let es = &self.data[t0 * dim..t1 * dim];
                let o = &mut out[..nq * m];
                match self.kernel {
                    #[cfg(target_arch = "x86_64")]
                    // SAFETY: Kernel::Avx2 is only stored after detection.
                    Kernel::Avx2 => unsafe { kernel::avx2::tile(qs, es, dim, o) },
                    _ => kernel::tile_portable(qs, es, dim, o),
                }
                for (r, col) in cols.iter_mut().enumerate() {
                    let Some(col) = col else { continue };
                    let scores = &o[r * m..(r + 1) * m];
                    if self.inactive == 0 {
                        for (c, &s) in scores.iter().enumerate() {
                            col.push(s, (t0 + c) as u32);
                        }
                    } else {
                        for (c, &s) in scores.iter().enumerate() {
                            if self.active[t0 + c] {
                                col.push(s, (t0 + c) as u32);
                            }
                        }
                    }
                }
                t0 = t1;
            }
        }
        qs.chunks_exact(dim)
            .zip(cols)
            .map(|(q, col)| match col {
                Some(col) => self.finish(q, col, k, threshold),
                None => Vec::new(),
            })
            .collect()
    }

    /// Collector for one query, or `None` if nothing can be returned.
    fn collector(&self, query: &[f32], k: usize, threshold: f32) -> Option<Collector> {
        if k == 0 || self.is_empty() || threshold.is_nan() {
            return None;
        }
        let qn = dot_portable(query, query).sqrt();
        if !qn.is_finite() || !query.iter().all(|x| x.is_finite()) {
            return None;
        }
        let b = self.error_bound(qn);
        Some(Collector::new(k, threshold - 2.0 * b, 4.0 * b))
    }

    /// `b` = bound on |fast or canonical score − exact score| (with a 1.5×
    /// margin for the rounding of the norms themselves).
    fn error_bound(&self, qnorm: f32) -> f32 {
        let du = self.dim as f64 * f64::powi(2.0, -24);
        let gamma = du / (1.0 - du);
        (1.5 * gamma * qnorm as f64 * self.max_norm as f64 + 1e-30) as f32
    }

    fn finish(&self, query: &[f32], col: Collector, k: usize, threshold: f32) -> Vec<Hit> {
        let mut hits: Vec<Hit> = col
            .finish()
            .into_iter()
            .map(|(_, e)| Hit {
                entry: e,
                score: self.score(query, e),
            })
            .filter(|h| h.score >= threshold)
            .collect();
        sort_hits(&mut hits);
        hits.truncate(k);
        hits
    }
}
