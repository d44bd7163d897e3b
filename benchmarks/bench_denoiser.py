"""Quality and speed of the tiny denoiser of chapter 6, against its targets.

Usage:  flock /tmp/cpu-heavy.lock python benchmarks/bench_denoiser.py
            [--runs 3] [--seeds 3] [--draws 10]

For each configuration the network is trained with ``--seeds`` seeds and
the defaults of :func:`diffusion_edu.denoiser.train_denoiser` (one torch
thread); 4 000 samples are drawn with 1000-step DDPM (T steps); their
distance to the data (energy distance in 2-D, Wasserstein-1 in 1-D) is
averaged over ``--draws`` fresh reference draws of 4 000 points and set
next to the data-vs-data baseline (two independent draws of 4 000,
averaged the same way) and to the distance of the ideal denoiser's
samples (``toy_data``'s exact ε, same sampler, same noise). Every number
is the mean over the seeds; the table shows the median over ``--runs``
runs (the distances are deterministic -- later runs check that they
reproduce the samples bit for bit -- the timings vary).

Targets (one CPU thread): Swiss roll ratio <= 2 with training <= 15 s;
1-D mixture ratio <= 2 with training <= 5 s; sampling 4 000 points with
1000 DDPM steps <= 5 s. The last row is the small configuration many
tutorials use (T = 50, linear β from 1e-4 to 0.02, batch 32): ᾱ_T ≈ 0.60,
so x_T ~ N(0, I) is not what the forward process produces, and even the
ideal denoiser's samples are far from the data.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass

import numpy as np
import torch

from diffusion_edu import denoiser, metrics, samplers, schedules, toy_data

N_SAMPLES = 4000


@dataclass(frozen=True)
class Config:
    """One row of the table."""

    name: str
    data: object
    metric: object
    schedule: schedules.Schedule
    train_kwargs: dict
    max_train_s: float | None
    max_sample_s: float | None


def configs() -> list[Config]:
    swiss, mixture = toy_data.SwissRoll2D(), toy_data.GaussianMixture1D()
    s = schedules.linear(1000)
    return [
        Config("Swiss roll 2-D", swiss, metrics.energy_distance, s, {},
               15.0, 5.0),
        Config("mixture 1-D", mixture, metrics.wasserstein_1d, s, {},
               5.0, 5.0),
        Config("Swiss roll, T=50 b=32", swiss, metrics.energy_distance,
               schedules.linear(50), {"batch_size": 32}, None, None),
    ]


def distance(cfg: Config, samples: np.ndarray, seed: int, draws: int):
    """Mean distance to `draws` reference draws, and the baseline."""
    result = metrics.compare_with_baseline(
        cfg.metric, samples, cfg.data.sample, 10_000 + seed, draws)
    return result.value, result.baseline


def ideal_distance(cfg: Config, seed: int, draws: int) -> float:
    """Distance of the ideal denoiser's samples (same sampler noise)."""
    x = samplers.sample_ddpm(cfg.schedule, cfg.data.eps_model(cfg.schedule),
                             (N_SAMPLES, cfg.data.dim), 100 + seed)
    return distance(cfg, x, seed, draws)[0]


def measure(cfg: Config, seed: int, draws: int, cache: dict) -> dict:
    """Train with one seed, sample, and measure; one dict of numbers.

    The distances of a (config, seed) are computed once: later runs must
    reproduce the same samples bit for bit (same seed, same machine),
    which this checks, and only their timings are new.
    """
    start = time.perf_counter()
    model, _ = denoiser.train_denoiser(cfg.data, cfg.schedule, seed=seed,
                                       progress=False, **cfg.train_kwargs)
    train_s = time.perf_counter() - start
    eps_model = denoiser.as_eps_model(model)
    start = time.perf_counter()
    x = samplers.sample_ddpm(cfg.schedule, eps_model,
                             (N_SAMPLES, cfg.data.dim), 100 + seed)
    sample_s = time.perf_counter() - start
    key = (cfg.name, seed)
    if key not in cache:
        cache[key] = (x, distance(cfg, x, seed, draws))
    elif not np.array_equal(cache[key][0], x):
        raise AssertionError(f"{cfg.name}, seed {seed}: the samples "
                             f"differ between runs (not reproducible)")
    value, baseline = cache[key][1]
    return dict(params=denoiser.count_parameters(model), train_s=train_s,
                sample_s=sample_s, value=value, baseline=baseline)


def row(cfg: Config, seeds: int, draws: int, ideal: float,
        cache: dict) -> dict:
    """Mean over the seeds of `measure`, plus the ratios."""
    runs = [measure(cfg, seed, draws, cache) for seed in range(seeds)]
    out = {key: float(np.mean([r[key] for r in runs]))
           for key in runs[0]}
    out["ideal"] = ideal
    out["ratio"] = out["value"] / out["baseline"]
    out["ideal_ratio"] = ideal / out["baseline"]
    return out


def print_table(rows: dict[str, dict], schedules_by_name: dict) -> None:
    head = (f"{'dataset':<22} {'params':>6} {'aT':>6} {'train s':>7} "
            f"{'sample s':>8} {'network':>9} {'ideal':>9} "
            f"{'data-data':>9} {'net/base':>8} {'ideal/base':>10}")
    print(head)
    print("-" * len(head))
    for name, r in rows.items():
        alpha_bar_T = schedules_by_name[name].alpha_bar[-1]
        print(f"{name:<22} {int(r['params']):>6} {alpha_bar_T:>6.2g} "
              f"{r['train_s']:>7.1f} {r['sample_s']:>8.1f} "
              f"{r['value']:>9.3g} {r['ideal']:>9.3g} "
              f"{r['baseline']:>9.3g} {r['ratio']:>8.2f} "
              f"{r['ideal_ratio']:>10.2f}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--draws", type=int, default=10)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    cfgs = configs()
    # The ideal denoiser's samples do not depend on the run: once.
    ideals = {c.name: float(np.mean([ideal_distance(c, seed, args.draws)
                                     for seed in range(args.seeds)]))
              for c in cfgs}
    per_run, cache = [], {}
    for run in range(args.runs):
        rows = {c.name: row(c, args.seeds, args.draws, ideals[c.name],
                            cache) for c in cfgs}
        per_run.append(rows)
        print(f"run {run + 1}/{args.runs} done", file=sys.stderr,
              flush=True)
    median = {c.name: {key: statistics.median(r[c.name][key]
                                              for r in per_run)
                       for key in per_run[0][c.name]}
              for c in cfgs}
    print(f"Tiny denoiser: {args.seeds} training seeds, {N_SAMPLES} DDPM "
          f"samples, distances averaged over {args.draws} reference "
          f"draws; median of {args.runs} runs; one torch thread.")
    print("network/ideal: distance of the network's / the ideal "
          "denoiser's samples to the data (2-D: energy distance, 1-D: "
          "Wasserstein-1); aT = alpha_bar_T.")
    print_table(median, {c.name: c.schedule for c in cfgs})
    ok = True
    print()
    for c in cfgs:
        r = median[c.name]
        if c.max_train_s is None:
            continue
        checks = [("ratio <= 2", r["ratio"] <= 2.0),
                  (f"train <= {c.max_train_s:g} s",
                   r["train_s"] <= c.max_train_s),
                  (f"sample <= {c.max_sample_s:g} s",
                   r["sample_s"] <= c.max_sample_s)]
        ok &= all(passed for _, passed in checks)
        print(f"{c.name:<22} " + ", ".join(
            f"{label}: {'ok' if passed else 'FAIL'}"
            for label, passed in checks))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
