"""Time the mathematical core of diffusion_edu against its budgets.

Usage:  flock /tmp/cpu-heavy.lock python benchmarks/bench_core.py
            [--runs 3] [--pin]

Runs on one core: BLAS/OpenMP threads are limited to 1 before NumPy is
imported; with ``--pin`` the process is also pinned to one CPU (on a
shared machine that CPU may be busy, so pinning is off by default).
Prints one row per task with the median (and range) over the runs, the
budget and a sample-quality figure next to its data-vs-data baseline.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from diffusion_edu import elbo as E  # noqa: E402
from diffusion_edu import metrics as M  # noqa: E402
from diffusion_edu import samplers as SM  # noqa: E402
from diffusion_edu import schedules as S  # noqa: E402
from diffusion_edu import toy_data as TD  # noqa: E402


def _pin_to_one_core() -> str:
    if hasattr(os, "sched_setaffinity"):
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"pinned to CPU {cpu}"
    return "not pinned (no sched_setaffinity)"


def _time(fn, runs: int):
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return times, result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pin", action="store_true",
                        help="pin the process to one CPU")
    args = parser.parse_args(argv)
    pinned = _pin_to_one_core() if args.pin else "not pinned"
    print(f"numpy {np.__version__}, threads = 1, {pinned}, "
          f"median of {args.runs} runs\n")

    lin = S.linear(1000)
    mix = TD.GaussianMixture1D()
    roll = TD.SwissRoll2D()
    tasks = [
        ("sample_ddpm, 1-D mixture oracle, T=1000, N=10000", 2.0,
         lambda: SM.sample_ddpm(lin, mix.eps_model(lin), (10_000, 1), 0),
         "w1", mix),
        ("sample_ddim, 1-D mixture oracle, 100 steps, N=10000", None,
         lambda: SM.sample_ddim(lin, mix.eps_model(lin), (10_000, 1), 0,
                                100), "w1", mix),
        ("sample_ddpm, Swiss-roll oracle, T=1000, N=2000", 20.0,
         lambda: SM.sample_ddpm(lin, roll.eps_model(lin), (2_000, 2), 0),
         "energy", roll),
        ("sample_ddim, Swiss-roll oracle, 100 steps, N=2000", None,
         lambda: SM.sample_ddim(lin, roll.eps_model(lin), (2_000, 2), 0,
                                100), "energy", roll),
        ("elbo_terms, 1-D mixture oracle, T=1000, N=2000", None,
         lambda: E.elbo_terms(lin, mix.eps_model(lin),
                              mix.sample(2_000, 1), 2), None, None),
        ("energy_distance, 2-D, 4000 vs 4000 points", None,
         lambda: M.energy_distance(roll.sample(4_000, 3),
                                   roll.sample(4_000, 4)), None, None),
    ]
    header = (f"{'task':<54} {'median s':>9} {'range s':>13} "
              f"{'budget':>7}  quality (vs data-vs-data)")
    print(header)
    print("-" * len(header))
    failed = False
    for name, budget, fn, metric, dist in tasks:
        times, out = _time(fn, args.runs)
        med = statistics.median(times)
        span = f"{min(times):.2f}-{max(times):.2f}"
        if budget is None:
            verdict = "-"
        else:
            ok = med <= budget
            failed |= not ok
            verdict = f"{budget:.0f} {'ok' if ok else 'OVER'}"
        quality = ""
        if metric is not None:
            fn_metric = (M.wasserstein_1d if metric == "w1"
                         else M.energy_distance)
            cmp = M.compare_with_baseline(fn_metric, out, dist.sample, 5)
            label = "W1" if metric == "w1" else "energy D²"
            quality = (f"{label} {cmp.value:.3g} vs {cmp.baseline:.3g} "
                       f"(ratio {cmp.ratio:.2f})")
        print(f"{name:<54} {med:>9.2f} {span:>13} {verdict:>7}  {quality}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
