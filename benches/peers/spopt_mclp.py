"""The same single-radius post-placement instance through PySAL's spopt (MCLP, PuLP with its
bundled CBC), as a peer for `twin plan posts --export-instance DIR`.

    pip install spopt pulp
    python3 benches/peers/spopt_mclp.py DIR

Prints wall times (reading, building the model, solving) and the demand-weighted coverage, next
to what baoan-twin wrote in DIR/meta.json.
"""
import json
import sys
import time

import numpy as np
import pulp
from spopt.locate import MCLP

root = sys.argv[1]
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
model = model.solve(pulp.PULP_CBC_CMD(msg=False))
t3 = time.perf_counter()
covered = demand[np.isin(np.arange(n), np.where(cost.min(axis=1) <= radius)[0])]
chosen = [j for j in range(m) if model.fac_vars[j].value() > 0.5]
within = (cost[:, chosen] <= radius).any(axis=1)
coverage = float(demand[within].sum() / demand.sum())
print(json.dumps({
    "spopt": {"coverage": coverage, "read_s": t1 - t0, "build_s": t2 - t1, "solve_s": t3 - t2, "total_s": t3 - t0,
              "status": pulp.LpStatus[model.problem.status]},
    "ours": meta["ours"],
}, indent=2))
