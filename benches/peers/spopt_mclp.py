"""The same single-radius post-placement instance through PySAL's spopt (MCLP), as a peer for
`twin plan posts --export-instance DIR [--exact]`. By default PuLP drives HiGHS through highspy —
the same solver, version and gap (zero) as `--exact` — so the difference is the modelling path;
`--solver cbc` uses PuLP's bundled CBC instead.

    pip install spopt pulp highspy
    python3 benches/peers/spopt_mclp.py DIR [--solver highs|cbc] [--time-limit S]

Prints wall times (reading, building the model, solving) and the demand-weighted coverage, next
to what baoan-twin wrote in DIR/meta.json.
"""
import argparse
import json
import time

import numpy as np
import pulp
from spopt.locate import MCLP

ap = argparse.ArgumentParser()
ap.add_argument("dir")
ap.add_argument("--solver", choices=["highs", "cbc"], default="highs")
ap.add_argument("--time-limit", type=float, default=300.0)
args = ap.parse_args()
root = args.dir
meta = json.load(open(f"{root}/meta.json"))
t0 = time.perf_counter()
demand = np.loadtxt(f"{root}/demand.csv", delimiter=",", skiprows=1)[:, 1]
pairs = np.loadtxt(f"{root}/pairs.csv", delimiter=",", skiprows=1)
n, m, p, radius = meta["grids"], meta["candidates"], meta["posts"], meta["radius_m"]
cost = np.full((n, m), radius * 10.0)
cost[pairs[:, 0].astype(int), pairs[:, 1].astype(int)] = pairs[:, 2]
t1 = time.perf_counter()
model = MCLP.from_cost_matrix(cost, demand, service_radius=radius, p_facilities=p, name="posts")
t2 = time.perf_counter()
if args.solver == "highs":
    solver = pulp.HiGHS(msg=False, gapRel=0.0, timeLimit=args.time_limit)
else:
    solver = pulp.PULP_CBC_CMD(msg=False, gapRel=0.0, timeLimit=args.time_limit)
model = model.solve(solver)
t3 = time.perf_counter()
covered = demand[np.isin(np.arange(n), np.where(cost.min(axis=1) <= radius)[0])]
chosen = [j for j in range(m) if model.fac_vars[j].value() > 0.5]
within = (cost[:, chosen] <= radius).any(axis=1)
coverage = float(demand[within].sum() / demand.sum())
print(json.dumps({
    "spopt": {"solver": args.solver, "coverage": coverage, "read_s": t1 - t0, "build_s": t2 - t1, "solve_s": t3 - t2, "total_s": t3 - t0,
              "status": pulp.LpStatus[model.problem.status]},
    "ours": meta["ours"],
}, indent=2))
