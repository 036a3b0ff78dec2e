//! Noise model, analytic FPIR and the NIST-style metrics.
use baoan_faces::eval::Hit;
use baoan_faces::eval::{
    Proportion, Search, det, evaluate, non_mated_top_scores, standard_error, threshold_at_fpir,
};
use baoan_faces::noise::{
    analytic_fpir, capture, erfc, expected_mated_score, identity, sigma, threshold_for_fpir,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn h(entry: u32, score: f32) -> Hit {
    Hit { entry, score }
}

#[test]
fn erfc_matches_tabulated_values() {
    let table = [
        (0.0, 1.0),
        (0.5, 0.479_500_122_186_953_5),
        (1.0, 0.157_299_207_050_285_1),
        (2.0, 0.004_677_734_981_047_266),
        (3.0, 2.209_049_699_858_544e-5),
        (5.0, 1.537_459_794_428_035e-12),
        (-1.0, 1.842_700_792_949_715),
    ];
    for (x, want) in table {
        let got = erfc(x);
        assert!(
            ((got - want) / want).abs() < 2e-7,
            "erfc({x}) = {got}, want {want}"
        );
    }
}

#[test]
fn threshold_for_fpir_inverts_analytic_fpir() {
    for dim in [64, 512] {
        for n in [1, 100, 10_000] {
            for fpir in [1e-6, 1e-3, 0.01, 0.3, 0.9] {
                let t = threshold_for_fpir(fpir, dim, n);
                let back = analytic_fpir(t, dim, n);
                assert!(
                    (back - fpir).abs() / fpir < 1e-5,
                    "dim {dim} n {n}: {fpir} -> {t} -> {back}"
                );
            }
        }
    }
    assert!(analytic_fpir(0.1, 512, 10) < analytic_fpir(0.05, 512, 10));
    assert!(analytic_fpir(0.1, 512, 10) < analytic_fpir(0.1, 512, 100));
    assert_eq!(analytic_fpir(0.1, 512, 0), 0.0);
}

#[test]
fn identities_are_deterministic_unit_and_nearly_orthogonal() {
    let a = identity(1, 5, 512);
    assert_eq!(a, identity(1, 5, 512));
    assert_ne!(a, identity(2, 5, 512));
    let b = identity(1, 6, 512);
    let dot = |x: &[f32], y: &[f32]| x.iter().zip(y).map(|(p, q)| p * q).sum::<f32>();
    assert!((dot(&a, &a) - 1.0).abs() < 1e-5);
    assert!(dot(&a, &b).abs() < 0.25);
}

#[test]
fn capture_scores_follow_quality() {
    assert!(sigma(1.0) < sigma(0.5) && sigma(0.5) < sigma(0.0));
    assert_eq!(sigma(1.0), 0.35);
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let id = identity(9, 1, 512);
    for q in [0.0f32, 0.5, 1.0] {
        let mean = (0..200)
            .map(|_| {
                let c = capture(&id, q, 1.0, &mut rng);
                c.iter().zip(&id).map(|(a, b)| (a * b) as f64).sum::<f64>()
            })
            .sum::<f64>()
            / 200.0;
        let want = expected_mated_score(q, 1.0);
        assert!((mean - want).abs() < 0.01, "quality {q}: {mean} vs {want}");
    }
}

fn hand_built() -> Vec<Search> {
    vec![
        // mated, mate on top at 0.8
        Search {
            mate: Some(1),
            hits: vec![h(1, 0.8), h(4, 0.3)],
        },
        // mated, mate second at 0.5 (rank-1 miss)
        Search {
            mate: Some(2),
            hits: vec![h(7, 0.6), h(2, 0.5)],
        },
        // mated, mate not returned
        Search {
            mate: Some(3),
            hits: vec![h(9, 0.4)],
        },
        // mated, nothing returned
        Search {
            mate: Some(5),
            hits: vec![],
        },
        // non-mated: top 0.7, 0.45, none
        Search {
            mate: None,
            hits: vec![h(3, 0.2), h(6, 0.7)],
        },
        Search {
            mate: None,
            hits: vec![h(8, 0.45)],
        },
        Search {
            mate: None,
            hits: vec![],
        },
    ]
}

#[test]
fn metrics_on_hand_built_cases() {
    let s = hand_built();
    let m = evaluate(&s, 0.5);
    assert_eq!((m.fpir.count, m.fpir.n), (1, 3));
    assert_eq!((m.fnir.count, m.fnir.n), (2, 4));
    assert_eq!((m.rank1_miss.count, m.rank1_miss.n), (3, 4));
    assert!((m.fnir.se - (0.25f64 / 4.0).sqrt()).abs() < 1e-12);
    let m = evaluate(&s, 0.4);
    assert_eq!((m.fpir.count, m.fnir.count), (2, 2));
    let m = evaluate(&s, 0.9);
    assert_eq!((m.fpir.count, m.fnir.count), (0, 4));
    let m = evaluate(&s, f32::NEG_INFINITY);
    assert_eq!((m.fpir.count, m.fnir.count), (2, 2));

    let ts = [f32::NEG_INFINITY, 0.4, 0.45, 0.5, 0.8, 0.9];
    let curve = det(&s, &ts);
    for (p, &t) in curve.iter().zip(&ts) {
        let e = evaluate(&s, t);
        assert_eq!((p.threshold, p.fpir, p.fnir), (t, e.fpir, e.fnir));
    }
    assert_eq!(curve[2].fpir.count, 2); // 0.45 counts "at or above"
}

#[test]
fn proportions_and_empirical_threshold() {
    assert_eq!(standard_error(0.5, 100), 0.05);
    assert!(Proportion::new(0, 0).rate.is_nan());
    let p = Proportion::new(3, 12);
    assert_eq!((p.rate, p.se), (0.25, (0.25f64 * 0.75 / 12.0).sqrt()));

    let top = non_mated_top_scores(&hand_built());
    assert_eq!(top, vec![0.7, 0.45, f32::NEG_INFINITY]);
    // At most 1 of 3 false positives: above 0.45, i.e. just above it.
    let t = threshold_at_fpir(&top, 1.0 / 3.0);
    assert_eq!(t, 0.45f32.next_up());
    assert_eq!(evaluate(&hand_built(), t).fpir.count, 1);
    assert_eq!(threshold_at_fpir(&top, 0.0), 0.7f32.next_up());
    assert_eq!(threshold_at_fpir(&top, 1.0), f32::NEG_INFINITY);
    assert_eq!(threshold_at_fpir(&top, 0.7), f32::MIN); // 2 allowed: only the empty search stays out
    let scores: Vec<f32> = (0..1000).map(|i| i as f32 / 1000.0).collect();
    let t = threshold_at_fpir(&scores, 0.01);
    assert_eq!(scores.iter().filter(|&&s| s >= t).count(), 10);
}

/// The exact non-mate tail: uniform cosines in three dimensions (Archimedes), and the normal
/// approximation it must approach near the middle in many dimensions.
#[test]
fn the_non_mate_tail_is_exact_where_it_can_be_checked() {
    use baoan_faces::noise::{nonmate_tail, normal_sf};
    for t in [-0.9, -0.3, 0.0, 0.25, 0.8] {
        assert!(
            (nonmate_tail(t, 3) - (1.0 - t) / 2.0).abs() < 1e-9,
            "d = 3, t = {t}"
        );
    }
    let d = 4096;
    let t = 1.0 / (d as f64).sqrt();
    let (exact, normal) = (nonmate_tail(t, d), normal_sf(1.0));
    assert!((exact / normal - 1.0).abs() < 0.01, "{exact} vs {normal}");
    assert!(
        nonmate_tail(0.2, 512) < normal_sf(0.2 * 512f64.sqrt()),
        "lighter than the normal tail"
    );
}
