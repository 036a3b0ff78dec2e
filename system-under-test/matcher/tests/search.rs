//! Search behaviour: determinism across threads and kernels, agreement with
//! a brute-force reference, int8 vs exact.
use baoan_faces::noise::{capture, identity};
use baoan_matcher::{ExactIndex, Hit, Int8Index, Kernel, MatcherError};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn exact_kernels() -> Vec<Kernel> {
    let mut k = vec![Kernel::Portable];
    if Kernel::avx2_available() {
        k.push(Kernel::Avx2);
    }
    if Kernel::avx512_available() {
        k.push(Kernel::Avx512);
    }
    k
}

fn int8_kernels() -> Vec<Kernel> {
    let mut k = vec![Kernel::Portable];
    if Kernel::avx2_available() {
        k.push(Kernel::Avx2);
    }
    if Kernel::avx_vnni_available() {
        k.push(Kernel::AvxVnni);
    }
    if Kernel::avx512_vnni_available() {
        k.push(Kernel::Avx512Vnni);
    }
    k
}

/// Unit vectors with a planted structure: some queries are noisy copies of
/// entries, some rows duplicated (exact ties).
fn data(dim: usize, n: usize, nq: usize, seed: u64) -> (Vec<f32>, Vec<f32>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut rows: Vec<f32> = (0..n as u64).flat_map(|p| identity(seed, p, dim)).collect();
    // Duplicate a few rows to create exact ties.
    for i in [3usize, 10, 11] {
        if i + 1 < n {
            let src = rows[i * dim..(i + 1) * dim].to_vec();
            rows[(i + 1) * dim..(i + 2) * dim].copy_from_slice(&src);
        }
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

/// Brute force with the index's canonical score.
fn brute(idx: &ExactIndex, q: &[f32], k: usize, thr: f32) -> Vec<Hit> {
    let mut hits: Vec<Hit> = (0..idx.len() as u32)
        .filter(|&e| idx.is_active(e))
        .map(|e| Hit {
            entry: e,
            score: idx.score(q, e),
        })
        .filter(|h| h.score >= thr)
        .collect();
    hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.entry.cmp(&b.entry)));
    hits.truncate(k);
    hits
}

#[test]
fn exact_batch_equals_single_for_all_threads_and_kernels() {
    for (dim, n, nq) in [(37, 403, 70), (512, 1000, 45), (511, 250, 33)] {
        let (rows, queries) = data(dim, n, nq, dim as u64);
        let mut reference: Option<Vec<Vec<Hit>>> = None;
        for kernel in exact_kernels() {
            let mut idx = ExactIndex::with_kernel(dim, kernel).unwrap();
            idx.extend_from_rows(&rows).unwrap();
            for (k, thr) in [(1, f32::NEG_INFINITY), (5, 0.1), (12, -0.05)] {
                let single: Vec<Vec<Hit>> = queries
                    .chunks_exact(dim)
                    .map(|q| idx.search(q, k, thr))
                    .collect();
                for (q, hits) in queries.chunks_exact(dim).zip(&single) {
                    assert_eq!(
                        hits,
                        &brute(&idx, q, k, thr),
                        "brute force, dim {dim} {kernel:?}"
                    );
                }
                for threads in [1, 2, 3] {
                    let batch = idx.search_batch(&queries, k, thr, threads);
                    assert_eq!(
                        batch, single,
                        "dim {dim} k {k} threads {threads} {kernel:?}"
                    );
                }
                if (k, thr) == (5, 0.1) {
                    match &reference {
                        None => reference = Some(single),
                        Some(r) => assert_eq!(r, &single, "kernels differ at dim {dim}"),
                    }
                }
            }
        }
    }
}

#[test]
fn ties_sort_by_entry_and_inactive_entries_are_skipped() {
    let dim = 16;
    let mut idx = ExactIndex::new(dim).unwrap();
    let v: Vec<f32> = (0..dim).map(|i| if i == 0 { 1.0 } else { 0.0 }).collect();
    for _ in 0..5 {
        idx.add(&v).unwrap();
    }
    let hits = idx.search(&v, 3, 0.5);
    assert_eq!(
        hits.iter().map(|h| h.entry).collect::<Vec<_>>(),
        vec![0, 1, 2]
    );
    assert!(idx.set_active(1, false));
    let hits = idx.search(&v, 3, 0.5);
    assert_eq!(
        hits.iter().map(|h| h.entry).collect::<Vec<_>>(),
        vec![0, 2, 3]
    );
    assert_eq!(idx.search_batch(&v, 3, 0.5, 2), vec![hits]);
    assert!(idx.search(&v, 3, 1.5).is_empty());
    assert!(idx.search(&v, 0, 0.0).is_empty());
}

