//! The evaluator's reference scoring: plain inner products of a capture against every entry
//! of a list, written for the compiler to vectorise. It is the yardstick the harness holds a
//! stack's answers against (an alert's score, a search that should have alerted), so it is
//! kept independent of the stack's own kernels; it is not meant to be as fast as them.

/// Inner product of two vectors of the same length, accumulated in eight lanes (a fixed order,
/// so the result is the same on every run and machine).
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    let mut tail = 0.0f32;
    for (x, y) in ra.iter().zip(rb) {
        tail += x * y;
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}

/// The best-scoring entry of a row-major list of `dim`-vectors for `query`: `(entry, score)`,
/// ties to the lowest entry; `None` for an empty list.
pub fn top(list: &[f32], dim: usize, query: &[f32]) -> Option<(u32, f32)> {
    if dim == 0 {
        return None;
    }
    let mut best: Option<(u32, f32)> = None;
    for (i, row) in list.chunks_exact(dim).enumerate() {
        let s = dot(row, query);
        if best.is_none_or(|(_, b)| s > b) {
            best = Some((i as u32, s));
        }
    }
    best
}

/// The best-scoring entry other than `skip` (a mated search's best non-mate, for rank-1).
pub fn top_except(list: &[f32], dim: usize, query: &[f32], skip: u32) -> Option<(u32, f32)> {
    if dim == 0 {
        return None;
    }
    let mut best: Option<(u32, f32)> = None;
    for (i, row) in list.chunks_exact(dim).enumerate() {
        if i as u32 == skip {
            continue;
        }
        let s = dot(row, query);
        if best.is_none_or(|(_, b)| s > b) {
            best = Some((i as u32, s));
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_matches_a_plain_sum() {
        let a: Vec<f32> = (0..19).map(|i| i as f32 * 0.5 - 3.0).collect();
        let b: Vec<f32> = (0..19).map(|i| 1.0 / (i as f32 + 1.0)).collect();
        let plain: f64 = a.iter().zip(&b).map(|(x, y)| *x as f64 * *y as f64).sum();
        assert!((dot(&a, &b) as f64 - plain).abs() < 1e-5);
    }

    #[test]
    fn top_finds_the_best_row_and_breaks_ties_low() {
        let list = [1.0, 0.0, 0.0, 1.0, 0.0, 1.0];
        assert_eq!(top(&list, 2, &[0.0, 1.0]), Some((1, 1.0)));
        assert_eq!(top(&list, 2, &[1.0, 0.0]), Some((0, 1.0)));
        assert_eq!(top_except(&list, 2, &[0.0, 1.0], 1), Some((2, 1.0)));
        assert_eq!(top(&[], 2, &[1.0, 0.0]), None);
    }
}
