//! Int8 index: per-vector symmetric quantisation, exact i32 dot products.
//!
//! Each vector `x` is stored as `round(x / s)` clamped to `[-127, 127]` with
//! `s = max|x| / 127` (all-zero vectors get `s = 0`). A query is quantised
//! the same way and the score is `(i32 dot) as f32 * s_q * s_e`. Integer dot
//! products are exact, so every kernel (portable, AVX2 sign trick, AVX-VNNI)
//! gives bit-identical scores and hits. `d · 127² < 2³¹` requires
//! `d ≤` [`MAX_DIM_I8`] (the VNNI bias trick needs `d · 255 · 127 < 2³¹`).
//!
//! With `rerank = true` the index also keeps the f32 rows: the top `4k` by
//! int8 score (threshold ignored at that stage) are re-scored with the
//! canonical f32 dot product, then filtered at the threshold and cut to `k`.

use crate::kernel::dot_portable;
use crate::topk::Collector;
use crate::{Hit, Kernel, MatcherError, batch, sort_hits};

/// Largest supported dimension for the int8 index.
pub const MAX_DIM_I8: usize = 65_536;

const ENTRY_TILE: usize = 384;

/// Symmetric per-vector quantisation: `(codes, scale)` with
/// `x ≈ codes * scale`, `scale = max|x| / 127`.
pub fn quantize(v: &[f32]) -> (Vec<i8>, f32) {
    let max = v.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    if max == 0.0 || !max.is_finite() {
        return (vec![0; v.len()], 0.0);
    }
    let scale = max / 127.0;
    let codes = v
        .iter()
        .map(|x| (x / scale).round().clamp(-127.0, 127.0) as i8)
        .collect();
    (codes, scale)
}

/// A quantised query in the forms the kernels want.
struct Prepared {
    codes: Vec<i8>,
    /// `|code|` as u8 (AVX2 sign trick).
    abs: Vec<u8>,
    /// `code + 128` as u8 (VNNI bias trick).
    biased: Vec<u8>,
    scale: f32,
}

/// Flat int8 index.
#[derive(Debug, Clone)]
pub struct Int8Index {
    dim: usize,
    kernel: Kernel,
    rerank: bool,
    codes: Vec<i8>,
    scales: Vec<f32>,
    /// Σ codes of each entry (VNNI bias correction).
    sums: Vec<i32>,
    /// f32 rows, kept only when `rerank`.
    rows: Vec<f32>,
    active: Vec<bool>,
    inactive: usize,
}

impl Int8Index {
    /// Empty index, fastest kernel for this CPU.
    pub fn new(dim: usize, rerank: bool) -> Result<Self, MatcherError> {
        Self::with_kernel(dim, rerank, Kernel::Auto)
    }

    /// Empty index forcing a kernel.
    pub fn with_kernel(dim: usize, rerank: bool, kernel: Kernel) -> Result<Self, MatcherError> {
        if dim == 0 || dim > MAX_DIM_I8 {
            return Err(MatcherError::BadDim { max: MAX_DIM_I8 });
        }
        Ok(Int8Index {
            dim,
            kernel: kernel.resolve_i8()?,
            rerank,
            codes: Vec::new(),
            scales: Vec::new(),
            sums: Vec::new(),
            rows: Vec::new(),
            active: Vec::new(),
            inactive: 0,
        })
    }

    /// Build from `rows` (row-major).
    pub fn from_rows(dim: usize, rerank: bool, rows: &[f32]) -> Result<Self, MatcherError> {
        let mut idx = Self::new(dim, rerank)?;
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
        let (codes, scale) = quantize(v);
        self.sums.push(codes.iter().map(|&c| c as i32).sum());
        self.codes.extend_from_slice(&codes);
        self.scales.push(scale);
        if self.rerank {
            self.rows.extend_from_slice(v);
        }
        self.active.push(true);
        Ok(id)
    }

