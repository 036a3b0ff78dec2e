//! f32 inner-product kernels.
//!
//! Why the SIMD kernels are hand-written rather than left to a BLAS or to
//! the autovectoriser: they *are* the product. The figure this crate is
//! judged on is searches per second per core at 10,000 × 512, and that is
//! set almost entirely by these loops. Rust never contracts `a * b + c` into
//! an FMA and cannot reorder float sums, so the portable code below can at
//! best reach ~half of the FMA peak; the explicit AVX2+FMA kernels use FMA
//! and a register-blocked 4-query × 3-entry micro-kernel (12 independent
//! accumulators, each entry row loaded once per 4 queries). Where the CPU
//! has AVX-512F, 16-wide kernels with a 4-query × 4-entry block over
//! 64-byte-aligned packed rows and a batched (transposing) horizontal sum
//! run at ~75% of the 512-bit FMA peak, ~1.6× the FAISS flat
//! inner-product index on the same core, without a BLAS dependency.
//!
//! Scores from the fast kernels differ from the canonical [`dot_portable`]
//! by at most the standard floating-point bound (see `exact.rs`); the index
//! re-scores its final candidates with [`dot_portable`], so reported hits
//! are bit-identical whichever kernel found them.
#![allow(clippy::needless_range_loop)]

/// Independent accumulators of the portable kernel.
pub(crate) const LANES: usize = 16;

/// Canonical, portable dot product: 16 independent accumulators over
/// `chunks_exact(16)` (autovectorises to 2×8 or 4×4 SIMD lanes), a fixed
/// pairwise reduction tree, then the tail in order. Only IEEE `+` and `*`
/// are used, so the result is bit-identical on every platform.
#[inline]
pub(crate) fn dot_portable(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f32; LANES];
    let ca = a.chunks_exact(LANES);
    let cb = b.chunks_exact(LANES);
    let (ta, tb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..LANES {
            acc[i] += x[i] * y[i];
        }
    }
    let mut w = LANES;
    while w > 1 {
        w /= 2;
        for i in 0..w {
            acc[i] += acc[i + w];
        }
    }
    let mut s = acc[0];
    for (x, y) in ta.iter().zip(tb) {
        s += x * y;
    }
    s
}

/// Portable tile: `out[r * ne + c] = dot(query r, entry c)`.
pub(crate) fn tile_portable(qs: &[f32], es: &[f32], dim: usize, out: &mut [f32]) {
    let nq = qs.len() / dim;
    let ne = es.len() / dim;
    // Entry-major so each entry row is reused across the whole query block
    // while it is hot in L1.
    for (c, e) in es.chunks_exact(dim).enumerate() {
        for (r, q) in qs.chunks_exact(dim).enumerate().take(nq) {
            out[r * ne + c] = dot_portable(q, e);
        }
    }
}

