//! Exact (flat) f32 inner-product index.
//!
//! ## Identical results on every path
//! The fast kernels (AVX-512F and AVX2+FMA single-query and blocked batch,
//! portable) sum in different orders, so their scores can differ in the last
//! bits.
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
//!
//! The bound needs only that a fast score is some binary tree of roundings
//! over the d products: each product then passes through at most d
//! roundings (an FMA rounds product and sum once). The AVX-512 kernels are
//! such trees — per-lane FMA chains of ⌈d/16⌉ (+1 head step in `dot`), 4
//! accumulators summed pairwise, a 4-level lane reduction (`hsum16` or
//! `_mm512_reduce_add_ps`) — and their masked-off or zero-padded lanes only
//! add exact zeros (`x + 0 = x`, `fma(0, 0, x) = x`), which cost no rounding.
//! So the same `γ_d` covers them; `kernel::tests` checks it on badly
//! conditioned inputs for every kernel.

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

    /// Empty index forcing a kernel (`Kernel::Avx512` fails where the CPU
    /// lacks AVX-512F, `Kernel::Avx2` where it lacks AVX2+FMA;
    /// `Kernel::AvxVnni` is an int8 kernel and resolves to AVX2).
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
            #[cfg(target_arch = "x86_64")]
            // SAFETY: Kernel::Avx512 is only ever stored after
            // `Kernel::resolve_f32` detected AVX-512F on this CPU.
            Kernel::Avx512 => |a, b| unsafe { kernel::avx512::dot(a, b) },
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
            // The AVX-512 kernel reads the block from an aligned, padded copy.
            #[cfg(target_arch = "x86_64")]
            let packed =
                (self.kernel == Kernel::Avx512).then(|| kernel::avx512::Packed::queries(qs, dim));
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
                    #[cfg(target_arch = "x86_64")]
                    Kernel::Avx512 => {
                        let pq = packed.as_ref().expect("packed for Avx512");
                        // SAFETY: Kernel::Avx512 is only stored after detection.
                        unsafe { kernel::avx512::tile(pq, nq, es, dim, o) }
                    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use baoan_faces::noise::{capture, identity};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Every f32 kernel this CPU can run.
    fn kernels() -> Vec<Kernel> {
        let mut k = vec![Kernel::Portable];
        if Kernel::avx2_available() {
            k.push(Kernel::Avx2);
        }
        if Kernel::avx512_available() {
            k.push(Kernel::Avx512);
        }
        k
    }

    /// Hits as (entry, score bits): equality is bit for bit.
    fn bits(hits: &[Vec<Hit>]) -> Vec<Vec<(u32, u32)>> {
        hits.iter()
            .map(|h| h.iter().map(|h| (h.entry, h.score.to_bits())).collect())
            .collect()
    }

    /// Unit entries with exact duplicates (ties) and queries that are noisy
    /// captures of entries or unrelated identities.
    fn data(dim: usize, n: usize, nq: usize, seed: u64) -> (Vec<f32>, Vec<f32>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut rows: Vec<f32> = (0..n as u64).flat_map(|p| identity(seed, p, dim)).collect();
        for i in [3usize, 10, 11] {
            let src = rows[i * dim..(i + 1) * dim].to_vec();
            rows[(i + 1) * dim..(i + 2) * dim].copy_from_slice(&src);
        }
        let queries = (0..nq)
            .flat_map(|i| {
                if i % 3 == 0 {
                    identity(seed + 1, i as u64, dim)
                } else {
                    let p = rng.random_range(0..n);
                    capture(&rows[p * dim..(p + 1) * dim], 0.6, 1.0, &mut rng)
                }
            })
            .collect();
        (rows, queries)
    }

    fn brute(idx: &ExactIndex, q: &[f32], k: usize, thr: f32) -> Vec<Hit> {
        let mut hits: Vec<Hit> = (0..idx.len() as u32)
            .filter(|&e| idx.is_active(e))
            .map(|e| Hit {
                entry: e,
                score: idx.score(q, e),
            })
            .filter(|h| h.score >= thr)
            .collect();
        sort_hits(&mut hits);
        hits.truncate(k);
        hits
    }

    #[test]
    fn auto_picks_the_widest_kernel() {
        let want = if Kernel::avx512_available() {
            Kernel::Avx512
        } else if Kernel::avx2_available() {
            Kernel::Avx2
        } else {
            Kernel::Portable
        };
        assert_eq!(ExactIndex::new(8).unwrap().kernel(), want);
        if !Kernel::avx512_available() {
            assert_eq!(
                ExactIndex::with_kernel(8, Kernel::Avx512).unwrap_err(),
                MatcherError::KernelUnavailable(Kernel::Avx512)
            );
        }
    }

    /// Same hits, same order, same score bits for every kernel, thread
    /// count and entry point (`search` / `search_batch`), equal to brute
    /// force with the canonical score; odd dimensions, partial query and
    /// entry groups, inactive entries.
    #[test]
    fn every_kernel_and_thread_count_gives_identical_hits() {
        for (dim, n, nq) in [
            (1, 50, 9),
            (17, 203, 21),
            (37, 403, 70),
            (511, 250, 33),
            (512, 401, 45),
        ] {
            let (rows, queries) = data(dim, n, nq, dim as u64);
            let mut reference: Option<Vec<Vec<(u32, u32)>>> = None;
            for kernel in kernels() {
                let mut idx = ExactIndex::with_kernel(dim, kernel).unwrap();
                idx.extend_from_rows(&rows).unwrap();
                idx.set_active(7, false);
                let mut all = Vec::new();
                for (k, thr) in [(1, f32::NEG_INFINITY), (5, 0.1), (12, -0.05)] {
                    let single: Vec<Vec<Hit>> = queries
                        .chunks_exact(dim)
                        .map(|q| idx.search(q, k, thr))
                        .collect();
                    for (q, hits) in queries.chunks_exact(dim).zip(&single) {
                        assert_eq!(
                            bits(std::slice::from_ref(hits)),
                            bits(&[brute(&idx, q, k, thr)]),
                            "brute force, dim {dim} {kernel:?} k {k}"
                        );
                    }
                    for threads in [1, 2, 3] {
                        let batch = idx.search_batch(&queries, k, thr, threads);
                        assert_eq!(
                            bits(&batch),
                            bits(&single),
                            "dim {dim} k {k} threads {threads} {kernel:?}"
                        );
                    }
                    all.extend(bits(&single));
                }
                match &reference {
                    None => reference = Some(all),
                    Some(r) => assert_eq!(r, &all, "{kernel:?} differs at dim {dim}"),
                }
            }
        }
    }

    /// Entries a few ulps apart: the fast kernels' order may differ from
    /// the canonical one, the reported hits may not.
    #[test]
    fn near_ties_resolve_identically_on_every_kernel() {
        for dim in [37, 511, 512] {
            let base = identity(3, 0, dim);
            let mut rng = ChaCha8Rng::seed_from_u64(4);
            let mut rows = Vec::new();
            for _ in 0..150 {
                let mut v = base.clone();
                for _ in 0..4 {
                    let i = rng.random_range(0..dim);
                    v[i] += rng.random_range(-3e-7f32..3e-7);
                }
                rows.extend_from_slice(&v);
            }
            let queries: Vec<f32> = (0..6)
                .flat_map(|_| capture(&base, 0.9, 0.2, &mut rng))
                .collect();
            let mut reference = None;
            for kernel in kernels() {
                let mut idx = ExactIndex::with_kernel(dim, kernel).unwrap();
                idx.extend_from_rows(&rows).unwrap();
                let mut all = Vec::new();
                for k in [1, 10, 50] {
                    let thr = idx.score(&queries[..dim], 17);
                    for threads in [1, 2] {
                        let b = idx.search_batch(&queries, k, thr, threads);
                        for (q, hits) in queries.chunks_exact(dim).zip(&b) {
                            assert_eq!(hits, &brute(&idx, q, k, thr), "{kernel:?} k {k}");
                        }
                        all.extend(bits(&b));
                    }
                }
                match &reference {
                    None => reference = Some(all),
                    Some(r) => assert_eq!(r, &all, "{kernel:?} differs at dim {dim}"),
                }
            }
        }
    }
}
