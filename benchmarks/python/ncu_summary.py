"""Sums an `ncu --csv --metrics gpu__time_duration.sum` log by kernel name: where one profiled forward spends GPU time.

usage: python3 ncu_summary.py ncu.csv [top]
"""
import csv
import sys
from collections import defaultdict

rows = []
with open(sys.argv[1], newline="") as f:
    lines = [l for l in f if l.startswith('"')]  # ncu prints its own progress lines before the CSV
for r in csv.DictReader(lines):
    if r.get("Metric Name") == "gpu__time_duration.sum":
        rows.append((r["Kernel Name"], float(r["Metric Value"].replace(",", "")), r.get("Metric Unit", "")))
if not rows:
    sys.exit("no gpu__time_duration rows in " + sys.argv[1])
scale = {"nsecond": 1e-3, "ns": 1e-3, "usecond": 1.0, "us": 1.0, "msecond": 1e3, "ms": 1e3}.get(rows[0][2], 1e-3)
total = defaultdict(float)
count = defaultdict(int)
for name, v, _ in rows:
    key = name.split("(")[0][:90]
    total[key] += v * scale
    count[key] += 1
all_us = sum(total.values())
top = int(sys.argv[2]) if len(sys.argv) > 2 else 25
print(f"[ncu] {len(rows)} kernels, {all_us / 1e3:.2f} ms of GPU time in one forward")
for k, v in sorted(total.items(), key=lambda kv: -kv[1])[:top]:
    print(f"[ncu] {v / 1e3:8.3f} ms {100 * v / all_us:5.1f}%  x{count[k]:<5d} {k}")