#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2 {
    use std::arch::x86_64::*;

    /// Micro-kernel shape: queries × entries held in registers.
    const QR: usize = 4;
    const ER: usize = 3;

    #[target_feature(enable = "avx2,fma")]
    #[inline]
    fn hsum(v: __m256) -> f32 {
        let lo = _mm256_castps256_ps128(v);
        let hi = _mm256_extractf128_ps::<1>(v);
        let s = _mm_add_ps(lo, hi);
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_add_ss(s, _mm_shuffle_ps::<0b01>(s, s));
        _mm_cvtss_f32(s)
    }

    /// Dot product of two equal-length slices with 4×8 FMA accumulators.
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub(crate) unsafe fn dot(a: &[f32], b: &[f32]) -> f32 {
        let n = a.len().min(b.len());
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let mut acc = [_mm256_setzero_ps(); 4];
        let mut i = 0;
        while i + 32 <= n {
            for j in 0..4 {
                // SAFETY: i + 8 * j + 8 <= n.
                let (x, y) = unsafe {
                    (
                        _mm256_loadu_ps(pa.add(i + 8 * j)),
                        _mm256_loadu_ps(pb.add(i + 8 * j)),
                    )
                };
                acc[j] = _mm256_fmadd_ps(x, y, acc[j]);
            }
            i += 32;
        }
        while i + 8 <= n {
            // SAFETY: i + 8 <= n.
            let (x, y) = unsafe { (_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i))) };
            acc[0] = _mm256_fmadd_ps(x, y, acc[0]);
            i += 8;
        }
        let v = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
        let mut s = hsum(v);
        for t in i..n {
            s += a[t] * b[t];
        }
        s
    }

    /// Register-blocked Q × E micro-kernel over the full dimension.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    fn micro<const Q: usize, const E: usize>(
        qs: &[f32],
        r0: usize,
        es: &[f32],
        c0: usize,
        dim: usize,
        out: &mut [f32],
        stride: usize,
    ) {
        assert!((r0 + Q) * dim <= qs.len() && (c0 + E) * dim <= es.len());
        assert!((r0 + Q - 1) * stride + c0 + E <= out.len());
        let mut qp = [qs.as_ptr(); Q];
        let mut ep = [es.as_ptr(); E];
        for r in 0..Q {
            // SAFETY: in bounds by the assert above.
            qp[r] = unsafe { qs.as_ptr().add((r0 + r) * dim) };
        }
        for c in 0..E {
            // SAFETY: in bounds by the assert above.
            ep[c] = unsafe { es.as_ptr().add((c0 + c) * dim) };
        }
        let mut acc = [[_mm256_setzero_ps(); E]; Q];
        let d8 = dim & !7;
        let mut i = 0;
        while i < d8 {
            let mut ev = [_mm256_setzero_ps(); E];
            for c in 0..E {
                // SAFETY: row c0 + c has dim >= i + 8 elements.
                ev[c] = unsafe { _mm256_loadu_ps(ep[c].add(i)) };
            }
            for r in 0..Q {
                // SAFETY: row r0 + r has dim >= i + 8 elements.
                let qv = unsafe { _mm256_loadu_ps(qp[r].add(i)) };
                for c in 0..E {
                    acc[r][c] = _mm256_fmadd_ps(qv, ev[c], acc[r][c]);
                }
            }
            i += 8;
        }
        for r in 0..Q {
            for c in 0..E {
                let mut s = hsum(acc[r][c]);
                let q = &qs[(r0 + r) * dim..(r0 + r + 1) * dim];
                let e = &es[(c0 + c) * dim..(c0 + c + 1) * dim];
                for t in d8..dim {
                    s += q[t] * e[t];
                }
                out[(r0 + r) * stride + c0 + c] = s;
            }
        }
    }

    #[target_feature(enable = "avx2,fma")]
    #[inline]
    fn column_group<const E: usize>(
        qs: &[f32],
        nq: usize,
        es: &[f32],
        c0: usize,
        dim: usize,
        out: &mut [f32],
        stride: usize,
    ) {
        let mut r = 0;
        while r + QR <= nq {
            micro::<QR, E>(qs, r, es, c0, dim, out, stride);
            r += QR;
        }
        while r < nq {
            micro::<1, E>(qs, r, es, c0, dim, out, stride);
            r += 1;
        }
    }

    /// Blocked tile: `out[r * ne + c] = dot(query r, entry c)` for a block
    /// of queries `qs` and a tile of entries `es` (both row-major, `dim`).
    /// Each group of 3 entry rows stays in L1 while every 4-query group of
    /// the block streams past it.
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub(crate) unsafe fn tile(qs: &[f32], es: &[f32], dim: usize, out: &mut [f32]) {
        let nq = qs.len() / dim;
        let ne = es.len() / dim;
        let mut c = 0;
        while c + ER <= ne {
            column_group::<ER>(qs, nq, es, c, dim, out, ne);
            c += ER;
        }
        while c < ne {
            column_group::<1>(qs, nq, es, c, dim, out, ne);
            c += 1;
        }
    }
}

