#!/usr/bin/env python3
"""Splink (DuckDB backend) on the same person records the platform's block-data module links.

    cargo run --release -p baoan-agents --example export_feeds -- 0.1 DIR
    pip install "splink>=4,<5" pandas
    python3 benches/peers/splink_link.py DIR/persons.csv

Splink deduplicates the records (blocking on ID number and on name + birth date, comparing ID
number, name, birth date and address; m and u estimated by EM and random sampling, as its
tutorials do), clusters at match probability 0.9, and is scored against the twin's truth with the
same pairwise precision, recall and F1 as the Rust example prints. Wall time covers loading the
CSV through clustering; peak memory is this process's (DuckDB runs inside it).
"""

import resource
import sys
import time
from collections import Counter

import pandas as pd
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on


def pairs(n):
    return n * (n - 1) // 2


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "out/peer-feeds/persons.csv"
    start = time.perf_counter()
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    df = df.replace({"": None})
    truth = dict(zip(df["unique_id"], df["truth"]))
    settings = SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=[
            cl.LevenshteinAtThresholds("id_number", [1, 2]),
            cl.LevenshteinAtThresholds("name", [1]),
            cl.ExactMatch("birth_date"),
            cl.LevenshteinAtThresholds("address", [3, 8]),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("id_number"),
            block_on("name", "birth_date"),
        ],
        retain_intermediate_calculation_columns=False,
    )
    linker = Linker(df.drop(columns=["truth", "feed"]), settings, db_api=DuckDBAPI())
    linker.training.estimate_u_using_random_sampling(max_pairs=2e6)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("id_number"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("name", "birth_date"))
    predictions = linker.inference.predict(threshold_match_probability=0.5)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=0.9
    ).as_pandas_dataframe()
    secs = time.perf_counter() - start
    cells = Counter(zip(clusters["cluster_id"], clusters["unique_id"].map(truth)))
    tp = sum(pairs(n) for n in cells.values())
    pp = sum(pairs(n) for n in Counter(clusters["cluster_id"]).values())
    ap = sum(pairs(n) for n in Counter(truth.values()).values())
    p, r = tp / max(pp, 1), tp / max(ap, 1)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"splink {__import__('splink').__version__} (DuckDB): {len(df)} records linked in {secs:.2f} s "
        f"({len(df) / secs:.0f}/s), peak memory {peak:.0f} MiB; pairwise precision {p:.4f}, "
        f"recall {r:.4f}, F1 {2 * p * r / (p + r):.4f}"
    )


if __name__ == "__main__":
    main()
