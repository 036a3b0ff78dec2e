#!/usr/bin/env python3
"""A district pack for measuring routing at scale: the built-in Bao'an pack plus a SYNTHETIC road
lattice over its outline (110 m spacing, secondary and primary roads every 5th and 10th line, a
quarter of the residential streets one-way): about 150,000 road segments inside the outline.
Not Bao'an's roads. Usage: make_lattice_pack.py OUT_DIR, then
`twin district --pack OUT_DIR --json` (perf.roads.all_pairs_s is the all-pairs time)."""
import json
import math
import os
import shutil
import sys

out = sys.argv[1] if len(sys.argv) > 1 else "out/packs/baoan-lattice"
root = os.path.join(os.path.dirname(__file__), "..", "..", "twin", "data", "baoan")
if os.path.exists(os.path.join(out, "district.toml")):
    sys.exit(f"{out}: already holds a pack")
shutil.copytree(root, out, dirs_exist_ok=True)

lon0, lon1, lat0, lat1 = 113.745, 113.99, 22.52, 22.87
dy = 110 / 110574.0
dx = 110 / (111320 * math.cos(math.radians(22.65)))
ny, nx = int((lat1 - lat0) / dy) + 1, int((lon1 - lon0) / dx) + 1


def cls(i):
    return "primary" if i % 10 == 0 else ("secondary" if i % 5 == 0 else "residential")


features = []
for j in range(ny):
    props = {"class": cls(j)}
    if props["class"] == "residential" and j % 4 == 1:
        props["oneway"] = "yes"
    if props["class"] == "residential" and j % 4 == 3:
        props["oneway"] = "-1"
    line = [[round(lon0 + i * dx, 7), round(lat0 + j * dy, 7)] for i in range(nx)]
    features.append({"type": "Feature", "properties": props,
                     "geometry": {"type": "LineString", "coordinates": line}})
for i in range(nx):
    line = [[round(lon0 + i * dx, 7), round(lat0 + j * dy, 7)] for j in range(ny)]
    features.append({"type": "Feature", "properties": {"class": cls(i)},
                     "geometry": {"type": "LineString", "coordinates": line}})
with open(os.path.join(out, "roads.geojson"), "w") as f:
    json.dump({"type": "FeatureCollection", "features": features}, f)

manifest = os.path.join(out, "district.toml")
text = open(manifest).read()
text = text.replace('name = "baoan"', 'name = "baoan-lattice"')
text += '''
[roads]
# SYNTHETIC: a 110 m lattice for measuring import and all-pairs routing on Bao'an's 4,866 grids
# (benches/packs/make_lattice_pack.py). Not Bao'an's roads.
file = "roads.geojson"
source = "baoan-twin, generated"
real = false
'''
open(manifest, "w").write(text)
print(f"{out}: {nx} x {ny} lattice, {nx * (ny - 1) + ny * (nx - 1)} segments")