#[test]
fn bad_input_is_rejected() {
    assert!(matches!(
        ExactIndex::new(0),
        Err(MatcherError::BadDim { .. })
    ));
    let mut idx = ExactIndex::new(4).unwrap();
    assert_eq!(
        idx.add(&[1.0; 3]),
        Err(MatcherError::DimMismatch {
            expected: 4,
            got: 3
        })
    );
    assert_eq!(
        idx.add(&[f32::NAN, 0.0, 0.0, 0.0]),
        Err(MatcherError::NonFinite)
    );
    idx.add(&[1.0, 0.0, 0.0, 0.0]).unwrap();
    assert!(idx.search(&[f32::NAN, 0.0, 0.0, 0.0], 1, 0.0).is_empty());
    let mut q8 = Int8Index::new(4, true).unwrap();
    assert_eq!(
        q8.add(&[f32::INFINITY, 0.0, 0.0, 0.0]),
        Err(MatcherError::NonFinite)
    );
}

#[test]
fn int8_batch_equals_single_for_all_threads_and_kernels() {
    // Odd dimensions; entry counts that end in a partial 16-entry group, a
    // partial run of groups and a partial entry tile (384); query counts
    // that end in a partial register block; inactive entries.
    for (dim, n, nq) in [
        (1, 50, 9),
        (17, 203, 21),
        (37, 403, 70),
        (511, 250, 33),
        (512, 800, 45),
        (512, 385, 3),
    ] {
        let (rows, queries) = data(dim, n, nq, 100 + dim as u64);
        for rerank in [false, true] {
            let mut reference: Option<Vec<Vec<Vec<Hit>>>> = None;
            for kernel in int8_kernels() {
                let mut idx = Int8Index::with_kernel(dim, rerank, kernel).unwrap();
                idx.extend_from_rows(&rows).unwrap();
                idx.set_active(7, false);
                let mut all = Vec::new();
                for (k, thr) in [(1, f32::NEG_INFINITY), (7, 0.05), (12, -0.05)] {
                    let single: Vec<Vec<Hit>> = queries
                        .chunks_exact(dim)
                        .map(|q| idx.search(q, k, thr))
                        .collect();
                    for threads in [1, 2, 3] {
                        assert_eq!(
                            idx.search_batch(&queries, k, thr, threads),
                            single,
                            "{kernel:?} dim {dim} k {k} t{threads}"
                        );
                    }
                    all.push(single);
                }
                match &reference {
                    None => reference = Some(all),
                    Some(r) => assert_eq!(r, &all, "int8 kernels differ: {kernel:?} dim {dim}"),
                }
            }
        }
    }
}

#[test]
fn int8_auto_picks_the_widest_kernel() {
    let want = if Kernel::avx512_vnni_available() {
        Kernel::Avx512Vnni
    } else if Kernel::avx_vnni_available() {
        Kernel::AvxVnni
    } else if Kernel::avx2_available() {
        Kernel::Avx2
    } else {
        Kernel::Portable
    };
    assert_eq!(Int8Index::new(8, false).unwrap().kernel(), want);
    if !Kernel::avx512_vnni_available() {
        assert_eq!(
            Int8Index::with_kernel(8, false, Kernel::Avx512Vnni).unwrap_err(),
            MatcherError::KernelUnavailable(Kernel::Avx512Vnni)
        );
    }
}

