"""The matcher's peak benchmark through FAISS's flat inner-product index (`IndexFlatIP`), as a peer
for `cargo run --release -p baoan-matcher --example peak -- --export DIR`: the same entry and query
vectors, the same k, 1 and 2 threads (`faiss.omp_set_num_threads`; the faiss-cpu wheel's OpenBLAS
is the OpenMP build, so the GEMM follows it too). FAISS applies no score threshold; compare it with
our `exact_no_threshold_*` figures as well as the thresholded ones.

    pip install faiss-cpu numpy
    python3 benches/peers/faiss_flat.py DIR [--reps N]

Prints JSON: FAISS searches/s (median of N >= 5 timed batches after a warm-up, with the CPU/wall
ratio as a check of the threads actually used), the share of queries whose FAISS top-1 id equals
ours (DIR/top1.u32, exact, no threshold), and what baoan-twin wrote in DIR/meta.json.
"""
import argparse
import json
import statistics
import time

import faiss
import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("dir")
ap.add_argument("--reps", type=int, default=5)
args = ap.parse_args()
root, reps = args.dir, max(5, args.reps)
meta = json.load(open(f"{root}/meta.json"))
n, nq, d, k = meta["entries"], meta["queries"], meta["dim"], meta["k"]
entries = np.fromfile(f"{root}/entries.f32", dtype="<f4").reshape(n, d)
queries = np.fromfile(f"{root}/queries.f32", dtype="<f4").reshape(nq, d)
top1 = np.fromfile(f"{root}/top1.u32", dtype="<u4").astype(np.int64)
assert top1.shape == (nq,)

index = faiss.IndexFlatIP(d)
index.add(entries)

timings = {}
for threads in (1, 2):
    faiss.omp_set_num_threads(threads)
    index.search(queries, k)  # warm-up
    walls, cpus = [], []
    for _ in range(reps):
        c0, t0 = time.process_time(), time.perf_counter()
        _, ids = index.search(queries, k)
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    timings[f"flat_ip_{threads}t"] = {
        "searches_per_s": nq / statistics.median(walls),
        "best_searches_per_s": nq / min(walls),
        "cpu_per_wall": sum(cpus) / sum(walls),
    }

faiss.omp_set_num_threads(1)
scores, ids = index.search(queries, k)
agree = ids[:, 0] == top1
# Where they differ, the float64 gap between FAISS's pick and ours (a near-tie or a real miss?).
q64, e64 = queries.astype(np.float64), entries.astype(np.float64)
gaps = [float(q64[i] @ e64[ids[i, 0]] - q64[i] @ e64[top1[i]]) for i in np.where(~agree)[0]]
ours = meta["ours"]
print(json.dumps({
    "faiss": {"version": faiss.__version__, "compile_options": faiss.get_compile_options().strip(),
              "reps": reps, "k": k, **timings},
    "top1_agreement": {"equal": int(agree.sum()), "n": nq, "share": float(agree.mean()),
                       "f64_gap_where_different": gaps},
    "ratio_ours_over_faiss": {
        f"{path}_{t}t": ours[f"{path}_{t}t"] / timings[f"flat_ip_{t}t"]["searches_per_s"]
        for path in ("exact", "int8", "exact_no_threshold") for t in (1, 2)
    },
    "ours": ours,
}, indent=2))
