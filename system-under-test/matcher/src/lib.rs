//! `baoan-matcher`: the district platform's watchlist matcher — the 1:N face-embedding search
//! core and, in [`service`], the service the stack routes matcher commands to (versioned
//! watchlist and policy, alerts, two-person review, no retention of non-matches). Everything it
//! is used with is synthetic. It depends only on the stack's api crate.
//!
//! * [`MatcherService`] — the safeguarded service behind the stack's matcher commands.
//! * [`ExactIndex`] — flat f32 inner-product index (scores are cosines for
//!   unit vectors), hand-written AVX-512F and AVX2+FMA kernels with a
//!   portable fallback, GEMM-like blocked batch search on a rayon pool.
//! * [`Int8Index`] — per-vector symmetric int8 quantisation, exact i32 dot
//!   products, optional f32 re-rank.
//!
//! The synthetic faces and the 1:N metrics it is measured with live in `baoan-faces`, outside
//! the stack; its tests, examples and benches use them, the service never does.
//!
//! Determinism contract: for a given index and query, `search` and
//! `search_batch` return the same hits in the same order, bit for bit,
//! whatever the thread count and whichever kernel path (AVX-512, AVX2 or
//! portable) is used, and on any IEEE-754 platform. See [`exact`] for how.

pub mod exact;
mod kernel;
pub mod quant;
pub mod service;
mod topk;

use serde::{Deserialize, Serialize};

pub use exact::ExactIndex;
pub use quant::Int8Index;
pub use service::MatcherService;

/// One search result: the entry's position in the index and its score.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    /// Entry id (insertion order, starting at 0).
    pub entry: u32,
    /// Inner product of query and entry (cosine for unit vectors).
    pub score: f32,
}

/// Which inner-product kernel an index uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Kernel {
    /// Pick the fastest available on this CPU at construction time.
    Auto,
    /// Plain Rust written to autovectorise; available everywhere.
    Portable,
    /// Hand-written `std::arch` kernels: AVX2+FMA for f32, AVX2
    /// `maddubs`/`madd` with the sign trick for int8.
    Avx2,
    /// Int8 only: AVX-VNNI `vpdpbusd` (256-bit). For [`ExactIndex`] it means
    /// the same as `Avx2`.
    AvxVnni,
    /// Int8 only: AVX-512 VNNI `vpdpbusd` (512-bit, needs AVX-512F, BW and
    /// VNNI), a register-blocked queries × 16-entry-group micro-kernel over
    /// an interleaved copy of the codes. `Auto` picks it where available.
    /// For [`ExactIndex`] it means the same as `Avx512`.
    Avx512Vnni,
    /// f32 only: hand-written AVX-512F kernels (16-wide FMA, 4-query ×
    /// 4-entry register blocks over aligned packed rows). `Auto` picks it
    /// where the CPU has AVX-512F. For [`Int8Index`] it means the same as
    /// `Avx2`.
    Avx512,
}

impl Kernel {
    /// Whether the explicit AVX2(+FMA) kernels can run on this CPU.
    pub fn avx2_available() -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    }

    /// Whether the explicit AVX-512F f32 kernels can run on this CPU.
    pub fn avx512_available() -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            std::arch::is_x86_feature_detected!("avx512f")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    }

    /// Whether the AVX-VNNI int8 kernel can run on this CPU.
    pub fn avx_vnni_available() -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            Self::avx2_available() && std::arch::is_x86_feature_detected!("avxvnni")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    }

    /// Whether the AVX-512 VNNI int8 kernel can run on this CPU.
    pub fn avx512_vnni_available() -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            Self::avx512_available()
                && std::arch::is_x86_feature_detected!("avx512bw")
                && std::arch::is_x86_feature_detected!("avx512vnni")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    }

    /// Resolve for the f32 index: `Auto` → best available; check support.
    pub(crate) fn resolve_f32(self) -> Result<Kernel, MatcherError> {
        match self {
            Kernel::Auto if Self::avx512_available() => Ok(Kernel::Avx512),
            Kernel::Auto if Self::avx2_available() => Ok(Kernel::Avx2),
            Kernel::Auto | Kernel::Portable => Ok(Kernel::Portable),
            Kernel::Avx512 | Kernel::Avx512Vnni if Self::avx512_available() => Ok(Kernel::Avx512),
            Kernel::Avx2 | Kernel::AvxVnni if Self::avx2_available() => Ok(Kernel::Avx2),
            _ => Err(MatcherError::KernelUnavailable(self)),
        }
    }

    /// Resolve for the int8 index: `Auto` → best available; check support.
    pub(crate) fn resolve_i8(self) -> Result<Kernel, MatcherError> {
        match self {
            Kernel::Auto if Self::avx512_vnni_available() => Ok(Kernel::Avx512Vnni),
            Kernel::Auto if Self::avx_vnni_available() => Ok(Kernel::AvxVnni),
            Kernel::Auto if Self::avx2_available() => Ok(Kernel::Avx2),
            Kernel::Auto | Kernel::Portable => Ok(Kernel::Portable),
            Kernel::Avx2 | Kernel::Avx512 if Self::avx2_available() => Ok(Kernel::Avx2),
            Kernel::AvxVnni if Self::avx_vnni_available() => Ok(Kernel::AvxVnni),
            Kernel::Avx512Vnni if Self::avx512_vnni_available() => Ok(Kernel::Avx512Vnni),
            _ => Err(MatcherError::KernelUnavailable(self)),
        }
    }
}