#[test]
fn int8_code_dot_identical_across_kernels() {
    let dim = 131;
    let (rows, queries) = data(dim, 50, 10, 5);
    let idxs: Vec<Int8Index> = int8_kernels()
        .into_iter()
        .map(|k| {
            let mut i = Int8Index::with_kernel(dim, false, k).unwrap();
            i.extend_from_rows(&rows).unwrap();
            i
        })
        .collect();
    for q in queries.chunks_exact(dim) {
        let (codes, _) = baoan_matcher::quant::quantize(q);
        for e in 0..50 {
            let (ec, _) = idxs[0].entry_codes(e);
            let want: i32 = codes
                .iter()
                .zip(ec)
                .map(|(a, b)| *a as i32 * *b as i32)
                .sum();
            for idx in &idxs {
                assert_eq!(idx.code_dot(&codes, e), want, "{:?}", idx.kernel());
            }
        }
    }
}

#[test]
fn int8_top1_matches_exact_on_well_separated_data() {
    let (dim, n) = (512, 2000);
    let rows: Vec<f32> = (0..n as u64).flat_map(|p| identity(42, p, dim)).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let queries: Vec<f32> = (0..200)
        .flat_map(|_| {
            let p = rng.random_range(0..n as u64);
            capture(&identity(42, p, dim), 0.8, 1.0, &mut rng)
        })
        .collect();
    let exact = ExactIndex::from_rows(dim, &rows).unwrap();
    let int8 = Int8Index::from_rows(dim, false, &rows).unwrap();
    let rr = Int8Index::from_rows(dim, true, &rows).unwrap();
    let e = exact.search_batch(&queries, 5, 0.0, 2);
    let i = int8.search_batch(&queries, 5, 0.0, 2);
    let r = rr.search_batch(&queries, 5, 0.0, 2);
    for ((e, i), r) in e.iter().zip(&i).zip(&r) {
        assert_eq!(e[0].entry, i[0].entry);
        assert!(
            (e[0].score - i[0].score).abs() < 0.02,
            "{} vs {}",
            e[0].score,
            i[0].score
        );
        // Re-ranked scores are the exact index's canonical scores.
        assert_eq!(r[0], e[0]);
    }
}

#[test]
fn near_ties_below_kernel_rounding_resolve_canonically() {
    // Entries differing by a few ulps: the fast kernels may order them
    // differently from the canonical score, the reported hits may not.
    let dim = 512;
    let base = identity(3, 0, dim);
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let mut rows = Vec::new();
    for _ in 0..300 {
        let mut v = base.clone();
        for _ in 0..4 {
            let i = rng.random_range(0..dim);
            v[i] += rng.random_range(-3e-7f32..3e-7);
        }
        rows.extend_from_slice(&v);
    }
    let queries: Vec<f32> = (0..8)
        .flat_map(|_| capture(&base, 0.9, 0.2, &mut rng))
        .collect();
    let mut all = Vec::new();
    for kernel in exact_kernels() {
        let mut idx = ExactIndex::with_kernel(dim, kernel).unwrap();
        idx.extend_from_rows(&rows).unwrap();
        for k in [1, 10, 50] {
            let thr = idx.score(&queries[..dim], 17);
            for threads in [1, 2] {
                let b = idx.search_batch(&queries, k, thr, threads);
                for (q, hits) in queries.chunks_exact(dim).zip(&b) {
                    assert_eq!(hits, &brute(&idx, q, k, thr), "{kernel:?} k {k}");
                }
                all.push(b);
            }
        }
    }
    let per_kernel = all.len() / exact_kernels().len();
    assert_eq!(all[..per_kernel], all[all.len() - per_kernel..]);
}

#[test]
fn large_batches_cross_block_boundaries() {
    let dim = 8;
    let (rows, queries) = data(dim, 97, 601, 77);
    let idx = ExactIndex::from_rows(dim, &rows).unwrap();
    let single: Vec<Vec<Hit>> = queries
        .chunks_exact(dim)
        .map(|q| idx.search(q, 3, 0.0))
        .collect();
    for threads in [1, 2, 3] {
        assert_eq!(idx.search_batch(&queries, 3, 0.0, threads), single);
    }
    let idx = Int8Index::from_rows(dim, false, &rows).unwrap();
    let single: Vec<Vec<Hit>> = queries
        .chunks_exact(dim)
        .map(|q| idx.search(q, 3, 0.0))
        .collect();
    for threads in [1, 2, 3] {
        assert_eq!(idx.search_batch(&queries, 3, 0.0, threads), single);
    }
}