#[cfg(target_arch = "x86_64")]
pub(crate) mod avx512 {
    use std::arch::x86_64::*;

    /// Micro-kernel shape: queries × entries held in zmm registers. 4 × 4
    /// uses 16 accumulators + 4 entry vectors + 1 query vector of the 32
    /// zmm registers, and its 16 sums are exactly one [`hsum16`]. Measured
    /// at 10,000 × 512 (1,000-query batches, 1 thread, Zen 5): 4×4 ≈ 21–22 k
    /// searches/s, 4×6 and 6×4 ≈ 20 k, 4×5 and 5×4 ≈ 19–20 k, 3×8 ≈ 19 k,
    /// 4×3 and 8×3 ≈ 14–16 k, 8×2 ≈ 11 k.
    const QR: usize = 4;
    const ER: usize = 4;

    /// One 64-byte-aligned chunk of 16 f32 (the backing of [`Packed`]).
    #[repr(C, align(64))]
    #[derive(Clone, Copy)]
    struct Chunk([f32; 16]);

    /// Rows copied into 64-byte-aligned storage with a stride of `dim`
    /// rounded up to 16, zero-padded, so that every 16-wide load of the
    /// micro-kernel is one aligned cache line (rows in a `Vec<f32>` are
    /// typically 16 bytes off, which splits every zmm load across two
    /// lines; packing is worth ~7%) and no tail step is needed. The padding
    /// only ever adds exact zeros to a sum.
    pub(crate) struct Packed {
        buf: Vec<Chunk>,
        rows: usize,
        stride: usize,
    }

    impl Packed {
        /// Zeroed storage for `rows` rows of dimension `dim`.
        fn zeroed(rows: usize, dim: usize) -> Self {
            let stride = dim.next_multiple_of(16);
            Packed {
                buf: vec![Chunk([0.0; 16]); rows * stride / 16],
                rows,
                stride,
            }
        }

        /// Pack row-major `rows` (a multiple of `dim` long), adding zero rows
        /// up to a multiple of `QR`.
        pub(crate) fn queries(rows: &[f32], dim: usize) -> Self {
            let n = rows.len() / dim;
            let mut p = Self::zeroed(n.next_multiple_of(QR), dim);
            for (i, row) in rows.chunks_exact(dim).enumerate() {
                p.row_mut(i)[..dim].copy_from_slice(row);
            }
            p
        }

        fn as_slice(&self) -> &[f32] {
            // SAFETY: `Chunk` is `repr(C)` around `[f32; 16]`: the buffer is
            // `16 * buf.len()` initialised, contiguous f32.
            unsafe { std::slice::from_raw_parts(self.buf.as_ptr().cast(), self.buf.len() * 16) }
        }

        fn row_mut(&mut self, i: usize) -> &mut [f32] {
            let len = self.buf.len() * 16;
            // SAFETY: as in `as_slice`, mutably.
            let all = unsafe { std::slice::from_raw_parts_mut(self.buf.as_mut_ptr().cast(), len) };
            &mut all[i * self.stride..(i + 1) * self.stride]
        }
    }

