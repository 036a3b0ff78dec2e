//! Synthetic capture model and the analytic non-mate score model.
//!
//! * [`identity`]: a deterministic random unit vector per (seed, person),
//!   drawn from a ChaCha20 stream keyed by `seed` with stream id `person`.
//! * [`capture`]: identity + isotropic Gaussian noise, re-normalised. The
//!   per-dimension standard deviation is `sigma(quality) * sigma_scale /
//!   sqrt(dim)`, so the noise vector has norm ≈ `sigma(quality) *
//!   sigma_scale` and the expected mated score is ≈ `1 / sqrt(1 + s²)` with
//!   `s = sigma(quality) * sigma_scale` (see [`expected_mated_score`]).
//! * Non-mates: for independent uniformly random unit vectors in `d`
//!   dimensions the inner product has mean 0 and variance exactly `1/d`, and
//!   is approximately `N(0, 1/d)` (the true tail is slightly lighter: the
//!   exact law is `(1 + s)/2 ~ Beta((d−1)/2, (d−1)/2)`; at d = 512 the
//!   difference is negligible for thresholds below ~0.25). [`analytic_fpir`]
//!   uses that normal approximation.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use rand_distr::{Distribution, StandardNormal};

/// Noise level for a capture of `quality` in [0, 1] (clamped; NaN → 0):
/// `sigma(q) = 0.35 + 1.2 * (1 - q)`, i.e. 0.35 for a perfect capture and
/// 1.55 for the worst. Strictly decreasing in `q`.
pub fn sigma(quality: f32) -> f32 {
    let q = if quality.is_nan() {
        0.0
    } else {
        quality.clamp(0.0, 1.0)
    };
    0.35 + 1.2 * (1.0 - q)
}

/// Expected mated score (large-d limit) of a capture at `quality`:
/// `1 / sqrt(1 + (sigma(quality) * sigma_scale)²)`.
pub fn expected_mated_score(quality: f32, sigma_scale: f32) -> f64 {
    let s = sigma(quality) as f64 * sigma_scale as f64;
    1.0 / (1.0 + s * s).sqrt()
}

fn unit(v: Vec<f64>) -> Option<Vec<f32>> {
    let n = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    if n > 0.0 && n.is_finite() {
        Some(v.into_iter().map(|x| (x / n) as f32).collect())
    } else {
        None
    }
}

/// Deterministic synthetic identity: a uniformly random unit vector of
/// `dim` dimensions from the ChaCha20 stream keyed by `seed` (key bytes
/// 0..8, little-endian, plus a fixed tag) with stream number `person`.
pub fn identity(seed: u64, person: u64, dim: usize) -> Vec<f32> {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..24].copy_from_slice(b"baoan-identity\0\0");
    let mut rng = ChaCha20Rng::from_seed(key);
    rng.set_stream(person);
    let v: Vec<f64> = (0..dim).map(|_| StandardNormal.sample(&mut rng)).collect();
    // A zero-norm draw has probability 0; fall back to e_0 for dim ≥ 1.
    unit(v).unwrap_or_else(|| {
        let mut e = vec![0.0; dim];
        if let Some(x) = e.first_mut() {
            *x = 1.0;
        }
        e
    })
}

/// A synthetic capture of `identity`: `identity + N(0, sd²) per dimension`
/// with `sd = sigma(quality) * sigma_scale / sqrt(dim)`, re-normalised to
/// unit length.
pub fn capture<R: Rng + ?Sized>(
    identity: &[f32],
    quality: f32,
    sigma_scale: f32,
    rng: &mut R,
) -> Vec<f32> {
    let d = identity.len();
    if d == 0 {
        return Vec::new();
    }
    let sd = sigma(quality) as f64 * sigma_scale.max(0.0) as f64 / (d as f64).sqrt();
    let v: Vec<f64> = identity
        .iter()
        .map(|&x| {
            let z: f64 = StandardNormal.sample(rng);
            x as f64 + sd * z
        })
        .collect();
    unit(v).unwrap_or_else(|| identity.to_vec())
}

/// Complementary error function, Numerical Recipes `erfcc` (Chebyshev
/// fit); fractional error < 1.2e-7 everywhere.
pub fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let ans = t * (-z * z + poly).exp();
    if x >= 0.0 { ans } else { 2.0 - ans }
}