    /// Append many entries (row-major). Stops at the first bad row, which
    /// is reported; earlier rows stay added.
    pub fn extend_from_rows(&mut self, rows: &[f32]) -> Result<(), MatcherError> {
        if !rows.len().is_multiple_of(self.dim) {
            return Err(MatcherError::DimMismatch {
                expected: self.dim,
                got: rows.len() % self.dim,
            });
        }
        for row in rows.chunks_exact(self.dim) {
            self.add(row)?;
        }
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.active.len()
    }

    pub fn is_empty(&self) -> bool {
        self.active.is_empty()
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn kernel(&self) -> Kernel {
        self.kernel
    }

    pub fn rerank(&self) -> bool {
        self.rerank
    }

    /// Mark an entry active or inactive. Returns false if it does not exist.
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

    /// Codes and scale of one entry.
    pub fn entry_codes(&self, entry: u32) -> (&[i8], f32) {
        let i = entry as usize;
        (
            &self.codes[i * self.dim..(i + 1) * self.dim],
            self.scales[i],
        )
    }

    /// Exact integer dot product of a query's codes with an entry's codes
    /// on this index's kernel (exposed for cross-kernel tests).
    pub fn code_dot(&self, query_codes: &[i8], entry: u32) -> i32 {
        assert_eq!(query_codes.len(), self.dim);
        let p = self.prepare_codes(query_codes.to_vec(), 1.0);
        self.dot_one(&p, entry as usize)
    }

    /// Top-`k` active entries with score `>= threshold` (int8 scores, or f32
    /// scores after re-rank), sorted by score desc then entry asc.
    ///
    /// # Panics
    /// If `query.len() != self.dim()`.
    pub fn search(&self, query: &[f32], k: usize, threshold: f32) -> Vec<Hit> {
        assert_eq!(query.len(), self.dim, "query dimension");
        let Some((p, mut col)) = self.start(query, k, threshold) else {
            return Vec::new();
        };
        for e in 0..self.len() {
            if self.inactive == 0 || self.active[e] {
                let d = self.dot_one(&p, e);
                col.push(self.score_of(d, p.scale, e), e as u32);
            }
        }
        self.finish(query, col, k, threshold)
    }

    /// Batch search; result `i` equals `self.search(query i, ..)` exactly,
    /// whatever `threads`.
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
        let mut started: Vec<Option<(Prepared, Collector)>> = qs
            .chunks_exact(dim)
            .map(|q| self.start(q, k, threshold))
            .collect();
        // Only the live queries go through the kernel.
        let live: Vec<usize> = (0..started.len())
            .filter(|&i| started[i].is_some())
            .collect();
        if !live.is_empty() {
            let nl = live.len();
            let mut qcodes = Vec::with_capacity(nl * dim);
            let mut qaux = Vec::with_capacity(nl * dim);
            for &i in &live {
                let (p, _) = started[i].as_ref().expect("live");
                qcodes.extend_from_slice(&p.codes);
                match self.kernel {
                    Kernel::Avx2 => qaux.extend_from_slice(&p.abs),
                    Kernel::AvxVnni => qaux.extend_from_slice(&p.biased),
                    _ => {}
                }
            }
            let mut out = vec![0i32; nl * ENTRY_TILE];
            let mut scores = vec![0.0f32; ENTRY_TILE];
            let n = self.len();
            let mut t0 = 0;
            while t0 < n {
                let t1 = (t0 + ENTRY_TILE).min(n);
                let m = t1 - t0;
                let es = &self.codes[t0 * dim..t1 * dim];
                let o = &mut out[..nl * m];
                self.tile(&qcodes, &qaux, es, o);
                for (r, &i) in live.iter().enumerate() {
                    let (p, col) = started[i].as_mut().expect("live");
                    let sc = &mut scores[..m];
                    self.scores_into(&o[r * m..(r + 1) * m], p.scale, t0, sc);
                    if self.inactive == 0 {
                        for (c, &s) in sc.iter().enumerate() {
                            col.push(s, (t0 + c) as u32);
                        }
                    } else {
                        for (c, &s) in sc.iter().enumerate() {
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
            .zip(started)
            .map(|(q, s)| match s {
                Some((_, col)) => self.finish(q, col, k, threshold),
                None => Vec::new(),
            })
            .collect()
    }

    fn start(&self, query: &[f32], k: usize, threshold: f32) -> Option<(Prepared, Collector)> {
        if k == 0 || self.is_empty() || threshold.is_nan() || !query.iter().all(|x| x.is_finite()) {
            return None;
        }
        let (codes, scale) = quantize(query);
        let p = self.prepare_codes(codes, scale);
        let col = if self.rerank {
            Collector::new(k.saturating_mul(4), f32::NEG_INFINITY, 0.0)
        } else {
            Collector::new(k, threshold, 0.0)
        };
        Some((p, col))
    }

    fn prepare_codes(&self, codes: Vec<i8>, scale: f32) -> Prepared {
        let abs = match self.kernel {
            Kernel::Avx2 => codes.iter().map(|c| c.unsigned_abs()).collect(),
            _ => Vec::new(),
        };
        let biased = match self.kernel {
            Kernel::AvxVnni => codes.iter().map(|&c| (c as i16 + 128) as u8).collect(),
            _ => Vec::new(),
        };
        Prepared {
            codes,
            abs,
            biased,
            scale,
        }
    }

    #[inline]
    fn score_of(&self, dot: i32, qscale: f32, e: usize) -> f32 {
        dot as f32 * qscale * self.scales[e]
    }

    /// Scores of one query against entries `t0..t0 + raw.len()` from raw
    /// tile output; the same arithmetic as `score_of(unbias(..))`, written
    /// branch-free so it vectorises.
    fn scores_into(&self, raw: &[i32], qscale: f32, t0: usize, out: &mut [f32]) {
        let m = raw.len();
        let scales = &self.scales[t0..t0 + m];
        if self.kernel == Kernel::AvxVnni {
            let sums = &self.sums[t0..t0 + m];
            for (((o, &r), &sum), &es) in out.iter_mut().zip(raw).zip(sums).zip(scales) {
                *o = r.wrapping_sub(sum.wrapping_mul(128)) as f32 * qscale * es;
            }
        } else {
            for ((o, &r), &es) in out.iter_mut().zip(raw).zip(scales) {
                *o = r as f32 * qscale * es;
            }
        }
    }

    /// Remove the VNNI bias (`Σ (q + 128) e = q·e + 128 Σ e`).
    #[inline]
    fn unbias(&self, raw: i32, e: usize) -> i32 {
        match self.kernel {
            Kernel::AvxVnni => raw.wrapping_sub(self.sums[e].wrapping_mul(128)),
            _ => raw,
        }
    }

    fn dot_one(&self, p: &Prepared, e: usize) -> i32 {
        let row = &self.codes[e * self.dim..(e + 1) * self.dim];
        match self.kernel {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: kernels are only stored after runtime detection.
            Kernel::Avx2 => unsafe { i8k::avx2::dot(&p.abs, &p.codes, row) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: kernels are only stored after runtime detection.
            Kernel::AvxVnni => self.unbias(unsafe { i8k::vnni::dot(&p.biased, row) }, e),
            _ => i8k::dot_portable(&p.codes, row),
        }
    }

    /// Raw (biased for VNNI) dots of a query block against an entry tile.
    fn tile(&self, qcodes: &[i8], qaux: &[u8], es: &[i8], out: &mut [i32]) {
        let dim = self.dim;
        match self.kernel {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: kernels are only stored after runtime detection.
            Kernel::Avx2 => unsafe { i8k::avx2::tile(qaux, qcodes, es, dim, out) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: kernels are only stored after runtime detection.
            Kernel::AvxVnni => unsafe { i8k::vnni::tile(qaux, es, dim, out) },
            _ => {
                let ne = es.len() / dim;
                for (c, e) in es.chunks_exact(dim).enumerate() {
                    for (r, q) in qcodes.chunks_exact(dim).enumerate() {
                        out[r * ne + c] = i8k::dot_portable(q, e);
                    }
                }
            }
        }
    }

    fn finish(&self, query: &[f32], col: Collector, k: usize, threshold: f32) -> Vec<Hit> {
        let mut hits: Vec<Hit> = col
            .finish()
            .into_iter()
            .map(|(score, entry)| Hit { entry, score })
            .collect();
        sort_hits(&mut hits);
        if self.rerank {
            hits.truncate(k.saturating_mul(4));
            for h in &mut hits {
                let i = h.entry as usize * self.dim;
                h.score = dot_portable(query, &self.rows[i..i + self.dim]);
            }
            hits.retain(|h| h.score >= threshold);
            sort_hits(&mut hits);
        }
        hits.truncate(k);
        hits
    }
}

/// Int8 dot-product kernels. All return exact integer results.
#[allow(clippy::needless_range_loop)]
mod i8k {
    /// Portable: i32 lanes over `chunks_exact(32)`; LLVM turns the widening
    /// multiply-add into `pmaddwd`-style code.
    #[inline]
    pub(crate) fn dot_portable(a: &[i8], b: &[i8]) -> i32 {
        const L: usize = 32;
        let n = a.len().min(b.len());
        let (a, b) = (&a[..n], &b[..n]);
        let mut acc = [0i32; L];
        let ca = a.chunks_exact(L);
        let cb = b.chunks_exact(L);
        let (ta, tb) = (ca.remainder(), cb.remainder());
        for (x, y) in ca.zip(cb) {
            for i in 0..L {
                acc[i] += (x[i] as i16 * y[i] as i16) as i32;
            }
        }
        let mut s: i32 = acc.iter().sum();
        for (x, y) in ta.iter().zip(tb) {
            s += *x as i32 * *y as i32;
        }
        s
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    #[inline]
    fn hsum_epi32(v: std::arch::x86_64::__m256i) -> i32 {
        use std::arch::x86_64::*;
        let s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256::<1>(v));
        let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b01_00_11_10>(s));
        let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b10_11_00_01>(s));
        _mm_cvtsi128_si32(s)
    }

    /// AVX2: `maddubs(|q|, sign(e, q))` gives pairwise `q·e` sums in i16
    /// without saturation (|codes| ≤ 127 ⇒ ≤ 2·127² < 2¹⁵), `madd` with
    /// ones widens to i32.
    #[cfg(target_arch = "x86_64")]
    pub(crate) mod avx2 {
        use super::hsum_epi32;
        use std::arch::x86_64::*;

        const QR: usize = 4;
        const ER: usize = 2;

        /// # Safety
        /// The CPU must support AVX2. `qabs`, `q`, `e` have equal lengths.
        #[target_feature(enable = "avx2")]
        pub(crate) unsafe fn dot(qabs: &[u8], q: &[i8], e: &[i8]) -> i32 {
            let n = e.len();
            assert!(qabs.len() == n && q.len() == n);
            let ones = _mm256_set1_epi16(1);
            let mut acc = _mm256_setzero_si256();
            let mut i = 0;
            while i + 32 <= n {
                // SAFETY: i + 32 <= n for all three slices.
                let (ev, qv, qa) = unsafe {
                    (
                        _mm256_loadu_si256(e.as_ptr().add(i).cast()),
                        _mm256_loadu_si256(q.as_ptr().add(i).cast()),
                        _mm256_loadu_si256(qabs.as_ptr().add(i).cast()),
                    )
                };
                let s = _mm256_sign_epi8(ev, qv);
                let p = _mm256_maddubs_epi16(qa, s);
                acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p, ones));
                i += 32;
            }
            let mut s = hsum_epi32(acc);
            for t in i..n {
                s += q[t] as i32 * e[t] as i32;
            }
            s
        }

        #[target_feature(enable = "avx2")]
        #[inline]
        #[allow(clippy::too_many_arguments)]
        fn micro<const Q: usize, const E: usize>(
            qabs: &[u8],
            q: &[i8],
            r0: usize,
            es: &[i8],
            c0: usize,
            dim: usize,
            out: &mut [i32],
            stride: usize,
        ) {
            assert!((r0 + Q) * dim <= q.len() && q.len() == qabs.len());
            assert!((c0 + E) * dim <= es.len());
            assert!((r0 + Q - 1) * stride + c0 + E <= out.len());
            let ones = _mm256_set1_epi16(1);
            let mut acc = [[_mm256_setzero_si256(); E]; Q];
            let d32 = dim & !31;
            let mut i = 0;
            while i < d32 {
                let mut ev = [_mm256_setzero_si256(); E];
                for c in 0..E {
                    // SAFETY: in bounds by the asserts (i + 32 <= dim).
                    ev[c] =
                        unsafe { _mm256_loadu_si256(es.as_ptr().add((c0 + c) * dim + i).cast()) };
                }
                for r in 0..Q {
                    let o = (r0 + r) * dim + i;
                    // SAFETY: in bounds by the asserts (i + 32 <= dim).
                    let (qv, qa) = unsafe {
                        (
                            _mm256_loadu_si256(q.as_ptr().add(o).cast()),
                            _mm256_loadu_si256(qabs.as_ptr().add(o).cast()),
                        )
                    };
                    for c in 0..E {
                        let p = _mm256_maddubs_epi16(qa, _mm256_sign_epi8(ev[c], qv));
                        acc[r][c] = _mm256_add_epi32(acc[r][c], _mm256_madd_epi16(p, ones));
                    }
                }
                i += 32;
            }
            for r in 0..Q {
                for c in 0..E {
                    let mut s = hsum_epi32(acc[r][c]);
                    let qo = (r0 + r) * dim;
                    let eo = (c0 + c) * dim;
                    for t in d32..dim {
                        s += q[qo + t] as i32 * es[eo + t] as i32;
                    }
                    out[(r0 + r) * stride + c0 + c] = s;
                }
            }
        }

        #[target_feature(enable = "avx2")]
        #[inline]
        #[allow(clippy::too_many_arguments)]
        fn column_group<const E: usize>(
            qabs: &[u8],
            q: &[i8],
            nq: usize,
            es: &[i8],
            c0: usize,
            dim: usize,
            out: &mut [i32],
            stride: usize,
        ) {
            let mut r = 0;
            while r + QR <= nq {
                micro::<QR, E>(qabs, q, r, es, c0, dim, out, stride);
                r += QR;
            }
            while r < nq {
                micro::<1, E>(qabs, q, r, es, c0, dim, out, stride);
                r += 1;
            }
        }

        /// `out[r * ne + c] = q_r · e_c`.
        ///
        /// # Safety
        /// The CPU must support AVX2.
        #[target_feature(enable = "avx2")]
        pub(crate) unsafe fn tile(qabs: &[u8], q: &[i8], es: &[i8], dim: usize, out: &mut [i32]) {
            let nq = q.len() / dim;
            let ne = es.len() / dim;
            let mut c = 0;
            while c + ER <= ne {
                column_group::<ER>(qabs, q, nq, es, c, dim, out, ne);
                c += ER;
            }
            while c < ne {
                column_group::<1>(qabs, q, nq, es, c, dim, out, ne);
                c += 1;
            }
        }
    }

    /// AVX-VNNI: `vpdpbusd(acc, q + 128 (u8), e (i8))` = 4-way u8×i8
    /// products summed straight into i32 — one instruction per 32 MACs.
    /// Results are biased by `128 Σ e`, removed by the caller.
    #[cfg(target_arch = "x86_64")]
    pub(crate) mod vnni {
        use super::hsum_epi32;
        use std::arch::x86_64::*;

        const QR: usize = 4;
        const ER: usize = 3;

        /// Biased dot `Σ qb_i e_i`.
        ///
        /// # Safety
        /// The CPU must support AVX2 and AVX-VNNI. Equal lengths.
        #[target_feature(enable = "avx2,avxvnni")]
        pub(crate) unsafe fn dot(qb: &[u8], e: &[i8]) -> i32 {
            let n = e.len();
            assert_eq!(qb.len(), n);
            let mut acc = [_mm256_setzero_si256(); 4];
            let mut i = 0;
            while i + 128 <= n {
                for j in 0..4 {
                    // SAFETY: i + 32 j + 32 <= n.
                    let (a, b) = unsafe {
                        (
                            _mm256_loadu_si256(qb.as_ptr().add(i + 32 * j).cast()),
                            _mm256_loadu_si256(e.as_ptr().add(i + 32 * j).cast()),
                        )
                    };
                    acc[j] = _mm256_dpbusd_avx_epi32(acc[j], a, b);
                }
                i += 128;
            }
            while i + 32 <= n {
                // SAFETY: i + 32 <= n.
                let (a, b) = unsafe {
                    (
                        _mm256_loadu_si256(qb.as_ptr().add(i).cast()),
                        _mm256_loadu_si256(e.as_ptr().add(i).cast()),
                    )
                };
                acc[0] = _mm256_dpbusd_avx_epi32(acc[0], a, b);
                i += 32;
            }
            let v = _mm256_add_epi32(
                _mm256_add_epi32(acc[0], acc[1]),
                _mm256_add_epi32(acc[2], acc[3]),
            );
            let mut s = hsum_epi32(v);
            for t in i..n {
                s += qb[t] as i32 * e[t] as i32;
            }
            s
        }

        #[target_feature(enable = "avx2,avxvnni")]
        #[inline]
        #[allow(clippy::too_many_arguments)]
        fn micro<const Q: usize, const E: usize>(
            qb: &[u8],
            r0: usize,
            es: &[i8],
            c0: usize,
            dim: usize,
            out: &mut [i32],
            stride: usize,
        ) {
            assert!((r0 + Q) * dim <= qb.len() && (c0 + E) * dim <= es.len());
            assert!((r0 + Q - 1) * stride + c0 + E <= out.len());
            let mut acc = [[_mm256_setzero_si256(); E]; Q];
            let d32 = dim & !31;
            let mut i = 0;
            while i < d32 {
                let mut ev = [_mm256_setzero_si256(); E];
                for c in 0..E {
                    // SAFETY: in bounds by the asserts (i + 32 <= dim).
                    ev[c] =
                        unsafe { _mm256_loadu_si256(es.as_ptr().add((c0 + c) * dim + i).cast()) };
                }
                for r in 0..Q {
                    // SAFETY: in bounds by the asserts (i + 32 <= dim).
                    let qv =
                        unsafe { _mm256_loadu_si256(qb.as_ptr().add((r0 + r) * dim + i).cast()) };
                    for c in 0..E {
                        acc[r][c] = _mm256_dpbusd_avx_epi32(acc[r][c], qv, ev[c]);
                    }
                }
                i += 32;
            }
            for r in 0..Q {
                for c in 0..E {
                    let mut s = hsum_epi32(acc[r][c]);
                    let qo = (r0 + r) * dim;
                    let eo = (c0 + c) * dim;
                    for t in d32..dim {
                        s += qb[qo + t] as i32 * es[eo + t] as i32;
                    }
                    out[(r0 + r) * stride + c0 + c] = s;
                }
            }
        }

        #[target_feature(enable = "avx2,avxvnni")]
        #[inline]
        fn column_group<const E: usize>(
            qb: &[u8],
            nq: usize,
            es: &[i8],
            c0: usize,
            dim: usize,
            out: &mut [i32],
            stride: usize,
        ) {
            let mut r = 0;
            while r + QR <= nq {
                micro::<QR, E>(qb, r, es, c0, dim, out, stride);
                r += QR;
            }
            while r < nq {
                micro::<1, E>(qb, r, es, c0, dim, out, stride);
                r += 1;
            }
        }

        /// `out[r * ne + c]` = biased `qb_r · e_c`.
        ///
        /// # Safety
        /// The CPU must support AVX2 and AVX-VNNI.
        #[target_feature(enable = "avx2,avxvnni")]
        pub(crate) unsafe fn tile(qb: &[u8], es: &[i8], dim: usize, out: &mut [i32]) {
            let nq = qb.len() / dim;
            let ne = es.len() / dim;
            let mut c = 0;
            while c + ER <= ne {
                column_group::<ER>(qb, nq, es, c, dim, out, ne);
                c += ER;
            }
            while c < ne {
                column_group::<1>(qb, nq, es, c, dim, out, ne);
                c += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn naive(a: &[i8], b: &[i8]) -> i32 {
        a.iter().zip(b).map(|(x, y)| *x as i32 * *y as i32).sum()
    }

    fn codes(rng: &mut ChaCha8Rng, n: usize, extreme: bool) -> Vec<i8> {
        (0..n)
            .map(|_| {
                if extreme {
                    if rng.random::<bool>() { 127 } else { -127 }
                } else {
                    rng.random_range(-127i8..=127)
                }
            })
            .collect()
    }

    #[test]
    fn quantize_is_symmetric_per_vector() {
        let (c, s) = quantize(&[0.5, -1.0, 0.25, 0.0]);
        assert_eq!(s, 1.0 / 127.0);
        assert_eq!(c, vec![64, -127, 32, 0]);
        assert_eq!(quantize(&[0.0; 3]), (vec![0; 3], 0.0));
    }

    #[test]
    fn all_int8_kernels_agree_exactly() {
        let mut rng = ChaCha8Rng::seed_from_u64(21);
        for dim in (1..=70).chain([127, 128, 129, 511, 512, 513]) {
            for extreme in [false, true] {
                let (nq, ne) = (6, 7);
                let q = codes(&mut rng, nq * dim, extreme);
                let e = codes(&mut rng, ne * dim, extreme);
                let want: Vec<i32> = (0..nq * ne)
                    .map(|i| naive(&q[(i / ne) * dim..][..dim], &e[(i % ne) * dim..][..dim]))
                    .collect();
                for i in 0..nq * ne {
                    let (qq, ee) = (&q[(i / ne) * dim..][..dim], &e[(i % ne) * dim..][..dim]);
                    assert_eq!(i8k::dot_portable(qq, ee), want[i]);
                }
                #[cfg(target_arch = "x86_64")]
                {
                    if Kernel::avx2_available() {
                        let abs: Vec<u8> = q.iter().map(|c| c.unsigned_abs()).collect();
                        let mut out = vec![0; nq * ne];
                        // SAFETY: detected above.
                        unsafe { i8k::avx2::tile(&abs, &q, &e, dim, &mut out) };
                        assert_eq!(out, want, "avx2 tile dim {dim}");
                        for i in 0..nq * ne {
                            let r = i / ne;
                            let (qa, qq, ee) = (
                                &abs[r * dim..][..dim],
                                &q[r * dim..][..dim],
                                &e[(i % ne) * dim..][..dim],
                            );
                            // SAFETY: detected above.
                            assert_eq!(unsafe { i8k::avx2::dot(qa, qq, ee) }, want[i]);
                        }
                    }
                    if Kernel::avx_vnni_available() {
                        let qb: Vec<u8> = q.iter().map(|&c| (c as i16 + 128) as u8).collect();
                        let sums: Vec<i32> = e
                            .chunks_exact(dim)
                            .map(|r| r.iter().map(|&c| c as i32).sum())
                            .collect();
                        let mut out = vec![0; nq * ne];
                        // SAFETY: detected above.
                        unsafe { i8k::vnni::tile(&qb, &e, dim, &mut out) };
                        for i in 0..nq * ne {
                            assert_eq!(out[i] - 128 * sums[i % ne], want[i], "vnni tile dim {dim}");
                            let (qq, ee) =
                                (&qb[(i / ne) * dim..][..dim], &e[(i % ne) * dim..][..dim]);
                            // SAFETY: detected above.
                            let raw = unsafe { i8k::vnni::dot(qq, ee) };
                            assert_eq!(raw - 128 * sums[i % ne], want[i]);
                        }
                    }
                }
            }
        }
    }
}