    /// Dot product of two equal-length slices with 4×16 FMA accumulators.
    /// A masked head step brings `b` (the index row, streamed from memory)
    /// to a 64-byte boundary so its loads never split a cache line; a
    /// masked tail ends it. Masked-off lanes load as 0 and add exact zeros.
    ///
    /// # Safety
    /// The CPU must support AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub(crate) unsafe fn dot(a: &[f32], b: &[f32]) -> f32 {
        let n = a.len().min(b.len());
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let mut acc = [_mm512_setzero_ps(); 4];
        // Elements before b's next 64-byte boundary (0..=15).
        let head = ((64 - (pb as usize & 63)) & 63) / 4;
        let mut i = head.min(n);
        if i > 0 {
            let m = ((1u32 << i) - 1) as __mmask16;
            // SAFETY: lanes 0..i < n are in bounds; masked-off lanes are
            // not accessed (no fault).
            let (x, y) = unsafe { (_mm512_maskz_loadu_ps(m, pa), _mm512_maskz_loadu_ps(m, pb)) };
            acc[3] = _mm512_fmadd_ps(x, y, acc[3]);
        }
        while i + 64 <= n {
            for j in 0..4 {
                // SAFETY: i + 16 * j + 16 <= n.
                let (x, y) = unsafe {
                    (
                        _mm512_loadu_ps(pa.add(i + 16 * j)),
                        _mm512_loadu_ps(pb.add(i + 16 * j)),
                    )
                };
                acc[j] = _mm512_fmadd_ps(x, y, acc[j]);
            }
            i += 64;
        }
        while i + 16 <= n {
            // SAFETY: i + 16 <= n.
            let (x, y) = unsafe { (_mm512_loadu_ps(pa.add(i)), _mm512_loadu_ps(pb.add(i))) };
            acc[0] = _mm512_fmadd_ps(x, y, acc[0]);
            i += 16;
        }
        if i < n {
            let m = ((1u32 << (n - i)) - 1) as __mmask16;
            // SAFETY: lanes i..n are in bounds; masked-off lanes are not
            // accessed (no fault).
            let (x, y) = unsafe {
                (
                    _mm512_maskz_loadu_ps(m, pa.add(i)),
                    _mm512_maskz_loadu_ps(m, pb.add(i)),
                )
            };
            acc[1] = _mm512_fmadd_ps(x, y, acc[1]);
        }
        let v = _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3]));
        _mm512_reduce_add_ps(v)
    }

    /// `[a0+a2, a1+a3, b0+b2, b1+b3]` (128-bit lanes).
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn fold_a(a: __m512, b: __m512) -> __m512 {
        _mm512_add_ps(
            _mm512_shuffle_f32x4::<0x44>(a, b),
            _mm512_shuffle_f32x4::<0xEE>(a, b),
        )
    }

    /// `[x0+x1, x2+x3, y0+y1, y2+y3]` (128-bit lanes).
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn fold_b(x: __m512, y: __m512) -> __m512 {
        _mm512_add_ps(
            _mm512_shuffle_f32x4::<0x88>(x, y),
            _mm512_shuffle_f32x4::<0xDD>(x, y),
        )
    }

    /// Within each 128-bit lane: `(p0+p2, p1+p3, q0+q2, q1+q3)`.
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn fold_c(p: __m512, q: __m512) -> __m512 {
        _mm512_add_ps(
            _mm512_shuffle_ps::<0x44>(p, q),
            _mm512_shuffle_ps::<0xEE>(p, q),
        )
    }

    /// Within each 128-bit lane: `(s0+s1, s2+s3, t0+t1, t2+t3)`.
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn fold_d(s: __m512, t: __m512) -> __m512 {
        _mm512_add_ps(
            _mm512_shuffle_ps::<0x88>(s, t),
            _mm512_shuffle_ps::<0xDD>(s, t),
        )
    }

    /// Horizontal sums of 16 vectors at once (45 shuffles/adds instead of
    /// 16 separate reductions): lane `j` of the result is the sum of the 16
    /// lanes of `v[j]`. Each sum is a binary tree over those lanes, so the
    /// rounding bound of `exact.rs` holds.
    #[target_feature(enable = "avx512f")]
    #[inline]
    pub(crate) fn hsum16(v: &[__m512; 16]) -> __m512 {
        // The folds leave the sum of input `L + 4m` in lane `4L + m`;
        // feeding the inputs transposed puts the sum of `v[j]` in lane `j`.
        let w: [__m512; 8] = std::array::from_fn(|i| {
            let (a, b) = (2 * i, 2 * i + 1);
            fold_a(v[(a % 4) * 4 + a / 4], v[(b % 4) * 4 + b / 4])
        });
        let x: [__m512; 4] = std::array::from_fn(|i| fold_b(w[2 * i], w[2 * i + 1]));
        fold_d(fold_c(x[0], x[1]), fold_c(x[2], x[3]))
    }

    /// Register-blocked Q × E micro-kernel: `Q` packed query rows at `q`
    /// against `E` packed entry rows at `e` (row stride `stride`, a multiple
    /// of 16, 64-byte aligned), aligned 16-wide FMA steps over the whole
    /// stride. Returns the Q·E vector accumulators.
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn micro<const Q: usize, const E: usize>(
        q: &[f32],
        e: &[f32],
        stride: usize,
    ) -> [[__m512; E]; Q] {
        assert!(stride.is_multiple_of(16) && q.len() >= Q * stride && e.len() >= E * stride);
        // Slices of a `Packed`: the aligned loads below need this.
        assert!(q.as_ptr().addr().is_multiple_of(64) && e.as_ptr().addr().is_multiple_of(64));
        let qp: [*const f32; Q] = std::array::from_fn(|r| q[r * stride..].as_ptr());
        let ep: [*const f32; E] = std::array::from_fn(|c| e[c * stride..].as_ptr());
        let mut acc = [[_mm512_setzero_ps(); E]; Q];
        let mut i = 0;
        while i < stride {
            let mut ev = [_mm512_setzero_ps(); E];
            for c in 0..E {
                // SAFETY: i + 16 <= stride (asserts above); the rows start
                // 64-byte aligned and the stride is a multiple of 16.
                ev[c] = unsafe { _mm512_load_ps(ep[c].add(i)) };
            }
            for r in 0..Q {
                // SAFETY: as above.
                let qv = unsafe { _mm512_load_ps(qp[r].add(i)) };
                for c in 0..E {
                    acc[r][c] = _mm512_fmadd_ps(qv, ev[c], acc[r][c]);
                }
            }
            i += 16;
        }
        acc
    }

    /// Horizontal sums of the Q·E accumulators, 16 at a time, written to
    /// `out[(r0 + r) * ld + c0 + c]` for `r < rows`, `c < cols`. Out of line
    /// so the FMA loop's accumulators stay in registers (inlined into the
    /// loop's function, LLVM spills some of them inside the loop).
    #[target_feature(enable = "avx512f")]
    #[inline(never)]
    #[allow(clippy::too_many_arguments)]
    fn store_sums<const Q: usize, const E: usize>(
        acc: &[[__m512; E]; Q],
        rows: usize,
        cols: usize,
        r0: usize,
        c0: usize,
        out: &mut [f32],
        ld: usize,
    ) {
        const { assert!(Q * E <= 32) };
        let mut flat = [_mm512_setzero_ps(); 32];
        for r in 0..Q {
            for c in 0..E {
                flat[r * E + c] = acc[r][c];
            }
        }
        let mut sums = [0.0f32; 32];
        for g in (0..Q * E).step_by(16) {
            let v: [__m512; 16] = std::array::from_fn(|j| flat[g + j]);
            // SAFETY: g + 16 <= 32 = sums.len().
            unsafe { _mm512_storeu_ps(sums.as_mut_ptr().add(g), hsum16(&v)) };
        }
        if rows >= Q && cols >= E {
            // Fixed-length copies: plain vector stores.
            for r in 0..Q {
                let o = (r0 + r) * ld + c0;
                out[o..o + E].copy_from_slice(&sums[r * E..(r + 1) * E]);
            }
        } else {
            // A zero-padded edge group: only the real rows and columns.
            for r in 0..rows.min(Q) {
                for c in 0..cols.min(E) {
                    out[(r0 + r) * ld + c0 + c] = sums[r * E + c];
                }
            }
        }
    }

    /// All `QR`-query groups of `qs` (packed, `nq` real rows) against one
    /// packed group of `ER` entry rows `e`, whose first `cols` are real.
    #[target_feature(enable = "avx512f")]
    #[inline(never)]
    #[allow(clippy::too_many_arguments)]
    fn column_group(
        qs: &[f32],
        nq: usize,
        e: &[f32],
        stride: usize,
        cols: usize,
        c0: usize,
        out: &mut [f32],
        ld: usize,
    ) {
        for r0 in (0..nq).step_by(QR) {
            let acc = micro::<QR, ER>(&qs[r0 * stride..], e, stride);
            store_sums::<QR, ER>(&acc, nq - r0, cols, r0, c0, out, ld);
        }
    }

    /// Blocked tile: `out[r * ne + c] = dot(query r, entry c)` for a block
    /// of packed queries `pq` (see [`Packed::queries`]) and a tile of entries
    /// `es` (row-major, `dim`). Each group of `ER` entry rows is packed into
    /// an aligned scratch that stays in L1 while every `QR`-query group of
    /// the block streams past it; partial groups are zero-padded and their
    /// extra results dropped.
    ///
    /// # Safety
    /// The CPU must support AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub(crate) unsafe fn tile(pq: &Packed, nq: usize, es: &[f32], dim: usize, out: &mut [f32]) {
        let ne = es.len() / dim;
        assert!(nq <= pq.rows && pq.rows.is_multiple_of(QR) && out.len() >= nq * ne);
        let stride = pq.stride;
        let qs = pq.as_slice();
        let mut pe = Packed::zeroed(ER, dim);
        for c0 in (0..ne).step_by(ER) {
            let cols = (ne - c0).min(ER);
            for c in 0..ER {
                let dst = &mut pe.row_mut(c)[..dim];
                if c < cols {
                    dst.copy_from_slice(&es[(c0 + c) * dim..(c0 + c + 1) * dim]);
                } else {
                    dst.fill(0.0);
                }
            }
            column_group(qs, nq, pe.as_slice(), stride, cols, c0, out, ne);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    const DIMS: [usize; 12] = [1, 3, 7, 8, 15, 16, 17, 33, 37, 511, 512, 513];

    fn random(rng: &mut ChaCha8Rng, n: usize) -> Vec<f32> {
        (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect()
    }

    /// Naive f64 reference and the condition scale Σ|a_i b_i|.
    fn reference(a: &[f32], b: &[f32]) -> (f64, f64) {
        let exact = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
        let scale = a
            .iter()
            .zip(b)
            .map(|(x, y)| (*x as f64 * *y as f64).abs())
            .sum();
        (exact, scale)
    }

    /// 1e-4 relative to max(|reference|, Σ|a_i b_i|).
    fn close(got: f32, a: &[f32], b: &[f32]) -> bool {
        let (r, scale) = reference(a, b);
        (got as f64 - r).abs() <= 1e-4 * r.abs().max(scale).max(f64::MIN_POSITIVE)
    }

    #[test]
    fn portable_dot_matches_reference() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        for dim in DIMS {
            for _ in 0..20 {
                let (a, b) = (random(&mut rng, dim), random(&mut rng, dim));
                assert!(close(dot_portable(&a, &b), &a, &b), "dim {dim}");
            }
        }
    }

    #[test]
    fn portable_tile_matches_reference() {
        let mut rng = ChaCha8Rng::seed_from_u64(12);
        for dim in DIMS {
            let (nq, ne) = (7, 11);
            let qs = random(&mut rng, nq * dim);
            let es = random(&mut rng, ne * dim);
            let mut out = vec![0.0; nq * ne];
            tile_portable(&qs, &es, dim, &mut out);
            for r in 0..nq {
                for c in 0..ne {
                    let (q, e) = (&qs[r * dim..(r + 1) * dim], &es[c * dim..(c + 1) * dim]);
                    assert!(close(out[r * ne + c], q, e), "dim {dim} ({r},{c})");
                    assert_eq!(out[r * ne + c].to_bits(), dot_portable(q, e).to_bits());
                }
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx2_kernels_match_reference() {
        if !crate::Kernel::avx2_available() {
            eprintln!("AVX2+FMA not available: skipped");
            return;
        }
        let mut rng = ChaCha8Rng::seed_from_u64(13);
        for dim in DIMS {
            for _ in 0..20 {
                let (a, b) = (random(&mut rng, dim), random(&mut rng, dim));
                // SAFETY: detected above.
                let got = unsafe { avx2::dot(&a, &b) };
                assert!(close(got, &a, &b), "dim {dim}");
            }
            // Block shapes covering every micro-kernel remainder.
            for (nq, ne) in [(1, 1), (4, 3), (5, 4), (9, 7), (16, 13)] {
                let qs = random(&mut rng, nq * dim);
                let es = random(&mut rng, ne * dim);
                let mut out = vec![f32::NAN; nq * ne];
                // SAFETY: detected above.
                unsafe { avx2::tile(&qs, &es, dim, &mut out) };
                for r in 0..nq {
                    for c in 0..ne {
                        let (q, e) = (&qs[r * dim..(r + 1) * dim], &es[c * dim..(c + 1) * dim]);
                        assert!(
                            close(out[r * ne + c], q, e),
                            "dim {dim} ({r},{c}) of {nq}x{ne}"
                        );
                    }
                }
            }
        }
    }

    /// Strict form of the bound in `exact.rs`: `γ_d Σ|a_i b_i|`, plus the
    /// f64 reference's own rounding.
    fn within_bound(got: f32, a: &[f32], b: &[f32]) -> bool {
        let (r, scale) = reference(a, b);
        let du = a.len() as f64 * f64::powi(2.0, -24);
        let bound = du / (1.0 - du) * scale + a.len() as f64 * f64::EPSILON * scale;
        (got as f64 - r).abs() <= bound
    }

    /// Badly conditioned pairs: magnitudes over 2^±12 and a planted
    /// near-cancellation, so the fast kernels' rounding is as large as it
    /// gets relative to the result.
    fn hard_pair(rng: &mut ChaCha8Rng, dim: usize) -> (Vec<f32>, Vec<f32>) {
        let mut a: Vec<f32> = (0..dim)
            .map(|_| rng.random_range(-1.0f32..1.0) * f32::powi(2.0, rng.random_range(-12..12)))
            .collect();
        let b: Vec<f32> = (0..dim)
            .map(|_| rng.random_range(-1.0f32..1.0) * f32::powi(2.0, rng.random_range(-12..12)))
            .collect();
        // Make the last term cancel most of the rest.
        if dim > 1 && b[dim - 1] != 0.0 {
            let rest = reference(&a[..dim - 1], &b[..dim - 1]).0;
            a[dim - 1] = (-rest / b[dim - 1] as f64) as f32;
        }
        (a, b)
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx512_kernels_match_reference() {
        if !crate::Kernel::avx512_available() {
            eprintln!("AVX-512F not available: skipped");
            return;
        }
        let mut rng = ChaCha8Rng::seed_from_u64(14);
        for dim in DIMS {
            for off in 0..17 {
                // Every alignment of `b` (the masked head step) and of `a`.
                let a = random(&mut rng, dim + off);
                let b = random(&mut rng, dim + off);
                let (a, b) = (&a[off / 2..off / 2 + dim], &b[off..]);
                // SAFETY: detected above.
                let got = unsafe { avx512::dot(a, b) };
                assert!(close(got, a, b), "dim {dim} offset {off}");
            }
            // Block shapes covering partial query and entry groups.
            for (nq, ne) in [(1, 1), (4, 4), (5, 4), (3, 7), (9, 7), (16, 13), (8, 17)] {
                // Misaligned like a Vec row: the tile packs both sides.
                let qs = random(&mut rng, nq * dim + 1);
                let es = random(&mut rng, ne * dim + 3);
                let (qs, es) = (&qs[1..], &es[3..]);
                let pq = avx512::Packed::queries(qs, dim);
                let mut out = vec![f32::NAN; nq * ne];
                // SAFETY: detected above.
                unsafe { avx512::tile(&pq, nq, es, dim, &mut out) };
                for r in 0..nq {
                    for c in 0..ne {
                        let (q, e) = (&qs[r * dim..(r + 1) * dim], &es[c * dim..(c + 1) * dim]);
                        assert!(
                            close(out[r * ne + c], q, e),
                            "dim {dim} ({r},{c}) of {nq}x{ne}"
                        );
                    }
                }
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx512_hsum16_puts_the_sum_of_vector_j_in_lane_j() {
        if !crate::Kernel::avx512_available() {
            return;
        }
        use std::arch::x86_64::*;
        // Small integers: every order of summation is exact.
        let rows: Vec<[f32; 16]> = (0..16)
            .map(|j| std::array::from_fn(|l| ((j * 37 + l * 11) % 23) as f32 + 100.0 * j as f32))
            .collect();
        // SAFETY: detected above; each row holds 16 f32.
        let v: [__m512; 16] = std::array::from_fn(|j| unsafe { _mm512_loadu_ps(rows[j].as_ptr()) });
        let mut got = [0.0f32; 16];
        // SAFETY: detected above; `got` holds 16 f32.
        unsafe { _mm512_storeu_ps(got.as_mut_ptr(), avx512::hsum16(&v)) };
        for j in 0..16 {
            assert_eq!(got[j], rows[j].iter().sum::<f32>(), "lane {j}");
        }
    }

    /// The candidate-selection bound (`exact.rs`) holds for every kernel's
    /// summation order on badly conditioned data, odd dimensions included.
    #[test]
    fn every_kernel_is_within_the_rounding_bound() {
        let mut rng = ChaCha8Rng::seed_from_u64(15);
        for dim in DIMS {
            let (nq, ne) = (5, 7);
            let pairs: Vec<(Vec<f32>, Vec<f32>)> =
                (0..nq * ne).map(|_| hard_pair(&mut rng, dim)).collect();
            for (a, b) in &pairs {
                assert!(within_bound(dot_portable(a, b), a, b), "portable dim {dim}");
                #[cfg(target_arch = "x86_64")]
                {
                    if crate::Kernel::avx2_available() {
                        // SAFETY: detected.
                        let got = unsafe { avx2::dot(a, b) };
                        assert!(within_bound(got, a, b), "avx2 dot dim {dim}");
                    }
                    if crate::Kernel::avx512_available() {
                        // SAFETY: detected.
                        let got = unsafe { avx512::dot(a, b) };
                        assert!(within_bound(got, a, b), "avx512 dot dim {dim}");
                    }
                }
            }
            // Tiles: query r is the `a` of pair r·ne, entry c the `b` of pair
            // c (so (0, 0) is a planted cancellation); every (r, c) checked.
            let qs: Vec<f32> = (0..nq).flat_map(|r| pairs[r * ne].0.clone()).collect();
            let es: Vec<f32> = (0..ne).flat_map(|c| pairs[c].1.clone()).collect();
            let mut outs = vec![("portable", vec![0.0; nq * ne])];
            tile_portable(&qs, &es, dim, &mut outs[0].1);
            #[cfg(target_arch = "x86_64")]
            {
                if crate::Kernel::avx2_available() {
                    let mut o = vec![0.0; nq * ne];
                    // SAFETY: detected.
                    unsafe { avx2::tile(&qs, &es, dim, &mut o) };
                    outs.push(("avx2", o));
                }
                if crate::Kernel::avx512_available() {
                    let mut o = vec![0.0; nq * ne];
                    let pq = avx512::Packed::queries(&qs, dim);
                    // SAFETY: detected.
                    unsafe { avx512::tile(&pq, nq, &es, dim, &mut o) };
                    outs.push(("avx512", o));
                }
            }
            for (name, out) in &outs {
                for r in 0..nq {
                    for c in 0..ne {
                        let (q, e) = (&qs[r * dim..(r + 1) * dim], &es[c * dim..(c + 1) * dim]);
                        assert!(
                            within_bound(out[r * ne + c], q, e),
                            "{name} tile dim {dim} ({r},{c})"
                        );
                    }
                }
            }
        }
    }
}