/// Errors from building or filling an index.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MatcherError {
    #[error("dimension must be at least 1 (and at most {max})")]
    BadDim { max: usize },
    #[error("vector has length {got}, index dimension is {expected}")]
    DimMismatch { expected: usize, got: usize },
    #[error("vector contains a non-finite value")]
    NonFinite,
    #[error("index is full (u32 entry ids)")]
    Full,
    #[error("kernel {0:?} is not available on this CPU")]
    KernelUnavailable(Kernel),
}

/// The canonical f32 inner product that every reported f32 score is
/// computed with: 16 independent accumulators over `chunks_exact(16)`, a
/// fixed pairwise reduction, the tail in order, plain IEEE `*` and `+` (no
/// FMA). Bit-identical on every platform and CPU, so scores can be compared
/// against golden files.
pub fn canonical_dot(a: &[f32], b: &[f32]) -> f32 {
    kernel::dot_portable(a, b)
}

/// Sort hits by score descending, then entry ascending (the crate's order).
pub(crate) fn sort_hits(hits: &mut [Hit]) {
    hits.sort_unstable_by(|a, b| b.score.total_cmp(&a.score).then(a.entry.cmp(&b.entry)));
}

/// Largest query block of the batch kernels (256 × 512-dim f32 queries =
/// 512 KiB, half of a 1 MiB L2). Each entry row is read from memory once
/// per block, so bigger blocks mean less memory traffic.
pub const MAX_QUERY_BLOCK: usize = 256;

/// Queries per block for `nq` queries on `threads` threads: as large as
/// possible up to [`MAX_QUERY_BLOCK`], with a block count that is a multiple
/// of the thread count so the threads get equal work. Results never depend
/// on it.
/// Split row-major `queries` into blocks, search each with `search_block` on a pool of
/// `threads`, and return the results in query order.
///
/// # Panics
/// If `queries.len()` is not a multiple of `dim`.
pub(crate) fn batch<F>(
    dim: usize,
    queries: &[f32],
    threads: usize,
    search_block: F,
) -> Vec<Vec<Hit>>
where
    F: Fn(&[f32]) -> Vec<Vec<Hit>> + Sync,
{
    assert_eq!(
        queries.len() % dim,
        0,
        "queries length not a multiple of dim"
    );
    let nq = queries.len() / dim;
    let qb = query_block(nq, threads);
    let block = qb * dim;
    let blocks = map_blocks(nq.div_ceil(qb), threads, |b| {
        let end = ((b + 1) * block).min(queries.len());
        search_block(&queries[b * block..end])
    });
    blocks.into_iter().flatten().collect()
}

pub(crate) fn query_block(nq: usize, threads: usize) -> usize {
    let t = threads.max(1);
    let blocks = nq.div_ceil(MAX_QUERY_BLOCK).max(1).next_multiple_of(t);
    nq.div_ceil(blocks)
        .next_multiple_of(4)
        .clamp(4, MAX_QUERY_BLOCK)
}

/// Map `f` over `0..n` blocks, on a rayon pool of `threads` threads
/// (`threads <= 1`: sequentially on the caller's thread). Output order is
/// block order, so results never depend on the thread count. If the pool
/// cannot be built the work runs sequentially.
pub(crate) fn map_blocks<T, F>(n: usize, threads: usize, f: F) -> Vec<T>
where
    T: Send,
    F: Fn(usize) -> T + Sync + Send,
{
    use rayon::prelude::*;
    if threads <= 1 || n <= 1 {
        return (0..n).map(f).collect();
    }
    match rayon::ThreadPoolBuilder::new().num_threads(threads).build() {
        Ok(pool) => pool.install(|| (0..n).into_par_iter().map(&f).collect()),
        Err(_) => (0..n).map(f).collect(),
    }
}