/// Standard normal upper tail `P(Z ≥ z)`.
pub fn normal_sf(z: f64) -> f64 {
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

/// `P(score ≥ threshold)` for one non-mate in `dim` dimensions, exactly: the cosine between a
/// uniformly random direction and a fixed one has density `∝ (1 − x²)^((d − 3)/2)` on [−1, 1]
/// (the normal approximation `N(0, 1/d)` overstates the tail by about a quarter at FPIR 0.01
/// on 10,000 entries × 512 dimensions). Integrated numerically (Simpson), which keeps its
/// relative accuracy far out in the tail; written here because no dependency of the project
/// has the regularised incomplete beta function.
pub fn nonmate_tail(threshold: f64, dim: usize) -> f64 {
    if dim < 2 || threshold.is_nan() {
        return f64::NAN;
    }
    if threshold >= 1.0 {
        return 0.0;
    }
    if threshold <= -1.0 {
        return 1.0;
    }
    if threshold < 0.0 {
        return 1.0 - nonmate_tail(-threshold, dim);
    }
    let k = (dim as f64 - 3.0) / 2.0;
    let density = |x: f64| {
        let v = 1.0 - x * x;
        if v <= 0.0 { 0.0 } else { (k * v.ln()).exp() }
    };
    let simpson = |a: f64, b: f64, n: usize| {
        let h = (b - a) / n as f64;
        let inner: f64 = (1..n)
            .map(|i| density(a + i as f64 * h) * if i % 2 == 1 { 4.0 } else { 2.0 })
            .sum();
        (density(a) + inner + density(b)) * h / 3.0
    };
    // The mass sits within a few 1/sqrt(d) of zero: both integrals need fine steps there.
    let total = 2.0 * simpson(0.0, 1.0, 40_000);
    simpson(threshold, 1.0, 40_000) / total
}

/// Analytic FPIR: probability that a non-mated search against `list_len`
/// independent random entries returns at least one candidate at or above
/// `threshold`: `1 − (1 − p)^N`, `p` = [`nonmate_tail`].
pub fn analytic_fpir(threshold: f64, dim: usize, list_len: usize) -> f64 {
    if list_len == 0 {
        return 0.0;
    }
    let p = nonmate_tail(threshold, dim);
    if p >= 1.0 {
        return 1.0;
    }
    -(list_len as f64 * (-p).ln_1p()).exp_m1()
}

/// Inverse of [`analytic_fpir`] in the threshold: the per-entry tail
/// `p = 1 − (1 − fpir)^(1/N)`, then `t` with [`nonmate_tail`]`(t) = p` by bisection on
/// [−1, 1]. `fpir ≤ 0` → +∞, `fpir ≥ 1` → −∞, NaN → NaN.
pub fn threshold_for_fpir(fpir: f64, dim: usize, list_len: usize) -> f64 {
    if fpir.is_nan() {
        return f64::NAN;
    }
    if fpir <= 0.0 || list_len == 0 {
        return f64::INFINITY;
    }
    if fpir >= 1.0 {
        return f64::NEG_INFINITY;
    }
    let p = -((-fpir).ln_1p() / list_len as f64).exp_m1();
    let (mut lo, mut hi) = (-1.0f64, 1.0f64); // tail(lo) = 1 > p > tail(hi) = 0
    for _ in 0..60 {
        let mid = 0.5 * (lo + hi);
        if nonmate_tail(mid, dim) > p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// A benchmark's searches: `mated` captures of listed persons (`0..entries`, the list built
/// from [`identity`]) and `non_mated` captures of persons outside it, quality uniform on
/// [0.1, 1]. Returns the queries row-major and each search's mate.
pub fn searches(
    seed: u64,
    entries: usize,
    mated: usize,
    non_mated: usize,
    sigma_scale: f32,
    dim: usize,
) -> (Vec<f32>, Vec<Option<u32>>) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut queries = Vec::with_capacity((mated + non_mated) * dim);
    let mut mates = Vec::with_capacity(mated + non_mated);
    for s in 0..mated + non_mated {
        let quality = rng.random_range(0.1f32..1.0);
        let (person, mate) = if s < mated {
            let p = rng.random_range(0..entries as u64);
            (p, Some(p as u32))
        } else {
            (1_000_000_000 + s as u64, None)
        };
        queries.extend(capture(
            &identity(seed, person, dim),
            quality,
            sigma_scale,
            &mut rng,
        ));
        mates.push(mate);
    }
    (queries, mates)
}
