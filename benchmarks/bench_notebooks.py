"""Time every notebook of the book, executed top to bottom in a fresh
kernel, and compare with the budget of 60 s per notebook.

Usage:  python benchmarks/bench_notebooks.py [--runs 3] [NOTEBOOK ...]

Pin to one core to measure the one-core budget, e.g.
``taskset -c 0 python benchmarks/bench_notebooks.py``. Prints one row per
notebook with the median and the range of the runs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
BUDGET_S = 60.0


def run_once(path: Path) -> float:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    return time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted([*ROOT.glob("chapters/*.ipynb"),
                                      *ROOT.glob("solutions/*.ipynb")])
    print(f"{'notebook':<48} {'median s':>9} {'min s':>7} {'max s':>7}"
          f"  budget")
    worst_ok = True
    total = 0.0
    for path in paths:
        times = [run_once(path) for _ in range(args.runs)]
        med = statistics.median(times)
        total += med
        ok = med <= BUDGET_S
        worst_ok &= ok
        name = path.resolve().relative_to(ROOT).as_posix()
        print(f"{name:<48} {med:9.1f} {min(times):7.1f} {max(times):7.1f}"
              f"  {'ok' if ok else 'OVER'}")
    print(f"{'all notebooks (sum of medians)':<48} {total:9.1f}")
    return 0 if worst_ok else 1


if __name__ == "__main__":
    sys.exit(main())
