//! Int8 index: per-vector symmetric quantisation, exact i32 dot products.
//!
//! Each vector `x` is stored as `round(x / s)` clamped to `[-127, 127]` with
//! `s = max|x| / 127` (all-zero vectors get `s = 0`). A query is quantised
//! the same way and the score is `(i32 dot) as f32 * s_q * s_e`. Integer dot
//! products are exact, so every kernel (portable, AVX2 sign trick, AVX-VNNI,
//! AVX-512 VNNI) gives bit-identical scores and hits. `d · 127² < 2³¹` requires
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
const _: () = assert!(ENTRY_TILE.is_multiple_of(GROUP));

/// Entries per interleaved group of [`Packed`] (one zmm of i32 lanes).
const GROUP: usize = 16;

/// One 64-byte-aligned chunk of [`Packed`]: 4 consecutive codes of each of
/// the 16 entries of a group.
#[repr(C, align(64))]
#[derive(Clone, Copy)]
struct Chunk([i8; 64]);

/// The codes interleaved for the AVX-512 VNNI kernel: entries in groups of
/// [`GROUP`]; group `g` is `dim.div_ceil(4)` chunks, chunk `k` holding codes
/// `4k..4k + 4` of entries `16g..16g + 16` (entry `j`'s at bytes `4j..4j + 4`).
/// Dimensions past `dim` and entries past `len` are zero, so they add exact
/// zeros. One aligned zmm load is then 4 dimensions of 16 entries, and one
/// `vpdpbusd` with a broadcast 4-byte query word gives 16 entries' partial
/// dots in 16 i32 lanes — no horizontal sums.
#[derive(Clone)]
struct Packed {
    buf: Vec<Chunk>,
    /// Chunks per group (`dim.div_ceil(4)`).
    cpg: usize,
    len: usize,
}

impl Packed {
    fn new(dim: usize) -> Self {
        Packed {
            buf: Vec::new(),
            cpg: dim.div_ceil(4),
            len: 0,
        }
    }

    fn push(&mut self, codes: &[i8]) {
        let (g, lane) = (self.len / GROUP, self.len % GROUP);
        if lane == 0 {
            self.buf.resize((g + 1) * self.cpg, Chunk([0; 64]));
        }
        let group = &mut self.buf[g * self.cpg..(g + 1) * self.cpg];
        for (chunk, c4) in group.iter_mut().zip(codes.chunks(4)) {
            chunk.0[4 * lane..4 * lane + c4.len()].copy_from_slice(c4);
        }
        self.len += 1;
    }

    /// Groups `g0..g1`.
    fn groups(&self, g0: usize, g1: usize) -> &[Chunk] {
        &self.buf[g0 * self.cpg..g1 * self.cpg]
    }
}

