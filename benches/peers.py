#!/usr/bin/env python3
"""Side by side with what a user would use instead: the OpenCV peer at 100k dots, the libjpeg-turbo
decode + re-encode floor, and our `smpsim render`, all on the same 4000x3000 photo and mask.

  cargo build --release
  pip install numpy opencv-python-headless pillow
  python3 benches/peers.py [--runs 3] [--peers ../shared/peers] [--data /tmp/smpsim-peers]

The peers' scripts are in ../shared/peers (read-only; see its README). The photo and mask are made there with
make_photo.py into --data (once). Every config runs --runs times, round-robin so background load hits all
alike, under /usr/bin/time -v; the medians are printed as a markdown table with the ratios of issue 8.

Our configs place about 100k impressions on the peers' mask (its density-weighted area counted here):
  * "1000/cm²": the highest density Params accepts and the scale that gives 100k (impressions 0.15 mm, ~2.6 px)
  * "1000/cm², 6 px": the same with --dot-size set so impressions are ~6 px wide, like the peers' r = 3 px discs
  * "100/cm²": the default density and the (much lower) scale that gives 100k (impressions under 1 px)
"""
import argparse, json, os, re, statistics, subprocess, sys, time

here = os.path.dirname(os.path.abspath(__file__))
ap = argparse.ArgumentParser()
ap.add_argument("--runs", type=int, default=3)
ap.add_argument("--peers", default=os.path.join(here, "..", "..", "shared", "peers"))
ap.add_argument("--data", default="/tmp/smpsim-peers")
ap.add_argument("--bin", default=os.path.join(here, "..", "target", "release", "smpsim"))
ap.add_argument("--n", type=int, default=100_000)
a = ap.parse_args()
peers = os.path.abspath(a.peers)
os.makedirs(a.data, exist_ok=True)
photo = os.path.join(a.data, "photo_4000x3000.jpg")
mask = os.path.join(a.data, "mask_4000x3000.png")
if not (os.path.exists(photo) and os.path.exists(mask)):
    subprocess.run(["python3", "make_photo.py", "--size", "4000x3000", "--out-dir", a.data], cwd=peers, check=True)

import numpy as np
from PIL import Image

area_px = float(np.asarray(Image.open(mask).convert("L"), dtype=np.float64).sum() / 255.0)
max_density = 1000.0
# impressions = density/cm² / 100 × area_px / px_per_mm²
ppm_cap = (max_density / 100.0 * area_px / a.n) ** 0.5
ppm_default = (100.0 / 100.0 * area_px / a.n) ** 0.5
out = "/tmp/smpsim_peers_out.jpg"
ours = [a.bin, "render", photo, "--mask", mask, "-o", out, "--json"]
cfgs = [
    ("floor: OpenCV (libjpeg-turbo) decode + encode", "floor",
     ["python3", "limit_roundtrip.py", photo, out, "--lib", "opencv"]),
    ("floor: Pillow (libjpeg-turbo) decode + encode", "floor_pil",
     ["python3", "limit_roundtrip.py", photo, out, "--lib", "pillow"]),
    (f"OpenCV peer, addWeighted, {a.n} dots r = 3 px", "opencv",
     ["python3", "peer_opencv.py", photo, mask, str(a.n), "3", out, "1"]),
    (f"smpsim render, 1000/cm² at {ppm_cap:.2f} px/mm (0.15 mm ≈ {0.15 * ppm_cap:.1f} px)", "ours",
     ours + ["--density", "1000", "--px-per-mm", f"{ppm_cap:.3f}"]),
    (f"smpsim render, 1000/cm² at {ppm_cap:.2f} px/mm, --dot-size {6 / ppm_cap:.3f} (≈ 6 px)", "ours_6px",
     ours + ["--density", "1000", "--px-per-mm", f"{ppm_cap:.3f}", "--dot-size", f"{6 / ppm_cap:.3f}"]),
    (f"smpsim render, 100/cm² at {ppm_default:.2f} px/mm (0.15 mm ≈ {0.15 * ppm_default:.1f} px)", "ours_default",
     ours + ["--px-per-mm", f"{ppm_default:.3f}"]),
]

res = {key: [] for _, key, _ in cfgs}
for rep in range(a.runs):
    for name, key, cmd in cfgs:
        tv = "/tmp/smpsim_peers_time.txt"
        t0 = time.perf_counter()
        p = subprocess.run(["/usr/bin/time", "-v", "-o", tv, *cmd], cwd=peers, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if p.returncode != 0:
            sys.exit(f"{name} failed:\n{p.stderr[-2000:]}")
        d = json.loads(p.stdout.strip().splitlines()[-1])
        if "seconds" in d:  # ours: flatten the stage times to the peers' names
            s = d["seconds"]
            d.update(decode=s["decode"] + s["mask"], placement=s["place"], drawing=s["stamp"],
                     encode=s["encode"], total=s["total"], n=d["impressions"])
        d["maxrss_mb"] = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(tv).read()).group(1)) / 1024
        d["proc_wall"] = wall
        res[key].append(d)
        print(f"run {rep + 1}/{a.runs} {name}: total {d['total']:.3f} s, process {wall:.3f} s, "
              f"RSS {d['maxrss_mb']:.0f} MB, load {os.getloadavg()[0]:.1f}", file=sys.stderr)


def med(key, field):
    v = [r[field] for r in res[key] if field in r]
    return statistics.median(v) if v else None


def cell(v, fmt="{:.3f}"):
    return "-" if v is None else fmt.format(v)


print(f"\nMedians of {a.runs} runs, round-robin; photo {photo} (4000x3000), mask area {area_px:.0f} px. "
      f"decode includes the mask for the dot renderers. Load average at the end: {os.getloadavg()[0]:.1f}.\n")
print("| config | N | decode s | placement s | drawing s | encode s | total s (in-process) | process wall s | peak RSS MB |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for name, key, _ in cfgs:
    n = med(key, "n")
    print(f"| {name} | {cell(n, '{:.0f}')} | {cell(med(key, 'decode'))} | {cell(med(key, 'placement'))} | "
          f"{cell(med(key, 'drawing'))} | {cell(med(key, 'encode'))} | **{cell(med(key, 'total'))}** | "
          f"{cell(med(key, 'proc_wall'))} | {cell(med(key, 'maxrss_mb'), '{:.0f}')} |")

print("\n| ratio (medians) | in-process total | process wall | target |")
print("|---|---:|---:|---|")
for key in ("ours", "ours_6px", "ours_default"):
    for ref, what, target, ok in (("opencv", "OpenCV peer ÷ ours (speed-up)", "≥ 10×", lambda r: r >= 10),
                                  ("floor", "ours ÷ OpenCV floor", "≤ 2×", lambda r: r <= 2)):
        t = [med(ref, f) / med(key, f) if ref == "opencv" else med(key, f) / med(ref, f)
             for f in ("total", "proc_wall")]
        print(f"| {what}, `{key}` | {t[0]:.2f}× {'PASS' if ok(t[0]) else 'MISS'} | "
              f"{t[1]:.2f}× {'PASS' if ok(t[1]) else 'MISS'} | {target} |")