impl std::fmt::Debug for Packed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Packed")
            .field("len", &self.len)
            .field("cpg", &self.cpg)
            .finish_non_exhaustive()
    }
}

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
    /// Interleaved copy of `codes` (AVX-512 VNNI kernel only, else empty).
    packed: Packed,
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
            packed: Packed::new(dim),
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
        if self.kernel == Kernel::Avx512Vnni {
            self.packed.push(&codes);
        }
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
            let wide = self.kernel == Kernel::Avx512Vnni;
            // The AVX-512 VNNI kernel reads biased query rows padded to a
            // multiple of 4 bytes, in whole register blocks of zero rows.
            let qstride = if wide { 4 * self.packed.cpg } else { dim };
            let nlp = if wide {
                nl.next_multiple_of(VNNI512_QR)
            } else {
                nl
            };
            let mut qcodes = Vec::with_capacity(nl * dim);
            let mut qaux = Vec::with_capacity(nlp * qstride);
            for &i in &live {
                let (p, _) = started[i].as_ref().expect("live");
                qcodes.extend_from_slice(&p.codes);
                match self.kernel {
                    Kernel::Avx2 => qaux.extend_from_slice(&p.abs),
                    Kernel::AvxVnni => qaux.extend_from_slice(&p.biased),
                    Kernel::Avx512Vnni => {
                        qaux.extend_from_slice(&p.biased);
                        qaux.resize(qaux.len() + qstride - dim, 0);
                    }
                    _ => {}
                }
            }
            if wide {
                qaux.resize(nlp * qstride, 0);
            }
            let mut out = vec![0i32; nlp * ENTRY_TILE];
            let mut scores = vec![0.0f32; ENTRY_TILE];
            let n = self.len();
            let mut t0 = 0;
            while t0 < n {
                let t1 = (t0 + ENTRY_TILE).min(n);
                let m = t1 - t0;
                let o = &mut out[..nlp * m];
                if wide {
                    let groups = self.packed.groups(t0 / GROUP, t1.div_ceil(GROUP));
                    self.tile512(&qaux, qstride, groups, m, o);
                } else {
                    let es = &self.codes[t0 * dim..t1 * dim];
                    self.tile(&qcodes, &qaux, es, o);
                }
                for (r, &i) in live.iter().enumerate() {
                    let (p, col) = started[i].as_mut().expect("live");
                    let sc = &mut scores[..m];
                    self.scores_into(&o[r * m..(r + 1) * m], p.scale, t0, sc);
                    if self.inactive == 0 && !self.rerank {
                        // The collector never keeps a score below the
                        // threshold (its floor), so runs of 16 wholly below
                        // it (the common case) are skipped with one
                        // vectorised test.
                        for (j, run) in sc.chunks(16).enumerate() {
                            if run.iter().fold(false, |a, &s| a | (s >= threshold)) {
                                for (c, &s) in run.iter().enumerate() {
                                    col.push(s, (t0 + 16 * j + c) as u32);
                                }
                            }
                        }
                    } else if self.inactive == 0 {
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
            Kernel::AvxVnni | Kernel::Avx512Vnni => {
                codes.iter().map(|&c| (c as i16 + 128) as u8).collect()
            }
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
        if matches!(self.kernel, Kernel::AvxVnni | Kernel::Avx512Vnni) {
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
            Kernel::AvxVnni | Kernel::Avx512Vnni => {
                raw.wrapping_sub(self.sums[e].wrapping_mul(128))
            }
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
            #[cfg(target_arch = "x86_64")]
            // SAFETY: kernels are only stored after runtime detection.
            Kernel::Avx512Vnni => self.unbias(unsafe { i8k::vnni512::dot(&p.biased, row) }, e),
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

    /// Raw (biased) dots of padded biased query rows (`qstride` apart, a
    /// whole number of register blocks) against interleaved entry groups,
    /// whose first `m` entries are real: `out[r * m + c]`.
    fn tile512(&self, qb: &[u8], qstride: usize, groups: &[Chunk], m: usize, out: &mut [i32]) {
        match self.kernel {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: Kernel::Avx512Vnni is only stored after runtime detection.
            Kernel::Avx512Vnni => unsafe {
                i8k::vnni512::tile(qb, qstride, groups, self.packed.cpg, m, out)
            },
            _ => {
                let _ = (qb, qstride, groups, m, out);
                unreachable!("tile512 without the AVX-512 VNNI kernel")
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

/// Queries per register block of the AVX-512 VNNI kernel (query blocks are
/// padded to a multiple of it).
const VNNI512_QR: usize = i8k::VNNI512_QR;

/// Int8 dot-product kernels. All return exact integer results.
#[allow(clippy::needless_range_loop)]
mod i8k {
    pub(crate) const VNNI512_QR: usize = 4;

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
    /// AVX-512 VNNI: `vpdpbusd(acc, q + 128 (u8), e (i8))` on zmm, 64 MACs
    /// per instruction. The batch kernel works on the interleaved
    /// [`Packed`](super::Packed) layout: a broadcast 4-byte word of a biased
    /// query times one aligned chunk (the same 4 dimensions of 16 entries)
    /// adds 4 products into each of 16 i32 lanes, one lane per entry, so the
    /// accumulators are the results and need no horizontal sums. Results are
    /// biased by `128 Σ e`, removed by the caller.
    #[cfg(target_arch = "x86_64")]
    pub(crate) mod vnni512 {
        use super::super::{Chunk, GROUP};
        use std::arch::x86_64::*;

        /// Register block: `QR` queries × `EG` groups of 16 entries, i.e.
        /// 4 × 64 results in 16 zmm accumulators (+ 4 entry chunks and a
        /// broadcast query word). Measured at 10,000 × 512 (1,000-query
        /// batches, 1 thread, Zen 5, load ~2.7): 4×4, 8×3, 6×4, 4×6, 8×2,
        /// 4×3 all 72–74 k searches/s (the kernel runs at ~1.9 `vpdpbusd`
        /// per cycle, ~2 is the peak, so the shape stops mattering once
        /// there are ≥ 12 accumulators); 12×2 ~72 k; 24×1 ~65 k; 3×8 ~60 k.
        /// 4×4 needs no query padding (blocks are multiples of 4).
        const QR: usize = super::VNNI512_QR;
        const EG: usize = 4;

        /// Biased dot `Σ qb_i e_i` of two row-major slices (single-query
        /// search); a masked step ends it (masked-off bytes load as 0).
        ///
        /// # Safety
        /// The CPU must support AVX-512F, AVX-512BW and AVX-512 VNNI.
        #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
        pub(crate) unsafe fn dot(qb: &[u8], e: &[i8]) -> i32 {
            let n = e.len();
            assert_eq!(qb.len(), n);
            let (pq, pe) = (qb.as_ptr(), e.as_ptr());
            let mut acc = [_mm512_setzero_si512(); 4];
            let mut i = 0;
            while i + 256 <= n {
                for j in 0..4 {
                    // SAFETY: i + 64 j + 64 <= n.
                    let (a, b) = unsafe {
                        (
                            _mm512_loadu_si512(pq.add(i + 64 * j).cast()),
                            _mm512_loadu_si512(pe.add(i + 64 * j).cast()),
                        )
                    };
                    acc[j] = _mm512_dpbusd_epi32(acc[j], a, b);
                }
                i += 256;
            }
            while i + 64 <= n {
                // SAFETY: i + 64 <= n.
                let (a, b) = unsafe {
                    (
                        _mm512_loadu_si512(pq.add(i).cast()),
                        _mm512_loadu_si512(pe.add(i).cast()),
                    )
                };
                acc[0] = _mm512_dpbusd_epi32(acc[0], a, b);
                i += 64;
            }
            if i < n {
                let m: __mmask64 = (1u64 << (n - i)) - 1;
                // SAFETY: bytes i..n are in bounds; masked-off bytes are not
                // accessed (no fault).
                let (a, b) = unsafe {
                    (
                        _mm512_maskz_loadu_epi8(m, pq.add(i).cast()),
                        _mm512_maskz_loadu_epi8(m, pe.add(i)),
                    )
                };
                acc[1] = _mm512_dpbusd_epi32(acc[1], a, b);
            }
            let v = _mm512_add_epi32(
                _mm512_add_epi32(acc[0], acc[1]),
                _mm512_add_epi32(acc[2], acc[3]),
            );
            _mm512_reduce_add_epi32(v)
        }

        /// `Q` query rows at `q` (`qstride = 4 cpg` bytes apart) against `E`
        /// consecutive groups at `e`: accumulator `[r][c]` lane `j` is the
        /// biased dot of query `r` with entry `j` of group `c`.
        #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
        #[inline]
        fn micro<const Q: usize, const E: usize>(
            q: &[u8],
            qstride: usize,
            e: &[Chunk],
            cpg: usize,
        ) -> [[__m512i; E]; Q] {
            assert!(qstride == 4 * cpg && q.len() >= Q * qstride && e.len() >= E * cpg);
            let (qp, ep) = (q.as_ptr(), e.as_ptr());
            let mut acc = [[_mm512_setzero_si512(); E]; Q];
            for k in 0..cpg {
                // SAFETY: c * cpg + k < E * cpg <= e.len(); chunks are
                // 64-byte aligned.
                let ev: [__m512i; E] = std::array::from_fn(|c| unsafe {
                    _mm512_load_si512(ep.add(c * cpg + k).cast())
                });
                for r in 0..Q {
                    // SAFETY: r * qstride + 4 k + 4 <= Q * qstride <= q.len().
                    let w = unsafe { qp.add(r * qstride + 4 * k).cast::<i32>().read_unaligned() };
                    let b = _mm512_set1_epi32(w);
                    for c in 0..E {
                        acc[r][c] = _mm512_dpbusd_epi32(acc[r][c], b, ev[c]);
                    }
                }
            }
            acc
        }

        /// Store accumulators to `out[(r0 + r) * ld + c0 + 16 c + j]` for the
        /// real entries (`c0 + 16 c + j < ld`).
        #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
        #[inline]
        fn store<const Q: usize, const E: usize>(
            acc: &[[__m512i; E]; Q],
            r0: usize,
            c0: usize,
            out: &mut [i32],
            ld: usize,
        ) {
            for r in 0..Q {
                for c in 0..E {
                    let col = c0 + GROUP * c;
                    let o = (r0 + r) * ld + col;
                    if col + GROUP <= ld {
                        let dst = &mut out[o..o + GROUP];
                        // SAFETY: dst has 16 elements.
                        unsafe { _mm512_storeu_si512(dst.as_mut_ptr().cast(), acc[r][c]) };
                    } else if col < ld {
                        let dst = &mut out[o..o + (ld - col)];
                        let m = ((1u32 << dst.len()) - 1) as __mmask16;
                        // SAFETY: lanes 0..dst.len() are in bounds; masked-off
                        // lanes are not accessed.
                        unsafe { _mm512_mask_storeu_epi32(dst.as_mut_ptr(), m, acc[r][c]) };
                    }
                }
            }
        }

        /// All query blocks against `E` groups starting at group `g`.
        #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
        #[inline(never)]
        #[allow(clippy::too_many_arguments)]
        fn column_group<const Q: usize, const E: usize>(
            qb: &[u8],
            qstride: usize,
            nq: usize,
            groups: &[Chunk],
            cpg: usize,
            g: usize,
            m: usize,
            out: &mut [i32],
        ) {
            let e = &groups[g * cpg..(g + E) * cpg];
            for r0 in (0..nq).step_by(Q) {
                let acc = micro::<Q, E>(&qb[r0 * qstride..], qstride, e, cpg);
                store::<Q, E>(&acc, r0, g * GROUP, out, m);
            }
        }

        /// `out[r * m + c]` = biased `qb_r · e_c` for the `nq = qb.len() /
        /// qstride` query rows (a multiple of `QR`; biased codes, zero-padded
        /// to `qstride = 4 cpg` bytes) and the first `m` entries of `groups`
        /// (whole interleaved groups). Each run of `EG` groups (`EG` × 16
        /// entries × `4 cpg` bytes: 32 KiB at 512-d) stays in L1 while every
        /// query block streams past it.
        ///
        /// # Safety
        /// The CPU must support AVX-512F, AVX-512BW and AVX-512 VNNI.
        #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
        pub(crate) unsafe fn tile(
            qb: &[u8],
            qstride: usize,
            groups: &[Chunk],
            cpg: usize,
            m: usize,
            out: &mut [i32],
        ) {
            let nq = qb.len() / qstride;
            let ng = groups.len() / cpg;
            assert!(qstride == 4 * cpg && nq.is_multiple_of(QR) && qb.len() == nq * qstride);
            assert!(m <= ng * GROUP && out.len() >= nq * m);
            let mut g = 0;
            while g + EG <= ng {
                column_group::<QR, EG>(qb, qstride, nq, groups, cpg, g, m, out);
                g += EG;
            }
            while g < ng {
                column_group::<QR, 1>(qb, qstride, nq, groups, cpg, g, m, out);
                g += 1;
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
                    if Kernel::avx512_vnni_available() {
                        let qb: Vec<u8> = q.iter().map(|&c| (c as i16 + 128) as u8).collect();
                        for i in 0..nq * ne {
                            let (qq, ee) =
                                (&qb[(i / ne) * dim..][..dim], &e[(i % ne) * dim..][..dim]);
                            // SAFETY: detected above.
                            let raw = unsafe { i8k::vnni512::dot(qq, ee) };
                            let sum: i32 = ee.iter().map(|&c| c as i32).sum();
                            assert_eq!(raw - 128 * sum, want[i], "vnni512 dot dim {dim}");
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

    /// The AVX-512 VNNI batch kernel against the naive dot: odd dimensions
    /// (padding to 4-byte words), partial query blocks (zero rows), partial
    /// 16-entry groups (masked stores), runs of groups shorter than the
    /// register block, ±127 extremes; through `Packed` as the index builds it.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx512_vnni_tile_agrees_exactly() {
        if !Kernel::avx512_vnni_available() {
            return;
        }
        let mut rng = ChaCha8Rng::seed_from_u64(22);
        let dims = (1..=70).chain([127, 128, 129, 255, 256, 257, 511, 512, 513]);
        for dim in dims {
            for (nq, ne, extreme) in [
                (1, 1, false),
                (6, 7, true),
                (11, 61, false),
                (16, 100, true),
                (17, 33, false),
            ] {
                let q = codes(&mut rng, nq * dim, extreme);
                let e = codes(&mut rng, ne * dim, extreme);
                let mut packed = Packed::new(dim);
                for row in e.chunks_exact(dim) {
                    packed.push(row);
                }
                let qstride = 4 * packed.cpg;
                let nqp = nq.next_multiple_of(VNNI512_QR);
                let mut qb = vec![0u8; nqp * qstride];
                for (r, row) in q.chunks_exact(dim).enumerate() {
                    for (t, &c) in row.iter().enumerate() {
                        qb[r * qstride + t] = (c as i16 + 128) as u8;
                    }
                }
                // Sentinels past the real rows must survive.
                let mut out = vec![i32::MIN; nqp * ne + 5];
                let groups = packed.groups(0, ne.div_ceil(GROUP));
                // SAFETY: detected above.
                unsafe { i8k::vnni512::tile(&qb, qstride, groups, packed.cpg, ne, &mut out) };
                assert!(out[nqp * ne..].iter().all(|&x| x == i32::MIN));
                for r in 0..nq {
                    for c in 0..ne {
                        let ee = &e[c * dim..][..dim];
                        let sum: i32 = ee.iter().map(|&x| x as i32).sum();
                        assert_eq!(
                            out[r * ne + c] - 128 * sum,
                            naive(&q[r * dim..][..dim], ee),
                            "vnni512 tile dim {dim} nq {nq} ne {ne} ({r}, {c})"
                        );
                    }
                }
            }
        }
    }
}
